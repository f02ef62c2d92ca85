//! Fail2ban, as mailcow's `fail2ban('edit')` writes it: the options as one JSON string
//! (`F2B_OPTIONS`), the allow and deny lists as hashes of `entry → 1` (`F2B_WHITELIST`,
//! `F2B_BLACKLIST`), each an exact set. netfilter fills in its defaults and rewrites the options
//! with its own serialiser, so they are compared as values, never as bytes, and its
//! `banlist_id` is kept. A list is changed entry by entry (mailcow deletes and re-adds it: the
//! same result, without a moment in which nothing is allowed). Never deleted: a plan that would
//! is blocked. The log rules (`F2B_REGEX`, a JSON object `{"1": rule, …}`) are compared as a
//! list; `mailcow-defaults` is the running netfilter's built-in list, and netfilter writes that
//! list itself whenever the key is missing, so following it is a DEL — and the plan stays empty
//! after an update of mailcow only if the live key is the new list (mailcow#5251 is the old
//! list kept forever). mailcow also restarts netfilter on its reset; mailplane does not: a restart
//! lifts every active ban, and the rules come back on the next log line without it.

use serde_json::{Map, Value as Json};

use super::export::{Export, loc, some_if};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError};
use crate::change::{Action, Change};
use crate::live::LiveData;
use crate::load::validate::Validator;
use crate::model::names::{check_host_labels, is_network, printable};
use crate::model::{Document, F2bRegex, Fail2ban, Kind, Located, MailcowDefaults};
use crate::record::{Record, Value};

const OPTIONS: &str = "F2B_OPTIONS";
const ALLOW: &str = "F2B_WHITELIST";
const DENY: &str = "F2B_BLACKLIST";
const REGEX: &str = "F2B_REGEX";
/// Written in the desired record until `follow_netfilter` knows which list that is.
const DEFAULTS: &str = "mailcow-defaults";

/// netfilter's built-in log rules (`refreshF2bregex` in its main.py, mailcow 2025-10), for when
/// the running container's cannot be read.
pub const MAILCOW_RULES: [&str; 9] = [
    r"mailcow UI: Invalid password for .+ by ([0-9a-f\.:]+)",
    r"Rspamd UI: Invalid password by ([0-9a-f\.:]+)",
    r"warning: .*\[([0-9a-f\.:]+)\]: SASL .+ authentication failed: (?!.*Connection lost to authentication server).+",
    r"warning: non-SMTP command from .*\[([0-9a-f\.:]+)]:.+",
    r"NOQUEUE: reject: RCPT from \[([0-9a-f\.:]+)].+Protocol error.+",
    r"\w+\([^,]+,([0-9a-f\.:]+),<[^>]+>\): Password mismatch \(SHA1 of given password: [a-f0-9]+\)",
    r"\w+\([^,]+,([0-9a-f\.:]+),<[^>]+>\): unknown user \(SHA1 of given password: [a-f0-9]+\)",
    r"SOGo.+ Login from \'([0-9a-f\.:]+)\' for user .+ might not have worked",
    r#"([0-9a-f\.:]+) \"GET \/SOGo\/.* HTTP.+\" 403 .+"#,
];

/// The numeric options in mailcow's JSON order, with netfilter's defaults and mailcow's lower bounds.
const NUMBERS: [(&str, i64, i64, i64); 4] = [
    ("ban_time", 1800, 60, u32::MAX as i64),
    ("max_ban_time", 10000, 60, u32::MAX as i64),
    ("max_attempts", 10, 1, u32::MAX as i64),
    ("retry_window", 600, 1, u32::MAX as i64),
];
const NETBANS: [(&str, i64, i64, i64); 2] = [("netban_ipv4", 32, 8, 32), ("netban_ipv6", 128, 8, 128)];

