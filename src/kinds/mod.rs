//! What is specific to each object kind, one file per kind: desired model → records,
//! live rows → records, and a change → SQL statements plus post-commit effects.

pub mod alias;
pub mod dkim;
pub mod domain;
pub mod fwdhost;
pub mod idp;
pub mod mailbox;
pub mod maps;
pub mod routing;
pub mod template;

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::change::Change;
use crate::live::LiveData;
use crate::load::Loaded;
use crate::model::{self, Document, Kind, Located, Secret};
use crate::record::{Field, Record, SecretToken, Value};
use crate::sql::{Arg, Dialect, Stmt};

/// How to produce the stored value of a secret field when it is written.
#[derive(Clone, Debug)]
pub enum SecretSource {
    /// Stored as is (a `{SCHEME}` hash, or mailcow's empty password for external authsources).
    Verbatim(String),
    /// Hashed as `{BLF-CRYPT}` when written.
    HashOf(Secret),
    /// Stored in clear (relay host, transport and identity-provider secrets, as mailcow does).
    Clear(Secret),
}

/// The desired state as records, plus where each secret comes from (never in the records).
#[derive(Debug, Default)]
pub struct Desired {
    pub records: Vec<Record>,
    pub secrets: HashMap<(Kind, String, Field), SecretSource>,
    /// The desired-state directory: `{file: ...}` secrets are read from inside it.
    pub root: std::path::PathBuf,
    /// Forwarding hosts given by name, with their `filter_spam`: resolved against the live
    /// server by `fwdhost::resolve_names` before planning.
    pub forwarding_names: Vec<(String, bool)>,
    /// Domains whose DKIM selector and size are not declared (`dkim::keep_live_keys`).
    pub dkim_defaulted: std::collections::HashSet<String>,
    /// mailplane's own rows to write in the same transaction (e.g. what LDAP said this time).
    pub bookkeeping: Vec<Stmt>,
}

/// One-way token for a stored value: lets two sides be compared without carrying the value.
pub fn token(stored: &str) -> Value {
    let digest = Sha256::new().chain_update(b"mailplane:").chain_update(stored.as_bytes()).finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex: String = digest.iter().take(16).flat_map(|b| [HEX[usize::from(b >> 4)] as char, HEX[usize::from(b & 15)] as char]).collect();
    Value::Secret(Box::new(SecretToken { token: hex, create_only: false }))
}

/// Everything the desired side needs to resolve references while building records.
pub struct Resolver<'a> {
    pub docs: Vec<&'a Document>,
    /// Relative `{file: ...}` secrets are read from here: the desired-state directory.
    pub root: &'a std::path::Path,
    pub relay_hosts: HashMap<&'a str, &'a str>,
    pub secret_errors: Vec<String>,
}

