//! Forwarding hosts, kept in Redis like mailcow: WHITELISTED_FWD_HOST[<ip or cidr>] = the host as
//! entered, KEEP_SPAM[<ip or cidr>] = 1 when its spam is not filtered. An address or network is
//! stored as written (trimmed). A host name stands for the addresses mailcow found when it was
//! added (its SPF networks, else its MX hosts', else its own): live entries whose source is the
//! declared name satisfy it without DNS; a new name (or any, with `--refresh-forwarding-hosts`)
//! is resolved in a step of its own before planning, so the plan lists the addresses trusted.

use super::export::{Export, loc, some_if};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError};
use crate::change::Change;
use crate::live::LiveData;
use crate::load::validate::*;
use crate::model::names;
use crate::model::names::is_network;
use crate::model::{ForwardingHost, Kind, Located};
use crate::record::{Record, Value};

pub const FORWARDING_HOST: KindSpec = KindSpec {
    kind: Kind::ForwardingHost,
    warn: super::no_check,
    queries: &[],
    hashes: &["WHITELISTED_FWD_HOST", "KEEP_SPAM"],
    strings: &[],
    count: |d| d.forwarding_hosts.len(),
    desired,
    live,
    write,
    export,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| {
        for f in &doc.forwarding_hosts {
            check_forwarding_host(v, file, &f.host);
            if let Some(e) = f.filter_spam_except.first().filter(|_| is_network(f.host.trim())) {
                let msg = format!("forwarding host `{}` is an address: `filter_spam_except` is for a host name's addresses", names::printable(f.host.trim()));
                v.error_help("invalid-forwarding-host", file, e.at, msg, "set `filter_spam` of the address itself");
            }
        }
    },
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn record(net: &str, source: &str, filter_spam: bool) -> Record {
    Record::new(Kind::ForwardingHost, net).with("source", Value::text(source)).with("filter_spam", Value::Bool(filter_spam))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for f in r.docs.iter().flat_map(|d| d.forwarding_hosts.iter()) {
        let host = f.host.trim();
        let filter_spam = f.filter_spam.unwrap_or(true);
        if is_network(host) {
            out.records.push(record(host, host, filter_spam));
        } else {
            out.forwarding_names.push((host.to_string(), filter_spam, f.filter_spam_except.iter().map(|e| e.trim().to_string()).collect()));
        }
    }
}

/// The records of the declared host names: the live entries of each name, or, for a name the
/// server does not have yet (or every name with `refresh`), the addresses `lookup` finds.
/// Errors name each host that resolves to nothing.
pub fn resolve_names(
    desired: &mut Desired,
    live: &[Record],
    refresh: bool,
    mut lookup: impl FnMut(&str) -> Result<Vec<String>, String>,
) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    for (name, filter_spam, except) in std::mem::take(&mut desired.forwarding_names) {
        let known: Vec<&str> =
            live.iter().filter(|l| l.kind == Kind::ForwardingHost && l.text("source").eq_ignore_ascii_case(&name)).map(|l| l.key.as_str()).collect();
        let addresses = if !known.is_empty() && !refresh {
            known.into_iter().map(str::to_string).collect()
        } else {
            match lookup(&name) {
                Ok(found) if !found.is_empty() => found,
                Ok(_) => {
                    errors.push(format!("forwarding host `{name}` has no SPF, MX or address records; write its addresses instead"));
                    continue;
                }
                Err(e) => {
                    errors.push(format!("forwarding host `{name}`: {e}"));
                    continue;
                }
            }
        };
        desired.records.extend(addresses.iter().map(|a| record(a, &name, filter_spam != except.contains(a))));
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    let Some(hosts) = l.kv.get("WHITELISTED_FWD_HOST") else { return };
    let keep = l.kv.get("KEEP_SPAM");
    let mut records: Vec<Record> = hosts.iter().map(|(net, source)| record(net, source, !keep.is_some_and(|k| k.contains_key(net)))).collect();
    records.sort_by(|a, b| a.key.cmp(&b.key));
    out.extend(records);
}

fn write(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let net = c.key.as_str();
    match &c.desired {
        Some(r) => {
            out.hset("WHITELISTED_FWD_HOST", net, r.text("source"));
            if r.flag("filter_spam") { out.hdel("KEEP_SPAM", net) } else { out.hset("KEEP_SPAM", net, "1") }
        }
        None => {
            out.hdel("WHITELISTED_FWD_HOST", net);
            out.hdel("KEEP_SPAM", net);
        }
    }
    Ok(())
}

/// One entry per source as entered, in order: a host name stands for all the addresses it
/// resolved to (in key order; the first one's `filter_spam` is the entry's, the others that
/// differ are its exceptions).
fn export(x: &mut Export, r: &Record) {
    let hosts = &mut x.file("routing.yaml").forwarding_hosts;
    let source = r.text("source");
    match hosts.binary_search_by(|h| h.host.value.as_str().cmp(source)) {
        Err(i) => hosts
            .insert(i, ForwardingHost { host: loc(source.to_string()), filter_spam: some_if(!r.flag("filter_spam"), false), filter_spam_except: Vec::new() }),
        Ok(i) => {
            if let Some(h) = hosts.get_mut(i)
                && h.filter_spam.unwrap_or(true) != r.flag("filter_spam")
            {
                h.filter_spam_except.push(loc(r.key.clone()));
            }
        }
    }
}

/// A forwarding host becomes Redis keys and is resolved when planning: an IP, a network or a host name.
pub(crate) fn check_forwarding_host(val: &mut Validator, file: usize, host: &Located<String>) {
    let h = host.trim();
    let ok = names::is_network(h) || (!h.is_empty() && names::check_host_labels(&h.to_ascii_lowercase()).is_ok());
    if !ok {
        val.error_help(
            "invalid-forwarding-host",
            file,
            host.at,
            format!("`{}` is not an IP address, a network or a host name", names::printable(h)),
            "write e.g. `192.0.2.10`, `198.51.100.0/24` or `mx.partner.example`",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_kept_as_written_and_names_are_not_networks() {
        assert!(is_network("192.0.2.1") && is_network("2001:0DB8::/32"));
        assert!(!is_network("10.0.0.0/33") && !is_network("mx.example.net"));
    }

    #[test]
    fn known_names_need_no_dns_and_new_ones_are_looked_up() {
        let live = vec![record("192.0.2.1", "old.example", true), record("192.0.2.2", "old.example", true)];
        // An exception among a name's addresses keeps its own setting.
        let names = vec![("old.example".into(), false, vec!["192.0.2.2".into()]), ("new.example".into(), true, vec![])];
        let mut d = Desired { forwarding_names: names, ..Desired::default() };
        let mut asked = Vec::new();
        resolve_names(&mut d, &live, false, |n| {
            asked.push(n.to_string());
            Ok(vec!["198.51.100.1".into()])
        })
        .unwrap();
        assert_eq!(asked, ["new.example"]);
        let keys: Vec<(&str, &str, bool)> = d.records.iter().map(|r| (r.key.as_str(), r.text("source"), r.flag("filter_spam"))).collect();
        assert_eq!(keys, [("192.0.2.1", "old.example", false), ("192.0.2.2", "old.example", true), ("198.51.100.1", "new.example", true)]);
        let mut d = Desired { forwarding_names: vec![("gone.example".into(), true, vec![])], ..Desired::default() };
        let e = resolve_names(&mut d, &live, true, |_| Ok(vec![])).unwrap_err();
        assert!(e[0].contains("`gone.example` has no SPF, MX or address records"), "{e:?}");
    }
}
