//! Relay hosts (`relayhosts`) and transport maps (`transports`). Their passwords are stored in
//! clear by mailcow, with `:` escaped for Postfix's `user:password` lookups.

use super::export::{loc, some_if, text};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t, token};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::*;
use crate::model::names::{self, normalize_address, normalize_domain};
use crate::model::{Kind, RelayHost, Transport};
use crate::model::{Located, Secret};
use crate::record::{Record, Value};
use crate::sql::Arg;

pub const RELAYHOSTS: Query = Query { from: "relayhosts", columns: &["id", "hostname", "username", "password", "active"], kept: true };
pub const TRANSPORTS: Query =
    Query { from: "transports", columns: &["id", "destination", "nexthop", "username", "password", "is_mx_based", "active"], kept: true };

pub const RELAY_HOST: KindSpec = KindSpec {
    kind: Kind::RelayHost,
    warn: super::no_check,
    queries: &[&RELAYHOSTS],
    hashes: &[],
    strings: &[],
    count: |d| d.relay_hosts.len(),
    desired: desired_relay_hosts,
    live: live_relay_hosts,
    write,
    export: |x, r| x.file("routing.yaml").relay_hosts.push(relay_host(r)),
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| doc.relay_hosts.iter().for_each(|r| check_relay_host(v, file, r)),
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

pub const TRANSPORT: KindSpec = KindSpec {
    kind: Kind::Transport,
    warn: super::no_check,
    queries: &[&TRANSPORTS],
    hashes: &[],
    strings: &[],
    count: |d| d.transports.len(),
    desired: desired_transports,
    live: live_transports,
    write,
    export: |x, r| x.file("routing.yaml").transports.push(transport(r)),
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| check_transports(v, file, &doc.transports),
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn escape(s: &str) -> String {
    s.replace(':', "\\:")
}

/// mailcow writes a bare IP next hop as `[ip]`.
pub fn normalise_nexthop(h: &str) -> String {
    let h = h.trim();
    if h.parse::<std::net::IpAddr>().is_ok() { format!("[{h}]") } else { h.to_string() }
}

fn desired_relay_hosts(r: &mut Resolver, out: &mut Desired) {
    let docs = r.docs.clone();
    for h in docs.iter().flat_map(|d| d.relay_hosts.iter()) {
        let key = h.hostname.trim().to_string();
        let mut rec = Record::new(Kind::RelayHost, &key).with("username", Value::text(escape(h.username.as_ref().map_or("", |u| u.as_str()))));
        // An undeclared password is left as it is on the server: not compared, not written.
        if let Some(p) = &h.password {
            let token = r.clear_secret(out, Kind::RelayHost, &key, "password", Some(p));
            rec.push("password", escaped_token(out, Kind::RelayHost, &key, token));
        }
        rec.push("active", Value::Bool(h.active.unwrap_or(true)));
        out.records.push(rec);
    }
}

fn desired_transports(r: &mut Resolver, out: &mut Desired) {
    let docs = r.docs.clone();
    for tr in docs.iter().flat_map(|d| d.transports.iter()) {
        let key = tr.destination.trim().to_lowercase();
        let mut rec = Record::new(Kind::Transport, &key)
            .with("nexthop", Value::text(normalise_nexthop(&tr.nexthop)))
            .with("username", Value::text(escape(tr.username.as_ref().map_or("", |u| u.as_str()))));
        if let Some(p) = &tr.password {
            let token = r.clear_secret(out, Kind::Transport, &key, "password", Some(p));
            rec.push("password", escaped_token(out, Kind::Transport, &key, token));
        }
        rec.push("mx_based", Value::Bool(tr.mx_based.unwrap_or(false)));
        rec.push("active", Value::Bool(tr.active.unwrap_or(true)));
        out.records.push(rec);
    }
}

/// The token of the stored (escaped) form, so it compares with what mailcow keeps.
fn escaped_token(out: &Desired, kind: Kind, key: &str, fallback: Value) -> Value {
    match out.secrets.get(&(kind, key.to_string(), "password")) {
        Some(super::SecretSource::Clear(s)) => out.revealed.get(s).map(|v| token(&escape(&v))).unwrap_or(fallback),
        _ => fallback,
    }
}

fn live_relay_hosts(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&RELAYHOSTS) {
        out.push(
            Record::new(Kind::RelayHost, row.s("hostname"))
                .with("username", Value::text(row.s("username")))
                .with("password", token(row.s("password")))
                .with("active", Value::Bool(bool_of(row.col("active")))),
        );
    }
}

fn live_transports(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&TRANSPORTS) {
        out.push(
            Record::new(Kind::Transport, row.s("destination"))
                .with("nexthop", Value::text(row.s("nexthop")))
                .with("username", Value::text(row.s("username")))
                .with("password", token(row.s("password")))
                .with("mx_based", Value::Bool(bool_of(row.col("is_mx_based"))))
                .with("active", Value::Bool(bool_of(row.col("active")))),
        );
    }
}