impl<'a> Resolver<'a> {
    pub fn new(loaded: &'a Loaded) -> Resolver<'a> {
        let docs: Vec<&Document> = loaded.documents.iter().map(|(_, d)| d).collect();
        let relay_hosts = docs.iter().flat_map(|d| d.relay_hosts.iter()).map(|r| (r.name.as_str(), r.hostname.as_str())).collect();
        Resolver { docs, root: &loaded.root, relay_hosts, secret_errors: Vec::new() }
    }

    pub fn relay_hostname(&self, name: &Option<Located<String>>) -> String {
        name.as_ref().and_then(|n| self.relay_hosts.get(n.as_str())).map(|h| h.trim().to_string()).unwrap_or_default()
    }

    /// A secret stored in clear: resolved now so both sides can be compared by token.
    pub fn clear_secret(&mut self, desired: &mut Desired, kind: Kind, key: &str, field: Field, secret: Option<&Located<Secret>>) -> Value {
        let Some(secret) = secret else { return token("") };
        let secret = secret.value.clone();
        match secret.reveal(self.root) {
            Ok(v) => {
                desired.secrets.insert((kind, key.to_string(), field), SecretSource::Clear(secret));
                token(&v)
            }
            Err(e) => {
                self.secret_errors.push(format!("{kind} `{key}`: {e}"));
                token("")
            }
        }
    }
}

/// Builds the desired records from a validated directory.
pub fn desired(loaded: &Loaded) -> Result<Desired, Vec<String>> {
    let mut r = Resolver::new(loaded);
    let mut out = Desired { root: loaded.root.clone(), ..Desired::default() };
    // Room for every object up front (a domain also makes its DKIM key): grown by doubling,
    // the list of 300,000 records held up to 40 MB of slack at its peak.
    let objects = |d: &Document| {
        let nested: usize = d.domains.iter().map(|x| 2 + x.alias_domains.len() + x.mailboxes.len() + x.aliases.len()).sum();
        let listed = [d.aliases.len(), d.bcc_maps.len(), d.recipient_maps.len(), d.tls_policies.len(), d.relay_hosts.len(), d.transports.len()];
        nested + listed.iter().sum::<usize>() + d.forwarding_hosts.len() + d.domain_templates.len() + d.mailbox_templates.len()
    };
    out.records.reserve(r.docs.iter().map(|d| objects(d)).sum::<usize>() + 64);
    template::desired(&r, &mut out);
    routing::desired(&mut r, &mut out);
    domain::desired(&r, &mut out);
    dkim::desired(&mut r, &mut out);
    mailbox::desired(&r, &mut out);
    alias::desired(&r, &mut out);
    maps::desired(&r, &mut out);
    fwdhost::desired(&mut r, &mut out);
    idp::desired(&mut r, &mut out);
    if r.secret_errors.is_empty() { Ok(out) } else { Err(r.secret_errors) }
}

/// Live objects mailplane never deletes: mailcow's own `Default` templates (its UI refuses too).
pub fn protected(r: &Record) -> bool {
    matches!(r.kind, Kind::DomainTemplate | Kind::MailboxTemplate) && r.key == "Default"
}

/// The live record as it would be after deactivating it (`prune: disable`); None for kinds
/// that have no way to be inactive.
pub fn disabled(r: &Record) -> Option<Record> {
    let field = match r.kind {
        Kind::Mailbox => ("state", Value::text("inactive")),
        Kind::IdentityProvider | Kind::DomainTemplate | Kind::MailboxTemplate | Kind::DkimKey | Kind::ForwardingHost => return None,
        _ => ("active", Value::Bool(false)),
    };
    r.has(field.0).then(|| {
        let mut off = r.clone();
        off.set(field.0, field.1);
        off
    })
}

/// Every kind's live records.
pub fn live(live: &LiveData) -> Vec<Record> {
    // Mailboxes are half the work on a large server: built on another core. Each list gets its
    // room up front: grown by doubling, 300,000 records held tens of MB of slack.
    let (mailboxes, out, rest) = std::thread::scope(|scope| {
        let mailboxes = scope.spawn(|| {
            let mut out = Vec::with_capacity(live.mailboxes.len());
            mailbox::live(live, &mut out);
            out
        });
        let mut out =
            Vec::with_capacity(2 * live.domains.len() + live.alias_domains.len() + live.relayhosts.len() + live.transports.len() + live.templates.len());
        let mut rest = Vec::with_capacity(live.aliases.len() + live.bcc_maps.len() + live.recipient_maps.len() + live.tls_policies.len() + 1);
        template::live(live, &mut out);
        routing::live(live, &mut out);
        domain::live(live, &mut out);
        dkim::live(live, &mut out);
        alias::live(live, &mut rest);
        maps::live(live, &mut rest);
        fwdhost::live(live, &mut rest);
        idp::live(live, &mut rest);
        (mailboxes.join().expect("live mailbox records panicked"), out, rest)
    });
    let mut all = Vec::with_capacity(out.len() + mailboxes.len() + rest.len());
    all.extend(out);
    all.extend(mailboxes);
    all.extend(rest);
    all
}

/// Work done after the transaction commits. A set: ten mailbox creates flush memcached once.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    Hset {
        key: &'static str,
        field: String,
        value: String,
    },
    Hdel {
        key: &'static str,
        field: String,
    },
    /// Rebuild `_sogo_static_view` (inside the transaction) and flush memcached after it.
    SogoRebuild,
    /// Rebuild only this user's `_sogo_static_view` row (then flush memcached): what mailcow's
    /// incremental update does, and what keeps a small change on a large server fast.
    SogoRefresh(String),
    /// Generate this domain's DKIM key and store it like `dkim::store` (after the transaction).
    DkimGenerate {
        domain: String,
        selector: String,
        bits: u32,
    },
}

