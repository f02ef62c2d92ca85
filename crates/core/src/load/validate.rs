//! Every rule mailcow enforces on these objects, plus what a directory of files needs
//! (unique declarations, resolvable references). All problems are collected in one run.

pub mod secrets;
mod services;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::{Diagnostic, Loaded};
use crate::model::names::{self, normalize_address, normalize_domain};
use crate::model::*;

pub(crate) const TAG_LIMIT: usize = 25;
pub(crate) const COMMENT_LIMIT: usize = 160;
/// mailcow's VARCHAR(255) columns; MariaDB's utf8mb4 counts characters, not bytes.
pub(crate) const TEXT_LIMIT: usize = 255;
/// mailcow's INT columns (`domain.mailboxes`, `domain.aliases`) are signed 32-bit.
pub(crate) const INT_LIMIT: u32 = i32::MAX as u32;
/// `_sogo_static_view.ad_aliases` and `.ext_acl` (VARCHAR(6144)): a mailbox's addresses in its
/// alias domains, and its external send-as addresses, each list joined with spaces.
pub(crate) const SOGO_LIST_LIMIT: usize = 6144;
/// The RSA key sizes mailcow's UI and API offer.
pub(crate) const DKIM_KEY_SIZES: [u32; 4] = [1024, 2048, 3072, 4096];
/// Namespaces whose keys are compared as written; every other key is a mailcow name, which
/// MariaDB compares without regard to case (utf8mb4_general_ci).
pub(crate) const CASE_SENSITIVE: [&str; 2] = ["service_file", "postfix_parameter"];

/// One kind's rules for one document (`KindSpec::validate`), run after the index is built.
pub type Rule = fn(&mut Validator, usize, &Document);

pub fn validate(l: &Loaded, rules: &[Rule]) -> Vec<Diagnostic> {
    // The big indexes get their size up front: grown by doubling, their rehashing was a tenth of
    // a plan's time at 100,000 mailboxes (most of it the kernel zeroing fresh pages).
    let count = |f: fn(&Document) -> usize| l.documents.iter().map(|(_, d)| f(d)).sum::<usize>();
    let domains = count(|d| d.domains.len());
    let mailboxes = count(|d| d.domains.iter().map(|x| x.mailboxes.len()).sum());
    let aliases = count(|d| d.aliases.len() + d.domains.iter().map(|x| x.aliases.len()).sum::<usize>());
    let mut v = Validator {
        l,
        diags: Vec::new(),
        claims: HashMap::with_capacity(domains + mailboxes + aliases),
        domains: HashMap::with_capacity(domains),
        alias_domains: HashMap::new(),
        mailboxes: HashMap::with_capacity(mailboxes),
        aliases: HashMap::with_capacity(aliases),
        domain_templates: HashMap::new(),
        mailbox_templates: HashMap::new(),
        relay_hosts: HashSet::new(),
        idp: None,
        aliases_per_domain: HashMap::new(),
        alias_domains_of: HashMap::new(),
    };
    let t = std::time::Instant::now();
    v.index();
    let t = crate::timing::lap("v.index", t);
    v.check(rules);
    crate::timing::lap("v.check", t);
    v.diags
}

/// Where something was declared: (file, span).
pub(crate) type At = (usize, Span);

