//! `mailplane watch` as a child process: on the SQLite target, and against the real MariaDB +
//! Redis (drift on /status and /metrics, the file trigger, a broken commit, an outage, heal).

use crate::support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn mailplane(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailplane"));
    c.current_dir(dir)
        .env("MAILPLANE_STATE_DIR", dir.join("state"))
        .env("RELAY_PASSWORD", "x")
        .env_remove("MAILPLANE_DATABASE_URL")
        .env_remove("MAILPLANE_REDIS_URL");
    c
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest)
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn quickstart(tmp: &Path) -> PathBuf {
    let q = tmp.join("q");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"), &q);
    q
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A minimal HTTP/1.0 request to the daemon: (status code, body).
fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n").ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let code = r.split(' ').nth(1)?.parse().ok()?;
    Some((code, r.split_once("\r\n\r\n")?.1.to_string()))
}

/// Polls `check` every 100 ms until it holds; panics after `limit` showing the daemon's log.
fn wait(limit: Duration, log: &Path, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !check() {
        assert!(t.elapsed() < limit, "no {what} within {limit:?}; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
    t.elapsed()
}

struct Daemon {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    fn start(cwd: &Path, name: &str, args: &[&str]) -> Daemon {
        Daemon::start_with(mailplane(cwd), cwd, name, args)
    }
    /// `start` with a command prepared by the caller (environment variables).
    fn start_with(mut command: Command, cwd: &Path, name: &str, args: &[&str]) -> Daemon {
        let port = free_port();
        let log = cwd.join(format!("{name}.log"));
        let listen = format!("127.0.0.1:{port}");
        let child = command
            .env("RUST_LOG", "mailplane=debug")
            .arg("watch")
            .args(args)
            .args(["--listen", &listen])
            .stderr(std::fs::File::create(&log).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Daemon { child, port, log }
    }
    fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path).unwrap_or((0, String::new()))
    }
    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/status").1).unwrap_or_default()
    }
    fn until(&self, limit: Duration, what: &str, check: impl FnMut() -> bool) -> Duration {
        wait(limit, &self.log, what, check)
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    /// SIGTERM; the daemon must exit 0.
    fn stop(mut self) {
        assert!(Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of an unlabelled metric in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(-1.0)
}

fn drifted(status: &serde_json::Value, key: &str) -> bool {
    status["plan"]["changes"].as_array().is_some_and(|c| c.iter().any(|c| c["key"] == key))
}

#[test]
fn sqlite_drift_is_reported_and_sigterm_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    quickstart(tmp.path());
    let target = format!("sqlite://{}", tmp.path().join("t.db").display());
    let ok = mailplane(tmp.path()).args(["apply", "q", "--auto-approve", "--target", &target]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    let d = Daemon::start(tmp.path(), "watch", &["q", "--interval", "1", "--target", &target]);
    d.until(Duration::from_secs(15), "first cycle", || d.log().contains("no drift"));

    // Out of band, as an admin in mailcow's UI would.
    let conn = Command::new("sqlite3").arg(tmp.path().join("t.db")).arg("update mailbox set quota = 123 where username = 'alice@example.org'").status();
    assert!(conn.unwrap().success());
    let took = d.until(Duration::from_secs(15), "drift log line", || d.log().contains("key=alice@example.org"));
    eprintln!("drift reported {took:?} after the change");
    d.stop();
}

fn sql(url: &str, q: &'static str) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pool = sqlx::MySqlPool::connect(url).await.unwrap();
        let rows: Vec<(String,)> = sqlx::query_as(q).fetch_all(&pool).await.unwrap_or_default();
        let _ = sqlx::query(q).execute(&pool).await;
        pool.close().await;
        rows.into_iter().map(|r| r.0).collect()
    })
}

fn quota(url: &str) -> Vec<String> {
    sql(url, "SELECT CAST(quota AS CHAR) FROM mailbox WHERE username = 'alice@example.org'")
}

#[test]
fn mariadb_drift_files_broken_commit_outage_and_heal() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (url, name) = rt.block_on(services.fresh_mailcow_db("watch"));
    services.flush_redis_db(11);
    let redis = services.redis_db(11);
    let tmp = tempfile::tempdir().unwrap();
    let q = quickstart(tmp.path());
    let target = ["--target", url.as_str(), "--redis", redis.as_str()];
    let apply = || {
        let ok = mailplane(tmp.path()).args(["apply", "q", "--auto-approve"]).args(target).output().unwrap();
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    };
    apply();

    let d = Daemon::start(tmp.path(), "observe", &[&["q", "--interval", "2"][..], &target].concat());
    d.until(Duration::from_secs(20), "a ready daemon", || d.get("/readyz").0 == 200);
    assert_eq!(d.get("/healthz").0, 200);
    assert_eq!(d.status()["plan"]["summary"]["update"], 0, "{}", d.log());

    // An out-of-band change shows within one interval (2 s ± 10%, plus the cycle).
    sql(&url, "UPDATE mailbox SET quota = 123 WHERE username = 'alice@example.org'");
    d.until(Duration::from_secs(5), "drift on /status", || drifted(&d.status(), "alice@example.org"));
    assert!(d.get("/metrics").1.contains(r#"mailplane_drift_objects{kind="mailbox",change="update"} 1"#), "{}", d.get("/metrics").1);

    // Editing a file re-plans at once (the file trigger), not on the next interval.
    let file = q.join("domains/example.org.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("name: Bob", "name: Robert")).unwrap();
    let took = d.until(Duration::from_secs(2), "a plan for the edit", || {
        let st = d.status();
        drifted(&st, "bob@example.org") && st["trigger"] == "files"
    });
    eprintln!("file edit planned after {took:?}");

    // A broken file: reported, and the last good desired state stays in use.
    std::fs::write(q.join("broken.yaml"), "domains: [ {name: \n").unwrap();
    d.until(Duration::from_secs(5), "the load error metric", || metric(&d.get("/metrics").1, "mailplane_desired_state_stale") == 1.0);
    let metrics = d.get("/metrics").1;
    assert!(metric(&metrics, "mailplane_load_errors_total") >= 1.0, "{metrics}");
    let st = d.status();
    assert!(st["load_error"].is_string() && drifted(&st, "bob@example.org"), "{st}");
    std::fs::remove_file(q.join("broken.yaml")).unwrap();
    std::fs::write(&file, &text).unwrap();

    // The database goes away: not ready, the daemon keeps running; back: ready again.
    rt.block_on(services.drop_db(&name));
    d.until(Duration::from_secs(8), "/readyz 503", || d.get("/readyz").0 == 503);
    let metrics = d.get("/metrics").1;
    assert!(metric(&metrics, "mailplane_cycle_failures_total") >= 1.0, "{metrics}");
    let url2 = rt.block_on(services.create_db(&name));
    assert_eq!(url2, url);
    rt.block_on(support::load_mailcow_schema(&url));
    apply();
    // Backoff is at most a few seconds after a short outage.
    d.until(Duration::from_secs(10), "/readyz 200 again", || d.get("/readyz").0 == 200);
    d.stop();

    // Heal: the drifted row is put back, through apply's path (journaled).
    sql(&url, "UPDATE mailbox SET quota = 123 WHERE username = 'alice@example.org'");
    let h = Daemon::start(tmp.path(), "heal", &[&["q", "--interval", "2", "--mode", "heal", "--suspend"][..], &target].concat());
    h.until(Duration::from_secs(20), "drift while suspended", || drifted(&h.status(), "alice@example.org"));
    assert_eq!(quota(&url), ["123"], "suspended: nothing applied");
    assert_eq!(http(h.port, "POST", "/resume").map(|r| r.0), Some(200));
    h.until(Duration::from_secs(8), "the row restored", || quota(&url) == ["4294967296"]);
    h.until(Duration::from_secs(5), "the apply counted", || h.get("/metrics").1.contains(r#"mailplane_applies_total{result="applied"} 1"#));
    let history = mailplane(tmp.path()).args(["history", "q", "--target", &url]).output().unwrap();
    assert!(String::from_utf8_lossy(&history.stdout).matches("applied").count() >= 1);
    h.stop();
    rt.block_on(services.drop_db(&name));
}

/// Issue 17.7: watch looks forwarding hosts given by name up again on an interval of its own.
/// One live address of the name is removed behind mailplane's back: without a refresh the other
/// entries of the name satisfy it (no drift); the refresh finds the address again and reports
/// it. A refresh while DNS is down keeps the server's addresses and the cycle succeeds.
#[test]
fn forwarding_hosts_are_looked_up_again_on_their_own_interval() {
    let Some(server) = support::dns_server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.yaml"), "forwarding_hosts:\n  - host: fwd.example.test\n").unwrap();
    let target = format!("sqlite://{}", tmp.path().join("t.db").display());
    let ok = mailplane(tmp.path()).env("MAILPLANE_DNS_RESOLVER", &server).args(["apply", "d", "--auto-approve", "--target", &target]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let gone = "192.0.2.64/28";
    let sql = format!("DELETE FROM mailplane_kv WHERE k = 'WHITELISTED_FWD_HOST' AND f = '{gone}'");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::store::db::Db::connect(&target, None).await.unwrap();
        db.execute_all(&[mailplane::store::db::Stmt { sql, args: vec![] }]).await.unwrap();
        db.close().await;
    });

    let args = |refresh: &'static str| ["d", "--target", target.as_str(), "--interval", "1", "--forwarding-hosts-refresh", refresh];
    let without = Daemon::start(tmp.path(), "no-refresh", &args("0"));
    without.until(Duration::from_secs(20), "a cycle", || without.status()["ready"] == true);
    std::thread::sleep(Duration::from_secs(2));
    assert!(!drifted(&without.status(), gone), "{}", without.status());
    without.stop();

    let mut refreshing = mailplane(tmp.path());
    refreshing.env("MAILPLANE_DNS_RESOLVER", &server);
    let with = Daemon::start_with(refreshing, tmp.path(), "refresh", &args("1"));
    with.until(Duration::from_secs(20), "the address found again", || drifted(&with.status(), gone));
    with.stop();

    let mut offline = mailplane(tmp.path());
    offline.env("MAILPLANE_DNS_RESOLVER", "127.0.0.1:9");
    let down = Daemon::start_with(offline, tmp.path(), "dns-down", &args("1"));
    down.until(Duration::from_secs(30), "a refresh that fails", || down.log().contains("could not be looked up again"));
    assert_eq!(down.status()["ready"], true, "{}", down.log());
    assert!(!drifted(&down.status(), gone));
    down.stop();
}