/// What one apply writes.
#[derive(Debug, Default)]
pub struct Output {
    pub stmts: Vec<Stmt>,
    pub effects: BTreeSet<Effect>,
}

impl Output {
    pub fn sql(&mut self, sql: &str, args: Vec<Arg>) {
        self.stmts.push(Stmt { sql: sql.to_string(), args });
    }
    pub fn hset(&mut self, key: &'static str, field: &str, value: &str) {
        self.effects.insert(Effect::Hset { key, field: field.to_string(), value: value.to_string() });
    }
    pub fn hdel(&mut self, key: &'static str, field: &str) {
        self.effects.insert(Effect::Hdel { key, field: field.to_string() });
    }
    /// RL_VALUE: set for a value, deleted when empty (mailcow's ratelimit edit).
    pub fn rate_limit(&mut self, who: &str, value: &str) {
        if value.is_empty() { self.hdel("RL_VALUE", who) } else { self.hset("RL_VALUE", who, value) }
    }
}

/// What the writers need besides the change: the dialect, the time, live ids, secrets.
pub struct WriteCtx<'a> {
    pub dialect: Dialect,
    pub now: String,
    pub live: &'a LiveData,
    pub desired: &'a Desired,
    /// relay host hostname → id, including ids given to relay hosts created in this apply.
    pub relay_ids: HashMap<String, i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Secret(#[from] model::SecretError),
    #[error("hashing the password of `{0}` failed: {1}")]
    Hash(String, String),
    #[error("DKIM key: {0}")]
    Dkim(String),
    #[error("internal error, nothing was written: a statement for {object} does not name it, so it could change objects the plan does not list: {sql}")]
    BeyondThePlan { object: String, sql: String },
}

impl WriteCtx<'_> {
    /// The stored form of a secret field of the desired record.
    pub fn secret(&self, kind: Kind, key: &str, field: Field) -> Result<String, WriteError> {
        match self.desired.secrets.get(&(kind, key.to_string(), field)) {
            None => Ok(String::new()),
            Some(SecretSource::Verbatim(v)) => Ok(v.clone()),
            Some(SecretSource::Clear(s)) => Ok(s.reveal(&self.desired.root)?),
            Some(SecretSource::HashOf(s)) => {
                crate::password::hash_blf_crypt(&s.reveal(&self.desired.root)?).map_err(|e| WriteError::Hash(key.to_string(), e.to_string()))
            }
        }
    }
    /// The stored password of a live relay host or transport.
    pub fn live_password(&self, kind: Kind, key: &str) -> String {
        let rows = if kind == Kind::RelayHost { &self.live.relayhosts } else { &self.live.transports };
        rows.iter()
            .find(|r| r.s(if kind == Kind::RelayHost { "hostname" } else { "destination" }) == key)
            .map(|r| r.s("password").to_string())
            .unwrap_or_default()
    }

    pub fn relay_id(&self, hostname: &str) -> String {
        if hostname.is_empty() {
            return "0".into();
        }
        self.relay_ids.get(hostname).map(|i| i.to_string()).unwrap_or_else(|| "0".into())
    }
}

pub fn write(change: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let before = out.stmts.len();
    write_kind(change, ctx, out)?;
    if change.kind == Kind::IdentityProvider {
        // One row of its own table, not named by a key.
        return Ok(());
    }
    let id = (change.kind == Kind::RelayHost).then(|| ctx.relay_id(&change.key));
    let parts = key_parts(&change.key);
    match out.stmts.get(before..).unwrap_or_default().iter().find(|s| !names_its_object(s, &parts, id.as_deref())) {
        Some(s) => Err(WriteError::BeyondThePlan { object: format!("{} {}", change.kind, change.key), sql: s.sql.clone() }),
        None => Ok(()),
    }
}

