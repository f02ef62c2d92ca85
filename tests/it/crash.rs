//! Crash safety: apply SIGKILLed at every kill point — before its transaction, after each of its
//! statements, while its DKIM keys are made and awaited, after the commit before Redis, after
//! Redis, before the journal's final word — and not at all, on the real MariaDB + Redis and on
//! SQLite. After each kill, once the next run (a plan) has finished what the apply left, the
//! target (tables and Redis or its kv table) is wholly old or wholly new, never in between; one
//! apply without --force then converges, and the journal has the apply's row.
//!
//! Test-only failpoints (MAILPLANE_FAILPOINT_DELAY_MS, crates/core/src/failpoint.rs) print `failpoint:
//! <name>` at each point and pause, so a kill lands exactly after the point it aims at.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use mailplane::store::db::Db;

/// Row counts of the tables a quickstart apply writes.
const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM domain), (SELECT COUNT(*) FROM mailbox), (SELECT COUNT(*) FROM alias), \
    (SELECT COUNT(*) FROM quota2), (SELECT COUNT(*) FROM user_acl), (SELECT COUNT(*) FROM relayhosts), (SELECT COUNT(*) FROM _sogo_static_view)";
const OLD: [&str; 7] = ["0", "0", "0", "0", "0", "0", "0"];
const NEW: [&str; 7] = ["3", "3", "6", "3", "3", "1", "2"];
/// The Redis hashes an apply writes.
const HASHES: [&str; 5] = ["DOMAIN_MAP", "RL_VALUE", "DKIM_SELECTORS", "DKIM_PUB_KEYS", "DKIM_PRIV_KEYS"];

/// A target: its database URL, and its Redis URL (None: SQLite's kv table).
#[derive(Clone)]
struct Target {
    url: String,
    redis: Option<String>,
}

impl Target {
    fn args(&self) -> Vec<String> {
        let mut args = vec!["--target".to_string(), self.url.clone()];
        args.extend(self.redis.iter().flat_map(|r| ["--redis".to_string(), r.clone()]));
        args
    }
}

/// The `n`-th (from 1) `failpoint: <name>` line.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    name: String,
    n: usize,
}

fn failpoints(err: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(err).unwrap_or_default();
    text.lines().filter_map(|l| l.strip_prefix("failpoint: ")).map(String::from).collect()
}

/// Every point in a run's failpoint lines, in order.
fn points(lines: &[String]) -> Vec<Point> {
    (0..lines.len()).map(|i| Point { name: lines[i].clone(), n: lines[..=i].iter().filter(|l| **l == lines[i]).count() }).collect()
}

/// Runs `apply DIR` and SIGKILLs it at `point` (the failpoint pauses after printing), or never
/// when None. Returns (the failpoint lines printed, exited by itself).
fn kill_apply_at(dir: &str, target: &Target, point: Option<&Point>, log: &Path, state: &Path) -> (Vec<String>, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailplane"))
        .args(["apply", dir, "--auto-approve"])
        .args(target.args())
        .env("MAILPLANE_FAILPOINT_DELAY_MS", "20")
        .env("MAILPLANE_STATE_DIR", state)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let reached = || point.is_some_and(|p| failpoints(log).iter().filter(|l| **l == p.name).count() >= p.n);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() && !reached() {
        std::thread::sleep(Duration::from_millis(2));
    }
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    (failpoints(log), finished)
}

