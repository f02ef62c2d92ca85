//! Crash safety: apply SIGKILLed before its first statement, after each one, and not at all
//! leaves the database wholly old or wholly new, never in between — on the real MariaDB and on
//! SQLite. A test-only failpoint (MAILPLANE_FAILPOINT_STATEMENT_DELAY_MS) prints a line after each
//! statement and pauses, so a kill lands exactly after the statement it aims at.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use mailplane::target::db::Db;

/// Row counts of the tables a quickstart apply writes.
const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM domain), (SELECT COUNT(*) FROM mailbox), (SELECT COUNT(*) FROM alias), \
    (SELECT COUNT(*) FROM quota2), (SELECT COUNT(*) FROM user_acl), (SELECT COUNT(*) FROM relayhosts), (SELECT COUNT(*) FROM _sogo_static_view)";
const OLD: [&str; 7] = ["0", "0", "0", "0", "0", "0", "0"];
const NEW: [&str; 7] = ["3", "3", "6", "3", "3", "1", "2"];

/// Runs apply and SIGKILLs it once `statements` statements of its transaction have run (the
/// failpoint prints a line after each and then waits), or never when None. Returns (statements
/// done when killed, exited by itself).
fn kill_apply_after(args: &[String], statements: Option<usize>, run: usize, state: &std::path::Path) -> (usize, bool) {
    let err = state.join(format!("stderr-{run}"));
    let done = || std::fs::read_to_string(&err).unwrap_or_default().lines().filter(|l| l.starts_with("failpoint:")).count();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailplane"))
        .args(["apply", "examples/quickstart", "--auto-approve"])
        .args(args)
        .env("MAILPLANE_FAILPOINT_STATEMENT_DELAY_MS", "30")
        .env("MAILPLANE_STATE_DIR", state)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() && statements.is_none_or(|n| done() < n) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    (done(), finished)
}

async fn state_of(url: &str) -> Vec<String> {
    let db = Db::connect(url, None).await.unwrap();
    let row = db.query(COUNTS, &[]).await.unwrap().remove(0);
    db.close().await;
    row.into_iter().map(|c| c.unwrap_or_default()).collect()
}

/// `fresh` gives a new, empty target (url, extra args) for each kill point.
fn kill_everywhere(mut fresh: impl FnMut() -> (String, Vec<String>)) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = tempfile::tempdir().unwrap();
    // Kill points by statement, not by time: a busy machine shifts any fixed schedule. One
    // unkilled run counts the statements; then a kill before the first, after each, and none.
    let (url, mut args) = fresh();
    args.splice(0..0, ["--target".to_string(), url]);
    let (total, finished) = kill_apply_after(&args, None, 0, state.path());
    assert!(finished && total >= 10, "an unkilled apply ran {total} statements (finished: {finished})");
    let points: Vec<Option<usize>> = (0..=total).map(Some).chain([None]).collect();
    let (mut old, mut new, mut mid) = (0, 0, 0);
    for (i, point) in points.into_iter().enumerate() {
        let (url, mut args) = fresh();
        args.splice(0..0, ["--target".to_string(), url.clone()]);
        let (done, finished) = kill_apply_after(&args, point, i + 1, state.path());
        let counts = rt.block_on(state_of(&url));
        if counts == OLD {
            old += 1;
        } else if counts == NEW {
            new += 1;
        } else {
            panic!("kill point {i} ({done} statements run) left a half-written database: {counts:?}");
        }
        if done > 0 && !finished {
            mid += 1;
        }
    }
    assert!(old > 0 && new > 0, "the kill points must straddle the commit (old {old}, new {new})");
    assert!(mid >= 10, "only {mid} kills landed inside the transaction");
}

#[test]
fn sigkill_during_apply_leaves_sqlite_wholly_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    kill_everywhere(|| {
        n += 1;
        (format!("sqlite://{}/db{n}.sqlite", dir.path().display()), vec![])
    });
}

#[test]
fn sigkill_during_apply_leaves_mariadb_wholly_old_or_new() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut names = Vec::new();
    let redis = services.redis_db(5);
    kill_everywhere(|| {
        let (url, name) = rt.block_on(services.fresh_mailcow_db("crash"));
        names.push(name);
        (url, vec!["--redis".into(), redis.clone()])
    });
    for n in names {
        rt.block_on(services.drop_db(&n));
    }
}
