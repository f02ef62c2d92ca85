//! Test-only kill points. tests/it/crash.rs SIGKILLs an apply at each of them: with
//! MAILPLANE_FAILPOINT_DELAY_MS set, each prints `failpoint: <name>` on stderr and then waits
//! that long, so a kill lands exactly after the point it aims at. Unset, a point costs one
//! cached lookup.
#![allow(clippy::print_stderr, reason = "test-only kill points announce themselves on stderr to the test that waits for them")]

pub fn failpoint(name: &str) {
    static DELAY: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let delay = DELAY.get_or_init(|| std::env::var("MAILPLANE_FAILPOINT_DELAY_MS").ok().and_then(|v| v.parse().ok()));
    if let Some(ms) = delay {
        eprintln!("failpoint: {name}");
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
}