pub struct Validator<'a> {
    pub(crate) l: &'a Loaded,
    pub(crate) diags: Vec<Diagnostic>,
    /// (namespace, key folded to lowercase) → what claimed it, where, and whether it was written
    /// with capitals; finds objects declared twice, also those that differ only in case.
    pub(crate) claims: HashMap<(&'static str, String), (&'static str, At, bool)>,
    pub(crate) domains: HashMap<String, (usize, &'a Domain)>,
    /// alias domain → target domain
    pub(crate) alias_domains: HashMap<String, String>,
    pub(crate) mailboxes: HashMap<String, (usize, &'a Mailbox, String)>,
    /// Keyed by the lowercased address, as MariaDB compares them.
    pub(crate) aliases: HashMap<String, (usize, &'a Alias)>,
    pub(crate) domain_templates: HashMap<String, &'a DomainTemplate>,
    pub(crate) mailbox_templates: HashMap<String, &'a MailboxTemplate>,
    pub(crate) relay_hosts: HashSet<String>,
    pub(crate) idp: Option<&'a IdentityProvider>,
    /// Counted once after indexing, because a per-domain scan is quadratic on large servers.
    pub(crate) aliases_per_domain: HashMap<String, u32>,
    /// target domain → its alias domains
    pub(crate) alias_domains_of: HashMap<String, Vec<String>>,
}

impl<'a> Validator<'a> {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
    pub(crate) fn error(&mut self, code: &'static str, file: usize, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::error(code, file, span, msg));
    }
    pub(crate) fn error_help(&mut self, code: &'static str, file: usize, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        self.push(Diagnostic::error(code, file, span, msg).help(help));
    }
    pub(crate) fn place(&self, at: At) -> String {
        let name = self.l.sources.get(at.0).map(|s| s.name.as_str()).unwrap_or("?");
        format!("{name}:{}:{}", at.1.line, at.1.column)
    }

    /// Records that `key` in `ns` is declared by `what` at `at`; reports a second declaration.
    pub(crate) fn claim(&mut self, ns: &'static str, key: &str, what: &'static str, at: At) -> bool {
        use std::collections::hash_map::Entry;
        let capitals = !CASE_SENSITIVE.contains(&ns) && key.chars().any(char::is_uppercase);
        let folded = if capitals { key.to_lowercase() } else { key.to_string() };
        let (prev_what, prev_at, prev_capitals) = match self.claims.entry((ns, folded)) {
            Entry::Vacant(slot) => {
                slot.insert((what, at, capitals));
                return true;
            }
            Entry::Occupied(prev) => *prev.get(),
        };
        let prev = self.place(prev_at);
        let msg = if ns == "identity_provider" {
            "the identity provider is declared twice; there can be only one".to_string()
        } else if prev_what == what {
            let what = what.trim_start_matches("a ").trim_start_matches("an ");
            format!("{what} `{key}` is declared twice")
        } else {
            format!("`{key}` is already declared as {prev_what}")
        };
        let case = if capitals || prev_capitals { " (mailcow compares names without regard to case)" } else { "" };
        self.error_help("duplicate", at.0, at.1, msg, format!("first declared at {prev}{case}; declare it once"));
        false
    }

    /// A value mailcow keeps in a VARCHAR column: at most `limit` characters, on one line.
    pub(crate) fn check_text(&mut self, file: usize, v: &Located<String>, what: &str, limit: usize) {
        let n = v.chars().count();
        if n > limit {
            self.error_help("text-too-long", file, v.at, format!("{what} is {n} characters long; mailcow stores at most {limit}"), "shorten it");
        }
        self.check_one_line(file, v, what);
    }

    /// Text that ends up in a Postfix lookup or a one-line field: a newline or other control
    /// character would end the entry or change what it means.
    pub(crate) fn check_one_line(&mut self, file: usize, v: &Located<String>, what: &str) {
        if let Some(c) = v.chars().find(|c| c.is_control()) {
            self.error_help(
                "control-character",
                file,
                v.at,
                format!("{what} contains the control character `{}`", c.escape_default()),
                "write it on one line, without tabs, newlines or other control characters",
            );
        }
    }

    pub(crate) fn domain_name(&mut self, file: usize, name: &Located<String>) -> Option<String> {
        match normalize_domain(name) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error_help("invalid-domain", file, name.at, e, "a domain is letters, digits and hyphens in dot-separated labels, e.g. `example.org`");
                None
            }
        }
    }

    /// Pass 1: every named object, so references can be checked in any order.
    fn index(&mut self) {
        let l = self.l;
        for (file, doc) in &l.documents {
            let file = *file;
            for t in &doc.domain_templates {
                if self.claim("domain_template", &t.name, "domain template", (file, t.name.at)) {
                    self.domain_templates.insert(t.name.value.clone(), t);
                }
            }
            for t in &doc.mailbox_templates {
                if self.claim("mailbox_template", &t.name, "mailbox template", (file, t.name.at)) {
                    self.mailbox_templates.insert(t.name.value.clone(), t);
                }
            }
            for r in &doc.relay_hosts {
                if self.claim("relay_host", &r.name, "relay host", (file, r.name.at)) {
                    self.relay_hosts.insert(r.name.value.clone());
                }
                self.claim("relay_hostname", r.hostname.trim(), "relay host", (file, r.hostname.at));
            }
            if let Some(idp) = &doc.identity_provider
                && self.claim("identity_provider", "identity_provider", "identity provider", (file, idp.at))
            {
                self.idp = Some(&idp.value);
            }
            for d in &doc.domains {
                let Some(name) = self.domain_name(file, &d.name) else { continue };
                if !self.claim("domain", &name, "domain", (file, d.name.at)) {
                    continue;
                }
                self.domains.insert(name.clone(), (file, d));
                for ad in &d.alias_domains {
                    if let Some(adn) = self.domain_name(file, &ad.name)
                        && self.claim("domain", &adn, "alias domain", (file, ad.name.at))
                    {
                        self.alias_domains.insert(adn, name.clone());
                    }
                }
                for m in &d.mailboxes {
                    let lp = m.local_part.trim().to_lowercase();
                    if let Err(e) = names::check_local_part(&lp) {
                        self.error_help("invalid-local-part", file, m.local_part.at, e, "use letters, digits and . _ - + (the part before the @)");
                        continue;
                    }
                    if let Err(e) = names::check_address_length(&lp, &name) {
                        self.error_help("invalid-address", file, m.local_part.at, e, "shorten the local part");
                        continue;
                    }
                    let addr = names::address(&lp, &name);
                    if self.claim("address", &addr, "a mailbox", (file, m.local_part.at)) {
                        self.mailboxes.insert(addr, (file, m, name.clone()));
                    }
                }
            }
        }
        // Aliases after mailboxes, so an alias on a mailbox's address is the one reported.
        for (file, doc) in &l.documents {
            let nested = doc.domains.iter().flat_map(|d| d.aliases.iter());
            for a in doc.aliases.iter().chain(nested) {
                if let Some(addr) = self.alias_address(*file, &a.address)
                    && self.claim("address", &addr, "an alias", (*file, a.address.at))
                {
                    let key = if addr.chars().any(char::is_uppercase) { addr.to_lowercase() } else { addr };
                    self.aliases.insert(key, (*file, a));
                }
            }
        }
    }

    /// `@domain` (catch-all) or `local@domain`, normalised; reports bad syntax.
    pub(crate) fn alias_address(&mut self, file: usize, a: &Located<String>) -> Option<String> {
        let text = a.trim();
        if let Some(domain) = text.strip_prefix('@') {
            return match normalize_domain(domain) {
                Ok(d) => Some(format!("@{d}")),
                Err(e) => {
                    self.error("invalid-address", file, a.at, e);
                    None
                }
            };
        }
        match normalize_address(text) {
            Ok((local, domain)) => Some(names::address(&local, &domain)),
            Err(e) => {
                self.error_help("invalid-address", file, a.at, e, "write a full address such as `info@example.org`, or `@example.org` for a catch-all");
                None
            }
        }
    }

    pub(crate) fn is_local_domain(&self, d: &str) -> bool {
        self.domains.contains_key(d) || self.alias_domains.contains_key(d)
    }

    fn count_by_domain(&mut self) {
        for (alias_domain, target) in &self.alias_domains {
            self.alias_domains_of.entry(target.clone()).or_default().push(alias_domain.clone());
        }
        for a in self.aliases.keys() {
            let d = names::domain_of(a);
            let owner = self.alias_domains.get(d).map_or(d, String::as_str);
            *self.aliases_per_domain.entry(owner.to_string()).or_default() += 1;
        }
    }

    fn check(&mut self, rules: &[Rule]) {
        let l = self.l;
        self.count_by_domain();
        if let Some((file, s)) = &l.settings {
            self.check_settings(*file, s);
        }
        for (file, doc) in &l.documents {
            let file = *file;
            self.check_secret_references(file, doc);
            for rule in rules {
                rule(self, file, doc);
            }
            if let Some(services) = &doc.services {
                self.check_services(file, services);
            }
        }
        self.check_transport_nexthops();
        let t = std::time::Instant::now();
        self.check_alias_loops();
        crate::timing::lap("v.loops", t);
    }

    fn check_settings(&mut self, file: usize, s: &crate::settings::SettingsFile) {
        if let Some(t) = &s.target
            && let Some((_, rest)) = t.value.split_once("://")
        {
            let userinfo = rest.split('@').next().filter(|_| rest.contains('@')).unwrap_or("");
            if userinfo.contains(':') {
                self.push(
                    Diagnostic::warning("plaintext-secret", file, t.at, "the target URL in the settings file contains a database password")
                        .help("remove it; give it as MAILPLANE_DATABASE_PASSWORD or `database_password_file` instead"),
                );
            }
        }
    }

    /// Tags are rows of `tags_domain` / `tags_mailbox`, unique per object under MariaDB's
    /// case-insensitive comparison; `at` is the object's name, since tags carry no position.
    pub(crate) fn check_tags(&mut self, file: usize, at: Span, tags: Option<&[String]>) {
        let Some(tags) = tags else { return };
        if tags.len() > TAG_LIMIT {
            self.error("too-many-tags", file, at, format!("{} tags declared; mailcow allows at most {TAG_LIMIT}", tags.len()));
        }
        let mut seen = HashSet::new();
        for tag in tags {
            let n = tag.chars().count();
            let bad = if tag.trim().is_empty() {
                Some("a tag is empty".to_string())
            } else if n > TEXT_LIMIT {
                Some(format!("a tag is {n} characters long; mailcow stores at most {TEXT_LIMIT}"))
            } else if tag.chars().any(char::is_control) {
                Some(format!("tag `{}` contains a control character", names::printable(tag)))
            } else {
                None
            };
            if let Some(msg) = bad {
                self.error_help("invalid-tag", file, at, msg, "a tag is a short text on one line");
            } else if !seen.insert(tag.to_lowercase()) {
                self.error_help(
                    "invalid-tag",
                    file,
                    at,
                    format!("tag `{tag}` is listed twice"),
                    "mailcow compares tags without regard to case; list each tag once",
                );
            }
        }
    }

    /// Limits where they are written (a domain or a domain template), against mailcow's columns.
    pub(crate) fn check_limits(&mut self, file: usize, limits: Option<&DomainLimits>) {
        let Some(l) = limits else { return };
        for n in [&l.max_mailboxes, &l.max_aliases].into_iter().flatten() {
            if n.value > INT_LIMIT {
                self.error_help("out-of-range", file, n.at, format!("{} is more than mailcow's column holds ({INT_LIMIT})", n.value), "write a smaller number");
            }
        }
        for q in [&l.default_mailbox_quota, &l.max_mailbox_quota, &l.domain_quota].into_iter().flatten() {
            if !q.value.bytes().is_multiple_of(1024 * 1024) {
                self.error_help(
                    "out-of-range",
                    file,
                    q.at,
                    format!("{} is not a whole number of MiB", q.value),
                    "mailcow keeps domain limits in MiB; write e.g. `512 MiB` or `2 GiB`",
                );
            }
        }
    }

    /// The DKIM selector and key size mailcow's `dkim('add')` accepts, where they are written.
    pub(crate) fn check_dkim(&mut self, file: usize, selector: Option<&Located<String>>, size: Option<&Located<u32>>) {
        if let Some(sel) = selector {
            let chars_ok = !sel.is_empty() && sel.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            let labels_ok = sel.split('.').all(|l| !l.is_empty() && l.len() <= 63);
            if !chars_ok || !labels_ok {
                self.error_help(
                    "invalid-dkim",
                    file,
                    sel.at,
                    format!("`{}` is not a DKIM selector", names::printable(sel)),
                    "use letters, digits, `_` and `-`, in dot-separated labels of at most 63 characters, e.g. `dkim` or `s2026`",
                );
            }
        }
        if let Some(bits) = size
            && !DKIM_KEY_SIZES.contains(&bits.value)
        {
            self.error_help(
                "invalid-dkim",
                file,
                bits.at,
                format!("a DKIM key of {} bits is not one mailcow makes", bits.value),
                "use 1024, 2048, 3072 or 4096",
            );
        }
    }

    pub(crate) fn template_exists(&mut self, file: usize, name: &Located<String>, domain: bool) -> bool {
        let known =
            name.value == "Default" || if domain { self.domain_templates.contains_key(&name.value) } else { self.mailbox_templates.contains_key(&name.value) };
        if !known {
            let kind = if domain { "domain" } else { "mailbox" };
            self.error_help(
                "unknown-reference",
                file,
                name.at,
                format!("no {kind} template named `{}`", name.value),
                format!("declare it under `{kind}_templates:` or use `Default`"),
            );
        }
        known
    }

    pub(crate) fn relay_host_exists(&mut self, file: usize, r: &Located<String>) {
        if !self.relay_hosts.contains(&r.value) {
            self.error_help("unknown-reference", file, r.at, format!("no relay host named `{}`", r.value), "declare it under `relay_hosts:` with this name");
        }
    }

    /// A username or password of a relay host or transport: mailcow escapes `:` for Postfix's
    /// `user:password` lookup and stores the result in a VARCHAR(255).
    pub(crate) fn check_credential(&mut self, file: usize, v: &Located<String>, what: &str) {
        let n = v.chars().count() + v.matches(':').count();
        if n > TEXT_LIMIT {
            self.error_help(
                "text-too-long",
                file,
                v.at,
                format!("{what} is {n} characters long as mailcow stores it (`:` escaped); at most {TEXT_LIMIT} fit"),
                "shorten it",
            );
        }
        self.check_one_line(file, v, what);
    }

    pub(crate) fn warn_literal_secret(&mut self, file: usize, s: &Located<Secret>, what: String) {
        if s.is_literal() {
            self.push(
                Diagnostic::warning("plaintext-secret", file, s.at, format!("{what} is written in clear text"))
                    .help("use `{env: NAME}` or `{file: path}` so the secret stays out of git"),
            );
        }
    }

    fn check_alias_loops(&mut self) {
        // Only edges from an alias to another alias can close a loop; most aliases point at
        // mailboxes, so the graph keeps just the alias → alias edges.
        let target_of = |g: &str| {
            let g = g.trim().to_lowercase();
            if g.is_ascii() { Some(g) } else { normalize_address(&g).ok().map(|(l, d)| names::address(&l, &d).to_lowercase()) }
        };
        let graph: HashMap<String, Vec<String>> = self
            .aliases
            .iter()
            .filter_map(|(addr, (_, a))| {
                let targets: Vec<String> = a.goto.iter().filter_map(|g| target_of(g)).filter(|t| self.aliases.contains_key(t)).collect();
                (!targets.is_empty()).then(|| (addr.clone(), targets))
            })
            .collect();
        let mut done: HashSet<&str> = HashSet::new();
        let mut keys: Vec<&String> = graph.keys().collect();
        keys.sort();
        let mut cycles = Vec::new();
        for start in keys {
            let mut path: Vec<&str> = Vec::new();
            find_cycle(&graph, start, &mut path, &mut done, &mut cycles);
        }
        for cycle in cycles {
            let first = cycle[0].clone();
            if let Some((addr, (file, a))) = self.aliases.get_key_value(&first) {
                let (file, at, addr) = (*file, a.address.at, addr.clone());
                let shown = cycle.iter().chain(std::iter::once(&cycle[0])).cloned().collect::<Vec<_>>().join(" → ");
                self.error_help(
                    "alias-loop",
                    file,
                    at,
                    format!("alias `{addr}` is part of a loop: {shown}"),
                    "mail in a loop bounces; break it by pointing one alias at a mailbox",
                );
            }
        }
    }

    /// mailcow shares credentials per nexthop and forbids `[ip]` and `ip` side by side.
    fn check_transport_nexthops(&mut self) {
        let mut seen: HashMap<String, (Option<String>, String, usize, Span)> = HashMap::new();
        let l = self.l;
        for (file, doc) in &l.documents {
            for t in &doc.transports {
                let hop = t.nexthop.trim().to_string();
                let bare = hop.trim_start_matches('[').replace(']', "");
                if let Some((user, prev_hop, f, at)) = seen.get(&bare).cloned() {
                    if prev_hop != hop {
                        let prev = self.place((f, at));
                        self.error_help(
                            "nexthop-conflict",
                            *file,
                            t.nexthop.at,
                            format!("nexthop `{hop}` is also written `{prev_hop}`"),
                            format!("see {prev}; use one form"),
                        );
                    } else if user.as_deref() != t.username.as_deref().map(String::as_str) {
                        let prev = self.place((f, at));
                        self.error_help(
                            "nexthop-conflict",
                            *file,
                            t.nexthop.at,
                            format!("transports to `{hop}` use different usernames"),
                            format!("mailcow shares credentials per nexthop; see {prev}"),
                        );
                    }
                } else {
                    seen.insert(bare, (t.username.as_ref().map(|u| u.value.clone()), hop, *file, t.nexthop.at));
                }
            }
        }
    }
}