/// Runs mailplane without failpoints: (exit code, stdout + stderr).
fn mailplane(args: &[&str], target: &Target, state: &Path) -> (i32, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_mailplane")).args(args).args(target.args()).env("MAILPLANE_STATE_DIR", state).env("NO_COLOR", "1").output().unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The row counts, and the number of fields of each Redis hash.
async fn state_of(target: &Target) -> (Vec<String>, Vec<usize>) {
    let db = Db::connect(&target.url, None).await.unwrap();
    let row = db.query(COUNTS, &[]).await.unwrap().remove(0);
    let mut hashes = Vec::new();
    for h in HASHES {
        hashes.push(match &target.redis {
            Some(url) => {
                let mut c = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
                redis::cmd("HLEN").arg(h).query::<usize>(&mut c).unwrap()
            }
            None => db.query("SELECT COUNT(*) FROM mailplane_kv WHERE k = ?", &[mailplane::store::db::Arg::Text(h.into())]).await.unwrap()[0][0]
                .as_deref()
                .unwrap()
                .parse()
                .unwrap(),
        });
    }
    db.close().await;
    (row.into_iter().map(|c| c.unwrap_or_default()).collect(), hashes)
}

/// The journal's results, oldest first.
fn journal(target: &Target, state: &Path) -> Vec<String> {
    let (code, out) = mailplane(&["history", "--format", "json"], &Target { redis: None, ..target.clone() }, state);
    assert_eq!(code, 0, "{out}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter().rev().map(|r| r["result"].as_str().unwrap().to_string()).collect()
}

/// A copy of examples/quickstart in `into` whose domains have 1,024-bit DKIM keys: the test makes
/// about a hundred keys, and 2,048-bit ones take most of its time.
fn quickstart(into: &Path) -> String {
    assert!(Command::new("cp").arg("-r").arg("examples/quickstart").arg(into).status().unwrap().success());
    let dir = into.join("quickstart");
    for f in std::fs::read_dir(dir.join("domains")).unwrap() {
        let path = f.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let text: String =
            text.lines().map(|l| if l.starts_with("  - name: ") { format!("{l}\n    dkim_key_size: 1024\n") } else { format!("{l}\n") }).collect();
        std::fs::write(&path, text).unwrap();
    }
    dir.to_str().unwrap().to_string()
}

/// `fresh` gives a new, empty target for each kill point.
fn kill_everywhere(mut fresh: impl FnMut() -> Target) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = quickstart(state.path());
    let dir = dir.as_str();
    let log = |i: usize| state.path().join(format!("stderr-{i}"));
    // Kill points by failpoint, not by time: a busy machine shifts any fixed schedule. One
    // unkilled run lists them; then a kill at each, and none.
    let target = fresh();
    let (lines, finished) = kill_apply_at(dir, &target, None, &log(0), state.path());
    assert!(finished, "{lines:?}");
    let (new_rows, new_hashes) = rt.block_on(state_of(&target));
    assert_eq!(new_rows, NEW);
    assert!(new_hashes.iter().all(|n| *n > 0), "{new_hashes:?}");
    for want in ["before the transaction", "statement done", "DKIM key made", "waiting for DKIM keys", "before the journal"] {
        assert!(lines.iter().any(|l| l == want), "no failpoint {want:?} in {lines:?}");
    }
    let all: Vec<Option<Point>> = points(&lines).into_iter().map(Some).chain([None]).collect();
    let (mut old, mut new, mut mid) = (0, 0, 0);
    for (i, point) in all.iter().enumerate() {
        let target = fresh();
        let (done, finished) = kill_apply_at(dir, &target, point.as_ref(), &log(i + 1), state.path());
        // The next run finishes what the killed one left (a plan, which also must not be blocked).
        let (code, out) = mailplane(&["plan", dir], &target, state.path());
        assert_eq!(code, 0, "the plan after a kill at {point:?}: {out}");
        let (rows, hashes) = rt.block_on(state_of(&target));
        let results = journal(&target, state.path());
        let applied = results.iter().filter(|r| r.starts_with("applied")).count();
        if rows == OLD && hashes == [0; 5] {
            old += 1;
            assert_eq!(applied, 0, "kill at {point:?}: nothing was written, yet the journal says {results:?}");
        } else if rows == NEW && hashes == new_hashes {
            new += 1;
            assert_eq!(applied, 1, "kill at {point:?}: the apply committed, the journal must have its row: {results:?}");
        } else {
            panic!("a kill at {point:?} (after {done:?}) left a half-written target: rows {rows:?}, hashes {hashes:?}");
        }
        if done.iter().any(|l| l == "statement done") && !finished && rows == OLD {
            mid += 1;
        }
        // One apply, without --force, converges.
        let (code, out) = mailplane(&["apply", dir, "--auto-approve"], &target, state.path());
        assert_eq!(code, 0, "the apply after a kill at {point:?}: {out}");
        let (code, out) = mailplane(&["plan", dir, "--detailed-exitcode"], &target, state.path());
        assert_eq!(code, 0, "the plan after a kill at {point:?} and one apply: {out}");
        assert_eq!(rt.block_on(state_of(&target)), (new_rows.clone(), new_hashes.clone()));
        assert!(journal(&target, state.path()).iter().any(|r| r.starts_with("applied")));
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
        Target { url: format!("sqlite://{}/db{n}.sqlite", dir.path().display()), redis: None }
    });
}

