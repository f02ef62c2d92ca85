//! `apply`: runs a plan. All SQL in one transaction (the SOGo view rebuilt inside it); before
//! its commit the new DKIM keys are awaited, and the Redis writes go into the same transaction:
//! on SQLite as the `mailplane_kv` rows themselves, on MariaDB + Redis as `mailplane_outbox` rows
//! (src/outbox.rs), with the journal row. After the commit, Redis and memcached; an apply killed
//! at any point leaves the target wholly old, or committed with its remaining work recorded for
//! the next run to finish.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::kinds::{self, Desired, Effect, Output, WriteCtx, WriteError};
use crate::live::LiveData;
use crate::model::Kind;
use crate::outbox::{self, OutboxError};
use crate::plan::{Action, Plan};
use crate::store::batch::batch;
use crate::store::db::{ChunkError, Db, DbError, Dialect, Stmt, now_utc};
use crate::store::journal::Entry;
use crate::store::kv::{self, Kv};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("the database transaction failed and was rolled back; nothing was written: {0}")]
    Db(#[from] DbError),
    #[error("a new DKIM key could not be made: {0}; nothing was written (the transaction was rolled back)")]
    Dkim(WriteError),
    #[error(
        "the database was updated, but its post-commit work failed: {0}; it is kept in mailplane_outbox, and the next plan, apply or watch cycle finishes it"
    )]
    PostCommit(#[from] OutboxError),
    #[error("the database was updated, but {0}")]
    Memcached(String),
}

#[derive(Debug, Default)]
pub struct Applied {
    pub statements: usize,
    pub redis_ops: usize,
    pub memcached_flushed: bool,
}

fn write_ctx<'a>(plan: &Plan, desired: &'a Desired, live: &'a LiveData, dialect: Dialect) -> WriteCtx<'a> {
    let mut relay_ids = crate::kinds::routing::relay_ids(live);
    let mut next = relay_ids.values().copied().max().unwrap_or(0);
    for c in plan.changes.iter().filter(|c| c.kind == Kind::RelayHost && c.action == Action::Create) {
        next += 1;
        relay_ids.insert(c.key.clone(), next);
    }
    WriteCtx { dialect, now: now_utc(), live, desired, relay_ids }
}

/// The plan's new DKIM keys, being made on other threads. At ~35-150 ms of CPU each, 1,000 new
/// domains take longer than the whole transaction, so they start as early as the apply is
/// certain: before the plan is shown when it needs no confirmation. Keys only go to Redis, but
/// the transaction waits for them, so that they are part of what it commits.
pub struct KeyGen {
    wanted: Vec<(String, String, u32)>,
    keys: Option<std::thread::JoinHandle<Vec<Result<String, WriteError>>>>,
}

impl KeyGen {
    pub fn start(plan: &Plan, desired: &Desired, live: &LiveData, dialect: Dialect) -> Result<KeyGen, WriteError> {
        // The same writer `Statements` runs decides which keys are new.
        let mut ctx = write_ctx(plan, desired, live, dialect);
        let mut out = Output::default();
        for c in plan.changes.iter().filter(|c| c.kind == Kind::DkimKey) {
            kinds::write(c, &mut ctx, &mut out)?;
        }
        let wanted: Vec<(String, String, u32)> = out
            .effects
            .into_iter()
            .filter_map(|e| if let Effect::DkimGenerate { domain, selector, bits } = e { Some((domain, selector, bits)) } else { None })
            .collect();
        let sizes: Vec<u32> = wanted.iter().map(|(_, _, bits)| *bits).collect();
        let keys = (!sizes.is_empty()).then(|| std::thread::spawn(move || kinds::dkim::generate_all(&sizes)));
        Ok(KeyGen { wanted, keys })
    }

    /// Waits for the keys and adds their Redis writes to `out`.
    fn store(self, out: &mut Output) -> Result<(), ApplyError> {
        let Some(keys) = self.keys else { return Ok(()) };
        let keys = keys.join().expect("key generation panicked");
        for ((domain, selector, _), key) in self.wanted.iter().zip(keys) {
            kinds::dkim::store(domain, selector, &key.map_err(ApplyError::Dkim)?, out).map_err(ApplyError::Dkim)?;
        }
        Ok(())
    }
}