/// A relay host id (as mailcow stores it, text) → its hostname; "0" and unknown ids are none.
pub fn relay_hostname(l: &LiveData, id: &str) -> String {
    l.rows(&RELAYHOSTS).iter().find(|r| r.s("id") == id && id != "0").map(|r| r.s("hostname").to_string()).unwrap_or_default()
}

pub fn relay_ids(l: &LiveData) -> std::collections::HashMap<String, i64> {
    l.rows(&RELAYHOSTS).iter().map(|r| (r.s("hostname").to_string(), r.i("id"))).collect()
}

/// The stored password of a live relay host or transport.
fn live_password(l: &LiveData, kind: Kind, key: &str) -> String {
    let (query, column) = if kind == Kind::RelayHost { (&RELAYHOSTS, "hostname") } else { (&TRANSPORTS, "destination") };
    l.rows(query).iter().find(|r| r.s(column) == key).map(|r| r.s("password").to_string()).unwrap_or_default()
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let key = c.key.as_str();
    let password = match &c.desired {
        Some(r) if r.get("password").is_some() => escape(&ctx.secret(c.kind, key, "password")?),
        // Not declared: keep what the server has.
        _ => live_password(ctx.live, c.kind, key),
    };
    match (c.kind, c.action, &c.desired) {
        (Kind::RelayHost, Action::Create, Some(r)) => {
            let id = ctx.relay_ids.get(key).copied().unwrap_or_default();
            out.sql(
                "INSERT INTO relayhosts (id, hostname, username, password, active) VALUES (?, ?, ?, ?, ?)",
                vec![Arg::Int(id), t(key), t(r.text("username")), t(&password), b(r.flag("active"))],
            );
        }
        (Kind::RelayHost, Action::Update, Some(r)) => out.sql(
            "UPDATE relayhosts SET username = ?, password = ?, active = ? WHERE hostname = ?",
            vec![t(r.text("username")), t(&password), b(r.flag("active")), t(key)],
        ),
        (Kind::RelayHost, _, _) => {
            let id = ctx.relay_id(key);
            out.sql("DELETE FROM relayhosts WHERE hostname = ?", vec![t(key)]);
            out.sql("UPDATE domain SET relayhost = '0' WHERE relayhost = ?", vec![t(&id)]);
        }
        (_, Action::Delete, _) | (_, _, None) => out.sql("DELETE FROM transports WHERE destination = ?", vec![t(key)]),
        (_, action, Some(r)) => {
            let hop = r.text("nexthop");
            if action == Action::Create {
                out.sql(
                    "INSERT INTO transports (destination, nexthop, username, password, is_mx_based, active) VALUES (?, ?, ?, ?, ?, ?)",
                    vec![t(key), t(hop), t(r.text("username")), t(&password), b(r.flag("mx_based")), b(r.flag("active"))],
                );
            } else {
                out.sql(
                    "UPDATE transports SET nexthop = ?, username = ?, password = ?, is_mx_based = ?, active = ? WHERE destination = ?",
                    vec![t(hop), t(r.text("username")), t(&password), b(r.flag("mx_based")), b(r.flag("active")), t(key)],
                );
            }
        }
    }
    Ok(())
}

fn unescape(s: &str) -> String {
    s.replace("\\:", ":")
}

