//! One apply per target at a time (MariaDB GET_LOCK, SQLite lock file), the apply journal and
//! `mailplane history`, on the embedded SQLite and on the real MariaDB.

use crate::support;

use std::path::Path;
use std::process::{Command as Proc, Output, Stdio};

use assert_cmd::Command;

fn mailplane(state: &Path) -> Command {
    let mut c = Command::cargo_bin("mailplane").unwrap();
    c.env("NO_COLOR", "1").env("MAILPLANE_STATE_DIR", state).env_remove("MAILPLANE_DATABASE_URL");
    for ci in ["CI", "GITHUB_ACTOR", "GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITLAB_USER_LOGIN", "CI_PIPELINE_ID", "CI_PROJECT_PATH", "CI_JOB_ID"] {
        c.env_remove(ci);
    }
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn git_copy_of_quickstart(dir: &Path) -> String {
    let git = |args: &[&str]| {
        let out = Proc::new("git").arg("-C").arg(dir).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert!(Proc::new("cp").arg("-r").arg("examples/quickstart/.").arg(dir).status().unwrap().success());
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "mail config"]);
    git(&["rev-parse", "HEAD"])
}

/// Starts `n` applies of examples/quickstart at once, each statement slowed down so that they
/// overlap; returns their outputs.
fn concurrent_applies(n: usize, state: &Path, target: &[&str]) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            Proc::new(env!("CARGO_BIN_EXE_mailplane"))
                .args(["apply", "examples/quickstart", "--auto-approve"])
                .args(target)
                .env("MAILPLANE_FAILPOINT_DELAY_MS", "10")
                .env("MAILPLANE_STATE_DIR", state)
                .env("NO_COLOR", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

/// Both succeed, exactly one writes, and the other, having waited, finds nothing to do.
fn assert_one_wrote(outs: &[Output]) {
    for o in outs {
        assert!(o.status.success(), "{}", stderr(o));
    }
    let wrote = outs.iter().filter(|o| String::from_utf8_lossy(&o.stdout).contains("Apply complete: 18 created")).count();
    assert_eq!(wrote, 1, "exactly one apply writes");
    let idle = outs.iter().filter(|o| String::from_utf8_lossy(&o.stdout).contains("No changes.")).count();
    assert_eq!(idle, outs.len() - 1);
}

fn history_json(state: &Path, target: &[&str]) -> Vec<serde_json::Value> {
    let out = mailplane(state).args(["history", "--format", "json"]).args(target).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn every_apply_is_journaled_and_history_shows_it() {
    let state = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    let head = git_copy_of_quickstart(repo.path());
    let url = format!("sqlite://{}/mp.db", state.path().display());
    let apply = || {
        let mut c = mailplane(state.path());
        c.arg("apply").arg(repo.path()).args(["--target", &url]);
        c
    };
    // Refused (stdin is no terminal), applied from CI, then no changes from a dirty checkout.
    apply().assert().code(1);
    apply().arg("--auto-approve").env("CI", "true").env("GITHUB_ACTOR", "octocat").env("GITHUB_RUN_ID", "77").assert().success();
    std::fs::write(repo.path().join("notes.yaml"), "# not committed\n").unwrap();
    apply().arg("--auto-approve").assert().success();

    let h = history_json(state.path(), &["--target", &url]);
    assert_eq!(h.len(), 3, "{h:?}");
    let (newest, applied, refused) = (&h[0], &h[1], &h[2]);
    assert_eq!(refused["result"], "refused: no confirmation");
    assert_eq!(refused["summary"]["create"], 18);
    assert_eq!(applied["result"], "applied");
    assert_eq!(applied["summary"]["create"], 18);
    assert_eq!(applied["summary"]["update"], 0);
    let changes = applied["summary"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 18);
    assert!(changes.iter().any(|c| c == "create mailbox alice@example.org"), "{changes:?}");
    assert_eq!(applied["git_commit"], head.as_str());
    assert_eq!(applied["ci"], "CI=true GITHUB_ACTOR=octocat GITHUB_RUN_ID=77");
    let who = applied["who"].as_str().unwrap();
    assert!(who.contains('@') && who.contains(" pid "), "{who}");
    assert!(applied["started"].as_str().unwrap() <= applied["finished"].as_str().unwrap());
    assert!(applied["duration_ms"].as_i64().unwrap() > 0);
    assert_eq!(newest["result"], "no changes");
    assert_eq!(newest["git_commit"], format!("{head}+dirty"));
    assert_eq!(newest["ci"], "");
    let text = serde_json::to_string(&h).unwrap();
    assert!(!text.contains("$2y$") && !text.contains("quota") && !text.contains("GiB"), "no values, let alone secrets: {text}");

    let human = mailplane(state.path()).args(["history", "--target", &url, "--limit", "2"]).output().unwrap();
    let human = String::from_utf8(human.stdout).unwrap();
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 3, "{human}");
    assert!(lines[0].starts_with("STARTED (UTC)") && lines[0].ends_with("RESULT      DURATION  CI"), "{human}");
    assert!(lines[1].contains(&format!("{}+dirty", &head[..12])) && lines[1].contains("+0 ~0 -0") && lines[1].contains("no changes"), "{human}");
    assert!(lines[2].contains("+18 ~0 -0") && lines[2].contains("applied") && lines[2].ends_with("CI=true GITHUB_ACTOR=octocat GITHUB_RUN_ID=77"), "{human}");
}

#[test]
fn a_failed_apply_is_journaled_with_its_error() {
    let state = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mp.db", state.path().display());
    mailplane(state.path()).args(["history", "--target", &url]).assert().success().stdout("No applies recorded yet.\n");
    assert!(!state.path().join("mp.db").exists(), "history creates no database");
    let db = rt().block_on(async {
        let db = mailplane::store::db::Db::connect(&url, None).await.unwrap();
        let boom = "CREATE TRIGGER boom BEFORE INSERT ON mailbox BEGIN SELECT RAISE(ABORT, 'disk on fire'); END";
        db.execute_all(&[mailplane::store::db::Stmt { sql: boom.into(), args: vec![] }]).await.unwrap();
        db
    });
    let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url, "--auto-approve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let h = history_json(state.path(), &["--target", &url]);
    let result = h[0]["result"].as_str().unwrap();
    assert!(result.starts_with("failed: ") && result.contains("disk on fire"), "{result}");
    // The lock was released although the apply failed.
    rt().block_on(async {
        mailplane::store::lock::acquire(&db, std::time::Duration::ZERO).await.unwrap().release().await;
        db.close().await;
    });
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn a_held_sqlite_lock_makes_apply_wait_then_fail_naming_the_holder() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mp.db");
    let url = format!("sqlite://{}", db.display());
    let lock_path = format!("{}.lock", db.display());
    let lock = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&lock_path).unwrap();
    lock.lock().unwrap();
    std::fs::write(&lock_path, "ci-runner@host pid 4242 since 2026-11-24 10:00:00 UTC").unwrap();
    let started = std::time::Instant::now();
    let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url, "--auto-approve", "--lock-timeout", "1"]).output().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "it waited --lock-timeout");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("another apply holds the lock") && err.contains("ci-runner@host pid 4242") && err.contains("--lock-timeout"), "{err}");
    // Nothing was observed, let alone written.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("will perform"));
    drop(lock);
    mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url, "--auto-approve"]).assert().success();
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), "", "a released lock names no holder");
}