/// A name as MariaDB compares it; most are lowercase already and are not copied.
pub(crate) fn fold(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_uppercase) { s.to_lowercase().into() } else { s.into() }
}

/// Depth-first search; records each cycle once, starting at its smallest address.
fn find_cycle<'g>(graph: &'g HashMap<String, Vec<String>>, node: &'g str, path: &mut Vec<&'g str>, done: &mut HashSet<&'g str>, cycles: &mut Vec<Vec<String>>) {
    if done.contains(node) {
        return;
    }
    if let Some(pos) = path.iter().position(|p| *p == node) {
        if pos + 1 == path.len() {
            return; // an alias pointing at itself is reported as such, not as a loop
        }
        let cycle: Vec<String> = path[pos..].iter().map(|s| s.to_string()).collect();
        let min = cycle.iter().enumerate().min_by_key(|(_, s)| s.as_str()).map(|(i, _)| i).unwrap_or(0);
        let mut rotated = cycle[min..].to_vec();
        rotated.extend_from_slice(&cycle[..min]);
        if !cycles.contains(&rotated) {
            cycles.push(rotated);
        }
        return;
    }
    let Some(next) = graph.get(node) else { return };
    path.push(node);
    for n in next {
        find_cycle(graph, n, path, done, cycles);
    }
    path.pop();
    done.insert(node);
}