fn relay_host(r: &Record) -> RelayHost {
    RelayHost {
        name: loc(r.key.clone()),
        hostname: loc(r.key.clone()),
        username: text(r, "username").map(|u| loc(unescape(&u))),
        password: None,
        active: some_if(!r.flag("active"), false),
    }
}

fn transport(r: &Record) -> Transport {
    Transport {
        destination: loc(r.key.clone()),
        nexthop: loc(r.text("nexthop").to_string()),
        username: text(r, "username").map(|u| loc(unescape(&u))),
        password: None,
        mx_based: some_if(r.flag("mx_based"), true),
        active: some_if(!r.flag("active"), false),
    }
}

pub(crate) fn check_relay_host(val: &mut Validator, file: usize, r: &RelayHost) {
    if r.hostname.trim().is_empty() {
        val.error("invalid-nexthop", file, r.hostname.at, format!("relay host `{}` has no hostname", r.name.value));
    } else {
        check_nexthop(val, file, &r.hostname);
    }
    check_secrets(val, file, r.username.as_ref(), r.password.as_ref(), &format!("relay host `{}`", r.name.value));
}

/// Next hops go verbatim into Postfix's transport lookups (`smtp_via_transport_maps:<hop>`).
pub(crate) fn check_nexthop(val: &mut Validator, file: usize, hop: &Located<String>) {
    let e = names::check_nexthop(hop).err().or_else(|| {
        let n = hop.trim().chars().count();
        (n > TEXT_LIMIT).then(|| format!("the next hop is {n} characters long; mailcow stores at most {TEXT_LIMIT}"))
    });
    if let Some(e) = e {
        val.error_help(
            "invalid-nexthop",
            file,
            hop.at,
            e,
            "write `host`, `host:port`, `[host]` or `[host]:port` with a port from 1 to 65535, e.g. `[smtp.example.com]:587`",
        );
    }
}

/// The username, and a password written in the file; references are read when planning.
pub(crate) fn check_secrets(val: &mut Validator, file: usize, user: Option<&Located<String>>, password: Option<&Located<Secret>>, owner: &str) {
    if let Some(u) = user {
        val.check_credential(file, u, &format!("{owner}: the username"));
    }
    if let Some(p) = password {
        if let Secret::Literal(v) = &p.value {
            val.check_credential(file, &Located { value: v.clone(), at: p.at }, &format!("{owner}: the password"));
        }
        val.warn_literal_secret(file, p, format!("{owner}: the password"));
    }
}

pub(crate) fn check_transports(val: &mut Validator, file: usize, ts: &[Transport]) {
    for t in ts {
        let dest = t.destination.trim();
        if t.mx_based.unwrap_or(false) {
            if let Err(e) = regex::Regex::new(dest) {
                let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                val.error_help(
                    "transport-destination",
                    file,
                    t.destination.at,
                    format!("`{dest}` is not a valid regular expression: {first}"),
                    "with `mx_based: true` the destination is matched against MX host names",
                );
            }
        } else {
            let ok = dest == "*" || normalize_domain(dest.strip_prefix('.').unwrap_or(dest)).is_ok() || (dest.contains('@') && normalize_address(dest).is_ok());
            if !ok {
                val.error_help(
                    "transport-destination",
                    file,
                    t.destination.at,
                    format!("`{dest}` is not a transport destination"),
                    "write a domain, `.domain` for its subdomains, an address, or `*`",
                );
            }
        }
        if dest.chars().count() > TEXT_LIMIT {
            val.error_help(
                "text-too-long",
                file,
                t.destination.at,
                format!("the transport destination is {} characters long; mailcow stores at most {TEXT_LIMIT}", dest.chars().count()),
                "shorten it",
            );
        }
        val.check_one_line(file, &t.destination, "the transport destination");
        if t.nexthop.trim().is_empty() {
            val.error("invalid-nexthop", file, t.nexthop.at, format!("transport for `{dest}` has no nexthop"));
        } else {
            check_nexthop(val, file, &t.nexthop);
        }
        val.claim("transport", &dest.to_lowercase(), "transport", (file, t.destination.at));
        check_secrets(val, file, t.username.as_ref(), t.password.as_ref(), &format!("transport `{dest}`"));
    }
}
