//! Every rule mailcow enforces on these objects, plus what a directory of files needs
//! (unique declarations, resolvable references). All problems are collected in one run.

pub mod secrets;
mod services;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::{Diagnostic, Loaded};
use crate::model::names::{self, normalize_address, normalize_domain};
use crate::model::*;

const TAG_LIMIT: usize = 25;
const COMMENT_LIMIT: usize = 160;
/// mailcow's VARCHAR(255) columns; MariaDB's utf8mb4 counts characters, not bytes.
const TEXT_LIMIT: usize = 255;
/// mailcow's INT columns (`domain.mailboxes`, `domain.aliases`) are signed 32-bit.
const INT_LIMIT: u32 = i32::MAX as u32;
/// `_sogo_static_view.ad_aliases` and `.ext_acl` (VARCHAR(6144)): a mailbox's addresses in its
/// alias domains, and its external send-as addresses, each list joined with spaces.
const SOGO_LIST_LIMIT: usize = 6144;
/// The RSA key sizes mailcow's UI and API offer.
const DKIM_KEY_SIZES: [u32; 4] = [1024, 2048, 3072, 4096];
/// Namespaces whose keys are compared as written; every other key is a mailcow name, which
/// MariaDB compares without regard to case (utf8mb4_general_ci).
const CASE_SENSITIVE: [&str; 2] = ["service_file", "postfix_parameter"];

pub fn validate(l: &Loaded) -> Vec<Diagnostic> {
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
    v.check();
    crate::timing::lap("v.check", t);
    v.diags
}

/// Where something was declared: (file, span).
type At = (usize, Span);

