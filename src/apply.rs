//! `apply`: runs a plan. All SQL in one transaction (the SOGo view rebuilt inside it), then
//! the Redis hashes, then a memcached flush. Post-commit failures are reported, and show as
//! drift on the next plan.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::kinds::{self, Desired, Effect, Output, WriteCtx, WriteError};
use crate::model::Kind;
use crate::observe::LiveData;
use crate::plan::{Action, Plan};
use crate::target::db::{Db, DbError, Dialect, Stmt, now_utc};
use crate::target::kv::{Kv, KvError};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("the database transaction failed and was rolled back; nothing was written: {0}")]
    Db(#[from] DbError),
    #[error("the database was updated, but updating Redis failed: {0}; run plan again to see what is left")]
    Kv(#[from] KvError),
    #[error("the database was updated, but flushing memcached at {0} failed: {1}; SOGo may show stale data until it expires")]
    Memcached(String, String),
}

#[derive(Debug, Default)]
pub struct Applied {
    pub statements: usize,
    pub redis_ops: usize,
    pub memcached_flushed: bool,
}

/// Builds every statement and effect of the plan without touching anything.
pub fn statements(plan: &Plan, desired: &Desired, live: &LiveData, dialect: Dialect) -> Result<Output, WriteError> {
    let mut relay_ids = live.relay_ids();
    let mut next = relay_ids.values().copied().max().unwrap_or(0);
    for c in plan.changes.iter().filter(|c| c.kind == Kind::RelayHost && c.action == Action::Create) {
        next += 1;
        relay_ids.insert(c.key.clone(), next);
    }
    let mut ctx = WriteCtx { dialect, now: now_utc(), live, desired, relay_ids };
    let mut out = Output::default();
    for c in &plan.changes {
        kinds::write(c, &mut ctx, &mut out)?;
    }
    if out.effects.contains(&Effect::SogoRebuild) {
        out.stmts.extend(sogo_rebuild(dialect));
    }
    out.stmts.extend(inventory(plan, desired, live));
    out.stmts.extend(desired.bookkeeping.iter().cloned());
    Ok(out)
}

pub async fn apply(plan: &Plan, desired: &Desired, live: &LiveData, db: &Db, kv: &Kv, memcached: Option<&str>) -> Result<Applied, ApplyError> {
    let t = std::time::Instant::now();
    let out = statements(plan, desired, live, db.dialect())?;
    let t = crate::timing::lap("statements", t);
    db.execute_all(&out.stmts).await?;
    let t = crate::timing::lap("transaction", t);
    let ops: Vec<(&str, &str, Option<&str>)> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Hset { key, field, value } => Some((*key, field.as_str(), Some(value.as_str()))),
            Effect::Hdel { key, field } => Some((*key, field.as_str(), None)),
            Effect::SogoRebuild => None,
        })
        .collect();
    let mut applied = Applied { statements: out.stmts.len(), redis_ops: ops.len(), memcached_flushed: false };
    if !ops.is_empty() {
        kv.apply(&ops).await?;
    }
    crate::timing::lap("redis", t);
    if out.effects.contains(&Effect::SogoRebuild)
        && let Some(addr) = memcached {
            flush_memcached(addr).map_err(|e| ApplyError::Memcached(addr.to_string(), e))?;
            applied.memcached_flushed = true;
        }
    Ok(applied)
}

/// With nothing to change, still records the declared objects as owned (adopted). Returns how many.
pub async fn adopt(desired: &Desired, live: &LiveData, db: &Db) -> Result<usize, ApplyError> {
    let mut stmts = inventory(&Plan::default(), desired, live);
    let adopted = stmts.len();
    stmts.extend(desired.bookkeeping.iter().cloned());
    db.execute_all(&stmts).await?;
    Ok(adopted)
}

