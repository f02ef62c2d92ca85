//! The DNS records a mail domain needs at its DNS provider, as in mailcow's "DNS diagnostics"
//! (data/web/inc/ajax/dns_diagnostics.php): the list per domain, the verdict on what a resolver
//! returned, and renderings (table, JSON, BIND zone fragment). No I/O here: the command
//! (`cli::dns`) does the lookups and hands their results in.
//!
//! Required vs optional follows mailcow: SPF and DMARC are optional, everything else it lists is
//! required. Where mailcow lists a record only for non-standard ports (the service SRV records),
//! mailplane lists it as optional with the standard port; the server's AAAA and the TLSA record
//! (DANE needs DNSSEC, and mailplane does not hold the certificate) are optional too.

use std::net::IpAddr;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum RType {
    A,
    AAAA,
    CNAME,
    MX,
    TXT,
    SRV,
    TLSA,
}

impl RType {
    pub fn as_str(self) -> &'static str {
        match self {
            RType::A => "A",
            RType::AAAA => "AAAA",
            RType::CNAME => "CNAME",
            RType::MX => "MX",
            RType::TXT => "TXT",
            RType::SRV => "SRV",
            RType::TLSA => "TLSA",
        }
    }
}

/// How found values are judged against the expected one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Any value will do: mailplane cannot know the server's addresses or certificate.
    Present,
    /// The last word (a host name: MX, CNAME) is the same, without case or final dot.
    Target,
    /// SRV: the port and the target are the same (priority and weight are free).
    PortTarget,
    /// The whole value is the same (case-insensitive).
    Exact,
    /// A `v=spf1` record that lets every address of the mail server send.
    Spf,
    /// Any `v=DMARC1` record.
    Dmarc,
    /// A `v=DKIM1` record whose `p=` is this public key.
    Dkim(String),
    /// The domain has no DKIM key yet.
    DkimPending,
    /// The domain's MTA-STS policy is not on the server yet: apply gives it its id.
    MtaStsPending,
}

/// One record a domain needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The mail domain it is for (the mail server's own name for its A, AAAA and TLSA).
    pub domain: String,
    /// Owner name, without the final dot.
    pub name: String,
    pub rtype: RType,
    /// The value to publish, as in a zone file but without final dots or TXT quotes;
    /// `<...>` marks a placeholder mailplane cannot fill in.
    pub value: String,
    pub required: bool,
    pub rule: Rule,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Correct,
    Missing,
    Mismatch,
    /// An optional record that is missing or does not match (mailcow's "optional").
    Optional,
    /// The domain's DKIM key does not exist yet: `mailplane apply` generates it.
    NotGenerated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Correct => "correct",
            Status::Missing => "missing",
            Status::Mismatch => "mismatch",
            Status::Optional => "optional",
            Status::NotGenerated => "not yet generated — run apply",
        }
    }
}

/// A domain's DKIM key as far as mailplane knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DkimKey {
    /// The public key, base64 DER as mailcow keeps it in `DKIM_PUB_KEYS`.
    Key {
        selector: String,
        public: String,
    },
    Pending {
        selector: String,
    },
}

/// A declared domain or alias domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub alias: bool,
    pub dkim: Option<DkimKey>,
    /// Its active MTA-STS policy (an alias domain's is its target's).
    pub mta_sts: Option<MtaStsId>,
}

/// The id of an active MTA-STS policy, as far as mailplane knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MtaStsId {
    /// The policy's version as mailcow shows it (`STSv1`) and its id, from the `mta_sts` row.
    Live { version: String, id: String },
    /// Declared, not applied yet.
    Pending,
}

/// mailcow's DKIM TXT value (functions.dkim.inc.php).
pub fn dkim_txt(public: &str) -> String {
    format!("v=DKIM1;k=rsa;t=s;s=email;p={public}")
}