/// mailcow's own networks with its shipped IPV4_NETWORK and IPV6_NETWORK: banning them cuts
/// its containers off from each other.
const OWN_NETWORKS: [&str; 2] = ["172.22.1.0/24", "fd4d:6169:6c63:6f77::/64"];

pub const FAIL2BAN: KindSpec = KindSpec {
    kind: Kind::Fail2ban,
    warn: super::no_check,
    queries: &[],
    hashes: &[ALLOW, DENY],
    strings: &[OPTIONS, REGEX],
    count: |d| usize::from(d.fail2ban.is_some()),
    validate,
    desired,
    live,
    write,
    check: |f| {
        let own_networks = f.mailcow_conf.map(|conf| mailcow_conf_conflicts(conf, f.changes)).unwrap_or_default();
        [super::never_deleted(f, Kind::Fail2ban, "netfilter writes them again"), own_networks].concat()
    },
    export,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

/// In the record's (and mailcow's JSON's) order.
fn record(ints: [i64; 6], increment: bool, external: bool, allow: Vec<String>, deny: Vec<String>, regex: Option<Value>) -> Record {
    let mut r = Record::new(Kind::Fail2ban, Kind::Fail2ban.name());
    let [ban, max_ban, attempts, window, v4, v6] = ints;
    r.push("ban_time", Value::Int(ban));
    r.push("ban_time_increment", Value::Bool(increment));
    r.push("max_ban_time", Value::Int(max_ban));
    r.push("netban_ipv4", Value::Int(v4));
    r.push("netban_ipv6", Value::Int(v6));
    r.push("max_attempts", Value::Int(attempts));
    r.push("retry_window", Value::Int(window));
    r.push("manage_external", Value::Bool(external));
    r.push("allow", Value::List(allow.into()));
    r.push("deny", Value::List(deny.into()));
    if let Some(regex) = regex {
        r.push("regex", regex);
    }
    r
}

/// The list netfilter writes when `F2B_REGEX` is missing.
fn builtin(l: &LiveData) -> Vec<String> {
    rules_or_known(l.netfilter_rules.as_deref())
}
fn rules_or_known(read: Option<&[String]>) -> Vec<String> {
    read.map_or_else(|| MAILCOW_RULES.map(String::from).to_vec(), <[String]>::to_vec)
}

/// The rules of `F2B_REGEX` in their ids' order; the built-in list when it is missing (netfilter
/// writes it on the next log line). Unreadable JSON is no rule at all, which netfilter would stop on.
fn live_rules(l: &LiveData) -> Vec<String> {
    let Some(s) = l.string(REGEX) else { return builtin(l) };
    let mut rules: Vec<(u64, String)> = serde_json::from_str::<Map<String, Json>>(s)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(id, rule)| Some((id.parse().ok()?, rule.as_str()?.to_string())))
        .collect();
    rules.sort();
    rules.into_iter().map(|(_, r)| r).collect()
}

/// `mailcow-defaults` becomes the list of the netfilter that runs (observe read it): run on
/// the desired records before planning.
pub fn follow_netfilter(desired: &mut Desired, live: &LiveData) {
    for r in desired.records.iter_mut().filter(|r| r.kind == Kind::Fail2ban && r.text("regex") == DEFAULTS) {
        r.set("regex", Value::List(builtin(live).into()));
    }
}

/// The built-in rules in netfilter's main.py: its `f2bregex[N] = r'…'` lines, in N's order.
pub fn builtin_rules(main_py: &str) -> Option<Vec<String>> {
    let mut rules: Vec<(u32, String)> = main_py
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("f2bregex[")?;
            let (id, rest) = rest.split_once(']')?;
            let raw = rest.trim_start().strip_prefix('=')?.trim().strip_prefix("r'")?.strip_suffix('\'')?;
            Some((id.parse().ok()?, raw.to_string()))
        })
        .collect();
    rules.sort();
    (!rules.is_empty()).then(|| rules.into_iter().map(|(_, r)| r).collect())
}