/// Records what mailplane now owns: everything declared (created or adopted), minus what it deleted.
fn inventory(plan: &Plan, desired: &Desired, live: &LiveData) -> Vec<Stmt> {
    use crate::target::db::Arg;
    let owned = live.owned();
    let row = |k: Kind, key: &str| vec![Arg::Text(k.name().into()), Arg::Text(key.into())];
    let mut stmts: Vec<Stmt> = desired
        .records
        .iter()
        .filter(|r| !owned.contains(&(r.kind, r.key.clone())))
        .map(|r| Stmt { sql: "INSERT INTO mailplane_inventory (kind, obj_key) VALUES (?, ?)".into(), args: row(r.kind, &r.key) })
        .collect();
    stmts.extend(
        plan.changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| Stmt { sql: "DELETE FROM mailplane_inventory WHERE kind = ? AND obj_key = ?".into(), args: row(c.kind, &c.key) }),
    );
    stmts
}

/// SOGo reads users from `_sogo_static_view` and caches in memcached: rebuilt the way mailcow
/// does (active mailboxes only; the constant c_password that blocks direct SOGo logins).
fn sogo_rebuild(dialect: Dialect) -> Vec<Stmt> {
    const C_PASSWORD: &str = "{SSHA256}47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let select = match dialect {
        Dialect::MySql => "SELECT m.username, m.domain, m.username, ?, m.name, m.username, \
             IFNULL(GROUP_CONCAT(ga.aliases ORDER BY ga.aliases SEPARATOR ' '), ''), IFNULL(gda.ad_alias, ''), IFNULL(ext.send_as_acl, ''), m.kind, m.multiple_bookings \
             FROM mailbox m LEFT JOIN grouped_mail_aliases ga ON ga.username REGEXP CONCAT('(^|,)', m.username, '($|,)') \
             LEFT JOIN grouped_domain_alias_address gda ON gda.username = m.username \
             LEFT JOIN grouped_sender_acl_external ext ON ext.username = m.username \
             WHERE m.active = '1' GROUP BY m.username",
        Dialect::Sqlite => "SELECT m.username, m.domain, m.username, ?, m.name, m.username, \
             IFNULL((SELECT group_concat(a.address, ' ' ORDER BY a.address) FROM alias a WHERE a.address <> a.goto AND a.active = 1 AND a.sogo_visible = 1 \
                     AND a.address NOT LIKE '@%' AND (',' || a.goto || ',') LIKE ('%,' || m.username || ',%')), ''), \
             IFNULL((SELECT group_concat(m.local_part || '@' || ad.alias_domain, ' ') FROM alias_domain ad WHERE ad.target_domain = m.domain), ''), \
             IFNULL((SELECT group_concat(s.send_as, ' ') FROM sender_acl s WHERE s.logged_in_as = m.username AND s.send_as NOT LIKE '@%' AND s.external = 1), ''), \
             m.kind, m.multiple_bookings FROM mailbox m WHERE m.active = 1",
    };
    vec![
        Stmt { sql: "DELETE FROM _sogo_static_view".into(), args: vec![] },
        Stmt {
            sql: format!(
                "INSERT INTO _sogo_static_view (c_uid, domain, c_name, c_password, c_cn, mail, aliases, ad_aliases, ext_acl, kind, multiple_bookings) {select}"
            ),
            args: vec![crate::target::db::Arg::Text(C_PASSWORD.into())],
        },
    ]
}

/// memcached's text protocol: `flush_all` → `OK`.
pub fn flush_memcached(addr: &str) -> Result<(), String> {
    let addr = addr.trim_start_matches("tcp://");
    let sock = addr.parse().map_err(|_| format!("`{addr}` is not host:port"))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    s.write_all(b"flush_all\r\n").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).map_err(|e| e.to_string())?;
    let reply = String::from_utf8_lossy(&buf[..n]);
    if reply.starts_with("OK") { Ok(()) } else { Err(format!("unexpected reply {:?}", reply.trim())) }
}
