//! When the watch loop wakes up, as a pure state machine: the loop feeds it "now" and events
//! and asks when to sleep until, so timing is testable without clocks or threads.

use std::time::{Duration, Instant};

/// Why a cycle runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The periodic check of the live side (DB/Redis can drift without any file changing).
    Interval,
    /// The desired-state directory changed and has been quiet for the debounce period.
    Files,
    /// The previous cycle failed (DB/Redis down); retrying after backoff.
    Retry,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub interval: Duration,
    /// Fraction of `interval` each wait may deviate by, so many watchers don't hit one DB in step.
    pub jitter: f64,
    /// A burst of writes (an editor save, a `git pull`) is one event once this long quiet.
    pub debounce: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: Duration::from_secs(60),
            jitter: 0.1,
            debounce: Duration::from_millis(500),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// `interval` moved by up to ±`jitter` of itself; `r` is a uniform sample in [0, 1).
pub fn jittered(interval: Duration, jitter: f64, r: f64) -> Duration {
    let factor = 1.0 + jitter.clamp(0.0, 1.0) * (2.0 * r - 1.0);
    interval.mul_f64(factor.max(0.0))
}

/// Exponential backoff: base, 2·base, 4·base … capped at `max`.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << shift).min(max)
}

#[derive(Debug)]
pub struct Schedule {
    cfg: Config,
    next_observe: Instant,
    files_quiet_at: Option<Instant>,
    failures: u32,
}

impl Schedule {
    /// The first cycle runs immediately.
    pub fn new(cfg: Config, now: Instant) -> Self {
        Schedule { cfg, next_observe: now, files_quiet_at: None, failures: 0 }
    }

    /// A file event: (re)starts the debounce window, so only the end of a burst triggers.
    pub fn file_event(&mut self, now: Instant) {
        self.files_quiet_at = Some(now + self.cfg.debounce);
    }

    /// When the loop should wake next.
    pub fn next_wake(&self) -> Instant {
        match self.files_quiet_at {
            Some(f) => f.min(self.next_observe),
            None => self.next_observe,
        }
    }

    /// The trigger due at `now`, if any. A due file trigger wins: it also covers the live side.
    pub fn due(&self, now: Instant) -> Option<Trigger> {
        if self.files_quiet_at.is_some_and(|f| f <= now) {
            Some(Trigger::Files)
        } else if self.next_observe <= now {
            Some(if self.failures > 0 { Trigger::Retry } else { Trigger::Interval })
        } else {
            None
        }
    }

    /// A cycle ran to completion (whatever it found); `r` is a uniform sample in [0, 1).
    pub fn succeeded(&mut self, now: Instant, r: f64) {
        self.failures = 0;
        self.files_quiet_at = None;
        self.next_observe = now + jittered(self.cfg.interval, self.cfg.jitter, r);
    }

    /// A cycle could not reach the target; retry sooner than the interval, backing off.
    pub fn failed(&mut self, now: Instant) {
        self.failures += 1;
        self.files_quiet_at = None;
        let wait = backoff(self.cfg.backoff_base, self.cfg.backoff_max, self.failures);
        self.next_observe = now + wait.min(self.cfg.interval.max(self.cfg.backoff_base));
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn cfg() -> Config {
        Config { interval: s(60), jitter: 0.1, debounce: Duration::from_millis(500), backoff_base: s(1), backoff_max: s(30) }
    }

    #[test]
    fn jitter_stays_within_bounds() {
        assert_eq!(jittered(s(60), 0.1, 0.0), s(54));
        assert_eq!(jittered(s(60), 0.1, 0.5), s(60));
        assert!(jittered(s(60), 0.1, 0.999_999) <= s(66));
        for i in 0..100 {
            let d = jittered(s(60), 0.1, i as f64 / 100.0);
            assert!(d >= s(54) && d < s(66), "{d:?}");
        }
        assert_eq!(jittered(s(60), 0.0, 0.9), s(60));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let got: Vec<_> = (1..=7).map(|n| backoff(s(1), s(30), n)).collect();
        assert_eq!(got, [s(1), s(2), s(4), s(8), s(16), s(30), s(30)]);
        assert_eq!(backoff(s(1), s(30), u32::MAX), s(30));
    }

    #[test]
    fn first_cycle_immediately_then_interval() {
        let t0 = Instant::now();
        let mut sch = Schedule::new(cfg(), t0);
        assert_eq!(sch.due(t0), Some(Trigger::Interval));
        sch.succeeded(t0, 0.5);
        assert_eq!(sch.next_wake(), t0 + s(60));
        assert_eq!(sch.due(t0 + s(59)), None);
        assert_eq!(sch.due(t0 + s(60)), Some(Trigger::Interval));
    }

    #[test]
    fn a_burst_of_file_writes_is_one_trigger() {
        let t0 = Instant::now();
        let mut sch = Schedule::new(cfg(), t0);
        sch.succeeded(t0, 0.5);
        for ms in [0, 100, 200, 300, 400] {
            sch.file_event(t0 + Duration::from_millis(ms));
            assert_eq!(sch.due(t0 + Duration::from_millis(ms)), None);
        }
        assert_eq!(sch.next_wake(), t0 + Duration::from_millis(900));
        assert_eq!(sch.due(t0 + Duration::from_millis(899)), None);
        assert_eq!(sch.due(t0 + Duration::from_millis(900)), Some(Trigger::Files));
        sch.succeeded(t0 + Duration::from_millis(900), 0.5);
        assert_eq!(sch.due(t0 + s(2)), None);
    }

    #[test]
    fn failures_back_off_then_recover() {
        let t0 = Instant::now();
        let mut sch = Schedule::new(cfg(), t0);
        let mut now = t0;
        let mut waits = vec![];
        for _ in 0..7 {
            sch.failed(now);
            waits.push(sch.next_wake() - now);
            now = sch.next_wake();
            assert_eq!(sch.due(now), Some(Trigger::Retry));
        }
        assert_eq!(waits, [s(1), s(2), s(4), s(8), s(16), s(30), s(30)]);
        sch.succeeded(now, 0.5);
        assert_eq!(sch.failures(), 0);
        assert_eq!(sch.next_wake() - now, s(60));
    }
}