/// A list as a set: trimmed, sorted, once each (Redis hash fields).
fn set(entries: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = entries.map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
    v.sort();
    v.dedup();
    v
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for f in r.docs.iter().filter_map(|d| d.fail2ban.as_ref()) {
        let n = |v: &Option<Located<u32>>, default: i64| v.as_ref().map_or(default, |v| i64::from(v.value));
        let ints =
            [n(&f.ban_time, 1800), n(&f.max_ban_time, 10000), n(&f.max_attempts, 10), n(&f.retry_window, 600), n(&f.netban_ipv4, 32), n(&f.netban_ipv6, 128)];
        let (allow, deny) = (set(f.allow.iter().map(|a| a.value.clone())), set(f.deny.iter().map(|d| d.value.clone())));
        let regex = f.regex.as_ref().map(|r| match &r.value {
            F2bRegex::Defaults(_) => Value::text(DEFAULTS),
            F2bRegex::Rules(rules) => Value::List(rules.iter().map(|r| r.value.clone()).collect::<Vec<_>>().into()),
        });
        out.records.push(record(ints, f.ban_time_increment.unwrap_or(true), f.manage_external.unwrap_or(false), allow, deny, regex));
    }
}

fn options(l: &LiveData) -> Option<Map<String, Json>> {
    l.string(OPTIONS).and_then(|s| serde_json::from_str(s).ok())
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    let keys = |k: &str| set(l.kv.get(k).into_iter().flat_map(|h| h.keys().cloned()));
    let (allow, deny) = (keys(ALLOW), keys(DENY));
    let opts = options(l);
    if opts.is_none() && allow.is_empty() && deny.is_empty() && l.string(REGEX).is_none() {
        return;
    }
    let opts = opts.unwrap_or_default();
    // netfilter's own reading: a number or a numeric string; a missing one is its default.
    let int = |k: &str, default: i64| opts.get(k).and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())).unwrap_or(default);
    let flag = |k: &str, default: bool| opts.get(k).map_or(default, |v| v.as_bool().unwrap_or_else(|| v.as_i64().is_some_and(|i| i != 0)));
    let ints =
        [int("ban_time", 1800), int("max_ban_time", 10000), int("max_attempts", 10), int("retry_window", 600), int("netban_ipv4", 32), int("netban_ipv6", 128)];
    out.push(record(ints, flag("ban_time_increment", true), flag("manage_external", false), allow, deny, Some(Value::List(live_rules(l).into()))));
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let Some(r) = c.desired.as_ref().filter(|_| c.action != Action::Delete) else { return Ok(()) };
    // PHP's json_encode of mailcow's array, netfilter's banlist_id kept.
    let banlist = options(ctx.live).and_then(|o| o.get("banlist_id").cloned()).unwrap_or(Json::Null);
    let json = serde_json::json!({
        "ban_time": r.int("ban_time"),
        "ban_time_increment": r.flag("ban_time_increment"),
        "max_ban_time": r.int("max_ban_time"),
        "netban_ipv4": r.int("netban_ipv4"),
        "netban_ipv6": r.int("netban_ipv6"),
        "max_attempts": r.int("max_attempts"),
        "retry_window": r.int("retry_window"),
        "banlist_id": banlist,
        "manage_external": i64::from(r.flag("manage_external")),
    });
    out.set(OPTIONS, &super::template::php_json(&json));
    let live = c.live.as_ref();
    if r.has("regex") && live.is_none_or(|l| l.list("regex") != r.list("regex")) {
        let rules = r.list("regex");
        if rules == builtin(ctx.live) {
            out.del(REGEX);
        } else {
            // PHP's json_encode of the rules numbered from 1, with JSON_UNESCAPED_SLASHES.
            let object: Map<String, Json> = rules.into_iter().enumerate().map(|(i, rule)| ((i + 1).to_string(), Json::String(rule))).collect();
            out.set(REGEX, &super::template::php_json_unescaped_slashes(&Json::Object(object)));
        }
    }
    for (field, key) in [("allow", ALLOW), ("deny", DENY)] {
        let (now, was) = (r.list(field), live.map(|l| l.list(field)).unwrap_or_default());
        for e in was.iter().filter(|e| !now.contains(e)) {
            out.hdel(key, e);
        }
        for e in now.iter().filter(|e| !was.contains(e)) {
            out.hset(key, e, "1");
        }
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let int = |f: &str, default: i64| some_if(r.int(f) != default, loc(u32::try_from(r.int(f)).unwrap_or(0)));
    x.file("server.yaml").fail2ban = Some(loc(Fail2ban {
        ban_time: int("ban_time", 1800),
        ban_time_increment: some_if(!r.flag("ban_time_increment"), false),
        max_ban_time: int("max_ban_time", 10000),
        max_attempts: int("max_attempts", 10),
        retry_window: int("retry_window", 600),
        netban_ipv4: int("netban_ipv4", 32),
        netban_ipv6: int("netban_ipv6", 128),
        manage_external: some_if(r.flag("manage_external"), true),
        allow: r.list("allow").into_iter().map(loc).collect(),
        deny: r.list("deny").into_iter().map(loc).collect(),
        regex: Some(loc(if r.list("regex") == rules_or_known(x.netfilter_rules) {
            F2bRegex::Defaults(MailcowDefaults::MailcowDefaults)
        } else {
            F2bRegex::Rules(r.list("regex").into_iter().map(loc).collect())
        })),
    }));
}

