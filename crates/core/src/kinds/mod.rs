//! What is specific to each object kind, one file per kind: desired model → records,
//! live rows → records, and a change → SQL statements plus post-commit effects.

pub mod admin;
pub mod alias;
pub mod api;
pub mod app_password;
pub mod custom_attributes;
pub mod dkim;
pub mod domain;
pub mod export;
pub mod fail2ban;
pub mod footer;
pub mod fwdhost;
pub mod idp;
pub mod mailbox;
pub mod maps;
pub mod mta_sts;
pub mod password_complexity;
pub mod pushover;
pub mod quota_warning;
pub mod resource;
pub mod routing;
pub mod server_settings;
pub mod settings_map;
pub mod sieve_filter;
pub mod spam;
pub mod sync_job;
pub mod template;

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::change::Change;
use crate::live::{LiveData, Query};
use crate::load::Loaded;
use crate::load::validate::{Rule, Validator};
use crate::model::{self, Document, Kind, Located, Revealed, Secret};
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
    /// The values of the secret references, read before the records were built.
    pub revealed: Revealed,
    /// Forwarding hosts given by name, with their `filter_spam` and its exceptions: resolved against the live
    /// server by `fwdhost::resolve_names` before planning.
    pub forwarding_names: Vec<(String, bool, Vec<String>)>,
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

/// A secret field declared without a value (an exported object's): enough to leave the live one
/// alone, not to create the object with (`created_without`).
pub fn undeclared_secret() -> Value {
    Value::Secret(Box::new(SecretToken { token: UNDECLARED.into(), create_only: true }))
}
const UNDECLARED: &str = "none declared";

/// The plan's creates of `kind` with one of `fields` undeclared: known at plan time, so said then.
pub fn created_without<'a>(changes: &'a [Change], kind: Kind, fields: &'a [&str]) -> impl Iterator<Item = &'a Change> {
    let undeclared = |r: &Record, f: &str| matches!(r.get(f), Some(Value::Secret(s)) if s.token == UNDECLARED);
    changes
        .iter()
        .filter(move |c| c.kind == kind && c.action == crate::change::Action::Create)
        .filter(move |c| c.desired.as_ref().is_some_and(|r| fields.iter().any(|f| undeclared(r, f))))
}

/// Everything the desired side needs to resolve references while building records.
pub struct Resolver<'a> {
    pub docs: Vec<&'a Document>,
    pub revealed: &'a Revealed,
    pub relay_hosts: HashMap<&'a str, &'a str>,
    pub secret_errors: Vec<String>,
}

