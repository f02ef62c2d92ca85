//! One apply per target at a time. MariaDB: `GET_LOCK` on a connection held for the whole apply
//! (the server frees it if the process dies); SQLite: an exclusive lock on `<db>.lock` (the OS
//! frees it if the process dies). The lock is taken before the live state is read, so the plan
//! that is applied was made under it. Who holds it is recorded so a waiting apply can say.

use std::io::Write;
use std::time::{Duration, Instant};

use sqlx::Executor;

use crate::target::db::Db;

const LOCK_NAME: &str = "mailplane_apply";

pub enum LockGuard {
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    File(std::fs::File),
    /// An in-memory SQLite database is private to this process.
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another apply holds the lock on {target} ({holder}); waited {waited}s — try again later or raise --lock-timeout")]
    Busy { target: String, holder: String, waited: u64 },
    #[error("cannot take the apply lock on {0}: {1}")]
    Failed(String, String),
}

/// Who is applying: user, host and process, for the lock holder message and the journal.
pub fn who() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "unknown-host".into());
    format!("{user}@{host} pid {}", std::process::id())
}

pub async fn acquire(db: &Db, timeout: Duration) -> Result<LockGuard, LockError> {
    let fail = |e: &dyn std::fmt::Display| LockError::Failed(db.label().to_string(), e.to_string());
    if let Some(pool) = db.mysql_pool() {
        let mut conn = pool.acquire().await.map_err(|e| fail(&e))?;
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(LOCK_NAME)
            .bind(timeout.as_secs() as i64)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| fail(&e))?;
        if got != Some(1) {
            let holder: Option<String> = sqlx::query_scalar("SELECT v FROM mailplane_meta WHERE k = 'apply_lock_holder'")
                .fetch_optional(&mut *conn)
                .await
                .ok()
                .flatten();
            return Err(LockError::Busy { target: db.label().into(), holder: holder.unwrap_or_else(|| "unknown holder".into()), waited: timeout.as_secs() });
        }
        let who = format!("{} since {}", who(), crate::target::db::now_utc());
        conn.execute(sqlx::query("DELETE FROM mailplane_meta WHERE k = 'apply_lock_holder'")).await.map_err(|e| fail(&e))?;
        conn.execute(sqlx::query("INSERT INTO mailplane_meta (k, v) VALUES ('apply_lock_holder', ?)").bind(who)).await.map_err(|e| fail(&e))?;
        return Ok(LockGuard::MySql(conn));
    }
    let Some(path) = db.label().strip_prefix("sqlite://").filter(|p| !p.is_empty()) else { return Ok(LockGuard::None) };
    let lock_path = format!("{path}.lock");
    let mut file = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&lock_path).map_err(|e| fail(&e))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
                let holder = if holder.trim().is_empty() { "unknown holder".to_string() } else { holder.trim().to_string() };
                return Err(LockError::Busy { target: db.label().into(), holder, waited: timeout.as_secs() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(fail(&e)),
        }
    }
    file.set_len(0).map_err(|e| fail(&e))?;
    write!(file, "{} since {}", who(), crate::target::db::now_utc()).map_err(|e| fail(&e))?;
    Ok(LockGuard::File(file))
}

impl LockGuard {
    pub async fn release(self) {
        match self {
            LockGuard::MySql(mut conn) => {
                let _ = conn.execute(sqlx::query("DELETE FROM mailplane_meta WHERE k = 'apply_lock_holder'")).await;
                let _ = conn.execute(sqlx::query("SELECT RELEASE_LOCK(?)").bind(LOCK_NAME)).await;
            }
            LockGuard::File(file) => {
                let _ = file.set_len(0);
                let _ = file.unlock();
            }
            LockGuard::None => {}
        }
    }
}
