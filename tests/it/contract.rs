//! The plan is a contract (issue 17), machine-checked: a seeded generator makes a live server
//! (by applying a random "history" directory, then forgetting that mailplane owns some of its
//! objects) and a desired state that differs from it at random; plan; apply; then
//!   (a) the next plan is empty,
//!   (b) every row of every table (mailcow's and the Redis hashes; not mailplane's bookkeeping)
//!       that changed belongs to an object the plan listed,
//!   (c) every change the plan listed changed at least one row of its object,
//!   (d) a plan that passes is applied without error.
//! The history directory is checked the same way on the empty server.
//!
//! The suite runs a few seeds per target; more by hand:
//!   MAILPLANE_CONTRACT_SEEDS=2000 MAILPLANE_CONTRACT_SEED_START=100000 cargo test --test contract -- --nocapture
//! `MAILPLANE_CONTRACT_SEED=n` runs one seed and prints its directories.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use assert_cmd::Command;
use mailplane::store::db::{Arg, Db, Stmt};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// A small, deterministic PRNG (splitmix64): the same seed gives the same case on every machine.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    /// Each of `xs` with probability `percent`, in order.
    fn subset(&mut self, xs: &[String], percent: usize) -> Vec<String> {
        xs.iter().filter(|_| self.chance(percent)).cloned().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The generated desired state. Leaf objects are kept as their YAML fields (a flow mapping's
// inside); references between objects are kept apart and dropped when rendering if their target
// is not declared, so that a generated directory is valid more often than not.

#[derive(Clone, Default)]
struct State {
    domain_templates: BTreeMap<String, String>,
    mailbox_templates: BTreeMap<String, String>,
    relay_hosts: BTreeMap<String, String>,
    domains: BTreeMap<String, Domain>,
    bcc_maps: BTreeMap<String, String>,
    recipient_maps: BTreeMap<String, String>,
    tls_policies: BTreeMap<String, String>,
    transports: BTreeMap<String, String>,
    forwarding_hosts: BTreeMap<String, String>,
    admins: BTreeMap<String, String>,
    /// Fields and domains (those that are not declared any more are left out when rendered).
    domain_admins: BTreeMap<String, (String, Vec<String>)>,
    api_keys: BTreeMap<String, String>,
    oauth_clients: BTreeMap<String, String>,
    /// The quarantine settings, the two notice mails, Fail2ban, the UI and CORS: object name → its flow fields.
    notices: BTreeMap<String, String>,
    settings_maps: BTreeMap<String, String>,
    prune: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Domain {
    fields: String,
    /// The MTA-STS policy's fields, if it has one.
    mta_sts: Option<String>,
    /// The footer's fields, if it has one.
    footer: Option<String>,
    /// Its spam policy and resources.
    extras: Vec<String>,
    template: Option<String>,
    relay_host: Option<String>,
    alias_domains: BTreeMap<String, String>,
    mailboxes: BTreeMap<String, Mailbox>,
    aliases: BTreeMap<String, Alias>,
}

#[derive(Clone, Default)]
struct Mailbox {
    fields: String,
    template: Option<String>,
    sender_acl: Vec<String>,
    /// Its spam policy and score, app passwords, filters, sync jobs, Pushover, custom attributes.
    extras: Vec<String>,
}

#[derive(Clone, Default)]
struct Alias {
    fields: String,
    goto: Vec<String>,
}

/// How a state evolves, in percent per object: added (when absent), dropped, changed.
#[derive(Clone, Copy)]
struct Mode {
    add: usize,
    drop: usize,
    change: usize,
}

const FIRST: Mode = Mode { add: 55, drop: 0, change: 0 };
const NEXT: Mode = Mode { add: 30, drop: 15, change: 30 };

const DOMAINS: [&str; 3] = ["a.example", "b.example", "c.example"];
const LOCALS: [&str; 4] = ["u0", "u1", "u2", "u3"];
const ALIAS_LOCALS: [&str; 4] = ["info", "sales", "team", "u1"];
const PASSWORD: &str = "{BLF-CRYPT}$2y$05$.oAVYApCgu2zcqetkRFd1u9r2gWVBATqFv5eGZJgPp3iqrVlMuysa";
const PRUNABLE: [&str; 11] =
    ["domain_template", "mailbox_template", "relay_host", "domain", "alias_domain", "mailbox", "alias", "bcc_map", "recipient_map", "tls_policy", "transport"];

fn names(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// The next generation of a map: each of `keys` is added, dropped, changed (made anew by `make`,
/// which sees the old value) or kept as it was.
fn evolve<V: Clone>(
    rng: &mut Rng,
    old: &BTreeMap<String, V>,
    keys: &[String],
    mode: Mode,
    mut make: impl FnMut(&mut Rng, &str, Option<&V>) -> V,
) -> BTreeMap<String, V> {
    let mut out = BTreeMap::new();
    for k in keys {
        match old.get(k) {
            None if rng.chance(mode.add) => {
                out.insert(k.clone(), make(rng, k, None));
            }
            None => {}
            Some(_) if rng.chance(mode.drop) => {}
            Some(v) if rng.chance(mode.change) => {
                out.insert(k.clone(), make(rng, k, Some(v)));
            }
            Some(v) => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// A flow mapping's fields: each candidate (key, values) is set with probability `percent`.
fn fields(rng: &mut Rng, candidates: &[(&str, &[&str])], percent: usize) -> String {
    let mut parts = Vec::new();
    for (k, values) in candidates {
        if rng.chance(percent) {
            parts.push(format!("{k}: {}", rng.pick(values)));
        }
    }
    parts.join(", ")
}

/// Flow-mapping fields, the empty ones left out.
fn join_fields<const N: usize>(parts: [String; N]) -> String {
    parts.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")
}

fn addresses(domains: &[&str], locals: &[&str]) -> Vec<String> {
    domains.iter().flat_map(|d| locals.iter().map(move |l| format!("{l}@{d}"))).collect()
}

fn alias_domains_of(d: &str) -> Vec<String> {
    let label = d.trim_end_matches(".example");
    vec![format!("{label}-alias.example"), format!("{label}-two.example")]
}

impl State {
    fn evolve(&self, rng: &mut Rng, mode: Mode) -> State {
        let mut s = State {
            domain_templates: evolve(rng, &self.domain_templates, &names(&["dt1", "dt2"]), mode, |rng, _, _| {
                fields(
                    rng,
                    &[
                        ("rate_limit", &["100/1h", "5/1m"]),
                        ("limits", &["{max_mailboxes: 50}", "{default_mailbox_quota: 512 MiB}"]),
                        ("gal", &["false", "true"]),
                    ],
                    60,
                )
            }),
            mailbox_templates: evolve(rng, &self.mailbox_templates, &names(&["mt1", "mt2"]), mode, |rng, _, _| {
                fields(
                    rng,
                    &[
                        ("quota", &["256 MiB", "1 GiB"]),
                        ("protocols", &["[imap, smtp]", "[imap, smtp, sogo]"]),
                        ("acl", &["{pw_reset: false}", "{app_passwds: true}"]),
                        ("tagged_mail_handler", &["subject", "subfolder"]),
                    ],
                    60,
                )
            }),
            relay_hosts: evolve(rng, &self.relay_hosts, &names(&["r1", "r2"]), mode, |rng, name, _| {
                // Two names never share a hostname (validate refuses that).
                let host = format!("hostname: \"[smtp.{name}.example]:{}\"", rng.pick(&["587", "25", "2525"]));
                let user = fields(rng, &[("username", &["relayuser", "other"])], 50);
                join_fields([host, user])
            }),
            bcc_maps: BTreeMap::new(),
            recipient_maps: evolve(rng, &self.recipient_maps, &names(&["old1@legacy.example", "old2@legacy.example", "legacy.example"]), mode, |rng, _, _| {
                format!("new: {}", rng.pick(&["u0@a.example", "u1@b.example", "a.example"]))
            }),
            tls_policies: evolve(rng, &self.tls_policies, &names(&["p1.example", "p2.example", "b.example"]), mode, |rng, _, _| {
                let policy = format!("policy: {}", rng.pick(&["may", "encrypt", "verify", "secure", "dane"]));
                let params = fields(rng, &[("parameters", &["match=.p1.example", "protocols=>=TLSv1.2"])], 40);
                join_fields([policy, params])
            }),
            transports: evolve(rng, &self.transports, &names(&["t1.example", "t2.example"]), mode, |rng, _, _| {
                let gateway = rng.pick(&["[gw1.example]:25", "[gw2.example]:587"]);
                let hop = format!("nexthop: \"{gateway}\"");
                // Credentials are shared per next hop (mailcow rewrites all transports to it):
                // gw2 takes them, mostly the same ones.
                let secret = if rng.chance(80) { "CONTRACT_HOP_A" } else { "CONTRACT_HOP_B" };
                let creds = if gateway.contains("gw2") { format!("username: relay, password: {{env: {secret}}}") } else { String::new() };
                let rest = fields(rng, &[("mx_based", &["true"]), ("active", &["false"])], 30);
                join_fields([hop, creds, rest])
            }),
            forwarding_hosts: evolve(rng, &self.forwarding_hosts, &names(&["192.0.2.1", "192.0.2.7", "198.51.100.0/24"]), mode, |rng, _, _| {
                fields(rng, &[("filter_spam", &["false", "true"])], 50)
            }),
            domains: BTreeMap::new(),
            admins: BTreeMap::new(),
            domain_admins: BTreeMap::new(),
            api_keys: BTreeMap::new(),
            oauth_clients: BTreeMap::new(),
            notices: BTreeMap::new(),
            settings_maps: BTreeMap::new(),
            prune: BTreeMap::new(),
        };
        s.domains = evolve(rng, &self.domains, &names(&DOMAINS), mode, |rng, name, old| {
            let old = old.cloned().unwrap_or_default();
            domain(rng, name, &old, mode)
        });
        // Domains that the loop above kept unchanged still have their contents evolved.
        for (name, d) in s.domains.iter_mut() {
            if let Some(old) = self.domains.get(name)
                && mode.change > 0
            {
                let next = domain(rng, name, old, Mode { change: 0, ..mode });
                (d.alias_domains, d.mailboxes, d.aliases) = (next.alias_domains, next.mailboxes, next.aliases);
            }
        }
        let mut local_dests = addresses(&DOMAINS, &["u0", "u2"]);
        local_dests.extend(names(&["a.example", "b-alias.example"]));
        let bcc_keys: Vec<String> = local_dests.iter().flat_map(|d| [format!("{d} sender"), format!("{d} recipient")]).collect();
        s.bcc_maps = evolve(rng, &self.bcc_maps, &bcc_keys, Mode { add: mode.add / 4, ..mode }, |rng, _, _| {
            format!("bcc_dest: {}", rng.pick(&["archive@outside.example", "journal@outside.example"]))
        });
        // Administrators from a stream of their own (the other kinds' seeds stay as they were):
        // `ops` stays active, so no plan is blocked for leaving none.
        let mut adm = Rng(rng.0 ^ 0x0AD0_11AD_0000_0021);
        let admin_fields = |rng: &mut Rng, name: &str| {
            let active = if name == "ops" { String::new() } else { fields(rng, &[("active", &["false", "true"])], 40) };
            let rest = fields(rng, &[("force_tfa", &["true", "false"]), ("force_pw_update", &["true"])], 40);
            join_fields([format!("password: \"{PASSWORD}\""), active, rest])
        };
        s.admins = evolve(&mut adm, &self.admins, &names(&["ops", "audit"]), mode, |rng, name, _| admin_fields(rng, name));
        s.admins.entry("ops".into()).or_insert_with(|| admin_fields(&mut adm, "ops"));
        let declared: Vec<String> = s.domains.keys().cloned().collect();
        s.domain_admins = evolve(&mut adm, &self.domain_admins, &names(&["da1", "da2"]), mode, |rng, name, _| {
            let mut domains = rng.subset(&declared, 60);
            if domains.is_empty() {
                domains.extend(declared.first().cloned());
            }
            let acl = fields(rng, &[("acl", &["[syncjobs, quarantine]", "[login_as, alias_domains, domain_desc]", "[]"])], 50);
            (join_fields([admin_fields(rng, name), acl]), domains)
        });
        s.api_keys = evolve(&mut adm, &self.api_keys, &names(&["rw", "ro"]), mode, |rng, access, _| {
            // Each access its own keys: one key for both is refused (the scenario tests that).
            let key = format!("key: {access}-{}", rng.pick(&["AAAA-1111", "BBBB-2222"]));
            let open = rng.chance(30);
            let allow = if open {
                "skip_ip_check: true".to_string()
            } else {
                format!("allow_from: {}", rng.pick(&["[192.0.2.10]", "[192.0.2.0/24, \"2001:db8::/48\"]"]))
            };
            join_fields([key, allow, fields(rng, &[("active", &["false", "true"])], 30)])
        });
        s.oauth_clients = evolve(&mut adm, &self.oauth_clients, &names(&["wiki", "chat"]), mode, |rng, name, _| {
            let secret = format!("secret: {}", rng.pick(&["secret-one", "secret-two"]));
            join_fields([secret, format!("redirect_uri: \"https://{name}.example/{}\"", rng.pick(&["cb", "oauth/callback"]))])
        });
        s.notices =
            evolve(
                &mut adm,
                &self.notices,
                &names(&["quarantine", "quota_warning_mail", "password_reset_mail", "fail2ban"]),
                mode,
                |rng, name, _| match name {
                    "quarantine" => fields(
                        rng,
                        &[
                            ("retention_size", &["0", "20"]),
                            ("max_score", &["12.5", "20"]),
                            ("exclude_domains", &["[a.example]", "[]"]),
                            ("release_format", &["attachment", "raw"]),
                            ("bcc", &["q@outside.example"]),
                        ],
                        50,
                    ),
                    "fail2ban" => fields(
                        rng,
                        &[
                            ("ban_time", &["600", "3600"]),
                            ("ban_time_increment", &["false"]),
                            ("allow", &["[192.0.2.0/24]", "[192.0.2.0/24, monitor.outside.example]", "[]"]),
                            ("deny", &["[203.0.113.66]", "[203.0.113.66, 198.51.100.0/24]"]),
                            ("regex", &["mailcow-defaults", "['Login failed from ([0-9a-f.:]+)', 'by ([0-9a-f.:]+) to /srv']"]),
                        ],
                        50,
                    ),
                    "ui" => fields(
                        rng,
                        &[
                            ("title", &["'R&D <Mail>'", "Mail"]),
                            ("app_links", &["[{name: Wiki, link: 'https://wiki.outside.example'}]", "[]"]),
                            ("ip_check", &["true", "false"]),
                            ("force_sso", &["true"]),
                            ("logo", &[r#"'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'"#, "''"]),
                        ],
                        50,
                    ),
                    "cors" => format!("allowed_origins: {}", rng.pick(&["['*']", "['https://portal.outside.example']"])),
                    "quota_warning_mail" => fields(rng, &[("sender", &["quota@outside.example"]), ("subject", &["Full", "'{{percent}}%'"])], 50),
                    _ => fields(rng, &[("from", &["it@outside.example"]), ("html", &["'<p>{{link}}</p>'"])], 50),
                },
            );
        s.settings_maps = evolve(&mut adm, &self.settings_maps, &names(&["Partner", "Monitoring"]), mode, |rng, _, _| {
            let content =
                format!("content: \"priority = {}; ip = \\\"198.51.100.0/24\\\"; apply {{ actions {{ greylist = null; }} }}\"", rng.pick(&["5", "10"]));
            join_fields([content, fields(rng, &[("active", &["false"])], 30)])
        });
        if mode.change > 0 {
            for kind in ["admin", "domain_admin", "api_key", "oauth_client", "settings_map"] {
                if adm.chance(50) {
                    s.prune.insert(kind.into(), "delete".into());
                }
            }
        }
        if mode.change > 0 {
            for kind in PRUNABLE {
                let how = match rng.below(10) {
                    0..=4 => continue,
                    5..=8 => "delete",
                    _ if matches!(kind, "mailbox" | "alias" | "domain" | "alias_domain" | "transport") => "disable",
                    _ => "delete",
                };
                s.prune.insert(kind.to_string(), how.to_string());
            }
            // A domain's policy and footer go with it (else most domain deletes are blocked);
            // otherwise they are pruned on their own half the time, from a stream of their own.
            let mut more = Rng(rng.0 ^ 0x0F1E_2D3C_4B5A_6978);
            for kind in ["mta_sts", "domain_footer"] {
                match s.prune.get("domain").map(String::as_str) {
                    Some("delete") => {
                        s.prune.insert(kind.into(), "delete".into());
                    }
                    _ if more.chance(50) => {
                        s.prune.insert(kind.into(), "delete".into());
                    }
                    _ => {}
                }
            }
            // Likewise what a mailbox (or domain) delete takes along, from a stream of its own.
            let mut own = Rng(rng.0 ^ 0x7A11_0F7E_5EED_0001);
            let parent_deleted = |s: &State, parent: &str| s.prune.get(parent).is_some_and(|m| m == "delete");
            for kind in ["spam_policy", "spam_score", "app_password", "sieve_filter", "sync_job", "pushover", "custom_attributes", "resource"] {
                if parent_deleted(&s, "mailbox") || parent_deleted(&s, "domain") || own.chance(50) {
                    s.prune.insert(kind.into(), "delete".into());
                }
            }
        }
        s
    }
}

/// A domain: its own fields changed (when `mode.change` > 0 or it is new) and its contents evolved.
fn domain(rng: &mut Rng, name: &str, old: &Domain, mode: Mode) -> Domain {
    let fresh = old.fields.is_empty() && old.template.is_none() || mode.change > 0;
    // The kinds added since issue 17 draw from a stream of their own, so that adding one does
    // not reshuffle every other seed's case.
    let mut more = Rng(rng.0 ^ 0xA5A5_5A5A_F00D_BEEF);
    let extras = if fresh {
        let mut own = Rng(rng.0 ^ 0x5151_7E57_C0FF_EE00);
        let mut x = Vec::new();
        if own.chance(20) {
            x.push(format!("spam_policy: {{deny: [{}]}}", own.pick(&["spam.example", "\"*@bulk.example\""])));
        }
        if own.chance(20) {
            x.push(format!("resources: [{{description: {}, kind: {}}}]", own.pick(&["Room 1", "Beamer"]), own.pick(&["location", "thing"])));
        }
        x
    } else {
        old.extras.clone()
    };
    let (fields_, mta_sts, footer, template, relay_host) = if fresh {
        (
            fields(
                rng,
                &[
                    ("description", &["\"Customer one\"", "\"Customer two\""]),
                    ("gal", &["false", "true"]),
                    ("rate_limit", &["10/1h", "500/1d"]),
                    ("tags", &["[x]", "[y]"]), // no ", ": rendered as block lines
                    ("dkim_selector", &["dkim", "s2"]),
                    ("active", &["false"]),
                ],
                35,
            ),
            more.chance(25).then(|| {
                let policy =
                    format!("mode: {}, mx: [{}]", more.pick(&["enforce", "testing", "none"]), more.pick(&["mx1.example", "mx1.example, \"*.mx.example\""]));
                join_fields([policy, fields(&mut more, &[("max_age", &["86400", "604800"]), ("active", &["false", "true"])], 30)])
            }),
            more.chance(25).then(|| {
                let plain = format!("plain: \"{}\"", more.pick(&["-- \\nOne", "-- \\nTwo"]));
                join_fields([plain, fields(&mut more, &[("html", &["'<p>One</p>'", "''"]), ("skip_replies", &["true", "false"])], 40)])
            }),
            rng.chance(40).then(|| rng.pick(&["dt1", "dt2"]).to_string()),
            rng.chance(30).then(|| rng.pick(&["r1", "r2"]).to_string()),
        )
    } else {
        (old.fields.clone(), old.mta_sts.clone(), old.footer.clone(), old.template.clone(), old.relay_host.clone())
    };
    let sub = Mode { change: mode.change.max(25) * usize::from(mode.drop > 0 || mode.change > 0), ..mode };
    let alias_domains = evolve(rng, &old.alias_domains, &alias_domains_of(name), sub, |rng, _, _| fields(rng, &[("active", &["false", "true"])], 30));
    let mailboxes = evolve(rng, &old.mailboxes, &names(&LOCALS), sub, |rng, _, _| mailbox(rng));
    let mut alias_addresses = addresses(&[name], &ALIAS_LOCALS);
    alias_addresses.push(format!("@{name}"));
    alias_addresses.extend(addresses(&[&alias_domains_of(name)[0]], &["sales"]));
    let aliases = evolve(rng, &old.aliases, &alias_addresses, sub, |rng, _, _| alias(rng));
    Domain { fields: fields_, mta_sts, footer, extras, template, relay_host, alias_domains, mailboxes, aliases }
}

fn mailbox(rng: &mut Rng) -> Mailbox {
    let f = fields(
        rng,
        &[
            ("name", &["\"User One\"", "\"User Two\""]),
            ("quota", &["256 MiB", "512 MiB", "1 GiB"]),
            ("state", &["active", "no-login", "inactive"]),
            ("rate_limit", &["10/1m", "100/1h"]),
            ("tags", &["[vip]", "[vip, staff]"]),
            ("tagged_mail_handler", &["subject", "subfolder", "none"]),
            ("external_sender_acl", &["[ext@outside.example]"]),
        ],
        30,
    );
    let mut senders = addresses(&DOMAINS, &["info", "sales", "u0"]);
    senders.extend(names(&["@a-alias.example", "@b.example", "sales@a-alias.example"]));
    // The kinds of the rest of the panel draw from a stream of their own.
    let mut own = Rng(rng.0 ^ 0x0DD_BA11_CAFE_F00D);
    let mut extras = Vec::new();
    let choices: [(usize, &[&str]); 7] = [
        (20, &["spam_policy: {allow: [friend@partner.example]}", "spam_policy: {deny: [spam.example], allow: [\"*@partner.example\"]}"]),
        (15, &["spam_score: {low: 5, high: 10}", "spam_score: {low: 7, high: 7}"]),
        (
            15,
            &[
                "app_passwords: [{name: Phone, password: \"{SHA512-CRYPT}$6$a$b\", protocols: [imap]}]",
                "app_passwords: [{name: Laptop, password: \"{SHA512-CRYPT}$6$c$d\"}]",
            ],
        ),
        (
            15,
            &[
                "sieve_filters: [{description: Sort, type: prefilter, script: \"keep;\"}]",
                "sieve_filters: [{description: Sort, type: postfilter, active: false, script: \"discard;\"}]",
            ],
        ),
        (
            10,
            &[
                "sync_jobs: [{host: imap.old.example, user: u, password: old-pass}]",
                "sync_jobs: [{host: imap.old.example, user: u, password: old-pass, port: 993, encryption: ssl}]",
            ],
        ),
        (
            10,
            &[
                "pushover: {key: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa1, token: bbbbbbbbbbbbbbbbbbbbbbbbbbbbb2}",
                "pushover: {key: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa1, token: bbbbbbbbbbbbbbbbbbbbbbbbbbbbb2, title: Hi, active: false}",
            ],
        ),
        (15, &["custom_attributes: {department: One}", "custom_attributes: {department: Two, site: HQ}"]),
    ];
    for (percent, options) in choices {
        if own.chance(percent) {
            extras.push(own.pick(options).to_string());
        }
    }
    Mailbox { fields: f, template: rng.chance(40).then(|| rng.pick(&["mt1", "mt2"]).to_string()), sender_acl: rng.subset(&senders, 8), extras }
}

fn alias(rng: &mut Rng) -> Alias {
    let mut targets = addresses(&DOMAINS, &["u0", "u1", "u2"]);
    targets.push("ext@outside.example".into());
    let goto = match rng.below(12) {
        0 => vec![rng.pick(&["discard", "learn-as-spam", "learn-as-ham"]).to_string()],
        _ => {
            let mut g = rng.subset(&targets, 20);
            if g.is_empty() {
                g.push(targets[rng.below(targets.len())].clone());
            }
            g
        }
    };
    let f = fields(
        rng,
        &[
            ("active", &["false", "true"]),
            ("sogo_visible", &["false"]),
            ("internal", &["true"]),
            ("public_comment", &["\"hello\""]),
            ("sender_allowed", &["false"]),
        ],
        25,
    );
    Alias { fields: f, goto }
}

fn flow(lead: &str, rest: &str) -> String {
    if rest.is_empty() { format!("{{{lead}}}") } else { format!("{{{lead}, {rest}}}") }
}

impl State {
    /// The directory's files: (name, text).
    fn render(&self) -> Vec<(String, String)> {
        let mut y = String::new();
        let list = |y: &mut String, title: &str, key: &str, map: &BTreeMap<String, String>| {
            if !map.is_empty() {
                let _ = writeln!(y, "{title}:");
                for (k, v) in map {
                    let _ = writeln!(y, "  - {}", flow(&format!("{key}: \"{k}\""), v));
                }
            }
        };
        list(&mut y, "domain_templates", "name", &self.domain_templates);
        list(&mut y, "mailbox_templates", "name", &self.mailbox_templates);
        list(&mut y, "relay_hosts", "name", &self.relay_hosts);
        list(&mut y, "recipient_maps", "old", &self.recipient_maps);
        list(&mut y, "tls_policies", "destination", &self.tls_policies);
        list(&mut y, "transports", "destination", &self.transports);
        list(&mut y, "forwarding_hosts", "host", &self.forwarding_hosts);
        list(&mut y, "admins", "username", &self.admins);
        // Of the declared domains only (one that is gone is refused); none left, not declared.
        let domain_admins: BTreeMap<String, String> = self
            .domain_admins
            .iter()
            .filter_map(|(k, (f, ds))| {
                let ds: Vec<&str> = ds.iter().filter(|d| self.domains.contains_key(*d)).map(String::as_str).collect();
                (!ds.is_empty()).then(|| (k.clone(), format!("{f}, domains: [{}]", ds.join(", "))))
            })
            .collect();
        list(&mut y, "domain_admins", "username", &domain_admins);
        list(&mut y, "api_keys", "access", &self.api_keys);
        list(&mut y, "oauth_clients", "client_id", &self.oauth_clients);
        list(&mut y, "rspamd_settings_maps", "description", &self.settings_maps);
        let bcc: BTreeMap<String, String> =
            self.bcc_maps.iter().filter(|(k, _)| self.declares_local_dest(k.rsplit_once(' ').unwrap().0)).map(|(k, v)| (k.clone(), v.clone())).collect();
        if !bcc.is_empty() {
            y.push_str("bcc_maps:\n");
            for (k, v) in &bcc {
                let (dest, kind) = k.rsplit_once(' ').unwrap();
                let _ = writeln!(y, "  - {}", flow(&format!("local_dest: \"{dest}\", type: {kind}"), v));
            }
        }
        for (name, f) in &self.notices {
            let _ = writeln!(y, "{name}: {{{f}}}");
        }
        let mut files = vec![("objects.yaml".to_string(), y)];
        for (name, d) in &self.domains {
            let mut y = format!("domains:\n  - name: {name}\n");
            for part in d.fields.split(", ").filter(|p| !p.is_empty()) {
                let _ = writeln!(y, "    {part}");
            }
            if let Some(t) = d.template.as_ref().filter(|t| self.domain_templates.contains_key(*t)) {
                let _ = writeln!(y, "    template: {t}");
            }
            if let Some(r) = d.relay_host.as_ref().filter(|r| self.relay_hosts.contains_key(*r)) {
                let _ = writeln!(y, "    relay_host: {r}");
            }
            y.push_str("    dkim_key_size: 1024\n");
            if let Some(p) = &d.mta_sts {
                let _ = writeln!(y, "    mta_sts: {{{p}}}");
            }
            if let Some(f) = &d.footer {
                let _ = writeln!(y, "    footer: {{{f}}}");
            }
            for x in &d.extras {
                let _ = writeln!(y, "    {x}");
            }
            if !d.alias_domains.is_empty() {
                y.push_str("    alias_domains:\n");
                for (ad, f) in &d.alias_domains {
                    let _ = writeln!(y, "      - {}", flow(&format!("name: {ad}"), f));
                }
            }
            if !d.mailboxes.is_empty() {
                y.push_str("    mailboxes:\n");
                for (local, m) in &d.mailboxes {
                    let mut rest = vec![format!("password: \"{PASSWORD}\"")];
                    rest.extend((!m.fields.is_empty()).then(|| m.fields.clone()));
                    rest.extend(m.template.as_ref().filter(|t| self.mailbox_templates.contains_key(*t)).map(|t| format!("template: {t}")));
                    let senders: Vec<String> = m.sender_acl.iter().filter(|s| self.declares_sender(s)).map(|s| format!("\"{s}\"")).collect();
                    if !senders.is_empty() {
                        rest.push(format!("sender_acl: [{}]", senders.join(", ")));
                    }
                    rest.extend(m.extras.iter().cloned());
                    let _ = writeln!(y, "      - {}", flow(&format!("local_part: {local}"), &rest.join(", ")));
                }
            }
            let aliases: Vec<_> = d
                .aliases
                .iter()
                .filter(|(a, _)| {
                    let mailbox = a.strip_suffix(&format!("@{name}")).is_some_and(|l| d.mailboxes.contains_key(l));
                    !mailbox && (a.ends_with(&format!("@{name}")) || alias_domain_declared(a, d))
                })
                .collect();
            if !aliases.is_empty() {
                y.push_str("    aliases:\n");
                for (address, a) in aliases {
                    let goto: Vec<&str> = a.goto.iter().map(String::as_str).filter(|g| g != address).collect();
                    let goto = format!("goto: [{}]", if goto.is_empty() { "ext@outside.example".to_string() } else { goto.join(", ") });
                    let rest = join_fields([goto, a.fields.clone()]);
                    let _ = writeln!(y, "      - {}", flow(&format!("address: \"{address}\""), &rest));
                }
            }
            files.push((format!("{name}.yaml"), y));
        }
        let mut settings = String::new();
        if !self.prune.is_empty() {
            settings.push_str("prune:\n");
            for (k, v) in &self.prune {
                let _ = writeln!(settings, "  {k}: {v}");
            }
        }
        files.push(("mailplane.yaml".into(), settings));
        files
    }
}

impl State {
    fn declares_local_dest(&self, dest: &str) -> bool {
        self.domains.iter().any(|(n, d)| {
            n == dest
                || d.alias_domains.contains_key(dest)
                || dest.strip_suffix(&format!("@{n}")).is_some_and(|l| d.mailboxes.contains_key(l))
                || self.declares_sender(dest)
        })
    }

    /// Whether a sender_acl entry names something declared (validate refuses anything else).
    fn declares_sender(&self, s: &str) -> bool {
        match s.strip_prefix('@') {
            Some(dom) => self.domains.iter().any(|(n, d)| n == dom || d.alias_domains.contains_key(dom)),
            None => self.domains.iter().any(|(n, d)| d.aliases.contains_key(s) && (s.ends_with(&format!("@{n}")) || alias_domain_declared(s, d))),
        }
    }
}

fn alias_domain_declared(address: &str, d: &Domain) -> bool {
    d.alias_domains.keys().any(|ad| address.ends_with(&format!("@{ad}")))
}

fn write_dir(files: &[(String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn show(files: &[(String, String)]) -> String {
    files.iter().filter(|(_, t)| !t.is_empty()).map(|(n, t)| format!("--- {n}\n{t}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Whole-target dumps: every table, and every Redis hash (on SQLite, `mailplane_kv`) as a table
// `redis:<KEY>` of (field, value) rows.

#[derive(Default, Clone)]
struct Dump(BTreeMap<String, (Vec<String>, Vec<Vec<String>>)>);

struct RowRef<'a> {
    cols: &'a [String],
    row: &'a [String],
}

impl RowRef<'_> {
    fn get(&self, col: &str) -> &str {
        self.cols.iter().position(|c| c.eq_ignore_ascii_case(col)).map_or("", |i| self.row[i].as_str())
    }
}

impl Dump {
    fn rows<'a>(&'a self, table: &str) -> impl Iterator<Item = RowRef<'a>> {
        self.0.get(table).into_iter().flat_map(|(cols, rows)| rows.iter().map(move |row| RowRef { cols, row }))
    }
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "NULL".into())
}

async fn dump(url: &str, redis: Option<&str>) -> Dump {
    let db = Db::connect(url, None).await.unwrap();
    let mysql = url.starts_with("mysql");
    let tables = if mysql {
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    };
    let mut out = Dump::default();
    for t in db.query(tables, &[]).await.unwrap() {
        let table = text(&t[0]);
        if table.starts_with("mailplane_") && table != "mailplane_kv" {
            continue; // mailplane's own bookkeeping
        }
        let cols = if mysql {
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
        } else {
            "SELECT name FROM pragma_table_info(?) ORDER BY cid"
        };
        let cols: Vec<String> = db.query(cols, &[Arg::Text(table.clone())]).await.unwrap().iter().map(|r| text(&r[0])).collect();
        let q = if mysql { format!("SELECT * FROM `{table}`") } else { format!("SELECT * FROM \"{table}\"") };
        let mut rows: Vec<Vec<String>> = db.query(&q, &[]).await.unwrap().iter().map(|r| r.iter().map(text).collect()).collect();
        if table == "mailplane_kv" {
            for r in rows {
                out.0.entry(format!("redis:{}", r[0])).or_insert_with(|| (names(&["field", "value"]), vec![])).1.push(vec![r[1].clone(), r[2].clone()]);
            }
            continue;
        }
        rows.sort();
        out.0.insert(table, (cols, rows));
    }
    db.close().await;
    if let Some(redis) = redis {
        let mut c = redis::Client::open(redis).unwrap().get_connection().unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        for k in keys {
            let kind: String = redis::cmd("TYPE").arg(&k).query(&mut c).unwrap();
            let rows: Vec<Vec<String>> = if kind == "hash" {
                let h: BTreeMap<String, String> = redis::cmd("HGETALL").arg(&k).query(&mut c).unwrap();
                h.into_iter().map(|(f, v)| vec![f, v]).collect()
            } else {
                let v: Vec<u8> = redis::cmd("DUMP").arg(&k).query(&mut c).unwrap();
                vec![vec![format!("({kind})"), format!("{v:?}")]]
            };
            out.0.insert(format!("redis:{k}"), (names(&["field", "value"]), rows));
        }
    }
    for (_, rows) in out.0.values_mut() {
        rows.sort();
    }
    out
}

/// The objects (kind, key) a row may belong to: a row may change only when the plan lists one.
/// Deliberately strict: a cleanup that reaches rows of objects the plan does not list is a violation.
fn owners(table: &str, r: &RowRef, before: &Dump, after: &Dump) -> Vec<(&'static str, String)> {
    let one = |kind: &'static str, col: &str| vec![(kind, r.get(col).to_string())];
    let field = r.get("field").to_string();
    match table {
        "domain" | "tags_domain" => one("domain", "domain"),
        "domain_admins" => [one("domain", "domain"), one("domain_admin", "username")].concat(),
        "admin" => [one("admin", "username"), one("domain_admin", "username")].concat(),
        "da_acl" => one("domain_admin", "username"),
        "api" => one("api_key", "access"),
        "oauth_clients" => one("oauth_client", "client_id"),
        "settingsmap" => one("settings_map", "desc"),
        "tfa" | "fido2" => [one("mailbox", "username"), one("admin", "username"), one("domain_admin", "username")].concat(),
        "mta_sts" => one("mta_sts", "domain"),
        "domain_wide_footer" => one("domain_footer", "domain"),
        "alias_domain" => one("alias_domain", "alias_domain"),
        "mailbox" if !r.get("kind").is_empty() => one("resource", "username"),
        "mailbox" => [one("mailbox", "username"), one("custom_attributes", "username")].concat(),
        "quota2" | "quota2replica" | "user_acl" | "tags_mailbox" => one("mailbox", "username"),
        "pushover" => [one("pushover", "username"), one("mailbox", "username")].concat(),
        "sieve_filters" => vec![
            ("sieve_filter", format!("{} {} {}", r.get("username").to_lowercase(), r.get("filter_type"), r.get("script_desc"))),
            ("mailbox", r.get("username").into()),
        ],
        "spamalias" => one("mailbox", "goto"),
        "imapsync" => vec![
            ("sync_job", format!("{} {} {}", r.get("user2").to_lowercase(), r.get("host1").to_lowercase(), r.get("user1"))),
            ("mailbox", r.get("user2").into()),
        ],
        "filterconf" => {
            let o = r.get("object").to_lowercase();
            let kind = if r.get("option").ends_with("list_from") { "spam_policy" } else { "spam_score" };
            vec![(kind, o.clone()), ("mailbox", o.clone()), ("domain", o)]
        }
        "app_passwd" => vec![("app_password", format!("{} {}", r.get("mailbox").to_lowercase(), r.get("name"))), ("mailbox", r.get("mailbox").into())],
        "quarantine" => one("mailbox", "rcpt"),
        "sogo_user_profile" | "sogo_cache_folder" | "sogo_acl" => [one("mailbox", "c_uid"), one("resource", "c_uid")].concat(),
        "sogo_folder_info" => [one("mailbox", "c_path2"), one("resource", "c_path2")].concat(),
        "oauth_access_tokens" | "oauth_refresh_tokens" | "oauth_authorization_codes" => one("mailbox", "user_id"),
        "alias" => {
            let a = r.get("address").to_string();
            // A mailbox's self-alias belongs to the mailbox; any other alias row only to its alias.
            if r.get("goto") == a { vec![("mailbox", a)] } else { vec![("alias", a)] }
        }
        "sender_acl" => vec![("mailbox", r.get("logged_in_as").into()), ("mailbox", r.get("send_as").into()), ("alias", r.get("send_as").into())],
        "bcc_maps" => vec![("bcc_map", format!("{} {}", r.get("local_dest"), r.get("type")))],
        "recipient_maps" => one("recipient_map", "old_dest"),
        "tls_policy_override" => one("tls_policy", "dest"),
        "transports" => one("transport", "destination"),
        "relayhosts" => one("relay_host", "hostname"),
        "templates" => vec![(if r.get("type") == "domain" { "domain_template" } else { "mailbox_template" }, r.get("template").into())],
        "identity_provider" => vec![("identity_provider", "identity_provider".into())],
        "_sogo_static_view" => {
            // A user's SOGo row lists the aliases pointing at them and their domain's alias domains.
            let uid = r.get("c_uid").to_string();
            let mut v = vec![("mailbox", uid.clone()), ("resource", uid.clone())];
            for d in [before, after] {
                v.extend(d.rows("alias").filter(|a| a.get("goto").split(',').any(|g| g == uid)).map(|a| ("alias", a.get("address").to_string())));
                v.extend(
                    d.rows("alias_domain").filter(|a| a.get("target_domain") == r.get("domain")).map(|a| ("alias_domain", a.get("alias_domain").to_string())),
                );
            }
            v
        }
        "redis:DOMAIN_MAP" => vec![("domain", field.clone()), ("alias_domain", field)],
        "redis:RL_VALUE" => vec![("domain", field.clone()), ("alias_domain", field.clone()), ("mailbox", field)],
        "redis:RCPT_WANTS_SUBJECT_TAG" | "redis:RCPT_WANTS_SUBFOLDER_TAG" => vec![("mailbox", field)],
        "redis:DKIM_SELECTORS" | "redis:DKIM_PUB_KEYS" => vec![("dkim_key", field)],
        "redis:DKIM_PRIV_KEYS" => vec![("dkim_key", field.split_once('.').map_or(field.clone(), |(_, d)| d.to_string()))],
        "redis:QW_BCC" => vec![("quota_warning_bcc", field)],
        "redis:PASSWD_POLICY" => vec![("password_complexity", "password_complexity".into())],
        t if t.starts_with("redis:Q_") => vec![("quarantine", "quarantine".into())],
        "redis:F2B_OPTIONS" | "redis:F2B_WHITELIST" | "redis:F2B_BLACKLIST" | "redis:F2B_REGEX" => vec![("fail2ban", "fail2ban".into())],
        "redis:CORS_SETTINGS" => vec![("cors", "cors".into())],
        t if t.starts_with("redis:UI_")
            || [
                "redis:TITLE_NAME",
                "redis:MAIN_NAME",
                "redis:MAIN_LOGO",
                "redis:APPS_NAME",
                "redis:HELP_TEXT",
                "redis:APP_LINKS",
                "redis:IP_CHECK",
                "redis:CUSTOM_LOGIN",
            ]
            .contains(&t) =>
        {
            vec![("ui", "ui".into())]
        }
        "redis:QW_SENDER" | "redis:QW_SUBJ" | "redis:QW_HTML" => vec![("quota_warning_mail", "quota_warning_mail".into())],
        t if t.starts_with("redis:PW_RESET_") => vec![("password_reset_mail", "password_reset_mail".into())],
        "redis:WHITELISTED_FWD_HOST" | "redis:KEEP_SPAM" => vec![("forwarding_host", field.strip_suffix("/32").unwrap_or(&field).to_string())],
        _ => vec![],
    }
}

struct Diff {
    table: String,
    sign: char,
    row: String,
    owners: Vec<(&'static str, String)>,
}

fn count(rows: &[Vec<String>]) -> BTreeMap<&Vec<String>, i64> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r).or_default() += 1;
    }
    m
}

/// Rows only in `before` (-) or only in `after` (+), per table, as multisets.
fn diff(before: &Dump, after: &Dump) -> Vec<Diff> {
    let tables: BTreeSet<&String> = before.0.keys().chain(after.0.keys()).collect();
    let mut out = Vec::new();
    let empty = (Vec::new(), Vec::new());
    for table in tables {
        let (b, a) = (before.0.get(table).unwrap_or(&empty), after.0.get(table).unwrap_or(&empty));
        let (cb, ca) = (count(&b.1), count(&a.1));
        for (rows, other, sign, cols) in [(&cb, &ca, '-', &b.0), (&ca, &cb, '+', &a.0)] {
            for (row, n) in rows {
                for _ in 0..(*n - other.get(row).copied().unwrap_or(0)).max(0) {
                    let r = RowRef { cols, row };
                    let shown =
                        cols.iter().zip(row.iter()).map(|(c, v)| format!("{c}={}", if v.len() > 60 { &v[..60] } else { v })).collect::<Vec<_>>().join(" ");
                    out.push(Diff { table: table.clone(), sign, row: shown, owners: owners(table, &r, before, after) });
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// One case, through the CLI.

struct Target {
    args: Vec<String>,
    url: String,
    redis: Option<String>,
    state: tempfile::TempDir,
    /// Environment of every run (the `{env:}` secrets of a directory).
    envs: Vec<(&'static str, &'static str)>,
}

enum Outcome {
    Pass,
    /// The generated directory is invalid or its plan is blocked: not a case (counted by reason).
    Skip(String),
    Fail(String),
}

impl Target {
    fn run(&self, sub: &str, dir: &Path, extra: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_mailplane"))
            .arg(sub)
            .arg(dir)
            .args(&self.args)
            .args(["--allow-delete=mailbox,domain,resource", "--force"])
            .args(extra)
            .env("NO_COLOR", "1")
            .env("MAILPLANE_STATE_DIR", self.state.path())
            .env_remove("MAILPLANE_DATABASE_URL")
            .env_remove("MAILPLANE_REDIS_URL")
            .env_remove("MAILPLANE_MEMCACHED")
            .envs([("CONTRACT_HOP_A", "hop-secret-A"), ("CONTRACT_HOP_B", "hop-secret-B")])
            .envs(self.envs.iter().copied())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    fn plan(&self, dir: &Path) -> Result<Value, String> {
        let (code, stdout, stderr) = self.run("plan", dir, &["--format", "json"]);
        match serde_json::from_str::<Value>(&stdout) {
            Ok(v) if code == 0 => Ok(v),
            Ok(v) => Err(format!("blocked: {}", v["problems"][0].as_str().unwrap_or("?"))),
            Err(_) => Err(format!("invalid: {}", reason(&stderr))),
        }
    }

    fn dump(&self, rt: &tokio::runtime::Runtime) -> Dump {
        rt.block_on(dump(&self.url, self.redis.as_deref()))
    }
}

/// An error message without its file location and quoted values, to count reasons.
fn reason(stderr: &str) -> String {
    let line = stderr.lines().find(|l| l.contains("error")).unwrap_or(stderr.lines().next().unwrap_or("")).trim();
    let mut s: String = line.chars().filter(|c| !c.is_ascii_digit()).collect();
    if let Some(i) = s.find(".yaml") {
        s = s[i + 5..].to_string();
    }
    s.split('"').step_by(2).collect::<Vec<_>>().join("…").chars().take(90).collect()
}

fn changes(plan: &Value) -> Vec<(String, String, String)> {
    let s = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    plan["changes"].as_array().unwrap().iter().map(|c| (s(c, "action"), s(c, "kind"), s(c, "key"))).collect()
}

fn listed(plan: &Value) -> String {
    changes(plan).iter().map(|(a, k, key)| format!("  {a} {k} {key}\n")).collect()
}

/// Plans and applies `dir` on the target as it is; checks (a)–(d).
fn step(t: &Target, rt: &tokio::runtime::Runtime, dir: &Path, what: &str) -> Outcome {
    let plan = match t.plan(dir) {
        Ok(p) => p,
        Err(why) => return Outcome::Skip(format!("{what} {why}")),
    };
    let before = t.dump(rt);
    let (code, stdout, stderr) = t.run("apply", dir, &["--auto-approve"]);
    let mut problems = String::new();
    if code != 0 {
        let _ = write!(problems, "(d) {what}: the plan passed but apply failed:\n{stdout}\n{stderr}\n");
        return verdict(problems, &plan);
    }
    let after = t.dump(rt);
    match t.plan(dir) {
        Ok(next) if changes(&next).is_empty() => {}
        Ok(next) => {
            let _ = write!(problems, "(a) {what}: the next plan is not empty:\n{}", serde_json::to_string_pretty(&next["changes"]).unwrap());
        }
        Err(e) => {
            let _ = writeln!(problems, "(a) {what}: the next plan fails: {e}");
        }
    }
    let listed_set: BTreeSet<(String, String)> = changes(&plan).into_iter().map(|(_, k, key)| (k, key)).collect();
    let diffs = diff(&before, &after);
    for d in &diffs {
        if !d.owners.iter().any(|(k, key)| listed_set.contains(&(k.to_string(), key.clone()))) {
            let _ = writeln!(problems, "(b) {what}: {} {} {}  (belongs to {:?}, not in the plan)", d.sign, d.table, d.row, d.owners);
        }
    }
    for (kind, key) in &listed_set {
        if !diffs.iter().any(|d| d.owners.iter().any(|(k, x)| k == kind && x == key)) {
            let _ = writeln!(problems, "(c) {what}: the plan lists {kind} {key} but none of its rows changed");
        }
    }
    verdict(problems, &plan)
}

/// Pass without problems, otherwise a counterexample.
fn verdict(problems: String, plan: &Value) -> Outcome {
    if problems.is_empty() { Outcome::Pass } else { Outcome::Fail(format!("{problems}\nplan:\n{}", listed(plan))) }
}

/// The history (applied to an empty target, then partly disowned) and the desired state of a seed.
fn generate(seed: u64) -> (State, State, Rng) {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED);
    let history = State::default().evolve(&mut rng, FIRST);
    let desired = history.evolve(&mut rng, NEXT);
    (history, desired, rng)
}

fn run_seed(t: &Target, rt: &tokio::runtime::Runtime, seed: u64) -> Outcome {
    let (history, desired, mut rng) = generate(seed);
    let (h, d) = (history.render(), desired.render());
    let (hdir, ddir) = (write_dir(&h), write_dir(&d));
    let context = || format!("seed {seed}\n=== history\n{}=== desired\n{}", show(&h), show(&d));
    let outcome = match step(t, rt, hdir.path(), "history") {
        Outcome::Pass => {
            // Objects someone else made: live, but not in mailplane's inventory.
            rt.block_on(async {
                let db = Db::connect(&t.url, None).await.unwrap();
                let rows = db.query("SELECT kind, obj_key FROM mailplane_inventory", &[]).await.unwrap();
                let forget: Vec<Stmt> = rows
                    .iter()
                    .filter(|_| rng.chance(30))
                    .map(|r| Stmt {
                        sql: "DELETE FROM mailplane_inventory WHERE kind = ? AND obj_key = ?".into(),
                        args: vec![Arg::Text(text(&r[0])), Arg::Text(text(&r[1]))],
                    })
                    .collect();
                db.execute_all(&forget).await.unwrap();
                db.close().await;
            });
            step(t, rt, ddir.path(), "desired")
        }
        other => other,
    };
    match outcome {
        Outcome::Fail(msg) => Outcome::Fail(format!("{}\n{msg}", context())),
        other => {
            if std::env::var("MAILPLANE_CONTRACT_SEED").is_ok() {
                eprintln!("{}", context());
            }
            other
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs the seeds on fresh targets made by `fresh`; fails with every counterexample.
fn run_seeds(label: &str, default_seeds: u64, mut fresh: impl FnMut(&tokio::runtime::Runtime) -> Target) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seeds: Vec<u64> = match env_u64("MAILPLANE_CONTRACT_SEED") {
        Some(s) => vec![s],
        None => {
            let start = env_u64("MAILPLANE_CONTRACT_SEED_START").unwrap_or(0);
            (start..start + env_u64("MAILPLANE_CONTRACT_SEEDS").unwrap_or(default_seeds)).collect()
        }
    };
    let (mut passed, mut skipped, mut failed) = (0, BTreeMap::<String, u32>::new(), Vec::new());
    let started = std::time::Instant::now();
    for seed in REGRESSIONS.iter().copied().chain(seeds.iter().copied()) {
        let t = fresh(&rt);
        let outcome = run_seed(&t, &rt, seed);
        if std::env::var("MAILPLANE_CONTRACT_VERBOSE").is_ok() {
            let what = match &outcome {
                Outcome::Pass => "pass".to_string(),
                Outcome::Skip(why) => format!("skip {why}"),
                Outcome::Fail(_) => "FAIL".to_string(),
            };
            eprintln!("seed {seed}: {what}");
        }
        match outcome {
            Outcome::Pass => passed += 1,
            Outcome::Skip(why) => *skipped.entry(why).or_default() += 1,
            Outcome::Fail(msg) => {
                eprintln!("=== COUNTEREXAMPLE on {label}\n{msg}");
                failed.push(seed);
            }
        }
    }
    let n = REGRESSIONS.len() + seeds.len();
    eprintln!(
        "{label}: {n} seeds in {:.1} s ({:.0} ms each): {passed} passed, {} skipped, {} failed {failed:?}",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_millis() as f64 / n as f64,
        skipped.values().sum::<u32>(),
        failed.len()
    );
    for (why, n) in &skipped {
        eprintln!("  skipped {n}× {why}");
    }
    assert!(failed.is_empty(), "counterexamples on {label}: seeds {failed:?}");
    // The generator must stay useful: most seeds are real cases.
    assert!(passed >= n / 2, "too many seeds skipped on {label}");
}

/// Seeds that found a bug outside the default range (54: alias domain delete, 3025: known (1) through
/// a send-as right granted in the same plan, 5141: relay host delete); run first on every target.
const REGRESSIONS: &[u64] = &[54, 3025, 5141];

#[test]
fn plan_is_a_contract_on_sqlite() {
    run_seeds("sqlite", 40, |_| sqlite_target());
}

#[test]
fn plan_is_a_contract_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let redis_db = env_u64("MAILPLANE_CONTRACT_REDIS_DB").unwrap_or(40) as u32;
    let rt = tokio::runtime::Runtime::new().unwrap();
    // One database, emptied between seeds: creating mailcow's 54 tables takes seconds.
    let (url, name) = rt.block_on(services.fresh_mailcow_db("contract"));
    run_seeds("mariadb", 10, |rt| {
        rt.block_on(support::reset_mailcow_db(&url));
        services.flush_redis_db(redis_db);
        let redis = services.redis_db(redis_db);
        Target {
            args: vec!["--target".into(), url.clone(), "--redis".into(), redis.clone(), "--memcached".into(), services.memcached.clone()],
            url: url.clone(),
            redis: Some(redis),
            state: tempfile::tempdir().unwrap(),
            envs: Vec::new(),
        }
    });
    rt.block_on(services.drop_db(&name));
}

/// The same invariant on the shared golden scenarios (tests/it/golden.rs compares their rows with
/// mailcow's): scenario A applied to an empty mailcow database, then A-edits, each checked for
/// (a)-(d) over every table and Redis hash.
#[test]
fn golden_scenarios_change_nothing_beyond_their_plans() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, name) = rt.block_on(services.fresh_mailcow_db("contract_golden"));
    services.flush_redis_db(41);
    let redis = services.redis_db(41);
    let t = Target {
        args: vec!["--target".into(), url.clone(), "--redis".into(), redis.clone(), "--memcached".into(), services.memcached.clone()],
        url,
        redis: Some(redis),
        state: tempfile::tempdir().unwrap(),
        envs: vec![("GOLDEN_ALICE_PASSWORD", "secret-A1!"), ("GOLDEN_BOB_PASSWORD", "secret-B2!"), ("GOLDEN_CAROL_PASSWORD", "secret-C3!")],
    };
    for scenario in ["A", "A-edits"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-yaml").join(scenario);
        match step(&t, &rt, &dir, scenario) {
            Outcome::Pass => {}
            Outcome::Fail(msg) => panic!("{msg}"),
            Outcome::Skip(why) => panic!("{scenario}: {why}"),
        }
    }
    rt.block_on(services.drop_db(&name));
}

fn sqlite_target() -> Target {
    let state = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", state.path().display());
    Target { args: vec!["--target".into(), url.clone()], url, redis: None, state, envs: Vec::new() }
}

/// A minimal counterexample: `history` applied to an empty SQLite target, then each of the
/// `desired` states in turn (each `mailplane.yaml`, then the objects), all checked; a state with
/// `Some(needle)` must instead be blocked at plan with a problem containing `needle`.
fn assert_contract(history: [&str; 2], desired: &[([&str; 2], Option<&str>)]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = sqlite_target();
    for (i, ([settings, objects], blocked)) in std::iter::once((history, None)).chain(desired.iter().copied()).enumerate() {
        let what = if i == 0 { "history".to_string() } else { format!("desired {i}") };
        let dir = write_dir(&[("mailplane.yaml".into(), settings.into()), ("objects.yaml".into(), objects.into())]);
        match (step(&t, &rt, dir.path(), &what), blocked) {
            (Outcome::Pass, None) => {}
            (Outcome::Skip(why), Some(needle)) if why.contains("blocked") && why.contains(needle) => {}
            (Outcome::Fail(msg), _) => panic!("{msg}"),
            (Outcome::Skip(why), _) => panic!("{what}: {why}"),
            (Outcome::Pass, Some(needle)) => panic!("{what}: the plan was not blocked for {needle:?}"),
        }
    }
}

const U0_U1: &str = "domains:
  - name: a.example
    mailboxes:
      - {local_part: u0, password: \"{BLF-CRYPT}$2y$05$.oAVYApCgu2zcqetkRFd1u9r2gWVBATqFv5eGZJgPp3iqrVlMuysa\"}
      - {local_part: u1, password: \"{BLF-CRYPT}$2y$05$.oAVYApCgu2zcqetkRFd1u9r2gWVBATqFv5eGZJgPp3iqrVlMuysa\"}
";
const U0: &str = "domains:
  - name: a.example
    mailboxes:
      - {local_part: u0, password: \"{BLF-CRYPT}$2y$05$.oAVYApCgu2zcqetkRFd1u9r2gWVBATqFv5eGZJgPp3iqrVlMuysa\"}
";

// Found by this test: mailcow's delete of a mailbox, alias, alias domain or relay host cleans up
// objects that name it, behind the plan. The plan is blocked instead, and its way out converges.

/// Seed 4: deleting u1 while the declared alias team@ still forwards to it.
#[test]
fn regression_mailbox_delete_blocked_by_a_declared_alias_to_it() {
    let team = |goto: &str| format!("    aliases:\n      - {{address: team@a.example, goto: [{goto}]}}\n");
    let prune = "prune: {mailbox: delete}\n";
    assert_contract(
        ["", &format!("{U0_U1}{}", team("u0@a.example, u1@a.example"))],
        &[
            ([prune, &format!("{U0}{}", team("u0@a.example, u1@a.example"))], Some("alias team@a.example forwards to it")),
            ([prune, &format!("{U0}{}", team("u0@a.example"))], None),
        ],
    );
}

/// Seeds 17, 33: deleting u1 would delete info@ (its only target is u1) and u1's BCC map, both no
/// longer declared and not pruned.
#[test]
fn regression_mailbox_delete_blocked_by_an_unmanaged_alias_and_bcc_map() {
    let more = "    aliases:\n      - {address: info@a.example, goto: [u1@a.example]}\nbcc_maps:\n  - {local_dest: u1@a.example, bcc_dest: archive@outside.example, type: sender}\n";
    assert_contract(
        ["", &format!("{U0_U1}{more}")],
        &[
            (["prune: {mailbox: delete}\n", U0], Some("info@a.example forwards to it (not declared), BCC map u1@a.example sender")),
            (["prune: {mailbox: delete, alias: delete, bcc_map: delete}\n", U0], None),
        ],
    );
}

/// Seed 7: an alias declared at the address of a live mailbox that stays (here unmanaged; seed
/// 1648: disabled by pruning) passed plan and failed apply on alias.address being unique.
#[test]
fn regression_alias_at_a_live_mailbox() {
    let alias = "    aliases:\n      - {address: u1@a.example, goto: [u0@a.example]}\n";
    for settings in ["", "prune: {mailbox: disable}\n"] {
        assert_contract(["", U0_U1], &[([settings, &format!("{U0}{alias}")], Some("alias u1@a.example cannot be created"))]);
    }
}

/// Seed 54: deleting the alias domain would delete the alias declared under it no more.
#[test]
fn regression_alias_domain_delete_blocked_by_an_unmanaged_alias() {
    let history =
        format!("{U0}    alias_domains: [{{name: a-alias.example}}]\n    aliases:\n      - {{address: sales@a-alias.example, goto: [u0@a.example]}}\n");
    assert_contract(
        ["", &history],
        &[(["prune: {alias_domain: delete}\n", U0], Some("alias sales@a-alias.example")), (["prune: {alias_domain: delete, alias: delete}\n", U0], None)],
    );
}

/// Issue 17 (1): updating sales@ (its goto) deleted u0's declared send-as right for it.
#[test]
fn regression_alias_update_keeps_declared_sender_acl() {
    let objects = |goto: &str| {
        format!(
            "domains:\n  - name: a.example\n    mailboxes:\n      - {{local_part: u0, password: \"{PASSWORD}\", sender_acl: [sales@a.example]}}\n    aliases:\n      - {{address: sales@a.example, goto: [{goto}]}}\n"
        )
    };
    assert_contract(["", &objects("ext@outside.example")], &[(["", &objects("u0@a.example, ext@outside.example")], None)]);
}

/// Issue 17 (2): creating mailbox u1 deleted the live, undeclared alias u1@.
#[test]
fn regression_mailbox_create_blocked_by_an_unmanaged_alias() {
    assert_contract(
        ["", &format!("{U0}    aliases:\n      - {{address: u1@a.example, goto: [u0@a.example]}}\n")],
        &[(["", U0_U1], Some("mailbox u1@a.example cannot be created"))],
    );
}

/// Issue 17 (3): deleting b.example deleted its undeclared (unmanaged) alias.
#[test]
fn regression_domain_delete_blocked_by_unmanaged_objects() {
    let b = "  - name: b.example\n    aliases:\n      - {address: info@b.example, goto: [ext@outside.example]}\n";
    assert_contract(
        ["", &format!("{U0}{b}")],
        &[(["prune: {domain: delete}\n", U0], Some("alias info@b.example")), (["prune: {domain: delete, alias: delete}\n", U0], None)],
    );
}

/// Seed 5141 (MariaDB): deleting relay host r1 would switch the unmanaged domain a.example that
/// uses it to direct delivery.
#[test]
fn regression_relay_host_delete_blocked_by_an_unmanaged_domain() {
    let history = "relay_hosts:\n  - {name: r1, hostname: \"[smtp.r1.example]:25\"}\ndomains:\n  - {name: a.example, relay_host: r1}\n";
    assert_contract(["", history], &[(["prune: {relay_host: delete}\n", "domains:\n  - name: b.example\n"], Some("domain a.example"))]);
}

/// Seed 1472: removing the catch-all alias @a.example (pruned) deleted u0's declared send-as
/// right for the whole domain, "@a.example"; now it stays. A mailbox that is not declared
/// blocks the delete instead.
#[test]
fn regression_alias_delete_keeps_declared_sender_acl() {
    let mailbox = |u: &str| format!("      - {{local_part: {u}, password: \"{PASSWORD}\", sender_acl: [\"@a.example\"]}}\n");
    let domain = |mailboxes: &str| format!("domains:\n  - name: a.example\n    mailboxes:\n{mailboxes}");
    let catch_all = "    aliases:\n      - {address: \"@a.example\", goto: [u0@a.example]}\n";
    assert_contract(["", &format!("{}{catch_all}", domain(&mailbox("u0")))], &[(["prune: {alias: delete}\n", &domain(&mailbox("u0"))], None)]);
    let both = format!("{}{}", mailbox("u0"), mailbox("u1"));
    assert_contract(
        ["", &format!("{}{catch_all}", domain(&both))],
        &[(["prune: {alias: delete}\n", &domain(&mailbox("u0"))], Some("mailbox u1@a.example may send as it"))],
    );
}

/// Found by apply's own check that every statement names its object: a transport's credentials
/// were written to every transport to the same next hop, the undeclared t2 among them.
#[test]
fn regression_transport_credentials_shared_with_an_unmanaged_transport() {
    let transport =
        |dest: &str, secret: &str| format!("  - {{destination: {dest}, nexthop: \"[gw1.example]:587\", username: relay, password: {{env: {secret}}}}}\n");
    let both = |secret: &str| format!("transports:\n{}{}", transport("t1.example", secret), transport("t2.example", secret));
    assert_contract(
        ["", &both("CONTRACT_HOP_A")],
        &[
            (["", &format!("transports:\n{}", transport("t1.example", "CONTRACT_HOP_B"))], Some("transport t2.example (not declared)")),
            (["", &both("CONTRACT_HOP_B")], None),
            (
                ["", &format!("transports:\n{}{}", transport("t1.example", "CONTRACT_HOP_A"), transport("t2.example", "CONTRACT_HOP_B"))],
                Some("transports to [gw1.example]:587 would have different credentials"),
            ),
        ],
    );
}

/// Found by probing what a domain create writes (tests/it/statements.rs): mailcow's domain add
/// deletes the external send-as rights for the new domain's addresses, here the right of the
/// undeclared mailbox u0 to send as ext@b.example.
#[test]
fn regression_domain_create_blocked_by_external_send_as_rights() {
    let u0 = |ext: &str| format!("domains:\n  - name: a.example\n    mailboxes:\n      - {{local_part: u0, password: \"{PASSWORD}\"{ext}}}\n");
    let history = u0(", external_sender_acl: [ext@b.example]");
    assert_contract(
        ["", &history],
        &[
            (["", "domains:\n  - name: b.example\n"], Some("mailbox u0@a.example may send as ext@b.example")),
            (["", &format!("{}  - name: b.example\n", u0(""))], None),
        ],
    );
}
