//! Phase timings on stderr when `MAILPLANE_TIMINGS` is set: how bench/run.sh shows where the time goes.

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
        eprintln!("timing {phase:<12} {:>8.1} ms", (now - since).as_secs_f64() * 1000.0);
    }
    now
}