struct Validator<'a> {
    l: &'a Loaded,
    diags: Vec<Diagnostic>,
    /// (namespace, key folded to lowercase) → what claimed it, where, and whether it was written
    /// with capitals; finds objects declared twice, also those that differ only in case.
    claims: HashMap<(&'static str, String), (&'static str, At, bool)>,
    domains: HashMap<String, (usize, &'a Domain)>,
    /// alias domain → target domain
    alias_domains: HashMap<String, String>,
    mailboxes: HashMap<String, (usize, &'a Mailbox, String)>,
    /// Keyed by the lowercased address, as MariaDB compares them.
    aliases: HashMap<String, (usize, &'a Alias)>,
    domain_templates: HashMap<String, &'a DomainTemplate>,
    mailbox_templates: HashMap<String, &'a MailboxTemplate>,
    relay_hosts: HashSet<String>,
    idp: Option<&'a IdentityProvider>,
    /// Counted once after indexing, because a per-domain scan is quadratic on large servers.
    aliases_per_domain: HashMap<String, u32>,
    /// target domain → its alias domains
    alias_domains_of: HashMap<String, Vec<String>>,
}

impl<'a> Validator<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
    fn error(&mut self, code: &'static str, file: usize, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::error(code, file, span, msg));
    }
    fn error_help(&mut self, code: &'static str, file: usize, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        self.push(Diagnostic::error(code, file, span, msg).help(help));
    }
    fn place(&self, at: At) -> String {
        let name = self.l.sources.get(at.0).map(|s| s.name.as_str()).unwrap_or("?");
        format!("{name}:{}:{}", at.1.line, at.1.column)
    }

    /// Records that `key` in `ns` is declared by `what` at `at`; reports a second declaration.
    fn claim(&mut self, ns: &'static str, key: &str, what: &'static str, at: At) -> bool {
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
    fn check_text(&mut self, file: usize, v: &Located<String>, what: &str, limit: usize) {
        let n = v.chars().count();
        if n > limit {
            self.error_help("text-too-long", file, v.at, format!("{what} is {n} characters long; mailcow stores at most {limit}"), "shorten it");
        }
        self.check_one_line(file, v, what);
    }

    /// Text that ends up in a Postfix lookup or a one-line field: a newline or other control
    /// character would end the entry or change what it means.
    fn check_one_line(&mut self, file: usize, v: &Located<String>, what: &str) {
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

    fn domain_name(&mut self, file: usize, name: &Located<String>) -> Option<String> {
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
    fn alias_address(&mut self, file: usize, a: &Located<String>) -> Option<String> {
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

    fn is_local_domain(&self, d: &str) -> bool {
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

    fn check(&mut self) {
        let l = self.l;
        self.count_by_domain();
        if let Some((file, s)) = &l.settings {
            self.check_settings(*file, s);
        }
        for (file, doc) in &l.documents {
            let file = *file;
            self.check_secret_references(file, doc);
            for d in &doc.domains {
                self.check_domain(file, d);
            }
            for a in &doc.aliases {
                self.check_alias(file, a, None);
            }
            for t in &doc.domain_templates {
                self.check_text(file, &t.name, "the template name", TEXT_LIMIT);
                self.check_tags(file, t.name.at, t.tags.as_deref());
                self.check_limits(file, t.limits.as_ref());
                self.check_dkim(file, t.dkim_selector.as_ref(), t.dkim_key_size.as_ref());
            }
            for t in &doc.mailbox_templates {
                self.check_text(file, &t.name, "the template name", TEXT_LIMIT);
                self.check_tags(file, t.name.at, t.tags.as_deref());
            }
            for f in &doc.forwarding_hosts {
                self.check_forwarding_host(file, &f.host);
            }
            for b in &doc.bcc_maps {
                self.check_bcc(file, b);
            }
            for r in &doc.recipient_maps {
                self.check_recipient_map(file, r);
            }
            for t in &doc.tls_policies {
                self.check_tls_policy(file, t);
            }
            for r in &doc.relay_hosts {
                self.check_relay_host(file, r);
            }
            self.check_transports(file, &doc.transports);
            if let Some(idp) = &doc.identity_provider {
                self.check_idp(file, idp);
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
    fn check_tags(&mut self, file: usize, at: Span, tags: Option<&[String]>) {
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
    fn check_limits(&mut self, file: usize, limits: Option<&DomainLimits>) {
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
    fn check_dkim(&mut self, file: usize, selector: Option<&Located<String>>, size: Option<&Located<u32>>) {
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

    /// A forwarding host becomes Redis keys and is resolved when planning: an IP, a network or a host name.
    fn check_forwarding_host(&mut self, file: usize, host: &Located<String>) {
        let h = host.trim();
        let ok = names::is_network(h) || (!h.is_empty() && names::check_host_labels(&h.to_ascii_lowercase()).is_ok());
        if !ok {
            self.error_help(
                "invalid-forwarding-host",
                file,
                host.at,
                format!("`{}` is not an IP address, a network or a host name", names::printable(h)),
                "write e.g. `192.0.2.10`, `198.51.100.0/24` or `mx.partner.example`",
            );
        }
    }

    fn template_exists(&mut self, file: usize, name: &Located<String>, domain: bool) -> bool {
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

    fn relay_host_exists(&mut self, file: usize, r: &Located<String>) {
        if !self.relay_hosts.contains(&r.value) {
            self.error_help("unknown-reference", file, r.at, format!("no relay host named `{}`", r.value), "declare it under `relay_hosts:` with this name");
        }
    }

    fn domain_settings(&mut self, file: usize, d: &Domain) -> DomainSettings {
        let name = d.template.as_ref().map_or("Default", |t| t.as_str());
        if let Some(t) = &d.template {
            self.template_exists(file, t, true);
        }
        d.settings().effective(self.domain_templates.get(name).map(|t| t.settings()).as_ref())
    }

    fn check_domain(&mut self, file: usize, d: &'a Domain) {
        let Ok(name) = normalize_domain(&d.name) else { return };
        if self.domains.get(&name).map(|(f, x)| (*f, std::ptr::eq(*x, d))) != Some((file, true)) {
            return; // a duplicate, already reported
        }
        if let Some(host) = self.l.settings.as_ref().and_then(|(_, s)| s.mailcow_hostname.as_deref())
            && normalize_domain(host).ok().as_deref() == Some(name.as_str())
        {
            self.error("domain-is-hostname", file, d.name.at, format!("`{name}` is the server's own hostname and cannot be a mail domain"));
        }
        let s = self.domain_settings(file, d);
        self.check_tags(file, d.name.at, d.tags.as_deref());
        if let Some(desc) = &d.description {
            self.check_text(file, desc, &format!("domain `{name}`: the description"), TEXT_LIMIT);
        }
        self.check_limits(file, d.limits.as_ref());
        self.check_dkim(file, d.dkim_selector.as_ref(), d.dkim_key_size.as_ref());
        for ad in &d.alias_domains {
            self.check_dkim(file, ad.dkim_selector.as_ref(), ad.dkim_key_size.as_ref());
        }
        if let Some(k) = &d.dkim_private_key {
            self.check_dkim_key(file, k, &name);
        }
        if let Some(r) = &d.relay_host {
            self.relay_host_exists(file, r);
        }
        let own = d.limits.clone().unwrap_or_default();
        let lim = s.limits.clone().unwrap_or_default();
        let at_own = |f: &Option<Located<Size>>| f.as_ref().map(|x| x.at).unwrap_or(d.name.at);
        let def = lim.default_mailbox_quota.as_ref().map(|x| x.value).unwrap_or_default();
        let max = lim.max_mailbox_quota.as_ref().map(|x| x.value).unwrap_or_default();
        let total = lim.domain_quota.as_ref().map(|x| x.value).unwrap_or_default();
        if def.is_unlimited() {
            self.error("quota-order", file, at_own(&own.default_mailbox_quota), format!("domain `{name}`: the default mailbox quota cannot be unlimited"));
        }
        if max.is_unlimited() {
            self.error("quota-order", file, at_own(&own.max_mailbox_quota), format!("domain `{name}`: the maximum mailbox quota cannot be unlimited"));
        }
        if total.is_unlimited() {
            self.error("quota-order", file, at_own(&own.domain_quota), format!("domain `{name}`: the domain quota cannot be unlimited"));
        }
        if def > max && !max.is_unlimited() {
            self.error_help(
                "quota-order",
                file,
                at_own(&own.default_mailbox_quota),
                format!("domain `{name}`: default mailbox quota {def} exceeds the maximum mailbox quota {max}"),
                "the default must be at most the maximum, which must be at most the domain quota",
            );
        }
        if max > total && !total.is_unlimited() {
            self.error_help(
                "quota-order",
                file,
                at_own(&own.max_mailbox_quota),
                format!("domain `{name}`: maximum mailbox quota {max} exceeds the domain quota {total}"),
                "the default must be at most the maximum, which must be at most the domain quota",
            );
        }
        let backup = s.backup_mx.unwrap_or(false);
        let all = s.relay_all_recipients.unwrap_or(false);
        if all && !backup {
            self.error_help("relay-flags", file, d.name.at, format!("domain `{name}`: relay_all_recipients needs backup_mx"), "set `backup_mx: true` as well");
        }
        if s.relay_unknown_only.unwrap_or(false) && !all {
            self.error_help(
                "relay-flags",
                file,
                d.name.at,
                format!("domain `{name}`: relay_unknown_only needs relay_all_recipients"),
                "set `backup_mx: true` and `relay_all_recipients: true` as well",
            );
        }
        for ad in &d.alias_domains {
            if let Ok(adn) = normalize_domain(&ad.name) {
                if adn == name {
                    self.error("alias-domain", file, ad.name.at, format!("alias domain `{adn}` cannot point at itself"));
                }
                if backup {
                    self.error("alias-domain", file, ad.name.at, format!("`{name}` is a backup MX (relay) domain and cannot have alias domains"));
                }
            }
        }

        let mut quota_sum = Size(0);
        let mut counted = 0u32;
        let mut longest_local = 0;
        for m in &d.mailboxes {
            let lp = m.local_part.trim().to_lowercase();
            let addr = names::address(&lp, &name);
            if !matches!(self.mailboxes.get(&addr), Some((f, x, _)) if *f == file && std::ptr::eq(*x, m)) {
                continue;
            }
            counted += 1;
            longest_local = longest_local.max(lp.len());
            let q = self.check_mailbox(file, m, &addr, max);
            quota_sum = Size(quota_sum.0.saturating_add(q.0));
        }
        if let Some(maxn) = lim.max_mailboxes.as_ref().map(|x| x.value)
            && counted > maxn
        {
            let at = own.max_mailboxes.as_ref().map(|x| x.at).unwrap_or(d.name.at);
            self.error_help(
                "limit-exceeded",
                file,
                at,
                format!("domain `{name}` declares {counted} mailboxes but allows at most {maxn}"),
                "raise `limits.max_mailboxes` or remove mailboxes",
            );
        }
        if !total.is_unlimited() && quota_sum > total {
            self.error_help(
                "quota-exceeded",
                file,
                at_own(&own.domain_quota),
                format!("domain `{name}`: its mailboxes' quotas add up to {quota_sum}, more than the domain quota {total}"),
                "raise `limits.domain_quota` or lower mailbox quotas",
            );
        }
        let local: HashSet<String> = std::iter::once(name.clone()).chain(self.alias_domains_of.get(&name).into_iter().flatten().cloned()).collect();
        let listed = local.iter().filter(|x| **x != name).map(|ad| longest_local + 2 + ad.len()).sum::<usize>().saturating_sub(1);
        if longest_local > 0 && listed > SOGO_LIST_LIMIT {
            self.error_help("text-too-long", file, d.name.at,
                format!("domain `{name}`: a mailbox's addresses in its {} alias domains add up to {listed} characters; mailcow's SOGo view keeps at most {SOGO_LIST_LIMIT}", local.len() - 1),
                "use fewer or shorter alias domains (or shorter local parts)");
        }
        for a in &d.aliases {
            self.check_alias(file, a, Some((&name, &local)));
        }
        if let Some(maxa) = lim.max_aliases.as_ref().map(|x| x.value) {
            let n = self.aliases_per_domain.get(&name).copied().unwrap_or(0);
            if n > maxa {
                let at = own.max_aliases.as_ref().map(|x| x.at).unwrap_or(d.name.at);
                self.error_help(
                    "limit-exceeded",
                    file,
                    at,
                    format!("domain `{name}` has {n} aliases (its alias domains included) but allows at most {maxa}"),
                    "raise `limits.max_aliases` or remove aliases",
                );
            }
        }
    }

    /// Checks one mailbox; returns its effective quota.
    fn check_mailbox(&mut self, file: usize, m: &Mailbox, addr: &str, max: Size) -> Size {
        if let Some(t) = &m.template {
            self.template_exists(file, t, false);
        }
        let name = m.template.as_ref().map_or("Default", |t| t.as_str());
        let s = m.settings().effective(self.mailbox_templates.get(name).map(|t| t.settings()).as_ref());
        let quota = s.quota.as_ref().map(|q| q.value).unwrap_or_default();
        if !max.is_unlimited() && quota > max {
            let at = m.quota.as_ref().map(|q| q.at).unwrap_or(m.local_part.at);
            self.error_help(
                "quota-exceeded",
                file,
                at,
                format!("mailbox `{addr}`: quota {quota} exceeds the domain's maximum mailbox quota {max}"),
                "lower the quota or raise `limits.max_mailbox_quota` of the domain",
            );
        }
        if !max.is_unlimited() && quota.is_unlimited() && m.quota.is_some() {
            // mailcow allows unlimited mailboxes only to admins; that is what mailplane is.
        }
        self.check_tags(file, m.local_part.at, m.tags.as_deref());
        if let Some(n) = &m.name {
            self.check_text(file, n, &format!("mailbox `{addr}`: the name"), TEXT_LIMIT);
        }
        if let Some(r) = &m.relay_host {
            self.relay_host_exists(file, r);
        }
        let source = m.authsource.as_ref().map(|a| a.value).unwrap_or_default();
        if source != AuthSource::Mailcow {
            let at = m.authsource.as_ref().map(|a| a.at).unwrap_or(m.local_part.at);
            if self.idp.map(|i| i.authsource()) != Some(source) {
                self.error_help(
                    "unknown-reference",
                    file,
                    at,
                    format!("mailbox `{addr}` uses authsource `{}`, but no such identity provider is declared", source.mailcow()),
                    format!("declare `identity_provider: {{{}: ...}}` or use `mailcow`", source.mailcow().replace('-', "_")),
                );
            }
            if let Some(p) = &m.password {
                self.error_help(
                    "password-unused",
                    file,
                    p.at,
                    format!("mailbox `{addr}` authenticates with {}; a password cannot be set", source.mailcow()),
                    "remove `password`: mailcow stores an empty password for external authsources",
                );
            }
        }
        if let Some(p) = &m.password {
            self.check_password(file, p, addr);
        }
        if let Some(r) = &m.recovery_email
            && let Err(e) = normalize_address(r)
        {
            self.error("invalid-address", file, r.at, format!("recovery_email: {e}"));
        }
        for e in &m.sender_acl {
            self.check_sender_acl(file, e, addr, false);
        }
        for e in &m.external_sender_acl {
            self.check_sender_acl(file, e, addr, true);
        }
        let ext = m.external_sender_acl.iter().map(|e| e.trim()).filter(|e| !e.starts_with('@')).map(|e| e.len() + 1).sum::<usize>().saturating_sub(1);
        if ext > SOGO_LIST_LIMIT {
            self.error_help(
                "text-too-long",
                file,
                m.local_part.at,
                format!("mailbox `{addr}`: its external sender addresses add up to {ext} characters; mailcow's SOGo view keeps at most {SOGO_LIST_LIMIT}"),
                "send as whole domains (`@example.net`), which are not listed there, or list fewer addresses",
            );
        }
        quota
    }

    fn check_password(&mut self, file: usize, p: &Located<Secret>, addr: &str) {
        if let Secret::Literal(v) = &p.value {
            if v.chars().count() > TEXT_LIMIT {
                self.error_help(
                    "text-too-long",
                    file,
                    p.at,
                    format!("mailbox `{addr}`: the password is longer than mailcow stores ({TEXT_LIMIT} characters)"),
                    "use a shorter hash, e.g. {BLF-CRYPT} from `doveadm pw -s BLF-CRYPT`",
                );
            } else if v.starts_with('{') && !crate::password::is_prehashed(v) {
                let scheme: String = v.chars().take_while(|c| *c != '}').chain(std::iter::once('}')).collect();
                self.error_help(
                    "unknown-hash-scheme",
                    file,
                    p.at,
                    format!("mailbox `{addr}`: `{scheme}` is not a password scheme mailcow accepts"),
                    "use e.g. {BLF-CRYPT}, {SHA512-CRYPT}, {ARGON2ID}, {SSHA256}; make one with `doveadm pw -s BLF-CRYPT`",
                );
            } else if !v.starts_with('{') {
                self.push(
                    Diagnostic::warning("plaintext-secret", file, p.at, format!("mailbox `{addr}`: the password is written in clear text"))
                        .help("store a hash (`doveadm pw -s BLF-CRYPT`) or a reference such as `{env: ALICE_PASSWORD}`"),
                );
            }
        }
    }

    /// A DKIM key written in the file is checked now; references are read when planning.
    fn check_dkim_key(&mut self, file: usize, k: &Located<Secret>, domain: &str) {
        if let Secret::Literal(pem) = &k.value
            && let Err(e) = crate::model::dkim_key::public_b64(pem)
        {
            self.error_help(
                "invalid-dkim",
                file,
                k.at,
                format!("domain `{domain}`: {e}"),
                "supply an RSA private key in PEM, `BEGIN PRIVATE KEY` (PKCS#8) or `BEGIN RSA PRIVATE KEY` (PKCS#1)",
            );
        }
    }

    /// A username or password of a relay host or transport: mailcow escapes `:` for Postfix's
    /// `user:password` lookup and stores the result in a VARCHAR(255).
    fn check_credential(&mut self, file: usize, v: &Located<String>, what: &str) {
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

    fn warn_literal_secret(&mut self, file: usize, s: &Located<Secret>, what: String) {
        if s.is_literal() {
            self.push(
                Diagnostic::warning("plaintext-secret", file, s.at, format!("{what} is written in clear text"))
                    .help("use `{env: NAME}` or `{file: path}` so the secret stays out of git"),
            );
        }
    }

    fn check_sender_acl(&mut self, file: usize, e: &Located<String>, owner: &str, external: bool) {
        let v = e.trim();
        if v == "*" {
            if external {
                self.error("sender-acl", file, e.at, "`*` is only allowed in sender_acl, not in external_sender_acl");
            }
            return;
        }
        let (domain, is_domain) = match v.strip_prefix('@') {
            Some(d) => (normalize_domain(d), true),
            None => (normalize_address(v).map(|(_, d)| d), false),
        };
        let domain = match domain {
            Ok(d) => d,
            Err(err) => return self.error("invalid-address", file, e.at, err),
        };
        let local = self.is_local_domain(&domain);
        if external && local {
            self.error_help("sender-acl", file, e.at, format!("mailbox `{owner}`: `{v}` is on this server, not external"), "move it to `sender_acl`");
        } else if !external && !local {
            self.error_help(
                "sender-acl",
                file,
                e.at,
                format!("mailbox `{owner}`: `{v}` is not in a domain of this server"),
                "move it to `external_sender_acl`",
            );
        } else if !external && !is_domain {
            let key = normalize_address(v).map(|(l, d)| names::address(&l, &d)).unwrap_or_default();
            let key = key.to_lowercase();
            if !self.aliases.contains_key(&key) && !self.mailboxes.contains_key(&key) {
                self.error_help(
                    "unknown-reference",
                    file,
                    e.at,
                    format!("mailbox `{owner}` may send as `{v}`, but no alias or mailbox has that address"),
                    "declare the alias, or send-as a whole domain with `@domain`",
                );
            }
        }
    }

    fn check_alias(&mut self, file: usize, a: &'a Alias, in_domain: Option<(&str, &HashSet<String>)>) {
        let Some(addr) = self.alias_address(file, &a.address) else { return };
        if !matches!(self.aliases.get(fold(&addr).as_ref()), Some((f, x)) if *f == file && std::ptr::eq(*x, a)) {
            return;
        }
        let domain = names::domain_of(&addr).to_string();
        match in_domain {
            Some((owner, local)) if !local.contains(&domain) => {
                self.error_help(
                    "alias-domain-mismatch",
                    file,
                    a.address.at,
                    format!("alias `{addr}` is declared under domain `{owner}` but its address is not in it or its alias domains"),
                    "move it to the domain it belongs to, or to the top-level `aliases:`",
                );
            }
            None if !self.is_local_domain(&domain) => {
                self.error_help(
                    "unknown-reference",
                    file,
                    a.address.at,
                    format!("alias `{addr}`: `{domain}` is not a declared domain or alias domain"),
                    "declare the domain, or fix the address",
                );
            }
            _ => {}
        }
        if let Some(target) = self.alias_domains.get(&domain) {
            let local = addr.split('@').next().unwrap_or("").to_lowercase();
            if !local.is_empty() && self.mailboxes.contains_key(&names::address(&local, target)) {
                self.error(
                    "address-taken",
                    file,
                    a.address.at,
                    format!("alias `{addr}` would hide mailbox `{local}@{target}`, which alias domain `{domain}` already delivers"),
                );
            }
        }
        if a.goto.is_empty() {
            self.error_help("empty-goto", file, a.goto.at, format!("alias `{addr}` has no targets"), "list at least one address, or `discard`");
        }
        let special = a.goto.iter().filter(|g| SPECIAL_TARGETS.iter().any(|(s, _)| *s == g.trim())).count();
        if special > 0 && a.goto.len() > 1 {
            self.error_help(
                "goto-special",
                file,
                a.goto.at,
                format!("alias `{addr}`: discard / learn-as-spam / learn-as-ham must be the only target"),
                "remove the other targets or the special one",
            );
        }
        for g in a.goto.iter() {
            let t = g.trim();
            if SPECIAL_TARGETS.iter().any(|(s, _)| *s == t) {
                continue;
            }
            match normalize_address(t) {
                Ok((l, d)) if names::address(&l, &d) == addr => {
                    self.error("alias-self", file, g.at, format!("alias `{addr}` points at itself"));
                }
                Ok(_) => {}
                Err(e) => self.error_help(
                    "invalid-address",
                    file,
                    g.at,
                    format!("alias `{addr}`: {e}"),
                    "targets are addresses, or one of discard, learn-as-spam, learn-as-ham",
                ),
            }
        }
        for c in [&a.public_comment, &a.private_comment].into_iter().flatten() {
            if c.chars().count() > COMMENT_LIMIT {
                self.error("comment-too-long", file, c.at, format!("alias `{addr}`: comments are limited to {COMMENT_LIMIT} characters"));
            }
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

    fn check_bcc(&mut self, file: usize, b: &BccMap) {
        let v = b.local_dest.trim();
        let key = if v.contains('@') && !v.starts_with('@') {
            match normalize_address(v) {
                Ok((l, d)) => {
                    let addr = names::address(&l, &d);
                    let addr = addr.to_lowercase();
                    if !self.aliases.contains_key(&addr) && !self.mailboxes.contains_key(&addr) {
                        self.error_help(
                            "unknown-reference",
                            file,
                            b.local_dest.at,
                            format!("BCC map: `{addr}` is not a declared mailbox or alias"),
                            "BCC maps apply to local addresses or local domains",
                        );
                    }
                    addr
                }
                Err(e) => return self.error("invalid-address", file, b.local_dest.at, e),
            }
        } else {
            match normalize_domain(v.trim_start_matches('@')) {
                Ok(d) => {
                    if !self.is_local_domain(&d) {
                        self.error_help(
                            "unknown-reference",
                            file,
                            b.local_dest.at,
                            format!("BCC map: `{d}` is not a declared domain or alias domain"),
                            "BCC maps apply to local addresses or local domains",
                        );
                    }
                    format!("@{d}")
                }
                Err(e) => return self.error("invalid-domain", file, b.local_dest.at, e),
            }
        };
        if let Err(e) = normalize_address(&b.bcc_dest) {
            self.error("invalid-address", file, b.bcc_dest.at, format!("bcc_dest: {e}"));
        }
        self.claim("bcc_map", &format!("{key} ({})", b.kind.mailcow()), "BCC map", (file, b.local_dest.at));
    }

    fn address_or_domain(&mut self, file: usize, v: &Located<String>) -> Option<String> {
        let t = v.trim().trim_start_matches('@');
        let r = if t.contains('@') { normalize_address(t).map(|(l, d)| names::address(&l, &d)) } else { normalize_domain(t).map(|d| format!("@{d}")) };
        r.map_err(|e| self.error_help("invalid-address", file, v.at, e, "write an address (`old@example.org`) or a domain (`example.org`)")).ok()
    }

    fn check_recipient_map(&mut self, file: usize, r: &RecipientMap) {
        if let Some(old) = self.address_or_domain(file, &r.old) {
            self.claim("recipient_map", &old, "recipient map", (file, r.old.at));
        }
        self.address_or_domain(file, &r.new);
    }

    fn check_tls_policy(&mut self, file: usize, t: &TlsPolicy) {
        let dest = t.destination.trim();
        let host = dest.strip_prefix('[').and_then(|r| r.split_once(']')).map_or(Ok(dest), |(h, port)| {
            if port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p >= 1)) { Ok(h) } else { Err(()) }
        });
        let valid = host.is_ok_and(|h| h.parse::<std::net::IpAddr>().is_ok() || normalize_domain(h).is_ok());
        if !valid || dest.contains('*') || dest.contains('@') || dest.chars().count() > TEXT_LIMIT {
            self.error_help(
                "tls-destination",
                file,
                t.destination.at,
                format!("`{dest}` is not a TLS policy destination"),
                "write a domain (`gmail.com`) or a next hop (`[mx.example.net]:25`)",
            );
        } else {
            self.claim("tls_policy", &dest.to_lowercase(), "TLS policy", (file, t.destination.at));
        }
        if let Some(p) = &t.parameters {
            self.check_text(file, p, &format!("TLS policy `{dest}`: the parameter list"), TEXT_LIMIT);
            for token in p.split_whitespace() {
                let ok = token.split_once('=').is_some_and(|(k, v)| !k.is_empty() && !v.is_empty());
                if !ok {
                    self.error_help(
                        "tls-parameters",
                        file,
                        p.at,
                        format!("TLS policy parameter `{token}` is not `name=value`"),
                        "e.g. `match=.google.com protocols=>=TLSv1.2`",
                    );
                }
            }
        }
    }

    fn check_relay_host(&mut self, file: usize, r: &RelayHost) {
        if r.hostname.trim().is_empty() {
            self.error("invalid-nexthop", file, r.hostname.at, format!("relay host `{}` has no hostname", r.name.value));
        } else {
            self.check_nexthop(file, &r.hostname);
        }
        self.check_secrets(file, r.username.as_ref(), r.password.as_ref(), &format!("relay host `{}`", r.name.value));
    }

    /// Next hops go verbatim into Postfix's transport lookups (`smtp_via_transport_maps:<hop>`).
    fn check_nexthop(&mut self, file: usize, hop: &Located<String>) {
        let e = names::check_nexthop(hop).err().or_else(|| {
            let n = hop.trim().chars().count();
            (n > TEXT_LIMIT).then(|| format!("the next hop is {n} characters long; mailcow stores at most {TEXT_LIMIT}"))
        });
        if let Some(e) = e {
            self.error_help(
                "invalid-nexthop",
                file,
                hop.at,
                e,
                "write `host`, `host:port`, `[host]` or `[host]:port` with a port from 1 to 65535, e.g. `[smtp.example.com]:587`",
            );
        }
    }

    /// The username, and a password written in the file; references are read when planning.
    fn check_secrets(&mut self, file: usize, user: Option<&Located<String>>, password: Option<&Located<Secret>>, owner: &str) {
        if let Some(u) = user {
            self.check_credential(file, u, &format!("{owner}: the username"));
        }
        if let Some(p) = password {
            if let Secret::Literal(v) = &p.value {
                self.check_credential(file, &Located { value: v.clone(), at: p.at }, &format!("{owner}: the password"));
            }
            self.warn_literal_secret(file, p, format!("{owner}: the password"));
        }
    }

    fn check_transports(&mut self, file: usize, ts: &[Transport]) {
        for t in ts {
            let dest = t.destination.trim();
            if t.mx_based.unwrap_or(false) {
                if let Err(e) = regex::Regex::new(dest) {
                    let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                    self.error_help(
                        "transport-destination",
                        file,
                        t.destination.at,
                        format!("`{dest}` is not a valid regular expression: {first}"),
                        "with `mx_based: true` the destination is matched against MX host names",
                    );
                }
            } else {
                let ok =
                    dest == "*" || normalize_domain(dest.strip_prefix('.').unwrap_or(dest)).is_ok() || (dest.contains('@') && normalize_address(dest).is_ok());
                if !ok {
                    self.error_help(
                        "transport-destination",
                        file,
                        t.destination.at,
                        format!("`{dest}` is not a transport destination"),
                        "write a domain, `.domain` for its subdomains, an address, or `*`",
                    );
                }
            }
            if dest.chars().count() > TEXT_LIMIT {
                self.error_help(
                    "text-too-long",
                    file,
                    t.destination.at,
                    format!("the transport destination is {} characters long; mailcow stores at most {TEXT_LIMIT}", dest.chars().count()),
                    "shorten it",
                );
            }
            self.check_one_line(file, &t.destination, "the transport destination");
            if t.nexthop.trim().is_empty() {
                self.error("invalid-nexthop", file, t.nexthop.at, format!("transport for `{dest}` has no nexthop"));
            } else {
                self.check_nexthop(file, &t.nexthop);
            }
            self.claim("transport", &dest.to_lowercase(), "transport", (file, t.destination.at));
            self.check_secrets(file, t.username.as_ref(), t.password.as_ref(), &format!("transport `{dest}`"));
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

    fn check_idp(&mut self, file: usize, idp: &Located<IdentityProvider>) {
        if self.idp.is_none_or(|i| !std::ptr::eq(i, &idp.value)) {
            return;
        }
        for m in idp.mappings() {
            self.template_exists(file, &m.template, false);
        }
        if let Some(t) = idp.default_template() {
            self.template_exists(file, t, false);
        }
        if let Some(s) = idp.secret() {
            self.warn_literal_secret(file, s, "the identity provider's secret".to_string());
        }
        let interval = match &idp.value {
            IdentityProvider::Ldap(p) => {
                if p.hosts.is_empty() {
                    self.error("idp-settings", file, p.hosts.at, "LDAP needs at least one host");
                }
                for h in p.hosts.iter() {
                    // mailcow strips spaces and joins the hosts with commas into one value.
                    if h.trim().is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',') {
                        self.error_help(
                            "idp-settings",
                            file,
                            h.at,
                            format!("`{}` is not an LDAP host", names::printable(h)),
                            "write one host name or IP address per list item, without spaces or commas",
                        );
                    }
                }
                if let Some(port) = p.port.as_ref().filter(|p| p.value == 0) {
                    self.error("idp-settings", file, port.at, "the LDAP port must be from 1 to 65535");
                }
                p.sync_interval.as_ref()
            }
            IdentityProvider::Keycloak(p) => p.sync_interval.as_ref(),
            IdentityProvider::GenericOidc(_) => None,
        };
        if let Some(i) = interval
            && i.value < 1
        {
            self.error("idp-settings", file, i.at, "sync_interval is in minutes and must be at least 1");
        }
    }
}

/// A name as MariaDB compares it; most are lowercase already and are not copied.
fn fold(s: &str) -> std::borrow::Cow<'_, str> {
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
