//! The work an apply has left after its commit — Redis writes on a mailcow target (MariaDB +
//! Redis are two systems, one transaction cannot span both) and the memcached flush — kept as
//! rows of `mailplane_outbox` written inside the apply's own transaction. After the commit the
//! apply does the work and deletes the rows; an apply killed in between leaves them, and the
//! next run (plan, apply, every watch cycle) does the work before it reads the live state, so
//! what the interrupted apply committed is completed, never seen as drift to be re-planned.
//!
//! The rows can hold new DKIM private keys: secrets at rest in the database, as they are in
//! Redis (mailcow keeps them there in clear). Nothing here ever prints a row's contents.

use serde::{Deserialize, Serialize};

use crate::store::db::{Arg, Db, DbError, Stmt};
use crate::store::journal::{self, Entry};
use crate::store::kv::{Kv, KvError};

/// A Redis operation as `Kv::apply` takes it: HSET with `Some(value)`, HDEL with `None`.
pub type Op<'a> = (&'a str, &'a str, Option<&'a str>);

/// One row's worth of work.
#[derive(Serialize, Deserialize)]
struct Work<R> {
    redis: Vec<R>,
    flush_memcached: bool,
}

/// JSON per row, about: well under MariaDB's max_allowed_packet (16 MB by default), and a full
/// apply at 100,000 mailboxes (300,000 writes) is still only ~30 rows.
const ROW_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("updating Redis failed: {0}")]
    Kv(#[from] KvError),
    #[error("row {seq} of apply {apply} in mailplane_outbox cannot be read: {message}")]
    Corrupt { apply: String, seq: String, message: String },
}

/// The INSERTs that record the work of the apply `apply_id`, made a row at a time while the
/// transaction runs. None when there is nothing to do after the commit.
pub fn rows<'a>(apply_id: &'a str, redis: &'a [Op<'a>], flush_memcached: bool) -> impl Iterator<Item = Vec<Stmt>> + 'a {
    let mut rest = redis;
    let mut seq = 0;
    let mut flush = flush_memcached;
    std::iter::from_fn(move || {
        if rest.is_empty() && !flush {
            return None;
        }
        let mut bytes = 0;
        let over = rest.iter().position(|(k, f, v)| {
            bytes += k.len() + f.len() + v.map_or(0, str::len) + 12;
            bytes > ROW_BYTES
        });
        let (part, tail) = rest.split_at(over.map_or(rest.len(), |i| i.max(1)));
        rest = tail;
        // The flush goes with the last row: it follows the Redis writes.
        let work = Work { redis: part.to_vec(), flush_memcached: flush && rest.is_empty() };
        flush &= !rest.is_empty();
        seq += 1;
        let json = serde_json::to_string(&work).expect("JSON of strings");
        Some(vec![Stmt {
            sql: "INSERT INTO mailplane_outbox (apply_id, seq, work) VALUES (?, ?, ?)".into(),
            args: vec![Arg::Text(apply_id.into()), Arg::Int(seq), Arg::Text(json)],
        }])
    })
}

/// What the work did, for messages.
#[derive(Debug, Default, PartialEq)]
pub struct Done {
    pub redis_ops: usize,
    pub memcached_flushed: bool,
}