impl<'a> Resolver<'a> {
    pub fn new(loaded: &'a Loaded, revealed: &'a Revealed) -> Resolver<'a> {
        let docs: Vec<&Document> = loaded.documents.iter().map(|(_, d)| d).collect();
        let relay_hosts = docs.iter().flat_map(|d| d.relay_hosts.iter()).map(|r| (r.name.as_str(), r.hostname.as_str())).collect();
        Resolver { docs, revealed, relay_hosts, secret_errors: Vec::new() }
    }

    pub fn relay_hostname(&self, name: &Option<Located<String>>) -> String {
        name.as_ref().and_then(|n| self.relay_hosts.get(n.as_str())).map(|h| h.trim().to_string()).unwrap_or_default()
    }

    /// A secret stored in clear: resolved now so both sides can be compared by token.
    pub fn clear_secret(&mut self, desired: &mut Desired, kind: Kind, key: &str, field: Field, secret: Option<&Located<Secret>>) -> Value {
        let Some(secret) = secret else { return token("") };
        let secret = secret.value.clone();
        match self.revealed.get(&secret) {
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

/// One kind's whole story: what it reads, how its records are built on either side, how a
/// change is written and what pruning may do with it. `KINDS` holds one per kind; observe, plan,
/// apply, export and validate loop over it, so a new kind is its model file, its module here
/// and a line in `KINDS`.
pub struct KindSpec {
    pub kind: Kind,
    /// The live queries its records are built from (a table several kinds read is queried once).
    pub queries: &'static [&'static Query],
    /// The Redis hashes its records are built from.
    pub hashes: &'static [&'static str],
    /// The Redis strings its records are built from (in `LiveData::kv` as a hash of one field, `""`).
    pub strings: &'static [&'static str],
    /// How many of it a document declares (`validate`'s counts).
    pub count: fn(&Document) -> usize,
    /// Desired model → records.
    pub desired: fn(&mut Resolver, &mut Desired),
    /// Live rows → records.
    pub live: fn(&LiveData, &mut Vec<Record>),
    /// A change → SQL statements and post-commit effects.
    pub write: fn(&Change, &mut WriteCtx, &mut Output) -> Result<(), WriteError>,
    /// A live record → the exported desired state.
    pub export: fn(&mut export::Export, &Record),
    /// The live record deactivated (`prune: disable`); None when the kind cannot be inactive.
    pub disabled: fn(&Record) -> Option<Record>,
    /// Live keys mailplane never deletes (mailcow's own `Default` templates; its UI refuses too).
    pub protected: &'static [&'static str],
    /// Deleting one destroys mail: it needs consent on the command line.
    pub destroys_mail: bool,
    /// The domain whose delete takes it along (mailcow's domain delete removes its rows): a
    /// domain is not deleted while the plan leaves such an object in place.
    pub domain_of: fn(&Record) -> Option<&str>,
    /// The mailbox whose delete takes it along (mailcow's mailbox delete removes its rows): a
    /// mailbox is not deleted while the plan leaves such an object in place.
    pub mailbox_of: fn(&Record) -> Option<&str>,
    /// Whether the record says no more than no row at all (a spam policy with empty lists):
    /// declared but not on the server, it is not created.
    pub vacant: fn(&Record) -> bool,
    /// Why a plan cannot be applied, for reasons of this kind (a domain limit mailcow would
    /// enforce): part of every plan.
    pub check: fn(&Facts) -> Vec<String>,
    /// What the plan should say loudly without blocking (mailcow's shipped admin password).
    pub warn: fn(&Facts) -> Vec<String>,
    /// Its rules for one document, with the directory's index of names at hand (`load`
    /// runs them; the rules that span kinds, such as alias loops, are `load::validate`'s).
    pub validate: Rule,
}

/// What a kind's plan check sees.
pub struct Facts<'a> {
    pub desired: &'a [Record],
    /// Every live record, ignored ones included.
    pub live: &'a [Record],
    pub changes: &'a [Change],
    /// The live rows, for what no record carries (a domain's resources).
    pub rows: &'a LiveData,
    /// The desired state's secrets (whether a password meets the policy; never shown).
    pub secrets: &'a Desired,
    /// mailcow.conf as read before planning (`Policy::mailcow_conf`).
    pub mailcow_conf: Option<&'a str>,
}

/// `validate` of a kind whose objects are checked with their parent's (a domain's mailboxes).
pub fn no_rules(_: &mut Validator, _: usize, _: &Document) {}

/// Reads, parses and validates a desired-state directory (`load::load_dir_with` with every
/// kind's rules).
pub fn load_dir(root: &std::path::Path) -> Result<Loaded, crate::load::LoadError> {
    load_dir_with(root, |_| ()).map(|(loaded, ())| loaded)
}

/// `load_dir`, running `alongside` on the parsed documents on another core while they are
/// validated (plan builds the desired records then).
pub fn load_dir_with<T: Send>(root: &std::path::Path, alongside: impl FnOnce(&Loaded) -> T + Send) -> Result<(Loaded, T), crate::load::LoadError> {
    let rules: Vec<Rule> = KINDS.iter().map(|k| k.validate).collect();
    crate::load::load_dir_with(root, &rules, alongside)
}

/// `domain_of` of a kind keyed by its domain (one per domain: its MTA-STS policy, its footer).
pub fn own_key(r: &Record) -> Option<&str> {
    Some(&r.key)
}

/// `domain_of` of a kind keyed by a domain or by a mailbox's address (its spam policy).
pub fn domain_of_owner(r: &Record) -> Option<&str> {
    Some(model::names::domain_of(&r.key))
}

/// `mailbox_of` of a kind keyed by a mailbox's address, or by a domain (then none).
pub fn own_address(r: &Record) -> Option<&str> {
    r.key.contains('@').then_some(r.key.as_str())
}

/// `mailbox_of` of a kind that a mailbox delete leaves alone.
pub fn no_mailbox(_: &Record) -> Option<&str> {
    None
}

/// `vacant` of a kind whose every record is something on the server.
pub fn never_vacant(_: &Record) -> bool {
    false
}

