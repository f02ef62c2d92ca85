//! BCC maps, recipient maps and TLS policy maps.

use super::export::{self as ex, loc, some_if, text};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::*;
use crate::model::Located;
use crate::model::names::{self, normalize_address, normalize_domain};
use crate::model::{BccMap, BccType, Kind, RecipientMap, TlsPolicy, TlsPolicyKind};
use crate::record::{Record, Value};

const BCC_MAPS: Query = Query { from: "bcc_maps", columns: &["local_dest", "bcc_dest", "type", "active"], kept: false };
const RECIPIENT_MAPS: Query = Query { from: "recipient_maps", columns: &["old_dest", "new_dest", "active"], kept: false };
const TLS_POLICIES: Query = Query { from: "tls_policy_override", columns: &["dest", "policy", "parameters", "active"], kept: false };

pub const BCC_MAP: KindSpec = KindSpec {
    kind: Kind::BccMap,
    warn: super::no_check,
    queries: &[&BCC_MAPS],
    hashes: &[],
    strings: &[],
    count: |d| d.bcc_maps.len(),
    desired: desired_bcc,
    live: live_bcc,
    write,
    export: |x, r| x.file("maps.yaml").bcc_maps.push(bcc(r)),
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| doc.bcc_maps.iter().for_each(|b| check_bcc(v, file, b)),
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

pub const RECIPIENT_MAP: KindSpec = KindSpec {
    kind: Kind::RecipientMap,
    warn: super::no_check,
    queries: &[&RECIPIENT_MAPS],
    hashes: &[],
    strings: &[],
    count: |d| d.recipient_maps.len(),
    desired: desired_recipient,
    live: live_recipient,
    write,
    export: |x, r| {
        x.file("maps.yaml").recipient_maps.push(RecipientMap {
            old: loc(ex::address_or_domain(&r.key)),
            new: loc(ex::address_or_domain(r.text("new_dest"))),
            active: some_if(!r.flag("active"), false),
        })
    },
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| doc.recipient_maps.iter().for_each(|r| check_recipient_map(v, file, r)),
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

pub const TLS_POLICY: KindSpec = KindSpec {
    kind: Kind::TlsPolicy,
    warn: super::no_check,
    queries: &[&TLS_POLICIES],
    hashes: &[],
    strings: &[],
    count: |d| d.tls_policies.len(),
    desired: desired_tls,
    live: live_tls,
    write,
    export: |x, r| x.file("routing.yaml").tls_policies.push(tls_policy(r)),
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| doc.tls_policies.iter().for_each(|t| check_tls_policy(v, file, t)),
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

/// A BCC map's key: its local destination and direction, e.g. `alice@example.org rcpt`.
fn bcc_key(local_dest: &str, kind: &str) -> String {
    format!("{local_dest} {kind}")
}

/// An address as written, or a domain as `@domain`, the way mailcow stores a BCC destination.
fn address_or_domain(v: &str) -> String {
    let v = v.trim().trim_start_matches('@');
    if v.contains('@') {
        normalize_address(v).map(|(l, d)| names::address(&l, &d)).unwrap_or_else(|_| v.to_string())
    } else {
        format!("@{}", normalize_domain(v).unwrap_or_else(|_| v.to_string()))
    }
}

/// A recipient map's old and new destination and a BCC map's local destination: mailcow
/// lowercases the whole address (`strtolower`) before storing it.
fn lowered(v: &str) -> String {
    address_or_domain(v).to_lowercase()
}

fn desired_bcc(r: &mut Resolver, out: &mut Desired) {
    for m in r.docs.iter().flat_map(|d| d.bcc_maps.iter()) {
        out.records.push(
            Record::new(Kind::BccMap, bcc_key(&lowered(&m.local_dest), m.kind.mailcow()))
                .with("bcc_dest", Value::text(address_or_domain(&m.bcc_dest)))
                .with("active", Value::Bool(m.active.unwrap_or(true))),
        );
    }
}

fn desired_recipient(r: &mut Resolver, out: &mut Desired) {
    for m in r.docs.iter().flat_map(|d| d.recipient_maps.iter()) {
        out.records.push(
            Record::new(Kind::RecipientMap, lowered(&m.old))
                .with("new_dest", Value::text(lowered(&m.new)))
                .with("active", Value::Bool(m.active.unwrap_or(true))),
        );
    }
}

fn desired_tls(r: &mut Resolver, out: &mut Desired) {
    for p in r.docs.iter().flat_map(|d| d.tls_policies.iter()) {
        out.records.push(
            Record::new(Kind::TlsPolicy, p.destination.trim().to_lowercase())
                .with("policy", Value::text(p.policy.mailcow()))
                .with("parameters", Value::text(p.parameters.as_ref().map(|x| x.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default()))
                .with("active", Value::Bool(p.active.unwrap_or(true))),
        );
    }
}

fn live_bcc(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&BCC_MAPS) {
        out.push(
            Record::new(Kind::BccMap, bcc_key(row.s("local_dest"), row.s("type")))
                .with("bcc_dest", Value::text(row.s("bcc_dest")))
                .with("active", Value::Bool(bool_of(row.col("active")))),
        );
    }
}

fn live_recipient(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&RECIPIENT_MAPS) {
        out.push(
            Record::new(Kind::RecipientMap, row.s("old_dest"))
                .with("new_dest", Value::text(row.s("new_dest")))
                .with("active", Value::Bool(bool_of(row.col("active")))),
        );
    }
}

fn live_tls(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&TLS_POLICIES) {
        out.push(
            Record::new(Kind::TlsPolicy, row.s("dest"))
                .with("policy", Value::text(row.s("policy")))
                .with("parameters", Value::text(row.s("parameters")))
                .with("active", Value::Bool(bool_of(row.col("active")))),
        );
    }
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let r = c.desired.as_ref();
    let now = t(&ctx.now);
    match (c.kind, c.action) {
        (Kind::BccMap, action) => {
            let (local, kind) = c.key.rsplit_once(' ').unwrap_or((&c.key, "rcpt"));
            match (action, r) {
                (Action::Create, Some(r)) => out.sql(
                    "INSERT INTO bcc_maps (local_dest, bcc_dest, domain, active, type, created) VALUES (?, ?, ?, ?, ?, ?)",
                    vec![t(local), t(r.text("bcc_dest")), t(names::domain_of(local)), b(r.flag("active")), t(kind), now],
                ),
                (Action::Update, Some(r)) => out.sql(
                    "UPDATE bcc_maps SET bcc_dest = ?, active = ?, modified = ? WHERE local_dest = ? AND type = ?",
                    vec![t(r.text("bcc_dest")), b(r.flag("active")), now, t(local), t(kind)],
                ),
                _ => out.sql("DELETE FROM bcc_maps WHERE local_dest = ? AND type = ?", vec![t(local), t(kind)]),
            }
        }
        (Kind::RecipientMap, action) => match (action, r) {
            (Action::Create, Some(r)) => out.sql(
                "INSERT INTO recipient_maps (old_dest, new_dest, active, created) VALUES (?, ?, ?, ?)",
                vec![t(&c.key), t(r.text("new_dest")), b(r.flag("active")), now],
            ),
            (Action::Update, Some(r)) => out.sql(
                "UPDATE recipient_maps SET new_dest = ?, active = ?, modified = ? WHERE old_dest = ?",
                vec![t(r.text("new_dest")), b(r.flag("active")), now, t(&c.key)],
            ),
            _ => out.sql("DELETE FROM recipient_maps WHERE old_dest = ?", vec![t(&c.key)]),
        },
        (_, action) => match (action, r) {
            (Action::Create, Some(r)) => out.sql(
                "INSERT INTO tls_policy_override (dest, policy, parameters, active, created) VALUES (?, ?, ?, ?, ?)",
                vec![t(&c.key), t(r.text("policy")), t(r.text("parameters")), b(r.flag("active")), now],
            ),
            (Action::Update, Some(r)) => out.sql(
                "UPDATE tls_policy_override SET policy = ?, parameters = ?, active = ?, modified = ? WHERE dest = ?",
                vec![t(r.text("policy")), t(r.text("parameters")), b(r.flag("active")), now, t(&c.key)],
            ),
            _ => out.sql("DELETE FROM tls_policy_override WHERE dest = ?", vec![t(&c.key)]),
        },
    }
    Ok(())
}

fn bcc(r: &Record) -> BccMap {
    let (local, kind) = r.key.rsplit_once(' ').unwrap_or((&r.key, "rcpt"));
    BccMap {
        local_dest: loc(ex::address_or_domain(local)),
        bcc_dest: loc(r.text("bcc_dest").to_string()),
        kind: if kind == "sender" { BccType::Sender } else { BccType::Recipient },
        active: some_if(!r.flag("active"), false),
    }
}

fn tls_policy(r: &Record) -> TlsPolicy {
    TlsPolicy {
        destination: loc(r.key.clone()),
        policy: TlsPolicyKind::from_mailcow(r.text("policy")).unwrap_or(TlsPolicyKind::May),
        parameters: text(r, "parameters").map(loc),
        active: some_if(!r.flag("active"), false),
    }
}

pub(crate) fn check_bcc(val: &mut Validator, file: usize, b: &BccMap) {
    let v = b.local_dest.trim();
    let key = if v.contains('@') && !v.starts_with('@') {
        match normalize_address(v) {
            Ok((l, d)) => {
                let addr = names::address(&l, &d);
                let addr = addr.to_lowercase();
                if !val.aliases.contains_key(&addr) && !val.mailboxes.contains_key(&addr) {
                    val.error_help(
                        "unknown-reference",
                        file,
                        b.local_dest.at,
                        format!("BCC map: `{addr}` is not a declared mailbox or alias"),
                        "BCC maps apply to local addresses or local domains",
                    );
                }
                addr
            }
            Err(e) => return val.error("invalid-address", file, b.local_dest.at, e),
        }
    } else {
        match normalize_domain(v.trim_start_matches('@')) {
            Ok(d) => {
                if !val.is_local_domain(&d) {
                    val.error_help(
                        "unknown-reference",
                        file,
                        b.local_dest.at,
                        format!("BCC map: `{d}` is not a declared domain or alias domain"),
                        "BCC maps apply to local addresses or local domains",
                    );
                }
                format!("@{d}")
            }
            Err(e) => return val.error("invalid-domain", file, b.local_dest.at, e),
        }
    };
    if let Err(e) = normalize_address(&b.bcc_dest) {
        val.error("invalid-address", file, b.bcc_dest.at, format!("bcc_dest: {e}"));
    }
    val.claim("bcc_map", &format!("{key} ({})", b.kind.mailcow()), "BCC map", (file, b.local_dest.at));
}

pub(crate) fn check_address_or_domain(val: &mut Validator, file: usize, v: &Located<String>) -> Option<String> {
    let t = v.trim().trim_start_matches('@');
    let r = if t.contains('@') { normalize_address(t).map(|(l, d)| names::address(&l, &d)) } else { normalize_domain(t).map(|d| format!("@{d}")) };
    r.map_err(|e| val.error_help("invalid-address", file, v.at, e, "write an address (`old@example.org`) or a domain (`example.org`)")).ok()
}

pub(crate) fn check_recipient_map(val: &mut Validator, file: usize, r: &RecipientMap) {
    if let Some(old) = check_address_or_domain(val, file, &r.old) {
        val.claim("recipient_map", &old, "recipient map", (file, r.old.at));
    }
    check_address_or_domain(val, file, &r.new);
}

pub(crate) fn check_tls_policy(val: &mut Validator, file: usize, t: &TlsPolicy) {
    let dest = t.destination.trim();
    let host = dest.strip_prefix('[').and_then(|r| r.split_once(']')).map_or(Ok(dest), |(h, port)| {
        if port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p >= 1)) { Ok(h) } else { Err(()) }
    });
    let valid = host.is_ok_and(|h| h.parse::<std::net::IpAddr>().is_ok() || normalize_domain(h).is_ok());
    if !valid || dest.contains('*') || dest.contains('@') || dest.chars().count() > TEXT_LIMIT {
        val.error_help(
            "tls-destination",
            file,
            t.destination.at,
            format!("`{dest}` is not a TLS policy destination"),
            "write a domain (`gmail.com`) or a next hop (`[mx.example.net]:25`)",
        );
    } else {
        val.claim("tls_policy", &dest.to_lowercase(), "TLS policy", (file, t.destination.at));
    }
    if let Some(p) = &t.parameters {
        val.check_text(file, p, &format!("TLS policy `{dest}`: the parameter list"), TEXT_LIMIT);
        for token in p.split_whitespace() {
            let ok = token.split_once('=').is_some_and(|(k, v)| !k.is_empty() && !v.is_empty());
            if !ok {
                val.error_help(
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