/// Each part of a key, raw and as escaped for LIKE: worked out once per object.
fn key_parts(key: &str) -> Vec<(&str, String)> {
    key.split(' ').map(|p| (p, p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))).collect()
}

/// The plan contract, checked where it is cheap (before anything is sent): every statement
/// written for an object names it in its arguments, so a statement that would change other
/// objects by their own keys (mailcow's cleanups) fails the apply instead of running. A key of
/// several parts (a BCC map's `local_dest type`) must be named part by part (`parts`: each raw
/// and escaped for LIKE); a relay host may be named by its id instead.
fn names_its_object(stmt: &Stmt, parts: &[(&str, String)], id: Option<&str>) -> bool {
    parts.iter().all(|(part, escaped)| {
        stmt.args.iter().any(|a| match a {
            Arg::Text(t) => t.contains(part) || t.contains(escaped.as_str()) || id == Some(t.as_str()),
            Arg::Int(i) => id.is_some_and(|id| id == i.to_string()),
            Arg::Null => false,
        })
    })
}

fn write_kind(change: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    match change.kind {
        Kind::DomainTemplate | Kind::MailboxTemplate => template::write(change, ctx, out),
        Kind::RelayHost | Kind::Transport => routing::write(change, ctx, out),
        Kind::Domain | Kind::AliasDomain => domain::write(change, ctx, out),
        Kind::DkimKey => dkim::write(change, ctx, out),
        Kind::ForwardingHost => fwdhost::write(change, ctx, out),
        Kind::Mailbox => mailbox::write(change, ctx, out),
        Kind::Alias => alias::write(change, ctx, out),
        Kind::BccMap | Kind::RecipientMap | Kind::TlsPolicy => maps::write(change, ctx, out),
        Kind::IdentityProvider => idp::write(change, ctx, out),
    }
}

/// Helpers shared by the writers.
pub fn b(v: bool) -> Arg {
    Arg::Int(i64::from(v))
}
pub fn t(s: &str) -> Arg {
    Arg::Text(s.to_string())
}
pub fn opt_text(s: &str) -> Arg {
    if s.is_empty() { Arg::Null } else { t(s) }
}
pub fn bool_of(s: Option<&str>) -> bool {
    matches!(s, Some("1") | Some("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(stmt: &Stmt, key: &str, id: Option<&str>) -> bool {
        names_its_object(stmt, &key_parts(key), id)
    }

    fn stmt(sql: &str, args: &[Arg]) -> Stmt {
        Stmt { sql: sql.into(), args: args.to_vec() }
    }

    #[test]
    fn a_statement_must_name_its_object() {
        let text = |s: &str| Arg::Text(s.into());
        let own = stmt("DELETE FROM alias WHERE address = ?", &[text("u1@a.example")]);
        assert!(names(&own, "u1@a.example", None));
        // mailcow's cleanups reach other objects through what they share with this one.
        let by_nexthop = stmt("UPDATE transports SET username = ?, password = ? WHERE nexthop = ?", &[text("relay"), text("x"), text("[gw1.example]:587")]);
        assert!(!names(&by_nexthop, "t1.example", None));
        let by_domain = stmt("DELETE FROM mailbox WHERE domain = ?", &[text("a.example")]);
        assert!(!names(&by_domain, "u1@a.example", None));
        // Every part of a composite key, raw or escaped for LIKE.
        assert!(names(&stmt("DELETE FROM bcc_maps WHERE local_dest = ? AND type = ?", &[text("u_1@a.example"), text("sender")]), "u_1@a.example sender", None));
        assert!(!names(&stmt("DELETE FROM bcc_maps WHERE local_dest = ?", &[text("u1@a.example")]), "u1@a.example sender", None));
        assert!(names(&stmt("DELETE FROM sogo_acl WHERE c_object LIKE ?", &[text("%/u\\_1@a.example/%")]), "u_1@a.example", None));
        // A relay host by its id.
        let by_id = stmt("UPDATE domain SET relayhost = '0' WHERE relayhost = ?", &[text("3")]);
        assert!(names(&by_id, "[smtp.example]:25", Some("3")));
        assert!(!names(&by_id, "[smtp.example]:25", Some("4")));
    }
}