/// The mail server's own records, listed once.
pub fn host_records(hostname: &str) -> Vec<Expected> {
    let rec = |name: String, rtype, value: &str, required| Expected {
        domain: hostname.to_string(),
        name,
        rtype,
        value: value.to_string(),
        required,
        rule: Rule::Present,
    };
    vec![
        rec(hostname.to_string(), RType::A, "<IPv4 address of the server>", true),
        rec(hostname.to_string(), RType::AAAA, "<IPv6 address of the server>", false),
        rec(format!("_25._tcp.{hostname}"), RType::TLSA, "3 1 1 <SHA-256 of the certificate's public key>", false),
    ]
}

/// The service SRV records (name, port) of a domain that is not an alias domain; mailcow's
/// standard ports, plus CalDAV/CardDAV through SOGo.
const SERVICES: [(&str, u16); 9] = [
    ("_imap", 143),
    ("_imaps", 993),
    ("_pop3", 110),
    ("_pop3s", 995),
    ("_submission", 587),
    ("_smtps", 465),
    ("_sieve", 4190),
    ("_caldavs", 443),
    ("_carddavs", 443),
];

/// The records one domain needs, in mailcow's order.
pub fn domain_records(hostname: &str, d: &Domain) -> Vec<Expected> {
    let domain = d.name.as_str();
    let mut out = Vec::new();
    let mut rec = |name: String, rtype, value: String, required, rule| {
        out.push(Expected { domain: domain.to_string(), name, rtype, value, required, rule });
    };
    rec(domain.to_string(), RType::MX, format!("10 {hostname}"), true, Rule::Target);
    if !d.alias {
        rec(format!("autodiscover.{domain}"), RType::CNAME, hostname.to_string(), true, Rule::Target);
        rec(format!("_autodiscover._tcp.{domain}"), RType::SRV, format!("0 1 443 {hostname}"), true, Rule::PortTarget);
        rec(format!("autoconfig.{domain}"), RType::CNAME, hostname.to_string(), true, Rule::Target);
    }
    rec(domain.to_string(), RType::TXT, "v=spf1 mx a -all".into(), false, Rule::Spf);
    rec(format!("_dmarc.{domain}"), RType::TXT, format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"), false, Rule::Dmarc);
    match &d.dkim {
        Some(DkimKey::Key { selector, public }) => {
            rec(format!("{selector}._domainkey.{domain}"), RType::TXT, dkim_txt(public), true, Rule::Dkim(public.clone()))
        }
        Some(DkimKey::Pending { selector }) => {
            rec(format!("{selector}._domainkey.{domain}"), RType::TXT, dkim_txt("<generated by apply>"), true, Rule::DkimPending)
        }
        None => {}
    }
    // mailcow's DNS diagnostics list these for a domain with an active policy.
    if let Some(sts) = &d.mta_sts {
        rec(format!("mta-sts.{domain}"), RType::CNAME, hostname.to_string(), true, Rule::Target);
        let name = format!("_mta-sts.{domain}");
        match sts {
            MtaStsId::Live { version, id } => rec(name, RType::TXT, format!("v={version};id={id};"), true, Rule::Exact),
            MtaStsId::Pending => rec(name, RType::TXT, "v=STSv1;id=<set by apply>;".into(), true, Rule::MtaStsPending),
        }
    }
    if !d.alias {
        for (service, port) in SERVICES {
            rec(format!("{service}._tcp.{domain}"), RType::SRV, format!("0 1 {port} {hostname}"), false, Rule::PortTarget);
        }
        for service in ["_caldavs", "_carddavs"] {
            rec(format!("{service}._tcp.{domain}"), RType::TXT, "path=/SOGo/dav/".into(), false, Rule::Exact);
        }
    }
    out
}

/// A record and, after a check, what was found and the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub expected: Expected,
    /// None when not checked.
    pub found: Option<Vec<String>>,
    pub status: Option<Status>,
}

impl Row {
    pub fn unchecked(expected: Expected) -> Row {
        let status = matches!(expected.rule, Rule::DkimPending | Rule::MtaStsPending).then_some(Status::NotGenerated);
        Row { expected, found: None, status }
    }

