//! One apply per target at a time. The lock is taken before the live state is read, so the plan
//! that is applied was made under it, and it is freed even if the holder dies:
//! - MariaDB: `GET_LOCK` on a connection of its own, held for the whole apply; the server frees
//!   it when that connection closes. Who holds it is in `mailplane_lock`, keyed by connection id,
//!   so a row left behind by a killed apply is never mistaken for the current holder.
//! - SQLite: an exclusive `flock` on `<database>.lock`, which the OS frees when the process ends.
//!   SQLite's own write lock only lasts one transaction, and observe → plan → write spans several;
//!   a lock row inside the database could not tell a live holder from a dead one. The file says
//!   who holds it. It is never deleted: deleting a lock file races with the next one to open it.

use std::io::Write;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

use crate::db::{Db, now_utc};

pub enum LockGuard {
    /// Detached from the pool: dropping it closes the connection, which frees the lock.
    MySql(sqlx::MySqlConnection, String),
    File(std::fs::File),
    /// An in-memory SQLite database is private to this process.
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another apply holds the lock on {target} ({holder}); waited {waited}s. Run again when it has finished, or raise --lock-timeout (a holder that dies frees the lock at once)"
    )]
    Busy { target: String, holder: String, waited: u64 },
    #[error("cannot take the apply lock on {0}: {1}")]
    Failed(String, String),
}

/// Who is applying — `user@host pid N` — for the lock holder message and the journal.
pub fn who() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| os_user());
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host} pid {}", std::process::id())
}

/// Containers and CI runners often have no $USER: the name of our uid in /etc/passwd.
fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return "unknown".into() };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 2 && f[2] == uid.to_string()).map(|f| f[0].to_string());
    name.unwrap_or_else(|| format!("uid {uid}"))
}

/// Waits up to `timeout` for the target's apply lock.
pub async fn acquire(db: &Db, timeout: Duration) -> Result<LockGuard, LockError> {
    let fail = |e: &dyn std::fmt::Display| LockError::Failed(db.label().to_string(), e.to_string());
    if let Some(pool) = db.mysql_pool() {
        let conn = pool.acquire().await.map_err(|e| fail(&e))?.detach();
        return acquire_mysql(conn, db.label(), timeout).await;
    }
    let file = db.query("PRAGMA database_list", &[]).await.map_err(|e| fail(&e))?;
    let file = file.iter().find(|r| r[1].as_deref() == Some("main")).and_then(|r| r[2].clone()).unwrap_or_default();
    if file.is_empty() {
        return Ok(LockGuard::None);
    }
    acquire_file(&lock_file(std::path::Path::new(&file)), db.label(), timeout).await
}

/// `<database>.lock`, next to the database file. Also the evidence that mailplane applied to a
/// file that has since disappeared (the journal went with it).
pub fn lock_file(db_file: &std::path::Path) -> std::path::PathBuf {
    let mut name = db_file.as_os_str().to_owned();
    name.push(".lock");
    name.into()
}