/// mailcow's networks as its mailcow.conf sets them (`IPV4_NETWORK` is three octets, the /24
/// mailcow's containers live in; `IPV6_NETWORK` a prefix), where they are not the shipped ones
/// `validate` knows: a deny list this plan writes must not ban them.
pub fn mailcow_conf_conflicts(conf: &str, changes: &[Change]) -> Vec<String> {
    let v4 = super::api::conf_value(conf, "IPV4_NETWORK");
    let v6 = super::api::conf_value(conf, "IPV6_NETWORK");
    let own: Vec<String> = [(!v4.is_empty()).then(|| format!("{v4}.0/24")), (!v6.is_empty()).then_some(v6)]
        .into_iter()
        .flatten()
        .filter(|n| network(n).is_some() && !OWN_NETWORKS.contains(&n.as_str()))
        .collect();
    let denied = changes.iter().filter(|c| c.kind == Kind::Fail2ban).filter_map(|c| c.desired.as_ref()).flat_map(|r| r.list("deny"));
    let mut out = Vec::new();
    for d in denied {
        for n in own.iter().filter(|n| overlap(&d, n)) {
            out.push(format!(
                "Fail2ban's deny list: `{d}` overlaps mailcow's own network {n} (IPV4_NETWORK/IPV6_NETWORK in mailcow.conf); its containers would stop reaching each other: take it out"
            ));
        }
    }
    out
}

/// An address or network as (is it IPv6, its bits, its prefix length).
fn network(s: &str) -> Option<(bool, u128, u32)> {
    let (ip, len) = s.split_once('/').map_or((s, None), |(a, l)| (a, l.parse::<u32>().ok()));
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) => Some((false, u128::from(u32::from(a)) << 96, len.unwrap_or(32))),
        std::net::IpAddr::V6(a) => Some((true, u128::from(a), len.unwrap_or(128))),
    }
}

/// Whether two networks share an address.
fn overlap(a: &str, b: &str) -> bool {
    let (Some((a6, a, al)), Some((b6, b, bl))) = (network(a), network(b)) else { return false };
    // IPv4 sits in the top 32 bits.
    let shared = al.min(bl).min(128);
    let mask = if shared == 0 { 0 } else { u128::MAX << (128 - shared.min(128)) };
    a6 == b6 && (a & mask) == (b & mask)
}

