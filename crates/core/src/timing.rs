//! Phase timings on stderr when `MAILPLANE_TIMINGS` is set: how bench/run.sh shows where the time goes.
#![allow(clippy::print_stderr, reason = "developer timings for bench/run.sh, not user output")]

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MAILPLANE_TIMINGS").is_some())
}

/// Reports the time since `since` under `phase` and returns a new start.
pub fn lap(phase: &str, since: Instant) -> Instant {
    let now = Instant::now();
    if enabled() {
        eprintln!("timing {phase:<12} {:>8.1} ms  rss {:>5} MB", (now - since).as_secs_f64() * 1000.0, rss_mb());
    }
    now
}

/// Reports one statement that took longer than 100 ms, with the start of its SQL.
pub fn slow(sql: &str, since: Instant) {
    let took = since.elapsed();
    if enabled() && took.as_millis() >= 100 {
        let head: String = sql.chars().take(90).collect();
        eprintln!("timing slow stmt {:>8.1} ms  {head}", took.as_secs_f64() * 1000.0);
    }
}

/// Resident memory now, from /proc (0 where there is none).
fn rss_mb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096 / (1024 * 1024)
}
