//! The apply journal (`mailplane_journal`): every apply, successful or not, with who ran it,
//! from which commit of the desired-state repository, what it changed (kinds and keys, never
//! values) and how it ended. `mailplane history` reads it. An apply that writes writes its row
//! in its own transaction, and its final outcome once it is over.

use std::path::Path;

use serde::Serialize;

use crate::db::{Arg, Db, DbError, Stmt};

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Entry {
    pub id: String,
    pub started: String,
    pub finished: String,
    pub who: String,
    /// CI variables that identify the pipeline, `NAME=value` separated by spaces.
    pub ci: String,
    /// The desired-state repository's commit, `+dirty` when it has uncommitted changes.
    pub git_commit: String,
    pub summary: serde_json::Value,
    pub result: String,
    pub duration_ms: i64,
}

const CI_VARS: [&str; 8] = ["CI", "GITHUB_ACTOR", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITLAB_USER_LOGIN", "CI_PROJECT_PATH", "CI_PIPELINE_ID", "CI_JOB_ID"];

pub fn ci() -> String {
    CI_VARS.iter().filter_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()).map(|v| format!("{k}={v}"))).collect::<Vec<_>>().join(" ")
}

pub fn git_commit(dir: &Path) -> String {
    let git = |args: &[&str]| std::process::Command::new("git").arg("-C").arg(dir).args(args).output().ok().filter(|o| o.status.success());
    match git(&["rev-parse", "HEAD"]) {
        Some(out) => {
            let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let dirty = git(&["status", "--porcelain", "--", "."]).is_some_and(|o| !o.stdout.is_empty());
            if dirty { format!("{id}+dirty") } else { id }
        }
        None => String::new(),
    }
}

/// The result of an apply that wrote everything.
pub const APPLIED: &str = "applied";
/// The result an apply's row has from its commit until its post-commit work is done
/// (`mailplane_outbox`): if it stays, the apply was interrupted and the next run finishes it.
pub const PENDING: &str = "applied; post-commit work (Redis, memcached) pending";

/// The row of `e`, as a statement: an apply runs it inside its own transaction, so that what it
/// committed is never without its row.
pub fn insert(e: &Entry) -> Stmt {
    let t = |s: &str| Arg::Text(s.to_string());
    Stmt {
        sql: "INSERT INTO mailplane_journal (id, started, finished, who, ci, git_commit, summary, result, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            .into(),
        args: vec![
            t(&e.id),
            t(&e.started),
            t(&e.finished),
            t(&e.who),
            t(&e.ci),
            t(&e.git_commit),
            t(&e.summary.to_string()),
            t(&e.result),
            Arg::Int(e.duration_ms),
        ],
    }
}

pub fn set_result(id: &str, result: &str) -> Stmt {
    Stmt { sql: "UPDATE mailplane_journal SET result = ? WHERE id = ?".into(), args: vec![Arg::Text(result.into()), Arg::Text(id.into())] }
}

/// Writes `e`'s row, replacing the one its apply wrote in its transaction, if any.
pub async fn write(db: &Db, e: &Entry) -> Result<(), DbError> {
    let replaced = Stmt { sql: "DELETE FROM mailplane_journal WHERE id = ?".into(), args: vec![Arg::Text(e.id.clone())] };
    db.execute_all(&[replaced, insert(e)]).await
}

pub async fn read(db: &Db, limit: usize) -> Result<Vec<Entry>, DbError> {
    let rows = db
        .query(
            &format!("SELECT id, started, finished, who, ci, git_commit, summary, result, duration_ms FROM mailplane_journal ORDER BY id DESC LIMIT {limit}"),
            &[],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let s = |i: usize| r[i].clone().unwrap_or_default();
            Entry {
                id: s(0),
                started: s(1),
                finished: s(2),
                who: s(3),
                ci: s(4),
                git_commit: s(5),
                summary: serde_json::from_str(&s(6)).unwrap_or_default(),
                result: s(7),
                duration_ms: s(8).parse().unwrap_or(0),
            }
        })
        .collect())
}

/// A time-ordered unique id: nanoseconds since the epoch plus random bits.
pub fn new_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let r: u32 = rand::random();
    format!("{nanos:020}-{r:08x}")
}