/// Once per directory; netfilter's ranges (mailcow clamps an out-of-range number silently, or,
/// below a prefix length of 8, stores it as sent); allow entries that are networks or host names;
/// deny entries that are networks and would not ban everyone or mailcow itself.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let Some(f) = &doc.fail2ban else { return };
    v.claim("fail2ban", "fail2ban", "the Fail2ban settings", (file, f.at));
    let numbers = [&f.ban_time, &f.max_ban_time, &f.max_attempts, &f.retry_window].into_iter().zip(NUMBERS);
    let netbans = [&f.netban_ipv4, &f.netban_ipv6].into_iter().zip(NETBANS);
    for (value, (name, _, min, max)) in numbers.chain(netbans) {
        if let Some(n) = value.as_ref().filter(|n| i64::from(n.value) < min || i64::from(n.value) > max) {
            let range = if max == u32::MAX as i64 { format!("{min} or more") } else { format!("{min} to {max}") };
            v.error_help("out-of-range", file, n.at, format!("Fail2ban's {name} is {}; netfilter takes {range}", n.value), format!("choose {range}"));
        }
    }
    for a in &f.allow {
        let e = a.trim();
        if !is_network(e) && check_host_labels(&e.to_ascii_lowercase()).is_err() {
            let message = format!("Fail2ban's allow list: `{}` is not an address, network or host name", printable(e));
            v.error_help("invalid-network", file, a.at, message, "write an address (192.0.2.10), a network (192.0.2.0/24) or a host name");
        }
    }
    if let Some(Located { value: F2bRegex::Rules(rules), at }) = &f.regex {
        if rules.is_empty() {
            v.error_help(
                "no-rules",
                file,
                *at,
                "Fail2ban's regex list is empty: netfilter would write its built-in rules again",
                "write `regex: mailcow-defaults`, or the rules",
            );
        }
        for (i, rule) in rules.iter().enumerate() {
            if let Some(problem) = rule_problem(rule) {
                let message = format!("Fail2ban's regex rule {} `{}` {problem}", i + 1, printable(rule));
                v.error_help("invalid-rule", file, rule.at, message, "each rule is a Python regular expression whose first group `(…)` captures the address");
            }
        }
    }
    for d in &f.deny {
        let e = d.trim();
        if !is_network(e) {
            let message = format!("Fail2ban's deny list: `{}` is not an address or network", printable(e));
            v.error_help("invalid-network", file, d.at, message, "write an address (192.0.2.10) or a network (192.0.2.0/24); host names cannot be denied");
        } else if network(e).is_some_and(|(_, bits, len)| len == 0 || bits == 0) {
            let message = format!("Fail2ban's deny list: `{e}` would ban every address, and nobody could reach the server");
            v.error_help("denies-everyone", file, d.at, message, "deny the addresses or networks that attack you");
        } else if let Some(own) = OWN_NETWORKS.iter().find(|own| overlap(e, own)) {
            let message = format!("Fail2ban's deny list: `{e}` overlaps mailcow's own network {own}; its containers would stop reaching each other");
            v.error_help("denies-mailcow", file, d.at, message, "take it out");
        }
    }
}