/// The plan's statements in order, made a few thousand objects at a time while the transaction
/// runs (100,000 new mailboxes' statements held at once were 100s of MB); the post-commit
/// effects collect in `out`.
struct Statements<'a> {
    plan: &'a Plan,
    desired: &'a Desired,
    ctx: WriteCtx<'a>,
    out: Output,
    next: usize,
    tail: Tail<'a>,
}

/// What follows the changes' own statements.
enum Tail<'a> {
    Sogo,
    Inventory(Box<dyn Iterator<Item = Stmt> + 'a>),
    Bookkeeping,
    Done,
}

impl<'a> Statements<'a> {
    fn new(plan: &'a Plan, desired: &'a Desired, live: &'a LiveData, dialect: Dialect) -> Statements<'a> {
        Statements { plan, desired, ctx: write_ctx(plan, desired, live, dialect), out: Output::default(), next: 0, tail: Tail::Sogo }
    }
}

/// Every statement apply would send for this plan, in order (the transaction's content without
/// the journal row and the Redis side): for review, as the snapshot tests show it.
pub fn statements(plan: &Plan, desired: &Desired, live: &LiveData, dialect: Dialect) -> Result<Vec<Stmt>, WriteError> {
    Statements::new(plan, desired, live, dialect).try_fold(Vec::new(), |mut all, part| {
        all.extend(part?);
        Ok(all)
    })
}

/// Each run of like changes (kind and action) is batched into multi-row statements, at most this
/// many objects at a time (a multi-row statement holds about 2,000 rows).
const RUN_CHUNK: usize = 4_000;

impl Iterator for Statements<'_> {
    type Item = Result<Vec<Stmt>, WriteError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.plan.changes.get(self.next) {
            let mut run = Vec::new();
            while let Some(c) = self.plan.changes.get(self.next)
                && (c.kind, c.action) == (first.kind, first.action)
                && run.len() < RUN_CHUNK
            {
                if let Err(e) = kinds::write(c, &mut self.ctx, &mut self.out) {
                    return Some(Err(e));
                }
                run.push(std::mem::take(&mut self.out.stmts));
                self.next += 1;
            }
            return Some(Ok(batch(run)));
        }
        match &mut self.tail {
            Tail::Sogo => {
                self.tail = Tail::Inventory(Box::new(inventory(self.plan, self.desired, self.ctx.live)));
                Some(Ok(sogo_statements(&self.out.effects, self.ctx.dialect)))
            }
            Tail::Inventory(rows) => {
                let part: Vec<Vec<Stmt>> = rows.take(RUN_CHUNK).map(|s| vec![s]).collect();
                if part.is_empty() {
                    self.tail = Tail::Bookkeeping;
                }
                Some(Ok(batch(part)))
            }
            Tail::Bookkeeping => {
                self.tail = Tail::Done;
                Some(Ok(self.desired.bookkeeping.clone()))
            }
            Tail::Done => None,
        }
    }
}