/// Every mailbox the documents declare, with its username (lowercased local part @ domain):
/// what the kinds declared under a mailbox iterate.
pub fn declared_mailboxes<'a>(docs: &[&'a Document]) -> impl Iterator<Item = (String, &'a model::Mailbox)> {
    docs.iter()
        .flat_map(|doc| &doc.domains)
        .filter_map(|d| Some((model::names::normalize_domain(&d.name).ok()?, d)))
        .flat_map(|(domain, d)| d.mailboxes.iter().map(move |m| (model::names::address(&m.local_part.trim().to_lowercase(), &domain), m)))
}

/// `mailbox_of` of a kind keyed `mailbox rest` (an app password, a Sieve filter, a sync job).
pub fn mailbox_part(r: &Record) -> Option<&str> {
    r.key.split_once(' ').map(|(m, _)| m)
}

/// A key `mailbox a b…` as (mailbox, a, the rest): a Sieve filter's type and description, a sync
/// job's host and user.
pub fn three_parts(key: &str) -> Option<(&str, &str, &str)> {
    let (mailbox, rest) = key.split_once(' ')?;
    let (a, b) = rest.split_once(' ')?;
    Some((mailbox, a, b))
}

/// `domain_of` of a kind keyed `mailbox rest`.
pub fn domain_of_mailbox_part(r: &Record) -> Option<&str> {
    mailbox_part(r).map(model::names::domain_of)
}

/// `domain_of` of a kind that a domain delete leaves alone.
pub fn no_domain(_: &Record) -> Option<&str> {
    None
}

/// `check` of a kind mailcow has no way to delete (a server-wide setting): a plan that would is
/// blocked, saying `why` (mailcow has no delete, or something writes it again).
pub fn never_deleted(f: &Facts, kind: Kind, why: &str) -> Vec<String> {
    f.changes
        .iter()
        .filter(|c| c.kind == kind && c.action == crate::change::Action::Delete)
        .map(|_| {
            format!(
                "the {} cannot be deleted: {why}; declare it with the values you want, or leave it undeclared without `prune: {{{}: delete}}`",
                kind.singular(),
                kind.name()
            )
        })
        .collect()
}

/// `check` (or `warn`) of a kind with nothing to check.
pub fn no_check(_: &Facts) -> Vec<String> {
    Vec::new()
}

/// Every kind, in `Kind::ALL` order (parents before children).
pub static KINDS: [KindSpec; Kind::ALL.len()] = [
    template::DOMAIN_TEMPLATE,
    template::MAILBOX_TEMPLATE,
    routing::RELAY_HOST,
    domain::DOMAIN,
    domain::ALIAS_DOMAIN,
    dkim::DKIM_KEY,
    mta_sts::MTA_STS,
    footer::DOMAIN_FOOTER,
    quota_warning::QUOTA_WARNING_BCC,
    mailbox::MAILBOX,
    resource::RESOURCE,
    spam::SPAM_POLICY,
    spam::SPAM_SCORE,
    app_password::APP_PASSWORD,
    sieve_filter::SIEVE_FILTER,
    sync_job::SYNC_JOB,
    pushover::PUSHOVER_SETTINGS,
    custom_attributes::CUSTOM_ATTRIBUTES,
    alias::ALIAS,
    maps::BCC_MAP,
    maps::RECIPIENT_MAP,
    maps::TLS_POLICY,
    routing::TRANSPORT,
    fwdhost::FORWARDING_HOST,
    idp::IDENTITY_PROVIDER,
    password_complexity::PASSWORD_COMPLEXITY,
    admin::ADMIN,
    admin::DOMAIN_ADMIN,
    api::API_KEY,
    api::OAUTH_CLIENT,
    server_settings::QUARANTINE,
    server_settings::QUOTA_WARNING_MAIL,
    server_settings::PASSWORD_RESET_MAIL,
    fail2ban::FAIL2BAN,
    settings_map::SETTINGS_MAP,
    server_settings::UI,
    server_settings::CORS,
];

pub fn spec(kind: Kind) -> &'static KindSpec {
    &KINDS[kind as usize]
}

/// `disabled` of a kind with an `active` flag.
pub fn flag_off(r: &Record) -> Option<Record> {
    set_off(r, "active", Value::Bool(false))
}
/// `disabled` of a kind that cannot be inactive.
pub fn never_off(_: &Record) -> Option<Record> {
    None
}
pub fn set_off(r: &Record, field: Field, value: Value) -> Option<Record> {
    r.has(field).then(|| {
        let mut off = r.clone();
        off.set(field, value);
        off
    })
}

