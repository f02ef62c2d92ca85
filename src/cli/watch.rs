//! `mailplane watch [DIR]`: re-plan on an interval and report drift (issue 7, first slice:
//! observe mode only; no file watching, HTTP, metrics or heal yet).

use std::time::{Duration, Instant};

use super::target::{TargetArgs, prepare, runtime};
use crate::daemon::schedule::{Config, Schedule};
use crate::printer::{ExitStatus, Printer};
use crate::render;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Seconds between checks of the live server (±10% jitter).
    #[arg(long, default_value_t = 60)]
    interval: u64,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    runtime().block_on(async {
        let cfg = Config { interval: Duration::from_secs(args.interval.max(1)), ..Config::default() };
        let mut schedule = Schedule::new(cfg, Instant::now());
        let mut last_drift: Option<Vec<String>> = None;
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                printer.err(&format!("error: cannot handle SIGTERM: {e}"));
                return ExitStatus::Error;
            }
        };
        loop {
            let wake = tokio::time::Instant::from_std(schedule.next_wake());
            // A signal while a cycle runs abandons it: observe/plan only read, nothing is cut halfway.
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tokio::time::sleep_until(wake) => {}
            }
            let now = Instant::now();
            let Some(trigger) = schedule.due(now) else { continue };
            let started = Instant::now();
            let cycle = tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                p = prepare(&args.target, printer, false) => p,
            };
            match cycle {
                Ok(p) => {
                    let summary = render::summary(&p.plan);
                    let drift: Vec<String> = p.plan.changes.iter().map(|c| format!("{:?} {:?} {}", c.action, c.kind, c.key)).collect();
                    // One line per drifted object when the drift changes, not on every cycle.
                    if last_drift.as_ref() != Some(&drift) {
                        for d in &drift {
                            printer.err(&format!("drift: {d}"));
                        }
                        last_drift = Some(drift);
                    }
                    printer.err(&format!("observed ({trigger:?}, {} ms): {}", started.elapsed().as_millis(), summary.trim()));
                    p.db.close().await;
                    schedule.succeeded(Instant::now(), rand::random::<f64>());
                }
                // prepare() already printed why; keep running and retry with backoff.
                Err(()) => {
                    schedule.failed(Instant::now());
                    printer.err(&format!("cycle failed ({} in a row); retrying", schedule.failures()));
                }
            }
        }
        printer.err("stopping");
        ExitStatus::Success
    })
}
