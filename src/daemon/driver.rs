//! The watch loop's timing, apart from what a cycle does: feeds file events and the clock to
//! the pure `Schedule` and runs a cycle when it is due. Uses tokio's clock, so tests run it
//! with paused time.

use std::future::Future;

use tokio::sync::{mpsc, watch};

use super::schedule::{Config, Schedule, Trigger};

/// tokio's "now" as a std Instant: follows the paused clock in tests.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs `cycle` whenever the schedule says so, until `stop` turns true. A cycle is never
/// cancelled from here: it decides itself what may be abandoned (observing, which only reads)
/// and what may not (an apply). `cycle` returns whether it reached the target; `random` gives
/// uniform samples in [0, 1) for the jitter.
pub async fn drive<F, Fut>(cfg: Config, mut files: mpsc::UnboundedReceiver<()>, mut stop: watch::Receiver<bool>, mut random: impl FnMut() -> f64, mut cycle: F)
where
    F: FnMut(Trigger) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut schedule = Schedule::new(cfg, now());
    let mut files_open = true;
    loop {
        if *stop.borrow() {
            return;
        }
        let wake = tokio::time::Instant::from_std(schedule.next_wake());
        tokio::select! {
            changed = stop.changed() => if changed.is_err() { return },
            event = files.recv(), if files_open => match event {
                Some(()) => schedule.file_event(now()),
                None => files_open = false,
            },
            _ = tokio::time::sleep_until(wake) => {}
        }
        let Some(trigger) = schedule.due(now()) else { continue };
        if cycle(trigger).await {
            schedule.succeeded(now(), random());
        } else {
            schedule.failed(now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    type Log = Arc<Mutex<Vec<(Trigger, u64)>>>;

    fn cfg() -> Config {
        Config {
            interval: Duration::from_secs(60),
            jitter: 0.1,
            debounce: Duration::from_millis(500),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }

    struct Run {
        log: Log,
        files: mpsc::UnboundedSender<()>,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
        t0: tokio::time::Instant,
    }

    /// Starts the loop; each cycle logs (trigger, ms since start), takes `busy` and returns
    /// `ok(n)` for the n-th cycle. The jitter sample is always 0.0: the shortest wait, 54 s.
    fn start(busy: Duration, ok: fn(usize) -> bool) -> Run {
        let log: Log = Arc::default();
        let (files, files_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let t0 = tokio::time::Instant::now();
        let l = log.clone();
        let task = tokio::spawn(drive(
            cfg(),
            files_rx,
            stop_rx,
            || 0.0,
            move |trigger| {
                let l = l.clone();
                async move {
                    let n = {
                        let mut l = l.lock().unwrap();
                        l.push((trigger, t0.elapsed().as_millis() as u64));
                        l.len() - 1
                    };
                    tokio::time::sleep(busy).await;
                    ok(n)
                }
            },
        ));
        Run { log, files, stop, task, t0 }
    }

    impl Run {
        async fn at(&self, ms: u64) {
            tokio::time::sleep_until(self.t0 + Duration::from_millis(ms)).await;
        }
        async fn stop_at(self, ms: u64) -> Vec<(Trigger, u64)> {
            self.at(ms).await;
            self.stop.send(true).unwrap();
            self.task.await.unwrap();
            self.log.lock().unwrap().clone()
        }
    }

    use Trigger::{Files as F, Interval as I, Retry as R};

    #[tokio::test(start_paused = true)]
    async fn interval_with_jitter() {
        let run = start(Duration::ZERO, |_| true);
        assert_eq!(run.stop_at(200_000).await, [(I, 0), (I, 54_000), (I, 108_000), (I, 162_000)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_file_events_is_one_cycle() {
        let run = start(Duration::ZERO, |_| true);
        for ms in [10_000, 10_100, 10_200, 10_300, 10_400] {
            run.at(ms).await;
            run.files.send(()).unwrap();
        }
        // Once 500 ms quiet after the last write; the interval restarts from that cycle.
        assert_eq!(run.stop_at(70_000).await, [(I, 0), (F, 10_900), (I, 64_900)]);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_then_the_interval_resumes() {
        let run = start(Duration::ZERO, |n| n >= 3);
        assert_eq!(run.stop_at(100_000).await, [(I, 0), (R, 1_000), (R, 3_000), (R, 7_000), (I, 61_000)]);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_waits_for_the_running_cycle() {
        let run = start(Duration::from_secs(5), |_| true);
        let t0 = run.t0;
        // Asked to stop 1 s into a 5 s cycle: the loop ends when the cycle does.
        assert_eq!(run.stop_at(1_000).await, [(I, 0)]);
        assert_eq!(t0.elapsed(), Duration::from_secs(5));
    }
}