/// The queries observe runs: each kind's, and the inventory, each once.
pub fn queries() -> Vec<&'static Query> {
    let mut out: Vec<&'static Query> = vec![&crate::live::INVENTORY];
    for q in KINDS.iter().flat_map(|k| k.queries.iter().copied()) {
        if !out.iter().any(|o| o.from == q.from) {
            out.push(q);
        }
    }
    out
}

/// The Redis hashes observe reads, each once.
pub fn hashes() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for h in KINDS.iter().flat_map(|k| k.hashes.iter().copied()) {
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

/// The Redis strings observe reads.
pub fn strings() -> Vec<&'static str> {
    KINDS.iter().flat_map(|k| k.strings.iter().copied()).collect()
}

/// The resolve step: reads every secret reference the directory names (the environment, files
/// inside it) and the images (UI logos). The only desired-side I/O before planning besides forwarding-host names.
pub fn resolve_secrets(loaded: &Loaded) -> Revealed {
    let secrets: Vec<(String, &Located<Secret>)> = loaded.documents.iter().flat_map(|(_, d)| d.secrets()).collect();
    let images = loaded.documents.iter().flat_map(|(_, d)| d.images());
    Revealed::resolve(secrets.iter().map(|(_, s)| &s.value), &loaded.root).with_files(images, &loaded.root, server_settings::MAX_LOGO_BYTES + 1)
}

/// Builds the desired records from a validated directory and its resolved secrets. Pure.
pub fn desired(loaded: &Loaded, revealed: &Revealed) -> Result<Desired, Vec<String>> {
    let mut r = Resolver::new(loaded, revealed);
    let mut out = Desired { revealed: revealed.clone(), ..Desired::default() };
    // Room for every object up front (and for a DKIM key per domain): grown by doubling, the
    // list of 300,000 records held up to 40 MB of slack at its peak.
    let declared: usize = r.docs.iter().map(|d| KINDS.iter().map(|k| (k.count)(d)).sum::<usize>()).sum();
    out.records.reserve(declared + declared / 8 + 64);
    for k in &KINDS {
        (k.desired)(&mut r, &mut out);
    }
    if r.secret_errors.is_empty() { Ok(out) } else { Err(r.secret_errors) }
}

/// Live objects mailplane never deletes.
pub fn protected(r: &Record) -> bool {
    spec(r.kind).protected.contains(&r.key.as_str())
}

/// The live record as it would be after deactivating it (`prune: disable`); None for kinds
/// that have no way to be inactive.
pub fn disabled(r: &Record) -> Option<Record> {
    (spec(r.kind).disabled)(r)
}

/// Every kind's live records, in `KINDS` order. Kinds are built on all cores: mailboxes alone
/// are half the work on a large server.
pub fn live(live: &LiveData) -> Vec<Record> {
    let parts: Vec<Vec<Record>> = std::thread::scope(|scope| {
        let handles: Vec<_> = KINDS
            .iter()
            .map(|k| {
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(k.queries.first().map_or(0, |q| live.rows(q).len()));
                    (k.live)(live, &mut out);
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("live records panicked")).collect()
    });
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    parts.into_iter().for_each(|p| all.extend(p));
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
    /// SET of a Redis string (written as field `""` of the key in `mailplane_kv`).
    Set {
        key: &'static str,
        value: String,
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
    pub fn set(&mut self, key: &'static str, value: &str) {
        self.effects.insert(Effect::Set { key, value: value.to_string() });
    }
    /// DEL of a Redis string.
    pub fn del(&mut self, key: &'static str) {
        self.hdel(key, "");
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
            Some(SecretSource::Clear(s)) => Ok(self.desired.revealed.get(s)?),
            Some(SecretSource::HashOf(s)) => {
                crate::password::hash_blf_crypt(&self.desired.revealed.get(s)?).map_err(|e| WriteError::Hash(key.to_string(), e.to_string()))
            }
        }
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
    (spec(change.kind).write)(change, ctx, out)?;
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
    fn the_table_holds_every_kind_in_order() {
        assert!(KINDS.iter().map(|k| k.kind).eq(Kind::ALL));
        // Two kinds reading one table read the same columns.
        for a in KINDS.iter().flat_map(|k| k.queries) {
            for b in KINDS.iter().flat_map(|k| k.queries).filter(|b| b.from == a.from) {
                assert_eq!(a, b);
            }
        }
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