#[test]
fn concurrent_applies_on_sqlite_never_both_write() {
    let state = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mp.db", state.path().display());
    let outs = concurrent_applies(2, state.path(), &["--target", &url]);
    assert_one_wrote(&outs);
    let results: Vec<_> = history_json(state.path(), &["--target", &url]).iter().map(|e| e["result"].as_str().unwrap().to_string()).collect();
    assert_eq!(results, ["no changes", "applied"]);
}

#[test]
fn concurrent_applies_on_mariadb_never_both_write() {
    let Some(services) = support::services() else { return };
    let rt = rt();
    let (url, name) = rt.block_on(services.fresh_mailcow_db("lock"));
    let redis = services.redis_db(10);
    services.flush_redis_db(10);
    let state = tempfile::tempdir().unwrap();
    let target = ["--target", url.as_str(), "--redis", redis.as_str()];

    // A lock held by someone else: apply waits --lock-timeout, then names the holder (not the
    // row a killed apply left behind).
    let lock_name = mailplane::store::lock::mysql_lock_name(&name);
    let holder = rt.block_on(async {
        use sqlx::Executor;
        mailplane::store::db::Db::connect(&url, None).await.unwrap().close().await; // creates mailplane_* tables
        let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let got: i64 = sqlx::query_scalar("SELECT GET_LOCK(?, 0)").bind(&lock_name).fetch_one(&mut *conn).await.unwrap();
        assert_eq!(got, 1);
        conn.execute("INSERT INTO mailplane_lock VALUES (CONNECTION_ID() + 1000, 'killed@earlier pid 1', '2026-01-01 00:00:00')").await.unwrap();
        conn.execute("INSERT INTO mailplane_lock VALUES (CONNECTION_ID(), 'deploy@ops pid 7', '2026-11-24 12:00:00')").await.unwrap();
        conn
    });
    let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--auto-approve", "--lock-timeout", "1"]).args(target).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("another apply holds the lock") && err.contains("deploy@ops pid 7 since 2026-11-24 12:00:00 UTC, MariaDB connection"), "{err}");
    assert!(!err.contains("killed@earlier"), "{err}");
    rt.block_on(async {
        use sqlx::Executor;
        let mut holder = holder;
        holder.execute("DELETE FROM mailplane_lock").await.unwrap();
        // Held without saying who: the message still gives the connection to look at.
        let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--auto-approve", "--lock-timeout", "0"]).args(target).output().unwrap();
        assert!(stderr(&out).contains("which did not record who it is"), "{}", stderr(&out));
        holder.execute(sqlx::query("DO RELEASE_LOCK(?)").bind(&lock_name)).await.unwrap();
    });

    assert_one_wrote(&concurrent_applies(2, state.path(), &target));

    // The journal, read without Redis: history needs only the database.
    let h = history_json(state.path(), &["--target", &url]);
    let results: Vec<&str> = h.iter().map(|e| e["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["no changes", "applied"], "an apply refused by the lock is not journaled");
    assert_eq!(h[1]["summary"]["create"], 18);
    assert!(h[1]["who"].as_str().unwrap().contains(" pid "));
    let head = String::from_utf8(Proc::new("git").args(["rev-parse", "HEAD"]).output().unwrap().stdout).unwrap();
    assert!(h[1]["git_commit"].as_str().unwrap().starts_with(head.trim()), "examples/quickstart is in this repository: {}", h[1]);
    let lock_rows = rt.block_on(async {
        let db = mailplane::store::db::Db::connect(&url, None).await.unwrap();
        let r = db.query("SELECT COUNT(*) FROM mailplane_lock", &[]).await.unwrap();
        db.close().await;
        r
    });
    assert_eq!(lock_rows[0][0].as_deref(), Some("0"), "a released lock leaves no holder row");
    rt.block_on(services.drop_db(&name));
}