/// GET_LOCK names are server-wide: one per database, so that two mailcow databases on one server
/// (or parallel tests) do not wait for each other. MySQL allows 64 characters.
pub fn mysql_lock_name(database: &str) -> String {
    let name = format!("mailplane_apply.{database}");
    if name.len() <= 64 {
        return name;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(database.as_bytes());
    format!("mailplane_apply.{}", digest.iter().take(20).map(|b| format!("{b:02x}")).collect::<String>())
}

async fn acquire_mysql(mut conn: sqlx::MySqlConnection, target: &str, timeout: Duration) -> Result<LockGuard, LockError> {
    let fail = |e: sqlx::Error| LockError::Failed(target.to_string(), e.to_string());
    let database: Option<String> = sqlx::query_scalar("SELECT DATABASE()").fetch_one(&mut conn).await.map_err(fail)?;
    let name = mysql_lock_name(&database.unwrap_or_default());
    let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)").bind(&name).bind(timeout.as_secs() as i64).fetch_one(&mut conn).await.map_err(fail)?;
    if got == Some(1) {
        // Any row here is left from a holder that died; the lock is ours now.
        conn.execute("DELETE FROM mailplane_lock").await.map_err(fail)?;
        conn.execute(sqlx::query("INSERT INTO mailplane_lock (connection_id, holder, since) VALUES (CONNECTION_ID(), ?, ?)").bind(who()).bind(now_utc()))
            .await
            .map_err(fail)?;
        return Ok(LockGuard::MySql(conn, name));
    }
    let holder_conn: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)").bind(&name).fetch_one(&mut conn).await.map_err(fail)?;
    let holder = match holder_conn {
        None => "it was released just now".to_string(),
        Some(id) => {
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT holder, since FROM mailplane_lock WHERE connection_id = ?").bind(id).fetch_optional(&mut conn).await.map_err(fail)?;
            match row {
                Some((who, since)) => format!("{who} since {since} UTC, MariaDB connection {id}"),
                None => format!("MariaDB connection {id}, which did not record who it is"),
            }
        }
    };
    let _ = conn.close().await;
    Err(LockError::Busy { target: target.into(), holder, waited: timeout.as_secs() })
}

async fn acquire_file(path: &std::path::Path, target: &str, timeout: Duration) -> Result<LockGuard, LockError> {
    let fail = |e: &dyn std::fmt::Display| LockError::Failed(target.to_string(), format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path).map_err(|e| fail(&e))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(path).unwrap_or_default().trim().to_string();
                let holder = if holder.is_empty() { format!("a process that did not record itself in {}", path.display()) } else { holder };
                return Err(LockError::Busy { target: target.into(), holder, waited: timeout.as_secs() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(fail(&e)),
        }
    }
    file.set_len(0).map_err(|e| fail(&e))?;
    write!(file, "{} since {} UTC", who(), now_utc()).map_err(|e| fail(&e))?;
    Ok(LockGuard::File(file))
}

impl LockGuard {
    /// Frees the lock. Dropping the guard frees it too (by closing the connection or the file).
    pub async fn release(self) {
        match self {
            LockGuard::MySql(mut conn, name) => {
                let _ = conn.execute("DELETE FROM mailplane_lock WHERE connection_id = CONNECTION_ID()").await;
                let _ = conn.execute(sqlx::query("DO RELEASE_LOCK(?)").bind(name)).await;
                let _ = conn.close().await;
            }
            LockGuard::File(file) => {
                let _ = file.set_len(0);
                let _ = file.unlock();
            }
            LockGuard::None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_are_per_database_and_fit_mysql() {
        assert_eq!(mysql_lock_name("mailcow"), "mailplane_apply.mailcow");
        let long = "d".repeat(64);
        let name = mysql_lock_name(&long);
        assert_eq!(name.len(), 56);
        assert_ne!(name, mysql_lock_name(&"e".repeat(64)));
    }

    #[tokio::test]
    async fn a_second_sqlite_apply_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        // Without `//` too: the lock must not depend on how the URL is spelled.
        let db = Db::connect(&format!("sqlite:{}/m.db", dir.path().display()), None).await.unwrap();
        let first = acquire(&db, Duration::ZERO).await.unwrap();
        assert!(matches!(first, LockGuard::File(_)));
        let started = Instant::now();
        let err = acquire(&db, Duration::from_millis(300)).await.err().expect("the lock is taken");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let msg = err.to_string();
        assert!(msg.contains(&format!("pid {} since ", std::process::id())) && msg.contains("--lock-timeout"), "{msg}");
        first.release().await;
        let again = acquire(&db, Duration::ZERO).await.unwrap();
        drop(again); // dropping frees it as well
        acquire(&db, Duration::ZERO).await.unwrap().release().await;
        assert!(dir.path().join("m.db.lock").exists());
        db.close().await;
    }

    #[tokio::test]
    async fn in_memory_databases_need_no_lock() {
        let db = Db::connect("sqlite::memory:", None).await.unwrap();
        assert!(matches!(acquire(&db, Duration::ZERO).await.unwrap(), LockGuard::None));
        db.close().await;
    }
}
