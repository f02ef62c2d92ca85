//! One apply per target at a time (MariaDB GET_LOCK, SQLite lock file), the apply journal and
//! `mailplane history`.

mod support;

use std::path::Path;
use std::process::{Command as Proc, Stdio};

use assert_cmd::Command;

fn mailplane(state: &Path) -> Command {
    let mut c = Command::cargo_bin("mailplane").unwrap();
    c.env("NO_COLOR", "1").env("MAILPLANE_STATE_DIR", state).env_remove("MAILPLANE_DATABASE_URL").env_remove("CI").env_remove("GITHUB_ACTOR");
    c
}

fn git_copy_of_quickstart(dir: &Path) {
    let ok = |args: &[&str]| assert!(Proc::new("git").arg("-C").arg(dir).args(args).output().unwrap().status.success(), "git {args:?}");
    Proc::new("cp").arg("-r").arg("examples/quickstart/.").arg(dir).status().unwrap();
    ok(&["init", "-q"]);
    ok(&["add", "."]);
    ok(&["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "mail config"]);
}

#[test]
fn every_apply_is_journaled_and_history_shows_it() {
    let state = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    git_copy_of_quickstart(repo.path());
    let head = String::from_utf8(Proc::new("git").arg("-C").arg(repo.path()).args(["rev-parse", "HEAD"]).output().unwrap().stdout).unwrap();
    let url = format!("sqlite://{}/mp.db", state.path().display());
    for _ in 0..2 {
        mailplane(state.path()).arg("apply").arg(repo.path()).args(["--target", &url, "--auto-approve"]).env("GITHUB_ACTOR", "octocat").assert().success();
    }
    let out = mailplane(state.path()).args(["history", "--target", &url, "--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = h.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let (newest, first) = (&rows[0], &rows[1]);
    assert_eq!(first["result"], "applied");
    assert_eq!(first["summary"]["create"], 18);
    assert!(first["summary"]["changes"].as_array().unwrap().iter().any(|c| c == "create mailbox alice@example.org"));
    assert_eq!(first["git_commit"], head.trim());
    assert_eq!(first["ci"], "GITHUB_ACTOR=octocat");
    assert!(first["who"].as_str().unwrap().contains(" pid "));
    assert_eq!(newest["result"], "no changes");
    let text = serde_json::to_string(&h).unwrap();
    assert!(!text.contains("relay:pass") && !text.contains("$2y$"), "no values, let alone secrets, in the journal");
    let human = mailplane(state.path()).args(["history", "--target", &url]).output().unwrap();
    assert!(String::from_utf8_lossy(&human.stdout).contains("+18 ~0 -0  applied"), "{}", String::from_utf8_lossy(&human.stdout));
}

#[test]
fn a_held_sqlite_lock_makes_apply_wait_then_fail_naming_the_holder() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mp.db");
    let url = format!("sqlite://{}", db.display());
    let lock = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(format!("{}.lock", db.display())).unwrap();
    lock.lock().unwrap();
    std::fs::write(format!("{}.lock", db.display()), "ci-runner@host pid 4242 since 2026-11-24 10:00:00").unwrap();
    let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url, "--auto-approve", "--lock-timeout", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another apply holds the lock") && err.contains("ci-runner@host pid 4242"), "{err}");
    drop(lock);
    mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url, "--auto-approve"]).assert().success();
}

#[test]
fn concurrent_applies_on_mariadb_never_both_write() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, name) = rt.block_on(services.fresh_mailcow_db("lock"));
    let redis = services.redis_db(6);
    services.flush_redis_db(6);
    let state = tempfile::tempdir().unwrap();
    // A lock held by someone else: apply waits --lock-timeout, then names the holder.
    let holder = rt.block_on(async {
        use sqlx::Executor;
        mailplane::target::db::Db::connect(&url, None).await.unwrap().close().await; // creates mailplane_* tables
        let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        conn.execute("SELECT GET_LOCK('mailplane_apply', 0)").await.unwrap();
        conn.execute("INSERT INTO mailplane_meta (k, v) VALUES ('apply_lock_holder', 'deploy@ops pid 7 since noon')").await.unwrap();
        conn
    });
    let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url, "--redis", &redis, "--auto-approve", "--lock-timeout", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deploy@ops pid 7"), "{}", String::from_utf8_lossy(&out.stderr));
    rt.block_on(async {
        use sqlx::Executor;
        let mut holder = holder;
        holder.execute("DELETE FROM mailplane_meta WHERE k = 'apply_lock_holder'").await.unwrap();
        holder.execute("SELECT RELEASE_LOCK('mailplane_apply')").await.unwrap();
    });

    // Two applies at once, the transaction slowed down: the second waits, then has nothing to do.
    let spawn = || {
        Proc::new(env!("CARGO_BIN_EXE_mailplane"))
            .args(["apply", "examples/quickstart", "--auto-approve", "--target", &url, "--redis", &redis])
            .env("MAILPLANE_FAILPOINT_STATEMENT_DELAY_MS", "10")
            .env("MAILPLANE_STATE_DIR", state.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    assert!(outs.iter().all(|o| o.status.success()));
    let wrote = outs.iter().filter(|o| String::from_utf8_lossy(&o.stdout).contains("Apply complete: 18 created")).count();
    assert_eq!(wrote, 1, "exactly one apply writes");
    let results = rt.block_on(async {
        let db = mailplane::target::db::Db::connect(&url, None).await.unwrap();
        let r = db.query("SELECT result FROM mailplane_journal ORDER BY id", &[]).await.unwrap();
        db.close().await;
        r.into_iter().map(|r| r[0].clone().unwrap()).collect::<Vec<_>>()
    });
    assert_eq!(results.iter().filter(|r| *r == "applied").count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| *r == "no changes").count(), 1, "{results:?}");
    rt.block_on(services.drop_db(&name));
}