    /// A required record that is not correct.
    pub fn failed(&self) -> bool {
        self.expected.required && self.status.is_some_and(|s| s != Status::Correct)
    }
}

/// Lookups an SPF evaluation needs: (name, type) → values as `cli::dns` renders them.
pub type Lookup<'a> = dyn FnMut(&str, RType) -> Vec<String> + 'a;

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn is_spf(txt: &str) -> bool {
    starts_with_ci(txt, "v=spf1") && txt[6..].chars().next().is_none_or(char::is_whitespace)
}

/// The last `n` words of a value, for comparing MX, CNAME and SRV.
fn tail(s: &str, n: usize) -> Vec<String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    words[words.len().saturating_sub(n)..].iter().map(|w| w.trim_end_matches('.').to_ascii_lowercase()).collect()
}

/// A tag of a `tag=value;` record (DKIM), whitespace removed.
fn tag(record: &str, name: &str) -> Option<String> {
    record.split(';').find_map(|t| {
        let (k, v) = t.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.chars().filter(|c| !c.is_whitespace()).collect())
    })
}

/// Which found values concern this record (the apex TXT holds more than SPF).
pub fn relevant(e: &Expected, found: Vec<String>) -> Vec<String> {
    match e.rule {
        Rule::Spf => found.into_iter().filter(|t| is_spf(t)).collect(),
        Rule::Dmarc => found.into_iter().filter(|t| starts_with_ci(t, "v=DMARC1")).collect(),
        Rule::Dkim(_) | Rule::DkimPending => found.into_iter().filter(|t| starts_with_ci(t, "v=DKIM1") || tag(t, "p").is_some()).collect(),
        _ => found,
    }
}

/// The verdict on the values found for a record (already `relevant`). `host_ips` are the mail
/// server's addresses and `lookup` answers the SPF evaluation's questions.
pub fn judge(e: &Expected, found: &[String], host_ips: &[IpAddr], lookup: &mut Lookup) -> Status {
    let good = match &e.rule {
        Rule::DkimPending | Rule::MtaStsPending => return Status::NotGenerated,
        _ if found.is_empty() => {
            return if e.required { Status::Missing } else { Status::Optional };
        }
        Rule::Present | Rule::Dmarc => true,
        Rule::Target => found.iter().any(|f| tail(f, 1) == tail(&e.value, 1)),
        Rule::PortTarget => found.iter().any(|f| tail(f, 2) == tail(&e.value, 2)),
        Rule::Exact => found.iter().any(|f| f.trim().eq_ignore_ascii_case(e.value.trim())),
        Rule::Dkim(public) => found.iter().any(|f| tag(f, "p").as_deref() == Some(public.as_str())),
        // More than one SPF record is an error (RFC 7208 4.5).
        Rule::Spf => found.len() == 1 && !host_ips.is_empty() && host_ips.iter().all(|ip| spf_allows(&found[0], &e.name, *ip, lookup, 0)),
    };
    match (good, e.required) {
        (true, _) => Status::Correct,
        (false, true) => Status::Mismatch,
        (false, false) => Status::Optional,
    }
}

