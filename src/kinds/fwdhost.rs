//! Forwarding hosts, kept in Redis like mailcow: WHITELISTED_FWD_HOST[<ip or cidr>] = the host as
//! entered, KEEP_SPAM[<ip or cidr>] = 1 when its spam is not filtered. Host names are resolved to
//! their addresses when planning, so the plan shows exactly which addresses are trusted.

use std::net::{IpAddr, ToSocketAddrs};

use super::{Desired, Output, Resolver, WriteCtx, WriteError};
use crate::model::Kind;
use crate::observe::LiveData;
use crate::plan::Change;
use crate::record::{Record, Value};

/// An IP address or CIDR network as written, or None for a host name.
pub(crate) fn network(host: &str) -> Option<String> {
    let (ip, len) = host.split_once('/').map_or((host, None), |(a, l)| (a, Some(l)));
    let ip: IpAddr = ip.parse().ok()?;
    match len {
        None => Some(ip.to_string()),
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= if ip.is_ipv4() { 32 } else { 128 }).map(|l| format!("{ip}/{l}")),
    }
}

pub fn desired(r: &mut Resolver, out: &mut Desired) {
    let docs = r.docs.clone();
    for doc in docs {
        for f in &doc.forwarding_hosts {
            let host = f.host.trim();
            let addresses = match network(host) {
                Some(n) => vec![n],
                None => match (host, 25).to_socket_addrs() {
                    Ok(a) => {
                        let mut v: Vec<String> = a.map(|s| s.ip().to_string()).collect();
                        v.sort();
                        v.dedup();
                        v
                    }
                    Err(e) => {
                        r.secret_errors.push(format!("forwarding host `{host}` does not resolve: {e}"));
                        vec![]
                    }
                },
            };
            for a in addresses {
                out.records.push(
                    Record::new(Kind::ForwardingHost, a)
                        .with("source", Value::text(host))
                        .with("filter_spam", Value::Bool(f.filter_spam.unwrap_or(true))),
                );
            }
        }
    }
}

pub fn live(l: &LiveData, out: &mut Vec<Record>) {
    let Some(hosts) = l.kv.get("WHITELISTED_FWD_HOST") else { return };
    let keep = l.kv.get("KEEP_SPAM");
    let mut records: Vec<Record> = hosts
        .iter()
        .map(|(net, source)| {
            Record::new(Kind::ForwardingHost, net)
                .with("source", Value::text(source))
                .with("filter_spam", Value::Bool(!keep.is_some_and(|k| k.contains_key(net))))
        })
        .collect();
    records.sort_by(|a, b| a.key.cmp(&b.key));
    out.extend(records);
}

pub fn write(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn networks_are_normalised_and_names_are_not_networks() {
        assert_eq!(super::network("192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(super::network("2001:db8::/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(super::network("10.0.0.0/33"), None);
        assert_eq!(super::network("mx.example.net"), None);
    }
}