/// Does the work: the Redis writes (one atomic pipeline), then the flush. A failed flush is
/// returned beside what was done: SOGo's cache expires by itself, so it is not kept pending.
async fn perform(kv: &Kv, memcached: Option<&str>, redis: &[Op<'_>], flush: bool) -> Result<(Done, Option<String>), KvError> {
    if !redis.is_empty() {
        kv.apply(redis).await?;
        crate::failpoint::failpoint("redis written");
    }
    let mut done = Done { redis_ops: redis.len(), memcached_flushed: false };
    let mut failed = None;
    if flush && let Some(addr) = memcached {
        match crate::apply::flush_memcached(addr) {
            Ok(()) => done.memcached_flushed = true,
            Err(e) => failed = Some(format!("flushing memcached at {addr} failed: {e}; SOGo may show stale data until it expires")),
        }
    }
    Ok((done, failed))
}

/// After the apply `apply_id` committed: does its work and clears its rows. `Err` leaves the rows
/// for the next run; `Ok` may still carry a failed flush.
pub async fn finish(db: &Db, kv: &Kv, memcached: Option<&str>, apply_id: &str, redis: &[Op<'_>], flush: bool) -> Result<(Done, Option<String>), OutboxError> {
    let done = perform(kv, memcached, redis, flush).await?;
    db.execute_all(&[clear(apply_id), journal::set_result(apply_id, journal::APPLIED)]).await?;
    crate::failpoint::failpoint("post-commit work done");
    Ok(done)
}

fn clear(apply_id: &str) -> Stmt {
    Stmt { sql: "DELETE FROM mailplane_outbox WHERE apply_id = ?".into(), args: vec![Arg::Text(apply_id.into())] }
}

/// Whether an apply left work behind (cheap: for runs that do not hold the apply lock).
pub async fn pending(db: &Db) -> Result<bool, DbError> {
    Ok(!db.query("SELECT apply_id FROM mailplane_outbox LIMIT 1", &[]).await?.is_empty())
}

/// Finishes the work that interrupted applies left, oldest first, each journaled as a run of its
/// own; the apply's own journal row then says by whom. Must run under the apply lock. Returns
/// one line per apply finished, for the user.
pub async fn replay(db: &Db, kv: &Kv, memcached: Option<&str>) -> Result<Vec<String>, OutboxError> {
    let rows = db.query("SELECT apply_id, seq, work FROM mailplane_outbox ORDER BY apply_id, seq", &[]).await?;
    let mut notes = Vec::new();
    for apply in rows.chunk_by(|a, b| a[0] == b[0]) {
        let started = crate::store::db::now_utc();
        let clock = std::time::Instant::now();
        let id = apply[0][0].clone().unwrap_or_default();
        let mut redis: Vec<(String, String, Option<String>)> = Vec::new();
        let mut flush = false;
        for row in apply {
            let corrupt = |message: String| OutboxError::Corrupt { apply: id.clone(), seq: row[1].clone().unwrap_or_default(), message };
            let work: Work<(String, String, Option<String>)> =
                serde_json::from_str(row[2].as_deref().unwrap_or_default()).map_err(|e| corrupt(e.to_string()))?;
            redis.extend(work.redis);
            flush |= work.flush_memcached;
        }
        let ops: Vec<Op> = redis.iter().map(|(k, f, v)| (k.as_str(), f.as_str(), v.as_deref())).collect();
        let (done, flush_failed) = perform(kv, memcached, &ops, flush).await?;
        let what = format!(
            "{} Redis update(s){}",
            done.redis_ops,
            match (flush, done.memcached_flushed) {
                (false, _) => "",
                (true, true) => ", memcached flushed",
                (true, false) => ", memcached not flushed (none configured, or it failed)",
            }
        );
        let entry = Entry {
            id: journal::new_id(),
            started,
            finished: crate::store::db::now_utc(),
            who: crate::store::lock::who(),
            ci: journal::ci(),
            git_commit: String::new(),
            summary: serde_json::json!({"create": 0, "update": 0, "delete": 0, "changes": [], "not_listed": 0, "replayed": id}),
            result: format!("replayed: the post-commit work of apply {id}, interrupted after its commit ({what})"),
            duration_ms: clock.elapsed().as_millis() as i64,
        };
        let finished_by = journal::set_result(&id, &format!("{}; post-commit work finished by {}", journal::APPLIED, entry.id));
        db.execute_all(&[clear(&id), journal::insert(&entry), finished_by]).await?;
        notes.push(format!("finished the post-commit work ({what}) of apply {id}, which was interrupted after its commit"));
        notes.extend(flush_failed);
    }
    Ok(notes)
}

/// For a run about to read the live state: finishes what an interrupted apply left. `locked`:
/// the run holds the apply lock already; otherwise it is taken for the replay only, and only
/// when there is something to replay.
pub async fn finish_pending(db: &Db, kv: &Kv, memcached: Option<&str>, locked: bool, lock_timeout: std::time::Duration) -> Result<Vec<String>, String> {
    let explain = |e: &dyn std::fmt::Display| {
        format!("an earlier apply committed but its post-commit work (Redis, memcached) is still pending in mailplane_outbox, and finishing it failed: {e}")
    };
    if locked {
        return replay(db, kv, memcached).await.map_err(|e| explain(&e));
    }
    if !pending(db).await.map_err(|e| e.to_string())? {
        return Ok(Vec::new());
    }
    let lock = crate::store::lock::acquire(db, lock_timeout).await.map_err(|e| explain(&e))?;
    let replayed = replay(db, kv, memcached).await.map_err(|e| explain(&e));
    lock.release().await;
    replayed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(a: &Arg) -> &str {
        match a {
            Arg::Text(t) => t,
            other => panic!("not text: {other:?}"),
        }
    }

    #[test]
    fn rows_hold_about_a_megabyte_each_and_the_flush_goes_last() {
        assert_eq!(rows("a", &[], false).count(), 0);
        let only_flush: Vec<Vec<Stmt>> = rows("a", &[], true).collect();
        assert_eq!(only_flush.len(), 1);
        assert_eq!(text(&only_flush[0][0].args[2]), r#"{"redis":[],"flush_memcached":true}"#);
        let big = "k".repeat(2_000);
        let ops: Vec<Op> = (0..1_500).map(|i| ("DKIM_PRIV_KEYS", if i % 2 == 0 { "a.org" } else { "b.org" }, (i % 3 != 0).then_some(big.as_str()))).collect();
        let made: Vec<Vec<Stmt>> = rows("id", &ops, true).collect();
        assert_eq!(made.len(), 2, "1,000 values of 2 KB make two rows");
        let mut back = Vec::new();
        for (i, row) in made.iter().enumerate() {
            assert_eq!(row[0].args[..2], [Arg::Text("id".into()), Arg::Int(i as i64 + 1)]);
            assert!(text(&row[0].args[2]).len() < 2 * ROW_BYTES);
            let work: Work<(String, String, Option<String>)> = serde_json::from_str(text(&row[0].args[2])).unwrap();
            assert_eq!(work.flush_memcached, i == made.len() - 1);
            back.extend(work.redis);
        }
        let back: Vec<Op> = back.iter().map(|(k, f, v)| (k.as_str(), f.as_str(), v.as_deref())).collect();
        assert_eq!(back, ops);
    }

    #[tokio::test]
    async fn replay_finishes_the_work_journals_it_and_clears_the_rows() {
        let db = Db::connect("sqlite::memory:", None).await.unwrap();
        let kv = Kv::table(db.clone());
        assert!(replay(&db, &kv, None).await.unwrap().is_empty());
        let apply = Entry {
            id: "0001-apply".into(),
            started: "s".into(),
            finished: "f".into(),
            who: "w".into(),
            ci: String::new(),
            git_commit: String::new(),
            summary: serde_json::json!({}),
            result: journal::PENDING.into(),
            duration_ms: 1,
        };
        let ops: Vec<Op> = vec![("DOMAIN_MAP", "a.org", Some("1")), ("RL_VALUE", "gone.org", None)];
        let mut stmts: Vec<Stmt> = vec![Stmt { sql: "INSERT INTO mailplane_kv (k, f, v) VALUES ('RL_VALUE', 'gone.org', '5 / 1h')".into(), args: vec![] }];
        stmts.extend(rows(&apply.id, &ops, true).flatten());
        stmts.push(journal::insert(&apply));
        db.execute_all(&stmts).await.unwrap();
        assert!(pending(&db).await.unwrap());
        let notes = replay(&db, &kv, None).await.unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("2 Redis update(s), memcached not flushed") && notes[0].contains("0001-apply"), "{notes:?}");
        assert!(!pending(&db).await.unwrap());
        assert_eq!(kv.hgetall("DOMAIN_MAP").await.unwrap().get("a.org").map(String::as_str), Some("1"));
        assert!(kv.hgetall("RL_VALUE").await.unwrap().is_empty());
        let entries = journal::read(&db, 10).await.unwrap();
        assert_eq!(entries.len(), 2);
        let (replayed, original) = (&entries[0], &entries[1]);
        assert_eq!(original.id, "0001-apply");
        assert_eq!(original.result, format!("applied; post-commit work finished by {}", replayed.id));
        assert!(replayed.result.starts_with("replayed: the post-commit work of apply 0001-apply"), "{}", replayed.result);
        assert_eq!(replayed.summary["replayed"], "0001-apply");
        assert!(replay(&db, &kv, None).await.unwrap().is_empty(), "replayed once");
        db.close().await;
    }
}