/// Whether an SPF record gives `ip` a pass. Evaluates ip4, ip6, a, mx, include, redirect and
/// all (with their qualifiers); `exists` and `ptr` never match, and a/mx CIDR lengths are
/// ignored. At most 10 nested includes/redirects.
pub fn spf_allows(record: &str, domain: &str, ip: IpAddr, lookup: &mut Lookup, depth: u8) -> bool {
    if depth > 10 {
        return false;
    }
    let mut redirect = None;
    for term in record.split_whitespace().skip(1) {
        if let Some(target) = term.strip_prefix("redirect=") {
            redirect = Some(target.to_string());
            continue;
        }
        if term.contains('=') {
            continue; // exp= and unknown modifiers
        }
        let (pass, mech) = match term.chars().next() {
            Some(q @ ('+' | '-' | '~' | '?')) => (q == '+', &term[1..]),
            _ => (true, term),
        };
        let (name, arg) = mech.split_once(':').map_or((mech, None), |(n, a)| (n, Some(a)));
        let (name, arg) = match name.split_once('/') {
            Some((n, _)) => (n, arg),
            None => (name, arg),
        };
        let target = arg.map_or(domain, |a| a.split('/').next().unwrap_or(a));
        let matched = match name.to_ascii_lowercase().as_str() {
            "all" => true,
            "ip4" | "ip6" => arg.is_some_and(|net| cidr_contains(net, ip)),
            "a" => addresses(target, lookup).contains(&ip),
            "mx" => {
                let hosts: Vec<String> = lookup(target, RType::MX).iter().flat_map(|mx| tail(mx, 1)).collect();
                hosts.iter().any(|h| addresses(h, lookup).contains(&ip))
            }
            "include" => spf_of(target, lookup).is_some_and(|r| spf_allows(&r, target, ip, lookup, depth + 1)),
            _ => false,
        };
        if matched {
            return pass;
        }
    }
    redirect.and_then(|d| spf_of(&d, lookup).map(|r| spf_allows(&r, &d, ip, lookup, depth + 1))).unwrap_or(false)
}

/// The addresses a forwarding host's name stands for, as mailcow expands it when the host is
/// added: the networks its SPF record allows (ip4, ip6, a, mx, include, redirect; at most 10
/// nested), else its MX hosts' addresses, else its own A/AAAA. Sorted, without repeats.
pub fn forwarding_addresses(name: &str, lookup: &mut Lookup) -> Vec<String> {
    fn spf_networks(record: &str, domain: &str, lookup: &mut Lookup, depth: u8, out: &mut Vec<String>) {
        if depth > 10 {
            return;
        }
        for term in record.split_whitespace().skip(1) {
            if let Some(target) = term.strip_prefix("redirect=") {
                if let Some(r) = spf_of(target, lookup) {
                    spf_networks(&r, target, lookup, depth + 1, out);
                }
                continue;
            }
            // Only what the record allows: `-`, `~` and `?` terms name hosts it does not vouch for.
            let Some(mech) = term.strip_prefix('+').or((!term.starts_with(['-', '~', '?'])).then_some(term)) else { continue };
            let (kind, arg) = mech.split_once(':').map_or((mech, None), |(k, a)| (k, Some(a)));
            let target = arg.map_or(domain, |a| a.split('/').next().unwrap_or(a));
            match kind.split('/').next().unwrap_or(kind).to_ascii_lowercase().as_str() {
                "ip4" | "ip6" => out.extend(arg.map(|a| a.trim().to_string())),
                "a" => out.extend(addresses(target, lookup).iter().map(IpAddr::to_string)),
                "mx" => out.extend(mx_addresses(target, lookup)),
                "include" => {
                    if let Some(r) = spf_of(target, lookup) {
                        spf_networks(&r, target, lookup, depth + 1, out);
                    }
                }
                _ => {}
            }
        }
    }
    fn mx_addresses(name: &str, lookup: &mut Lookup) -> Vec<String> {
        let hosts: Vec<String> = lookup(name, RType::MX).iter().flat_map(|mx| tail(mx, 1)).collect();
        hosts.iter().flat_map(|h| addresses(h, lookup)).map(|ip| ip.to_string()).collect()
    }
    let mut out = Vec::new();
    if let Some(r) = spf_of(name, lookup) {
        spf_networks(&r, name, lookup, 0, &mut out);
    }
    if out.is_empty() {
        out = mx_addresses(name, lookup);
    }
    if out.is_empty() {
        out = addresses(name, lookup).iter().map(IpAddr::to_string).collect();
    }
    out.sort();
    out.dedup();
    out
}

fn spf_of(domain: &str, lookup: &mut Lookup) -> Option<String> {
    lookup(domain, RType::TXT).into_iter().find(|t| is_spf(t))
}

fn addresses(name: &str, lookup: &mut Lookup) -> Vec<IpAddr> {
    let mut v = lookup(name, RType::A);
    v.extend(lookup(name, RType::AAAA));
    v.iter().filter_map(|a| a.parse().ok()).collect()
}