#[test]
fn sigkill_during_apply_leaves_mariadb_and_redis_wholly_old_or_new() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut names = Vec::new();
    kill_everywhere(|| {
        let (target, name) = mariadb(&services, &rt, 5);
        names.push(name);
        target
    });
    for n in names {
        rt.block_on(services.drop_db(&n));
    }
}

/// Issue 16: 12 new domains (above the thresholds' 10 objects), applied and SIGKILLed right
/// after the commit. That used to leave every domain without its Redis entries, and the next
/// apply was blocked until --force (which `watch --mode heal` cannot pass). Returns the state
/// directory and the desired-state directory.
fn killed_after_the_commit(target: &Target) -> (tempfile::TempDir, String) {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    let domains: String = (1..=12).map(|i| format!("  - name: d{i}.example\n    dkim_key_size: 1024\n")).collect();
    std::fs::write(dir.join("domains.yaml"), format!("domains:\n{domains}")).unwrap();
    let dir = dir.to_str().unwrap().to_string();
    let point = Point { name: "committed".into(), n: 1 };
    let (done, finished) = kill_apply_at(&dir, target, Some(&point), &state.path().join("stderr"), state.path());
    assert!(!finished, "the apply ran to its end: {done:?}");
    (state, dir)
}

/// Every new domain's DOMAIN_MAP, DKIM_SELECTORS, DKIM_PUB_KEYS and DKIM_PRIV_KEYS (no rate limits).
const TWELVE: [usize; 5] = [12, 0, 12, 12, 12];

fn a_kill_after_the_commit_needs_no_force(target: Target) {
    let (state, dir) = killed_after_the_commit(&target);
    let (code, out) = mailplane(&["plan", &dir, "--detailed-exitcode"], &target, state.path());
    assert_eq!(code, 0, "the plan after the kill must be empty, not blocked: {out}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(state_of(&target)).1, TWELVE);
    let (code, out) = mailplane(&["apply", &dir, "--auto-approve"], &target, state.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes."), "{out}");
    let results = journal(&target, state.path());
    assert!(results[0].starts_with("applied"), "{results:?}");
    if target.redis.is_some() {
        // The Redis half was finished by the plan, and journaled as such.
        assert!(!out.contains("note: finished"), "the apply found nothing left: {out}");
        assert!(results[0].contains("post-commit work finished by"), "{results:?}");
        assert!(results[1].starts_with("replayed: "), "{results:?}");
    }
}

#[test]
fn a_kill_after_the_commit_needs_no_force_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_kill_after_the_commit_needs_no_force(Target { url: format!("sqlite://{}/t.sqlite", dir.path().display()), redis: None });
}

/// A fresh mailcow database and an empty Redis database `redis_db`: (target, database name).
fn mariadb(services: &support::Services, rt: &tokio::runtime::Runtime, redis_db: u32) -> (Target, String) {
    let (url, name) = rt.block_on(services.fresh_mailcow_db("crash"));
    services.flush_redis_db(redis_db);
    (Target { url, redis: Some(services.redis_db(redis_db)) }, name)
}

#[test]
fn a_kill_after_the_commit_needs_no_force_on_mariadb() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (target, name) = mariadb(&services, &rt, 6);
    a_kill_after_the_commit_needs_no_force(target);
    rt.block_on(services.drop_db(&name));
}

/// `watch --mode heal`'s first cycle finishes the interrupted apply, so it sees no drift (before,
/// it saw 12 drifted domains and a blocked plan, and never healed).
#[test]
fn watch_finishes_an_apply_killed_after_the_commit_on_mariadb() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (target, name) = mariadb(&services, &rt, 8);
    let (state, dir) = killed_after_the_commit(&target);
    let log = state.path().join("watch.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_mailplane"))
        .args(["watch", &dir, "--mode", "heal", "--listen", &format!("127.0.0.1:{port}")])
        .args(target.args())
        .env("MAILPLANE_STATE_DIR", state.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline && !read().contains("no drift") && !read().contains(" drift ") {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(read().contains("no drift"), "{}", read());
    assert_eq!(rt.block_on(state_of(&target)).1, TWELVE);
    let results = journal(&target, state.path());
    assert!(results[0].contains("post-commit work finished by") && results[1].starts_with("replayed: "), "{results:?}");
    rt.block_on(services.drop_db(&name));
}
