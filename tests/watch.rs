//! `mailplane watch` as a child process on the SQLite target: drift is reported within seconds
//! of an out-of-band change, and SIGTERM exits 0.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mailplane(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailplane"));
    c.current_dir(dir).env("MAILPLANE_STATE_DIR", dir.join("state")).env("RELAY_PASSWORD", "x").env_remove("MAILPLANE_DATABASE_URL").env_remove("MAILPLANE_REDIS_URL");
    c
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() { copy_dir(&e.path(), &dest) } else { std::fs::copy(e.path(), dest).unwrap(); }
    }
}

#[test]
fn sqlite_drift_is_reported_and_sigterm_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"), &tmp.path().join("q"));
    let target = format!("sqlite://{}", tmp.path().join("t.db").display());
    let ok = mailplane(tmp.path()).args(["apply", "q", "--auto-approve", "--target", &target]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    let log = tmp.path().join("watch.log");
    let mut child = mailplane(tmp.path())
        .args(["watch", "q", "--interval", "1", "--target", &target])
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let read = || { let mut s = String::new(); std::fs::File::open(&log).unwrap().read_to_string(&mut s).unwrap(); s };
    let wait_for = |needle: &str| {
        let t = Instant::now();
        while !read().contains(needle) {
            assert!(t.elapsed() < Duration::from_secs(15), "no {needle:?} in:\n{}", read());
            std::thread::sleep(Duration::from_millis(100));
        }
        t.elapsed()
    };
    wait_for("No changes.");

    // Out of band, as an admin in mailcow's UI would.
    let conn = Command::new("sqlite3").arg(tmp.path().join("t.db")).arg("update mailbox set quota = 123 where username = 'alice@example.org'").status();
    assert!(conn.unwrap().success());
    let took = wait_for("drift: Update Mailbox alice@example.org");
    eprintln!("drift reported {took:?} after the change");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", read());
}