/// What is wrong with a rule as netfilter uses it (`re.search`, then `group(1)` is the
/// address): unbalanced brackets, or no capture group. Python's own compile is not run here; a
/// rule it refuses is skipped by netfilter on every line.
fn rule_problem(rule: &str) -> Option<&'static str> {
    if rule.trim().is_empty() {
        return Some("is empty");
    }
    let (mut depth, mut groups, mut class) = (0usize, 0usize, false);
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // The escaped character is taken with the guard.
            '\\' if chars.next().is_none() => return Some("ends in a lone backslash"),
            ']' if class => class = false,
            _ if class => {}
            '[' => {
                class = true;
                // `[]…]` and `[^]…]` hold a literal `]`.
                if chars.peek() == Some(&'^') {
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                }
            }
            '(' => {
                depth += 1;
                // `(?P<name>…)` captures; every other `(?…)` does not.
                let mut ahead = chars.clone();
                if ahead.next() != Some('?') || (ahead.next() == Some('P') && ahead.next() == Some('<')) {
                    groups += 1;
                }
            }
            ')' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Some("closes a group it did not open"),
            },
            _ => {}
        }
    }
    match () {
        _ if class => Some("leaves a `[` class open"),
        _ if depth > 0 => Some("leaves a group open"),
        _ if groups == 0 => Some("has no capture group for the address to ban"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_overlap_by_their_shorter_prefix() {
        assert!(overlap("172.22.0.0/16", "172.22.1.0/24") && overlap("172.22.1.7", "172.22.1.0/24"));
        assert!(!overlap("172.22.2.0/24", "172.22.1.0/24") && !overlap("203.0.113.66", "172.22.1.0/24"));
        assert!(overlap("fd4d:6169:6c63::/48", "fd4d:6169:6c63:6f77::/64") && !overlap("2001:db8::/32", "fd4d:6169:6c63:6f77::/64"));
        assert!(!overlap("::ffff:172.22.1.1", "172.22.1.0/24"), "families apart");
    }

    #[test]
    fn mailcow_conf_networks_are_protected_too() {
        let mut r = Record::new(Kind::Fail2ban, "fail2ban");
        r.push("deny", Value::List(vec!["10.99.0.0/16".to_string(), "203.0.113.66".to_string(), "fd00:abcd::/32".to_string()].into()));
        let change = Change { action: Action::Update, kind: Kind::Fail2ban, key: "fail2ban".into(), fields: Vec::new(), desired: Some(r), live: None };
        let conf = "IPV4_NETWORK=10.99.5\nIPV6_NETWORK=fd00:abcd:1234::/64\n";
        let found = mailcow_conf_conflicts(conf, std::slice::from_ref(&change));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`10.99.0.0/16` overlaps mailcow's own network 10.99.5.0/24"));
        assert!(mailcow_conf_conflicts("IPV4_NETWORK=172.22.1\n", &[change]).is_empty(), "the shipped one is validate's");
    }

    #[test]
    fn rules_need_a_capture_group_and_balanced_brackets() {
        for rule in MAILCOW_RULES {
            assert_eq!(rule_problem(rule), None, "{rule}");
        }
        assert_eq!(rule_problem("Login failed from (?:[0-9.]+)"), Some("has no capture group for the address to ban"));
        assert_eq!(rule_problem("from (?P<ip>[0-9.]+)"), None);
        assert_eq!(rule_problem(r"from \(([0-9.]+)"), None);
        assert_eq!(rule_problem("from ([0-9.]+"), Some("leaves a group open"));
        assert_eq!(rule_problem("from [0-9.)]+)"), Some("closes a group it did not open"));
        assert_eq!(rule_problem("from ([]0-9.]+)"), None);
        assert_eq!(rule_problem("from ([0-9."), Some("leaves a `[` class open"));
        assert_eq!(rule_problem("x\\"), Some("ends in a lone backslash"));
    }

    #[test]
    fn netfilters_own_list_is_read_from_its_code() {
        let main_py = "def refreshF2bregex():\n  if not r.get('F2B_REGEX'):\n    f2bregex = {}\n    f2bregex[2] = r'b by ([0-9a-f\\.:]+)'\n    f2bregex[1] = r'SOGo.+ Login from \\'([0-9a-f\\.:]+)\\' for user'\n    f2bregex[10] = r'ten ([0-9]+)'\n";
        let rules = builtin_rules(main_py).unwrap();
        assert_eq!(rules, [r"SOGo.+ Login from \'([0-9a-f\.:]+)\' for user", r"b by ([0-9a-f\.:]+)", "ten ([0-9]+)"]);
        assert_eq!(builtin_rules("print('no rules')"), None);
    }
}