/// `keys`: the key generation started earlier for this plan, if any. `journal`: this apply's
/// row, written in the transaction (its result is set here).
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    plan: &Plan,
    desired: &Desired,
    live: &LiveData,
    db: &Db,
    kv: &Kv,
    memcached: Option<&str>,
    keys: Option<KeyGen>,
    journal: &Entry,
) -> Result<Applied, ApplyError> {
    let t = std::time::Instant::now();
    let keys = match keys {
        Some(k) => k,
        None => KeyGen::start(plan, desired, live, db.dialect())?,
    };
    crate::failpoint::failpoint("before the transaction");
    let mut made = Statements::new(plan, desired, live, db.dialect());
    let mut tx = db.begin().await?;
    tx.run(made.by_ref()).await.map_err(|e| match e {
        ChunkError::Db(e) => ApplyError::Db(e),
        ChunkError::Source(e) => ApplyError::Write(e),
    })?;
    let mut out = made.out;
    let t = crate::timing::lap("statements", t);
    // The keys are part of what commits (they are mostly made by now).
    crate::failpoint::failpoint("waiting for DKIM keys");
    if let Err(e) = keys.store(&mut out) {
        tx.rollback().await;
        return Err(e);
    }
    let t = crate::timing::lap("dkim keys", t);
    let ops: Vec<outbox::Op> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Hset { key, field, value } => Some((*key, field.as_str(), Some(value.as_str()))),
            Effect::Hdel { key, field } => Some((*key, field.as_str(), None)),
            Effect::Set { key, value } => Some((*key, "", Some(value.as_str()))),
            Effect::SogoRebuild | Effect::SogoRefresh(_) | Effect::DkimGenerate { .. } => None,
        })
        .collect();
    let flush = memcached.is_some() && out.effects.iter().any(|e| matches!(e, Effect::SogoRebuild | Effect::SogoRefresh(_)));
    // What is left after the commit: on SQLite the kv rows are written here, with the rest.
    let redis: &[outbox::Op] = match kv {
        Kv::Table(_) => {
            tx.run(kv::table_statements(&ops).map(Ok::<_, Infallible>)).await.map_err(DbError::from)?;
            &[]
        }
        Kv::Redis(_) => &ops,
    };
    let mut later = outbox::rows(&journal.id, redis, flush).peekable();
    let pending = later.peek().is_some();
    tx.run(later.map(Ok::<_, Infallible>)).await.map_err(DbError::from)?;
    let row = Entry {
        result: (if pending { crate::store::journal::PENDING } else { crate::store::journal::APPLIED }).into(),
        finished: now_utc(),
        ..journal.clone()
    };
    tx.run(std::iter::once(Ok::<_, Infallible>([crate::store::journal::insert(&row)]))).await.map_err(DbError::from)?;
    let statements = tx.commit().await?;
    crate::failpoint::failpoint("committed");
    let t = crate::timing::lap("transaction", t);
    let mut applied = Applied { statements, redis_ops: ops.len(), memcached_flushed: false };
    if pending {
        let (done, flush_failed) = outbox::finish(db, kv, memcached, &journal.id, redis, flush).await?;
        applied.memcached_flushed = done.memcached_flushed;
        if let Some(e) = flush_failed {
            return Err(ApplyError::Memcached(e));
        }
    }
    crate::timing::lap("redis and memcached", t);
    Ok(applied)
}

/// With nothing to change, still records the declared objects as owned (adopted). Returns how many.
pub async fn adopt(desired: &Desired, live: &LiveData, db: &Db) -> Result<usize, ApplyError> {
    let rows: Vec<Vec<Stmt>> = inventory(&Plan::default(), desired, live).map(|s| vec![s]).collect();
    let adopted = rows.len();
    let mut stmts = batch(rows);
    stmts.extend(desired.bookkeeping.iter().cloned());
    db.execute_all(&stmts).await?;
    Ok(adopted)
}

/// Records what mailplane now owns: everything declared (created or adopted), minus what it deleted.
fn inventory<'a>(plan: &'a Plan, desired: &'a Desired, live: &'a LiveData) -> impl Iterator<Item = Stmt> + 'a {
    use crate::store::db::Arg;
    let owned = live.owned();
    let row = |k: Kind, key: &str| vec![Arg::Text(k.name().into()), Arg::Text(key.into())];
    let added = desired
        .records
        .iter()
        .filter(move |r| !owned.contains(r.kind, &r.key))
        .map(move |r| Stmt { sql: "INSERT INTO mailplane_inventory (kind, obj_key) VALUES (?, ?)".into(), args: row(r.kind, &r.key) });
    let removed = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(move |c| Stmt { sql: "DELETE FROM mailplane_inventory WHERE kind = ? AND obj_key = ?".into(), args: row(c.kind, &c.key) });
    added.chain(removed)
}

/// More users than this and the whole view is rebuilt: one pass beats many IN lists.
const SOGO_SCOPED_MAX: usize = 20_000;
/// Users per scoped rebuild: each user is bound 5 times, within SQLite's 32,766 and MySQL's
/// 65,535 parameters. Every rebuild reads all aliases once, so fewer are faster.
fn sogo_scope_chunk(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 6_000,
        Dialect::MySql => 13_000,
    }
}