/// `192.0.2.0/24`, `2001:db8::/32` or a single address.
fn cidr_contains(net: &str, ip: IpAddr) -> bool {
    let (addr, len) = net.split_once('/').map_or((net, None), |(a, l)| (a, l.parse::<u32>().ok()));
    match (addr.parse::<IpAddr>(), ip) {
        (Ok(IpAddr::V4(n)), IpAddr::V4(i)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (Ok(IpAddr::V6(n)), IpAddr::V6(i)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// A TXT value as zone-file character strings of at most 255 bytes each.
pub fn txt_strings(value: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = value;
    while !rest.is_empty() || parts.is_empty() {
        let mut end = rest.len().min(255);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (part, tail) = rest.split_at(end);
        parts.push(format!("\"{}\"", part.replace('\\', "\\\\").replace('"', "\\\"")));
        rest = tail;
    }
    parts.join(" ")
}

/// Record data as it goes into a zone file: host names absolute, TXT quoted and split.
fn zone_data(rtype: RType, value: &str) -> String {
    match rtype {
        RType::TXT => txt_strings(value),
        RType::MX | RType::CNAME | RType::SRV => format!("{}.", value.trim_end_matches('.')),
        _ => value.to_string(),
    }
}

/// A BIND zone-file fragment, grouped by domain with absolute names. Where a check found a
/// correct value mailplane cannot know (addresses, TLSA) or that may differ (SPF, DMARC), that
/// value is used; a placeholder nobody filled in, or a DKIM key not generated yet, is commented out.
pub fn bind(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut domain = None;
    for row in rows {
        let e = &row.expected;
        if domain != Some(&e.domain) {
            out.push_str(&format!("{}; {}\n", if domain.is_some() { "\n" } else { "" }, e.domain));
            domain = Some(&e.domain);
        }
        let use_found = matches!(e.rule, Rule::Present | Rule::Spf | Rule::Dmarc) && row.status == Some(Status::Correct);
        let values = match (&row.found, use_found) {
            (Some(found), true) => found.clone(),
            _ => vec![e.value.clone()],
        };
        let comment = if matches!(e.rule, Rule::DkimPending | Rule::MtaStsPending) || (!use_found && e.value.contains('<')) { "; " } else { "" };
        for v in values {
            out.push_str(&format!("{comment}{}.\tIN\t{}\t{}\n", e.name, e.rtype.as_str(), zone_data(e.rtype, &v)));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonRow<'a> {
    domain: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    rtype: RType,
    expected: &'a str,
    required: bool,
    status: Option<Status>,
    found: Option<&'a [String]>,
}

/// `--format json`: `{format_version, hostname, checked, records: [{domain, name, type,
/// expected, required, status, found}]}`; status and found are null without a check (status is
/// `not_generated` for a DKIM key apply has not made yet).
pub fn json(hostname: &str, checked: bool, rows: &[Row]) -> serde_json::Value {
    let records: Vec<JsonRow> = rows
        .iter()
        .map(|r| JsonRow {
            domain: &r.expected.domain,
            name: &r.expected.name,
            rtype: r.expected.rtype,
            expected: &r.expected.value,
            required: r.expected.required,
            status: r.status,
            found: r.found.as_deref(),
        })
        .collect();
    serde_json::json!({ "format_version": 1, "hostname": hostname, "checked": checked, "records": records })
}

/// A value shortened for the table (DKIM keys are hundreds of characters).
fn short(s: &str) -> String {
    let n = s.chars().count();
    if n <= 60 {
        return s.to_string();
    }
    let head: String = s.chars().take(44).collect();
    let tail: String = s.chars().skip(n - 15).collect();
    format!("{head}…{tail}")
}

/// The human table: per domain, one line per record; with a check, what was found and the status.
pub fn table(rows: &[Row], checked: bool, color: bool) -> String {
    use owo_colors::OwoColorize;
    let mut header = vec!["NAME", "TYPE", "EXPECTED"];
    header.extend(if checked { ["FOUND", "STATUS"] } else { ["NEEDED", "STATUS"] });
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let e = &r.expected;
            let found = r.found.as_ref().map(|f| if f.is_empty() { "-".to_string() } else { f.iter().map(|v| short(v)).collect::<Vec<_>>().join(", ") });
            let need = if e.required { "required" } else { "optional" };
            let status = r.status.map_or("", Status::as_str).to_string();
            [e.name.clone(), e.rtype.as_str().into(), short(&e.value), found.unwrap_or_else(|| need.into()), status]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.chars().count());
        }
    }
    let pad = |v: &str, w: usize| format!("{v}{}", " ".repeat(w.saturating_sub(v.chars().count())));
    let line = |c: &[String]| {
        let mut l: Vec<String> = c[..4].iter().zip(&widths).map(|(v, w)| pad(v, *w)).collect();
        l.push(c[4].clone());
        l.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    let mut domain = None;
    for (r, c) in rows.iter().zip(&cells) {
        if domain != Some(&r.expected.domain) {
            let title = &r.expected.domain;
            out.push_str(&format!("{}{}\n", if domain.is_some() { "\n" } else { "" }, if color { title.bold().to_string() } else { title.clone() }));
            out.push_str(&line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>()));
            out.push('\n');
            domain = Some(title);
        }
        let mut c = c.clone();
        if color {
            c[4] = match r.status {
                Some(Status::Correct) => c[4].green().to_string(),
                Some(Status::Missing | Status::Mismatch) => c[4].red().to_string(),
                Some(_) => c[4].yellow().to_string(),
                None => c[4].clone(),
            };
        }
        out.push_str(&line(&c));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const HOST: &str = "mail.example.org";

    fn domain(name: &str, alias: bool, dkim: Option<DkimKey>) -> Domain {
        Domain { name: name.into(), alias, dkim, mta_sts: None }
    }

    fn find<'a>(recs: &'a [Expected], name: &str, t: RType) -> &'a Expected {
        recs.iter().find(|e| e.name == name && e.rtype == t).unwrap_or_else(|| panic!("no {name} {t:?}"))
    }

    fn no_lookup() -> impl FnMut(&str, RType) -> Vec<String> {
        |_: &str, _: RType| Vec::new()
    }

    #[test]
    fn records_of_a_domain_and_of_an_alias_domain() {
        let key = DkimKey::Key { selector: "dkim".into(), public: "MIIBIj".into() };
        let recs = domain_records(HOST, &domain("example.org", false, Some(key)));
        let mx = find(&recs, "example.org", RType::MX);
        assert_eq!((mx.value.as_str(), mx.required), ("10 mail.example.org", true));
        assert_eq!(find(&recs, "dkim._domainkey.example.org", RType::TXT).value, "v=DKIM1;k=rsa;t=s;s=email;p=MIIBIj");
        assert!(!find(&recs, "example.org", RType::TXT).required, "SPF is optional, as in mailcow");
        assert!(!find(&recs, "_dmarc.example.org", RType::TXT).required);
        assert!(find(&recs, "autodiscover.example.org", RType::CNAME).required);
        assert!(find(&recs, "_autodiscover._tcp.example.org", RType::SRV).required);
        assert_eq!(find(&recs, "_imaps._tcp.example.org", RType::SRV).value, "0 1 993 mail.example.org");
        assert_eq!(find(&recs, "_caldavs._tcp.example.org", RType::TXT).value, "path=/SOGo/dav/");

        let alias = domain_records(HOST, &domain("example.net", true, None));
        let names: Vec<(&str, RType)> = alias.iter().map(|e| (e.name.as_str(), e.rtype)).collect();
        assert_eq!(names, vec![("example.net", RType::MX), ("example.net", RType::TXT), ("_dmarc.example.net", RType::TXT)]);
    }

    #[test]
    fn forwarding_hosts_expand_like_mailcow() {
        let dns: std::collections::HashMap<(&str, RType), Vec<&str>> = [
            (
                ("fwd.example", RType::TXT),
                vec!["v=spf1 ip4:192.0.2.0/24 ip6:2001:DB8::/32 a mx:mx.example include:inc.example -ip4:203.0.113.9 redirect=red.example"],
            ),
            (("fwd.example", RType::A), vec!["192.0.2.200"]),
            (("mx.example", RType::MX), vec!["10 mail.mx.example."]),
            (("mail.mx.example", RType::A), vec!["198.51.100.7"]),
            (("inc.example", RType::TXT), vec!["v=spf1 ip4:198.51.100.64/26 ~all"]),
            (("red.example", RType::TXT), vec!["v=spf1 ip4:203.0.113.0/28"]),
            (("nospf.example", RType::MX), vec!["5 mail.mx.example"]),
            (("bare.example", RType::AAAA), vec!["2001:db8::25"]),
        ]
        .into();
        let mut lookup = |n: &str, t: RType| dns.get(&(n, t)).map(|v| v.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
        assert_eq!(
            forwarding_addresses("fwd.example", &mut lookup),
            ["192.0.2.0/24", "192.0.2.200", "198.51.100.64/26", "198.51.100.7", "2001:DB8::/32", "203.0.113.0/28"]
        );
        assert_eq!(forwarding_addresses("nospf.example", &mut lookup), ["198.51.100.7"]);
        assert_eq!(forwarding_addresses("bare.example", &mut lookup), ["2001:db8::25"]);
        assert!(forwarding_addresses("nothing.example", &mut lookup).is_empty());
    }

    #[test]
    fn verdicts() {
        let recs = domain_records(HOST, &domain("example.org", false, Some(DkimKey::Key { selector: "s1".into(), public: "AAAB".into() })));
        let ips = ["192.0.2.1".parse().unwrap()];
        let mut l = no_lookup();
        let mut j = |name: &str, t: RType, found: &[&str]| {
            let e = find(&recs, name, t);
            let found = relevant(e, found.iter().map(|s| s.to_string()).collect());
            judge(e, &found, &ips, &mut l)
        };
        assert_eq!(j("example.org", RType::MX, &["10 MAIL.example.org."]), Status::Correct);
        assert_eq!(j("example.org", RType::MX, &["10 mx.other.net"]), Status::Mismatch);
        assert_eq!(j("example.org", RType::MX, &[]), Status::Missing);
        assert_eq!(j("_autodiscover._tcp.example.org", RType::SRV, &["5 0 443 mail.example.org"]), Status::Correct);
        assert_eq!(j("_autodiscover._tcp.example.org", RType::SRV, &["0 1 8443 mail.example.org"]), Status::Mismatch);
        assert_eq!(j("s1._domainkey.example.org", RType::TXT, &["v=DKIM1; k=rsa; p=AA AB"]), Status::Correct);
        assert_eq!(j("s1._domainkey.example.org", RType::TXT, &["v=DKIM1;k=rsa;t=s;s=email;p=XXXX"]), Status::Mismatch);
        // The apex TXT holds other records too; only SPF counts, and SPF is optional.
        assert_eq!(j("example.org", RType::TXT, &["google-site-verification=x"]), Status::Optional);
        assert_eq!(j("example.org", RType::TXT, &["v=spf1 ip4:192.0.2.0/24 -all"]), Status::Correct);
        assert_eq!(j("example.org", RType::TXT, &["v=spf1 ip4:198.51.100.1 -all"]), Status::Optional);
        assert_eq!(j("_dmarc.example.org", RType::TXT, &["v=DMARC1; p=none"]), Status::Correct);
        assert_eq!(j("_caldavs._tcp.example.org", RType::TXT, &["path=/SOGo/dav/"]), Status::Correct);
        assert_eq!(j("_imaps._tcp.example.org", RType::SRV, &[]), Status::Optional);

        let pending = domain_records(HOST, &domain("example.org", false, Some(DkimKey::Pending { selector: "dkim".into() })));
        let e = find(&pending, "dkim._domainkey.example.org", RType::TXT);
        assert_eq!(judge(e, &[], &ips, &mut no_lookup()), Status::NotGenerated);
        assert_eq!(Row::unchecked(e.clone()).status, Some(Status::NotGenerated));
        assert!(Row { expected: e.clone(), found: Some(vec![]), status: Some(Status::NotGenerated) }.failed());
    }

    #[test]
    fn spf_evaluation() {
        let dns: HashMap<(&str, RType), Vec<&str>> = HashMap::from([
            (("example.org", RType::MX), vec!["10 mail.example.org"]),
            (("mail.example.org", RType::A), vec!["192.0.2.1"]),
            (("mail.example.org", RType::AAAA), vec!["2001:db8::1"]),
            (("example.org", RType::A), vec!["198.51.100.7"]),
            (("_spf.provider.net", RType::TXT), vec!["v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/32 ~all"]),
            (("redir.example.net", RType::TXT), vec!["other", "v=spf1 mx:example.org -all"]),
            (("loop.example", RType::TXT), vec!["v=spf1 include:loop.example -all"]),
        ]);
        let mut lookup = |n: &str, t: RType| dns.get(&(n, t)).map(|v| v.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let other: IpAddr = "203.0.113.9".parse().unwrap();
        let mut allows = |r: &str, ip| spf_allows(r, "example.org", ip, &mut lookup, 0);
        assert!(allows("v=spf1 mx a -all", v4) && allows("v=spf1 mx a -all", v6));
        assert!(!allows("v=spf1 mx a -all", other));
        assert!(!allows("v=spf1 a -all", v4), "the domain's own A is another host");
        assert!(allows("v=spf1 a:mail.example.org -all", v4));
        assert!(!allows("v=spf1 -mx +all", v4), "the first matching mechanism decides");
        assert!(allows("v=spf1 include:_spf.provider.net -all", other));
        assert!(allows("v=spf1 redirect=redir.example.net", v6));
        assert!(!allows("v=spf1 ~all", v4), "softfail is no pass");
        assert!(!allows("v=spf1 include:loop.example -all", v4), "include loops end");
    }

    #[test]
    fn bind_fragment() {
        let long = "A".repeat(392);
        let mut rows: Vec<Row> = host_records(HOST).into_iter().map(Row::unchecked).collect();
        rows.extend(
            domain_records(HOST, &domain("example.org", false, Some(DkimKey::Key { selector: "dkim".into(), public: long.clone() })))
                .into_iter()
                .map(Row::unchecked),
        );
        rows[0].found = Some(vec!["192.0.2.1".into()]);
        rows[0].status = Some(Status::Correct);
        let zone = bind(&rows);
        assert!(zone.starts_with("; mail.example.org\nmail.example.org.\tIN\tA\t192.0.2.1\n; mail.example.org.\tIN\tAAAA\t<IPv6"), "{zone}");
        assert!(zone.contains("\n; example.org\nexample.org.\tIN\tMX\t10 mail.example.org.\n"), "{zone}");
        assert!(zone.contains("_autodiscover._tcp.example.org.\tIN\tSRV\t0 1 443 mail.example.org.\n"));
        let dkim = zone.lines().find(|l| l.starts_with("dkim._domainkey")).unwrap();
        let value = dkim_txt(&long);
        assert_eq!(dkim, format!("dkim._domainkey.example.org.\tIN\tTXT\t\"{}\" \"{}\"", &value[..255], &value[255..]));
        assert_eq!(txt_strings("a\"b"), "\"a\\\"b\"");
        assert_eq!(txt_strings(""), "\"\"");
    }

    #[test]
    fn cidr() {
        assert!(cidr_contains("10.0.0.0/8", "10.1.2.3".parse().unwrap()));
        assert!(!cidr_contains("10.0.0.0/8", "11.0.0.1".parse().unwrap()));
        assert!(cidr_contains("0.0.0.0/0", "11.0.0.1".parse().unwrap()));
        assert!(cidr_contains("2001:db8::/32", "2001:db8:1::5".parse().unwrap()));
        assert!(!cidr_contains("2001:db8::1", "10.0.0.1".parse().unwrap()));
    }
}