/// The `_sogo_static_view` statements for this apply's effects: none, the changed users' rows, or all.
fn sogo_statements(effects: &std::collections::BTreeSet<Effect>, dialect: Dialect) -> Vec<Stmt> {
    let users: Vec<&str> = effects.iter().filter_map(|e| if let Effect::SogoRefresh(u) = e { Some(u.as_str()) } else { None }).collect();
    match (effects.contains(&Effect::SogoRebuild), users.len()) {
        (false, 0) => vec![],
        (false, n) if n <= SOGO_SCOPED_MAX => users.chunks(sogo_scope_chunk(dialect)).flat_map(|part| sogo_rebuild(dialect, Some(part))).collect(),
        _ => sogo_rebuild(dialect, None),
    }
}

/// SOGo reads users from `_sogo_static_view` and caches in memcached: rebuilt the way mailcow
/// does (active mailboxes only; the constant c_password that blocks direct SOGo logins), for
/// `scope`'s users or for all.
///
/// mailcow joins views (grouped_mail_aliases with `REGEXP CONCAT('(^|,)', username, '($|,)')`,
/// grouped_domain_alias_address, grouped_sender_acl_external) to every mailbox: nested scans,
/// hours at 100,000 mailboxes. Here each alias group's goto list is split once (a recursive
/// CTE), and the aliases, alias-domain addresses and external send-as rows of every user are
/// gathered in one UNION ALL and grouped by user (a sort), then joined to mailbox by its key.
/// The values are the same: per user, the alias groups (same goto → addresses sorted,
/// space-joined) sorted and space-joined. One difference on purpose: REGEXP reads a `.` in a
/// user name as any character.
fn sogo_rebuild(dialect: Dialect, scope: Option<&[&str]>) -> Vec<Stmt> {
    use crate::store::db::Arg;
    const C_PASSWORD: &str = "{SSHA256}47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let users_args = |users: &[&str]| users.iter().map(|u| Arg::Text(u.to_string())).collect::<Vec<_>>();
    let list = scope.map(|users| format!(" IN ({})", vec!["?"; users.len()].join(", ")));
    // Placeholders are filled in SQL order: FILTERS lists of users, then c_password.
    const FILTERS: usize = 5;
    let when = |prefix: &str, column: &str| list.as_ref().map_or(String::new(), |l| format!("{prefix}{column}{l}"));
    // A group can hold a scoped user only if its goto is that user or a list.
    let group_filter = list.as_ref().map_or(String::new(), |l| format!(" AND (goto{l} OR goto LIKE '%,%')"));
    let (first, rest, address, join) = match dialect {
        Dialect::MySql => (
            "SUBSTRING_INDEX({s}, ',', 1)",
            "IF(LOCATE(',', {s}) > 0, SUBSTRING({s}, LOCATE(',', {s}) + 1), NULL)",
            "CONCAT(m.local_part, '@', ad.alias_domain)",
            "STRAIGHT_JOIN",
        ),
        Dialect::Sqlite => (
            "CASE WHEN instr({s}, ',') > 0 THEN substr({s}, 1, instr({s}, ',') - 1) ELSE {s} END",
            "CASE WHEN instr({s}, ',') > 0 THEN substr({s}, instr({s}, ',') + 1) END",
            "m.local_part || '@' || ad.alias_domain",
            "CROSS JOIN",
        ),
    };
    let split = |s: &str| (first.replace("{s}", s), rest.replace("{s}", s));
    let ((first_goto, rest_goto), (first_rest, rest_rest)) = (split("goto"), split("rest"));
    let concat = |e: &str, by: &str| match dialect {
        Dialect::MySql => format!("GROUP_CONCAT({e} ORDER BY {by} SEPARATOR ' ')"),
        Dialect::Sqlite => format!("group_concat({e}, ' ' ORDER BY {by})"),
    };
    let (aliases, ad_aliases, ext_acl) = (concat("aliases", "aliases"), concat("ad_alias", "ad_alias"), concat("send_as", "id"));
    let (w_mailbox, w_target, w_m, w_sender) =
        (when(" WHERE ", "username"), when(" WHERE ", "target"), when(" WHERE ", "m.username"), when(" AND ", "logged_in_as"));
    let sql = format!(
        "INSERT INTO _sogo_static_view (c_uid, domain, c_name, c_password, c_cn, mail, aliases, ad_aliases, ext_acl, kind, multiple_bookings) \
         WITH RECURSIVE g AS (SELECT goto, {concat_address} AS aliases FROM alias \
           WHERE address <> goto AND active = 1 AND sogo_visible = 1 AND address NOT LIKE '@%'{group_filter} GROUP BY goto), \
         x (aliases, target, rest) AS (SELECT aliases, {first_goto}, {rest_goto} FROM g \
           UNION ALL SELECT aliases, {first_rest}, {rest_rest} FROM x WHERE rest IS NOT NULL), \
         v AS (SELECT u, {aliases} AS aliases, {ad_aliases} AS ad_aliases, {ext_acl} AS ext_acl FROM ( \
           SELECT username AS u, NULL AS aliases, NULL AS ad_alias, NULL AS send_as, NULL AS id FROM mailbox{w_mailbox} \
           UNION ALL SELECT target, aliases, NULL, NULL, NULL FROM x{w_target} \
           UNION ALL SELECT m.username, NULL, {address}, NULL, NULL FROM mailbox m JOIN alias_domain ad ON ad.target_domain = m.domain{w_m} \
           UNION ALL SELECT logged_in_as, NULL, NULL, send_as, id FROM sender_acl WHERE send_as NOT LIKE '@%' AND external = 1{w_sender} \
         ) t GROUP BY u) \
         SELECT m.username, m.domain, m.username, ?, m.name, m.username, IFNULL(v.aliases, ''), IFNULL(v.ad_aliases, ''), IFNULL(v.ext_acl, ''), \
           m.kind, m.multiple_bookings FROM v {join} mailbox m ON m.username = v.u WHERE m.active = 1",
        concat_address = concat("address", "address"),
    );
    match scope {
        None => vec![Stmt { sql: "DELETE FROM _sogo_static_view".into(), args: vec![] }, Stmt { sql, args: vec![Arg::Text(C_PASSWORD.into())] }],
        Some(users) => {
            let mut args: Vec<Arg> = (0..FILTERS).flat_map(|_| users_args(users)).collect();
            args.push(Arg::Text(C_PASSWORD.into()));
            vec![
                Stmt { sql: format!("DELETE FROM _sogo_static_view WHERE c_uid{}", list.as_deref().unwrap_or_default()), args: users_args(users) },
                Stmt { sql, args },
            ]
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MemcachedError {
    #[error("`{0}` is not host:port")]
    Address(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("unexpected reply {0:?}")]
    Reply(String),
}

/// memcached's text protocol: `flush_all` → `OK`.
pub fn flush_memcached(addr: &str) -> Result<(), MemcachedError> {
    let addr = addr.trim_start_matches("tcp://");
    let sock = addr.parse().map_err(|_| MemcachedError::Address(addr.to_string()))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"flush_all\r\n")?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let reply = String::from_utf8_lossy(&buf[..n]);
    if reply.starts_with("OK") { Ok(()) } else { Err(MemcachedError::Reply(reply.trim().to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Arg;

    #[test]
    fn scoped_sogo_rebuilds_cover_every_user_within_the_parameter_limits() {
        for (dialect, limit) in [(Dialect::Sqlite, 32_766), (Dialect::MySql, 65_535)] {
            for n in [1, 5_999, 6_001, 13_001, SOGO_SCOPED_MAX] {
                let effects = (0..n).map(|i| Effect::SogoRefresh(format!("u{i}@x.org"))).collect();
                let stmts = sogo_statements(&effects, dialect);
                assert!(stmts.iter().all(|s| s.args.len() <= limit), "{dialect:?} {n}");
                let deleted: usize = stmts.iter().filter(|s| s.sql.starts_with("DELETE")).map(|s| s.args.len()).sum();
                assert_eq!(deleted, n, "{dialect:?}");
                assert!(stmts.iter().all(|s| s.sql.starts_with("DELETE") || matches!(s.args.last(), Some(Arg::Text(p)) if p.starts_with("{SSHA256}"))));
            }
        }
    }
}
