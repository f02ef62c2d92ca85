//! What the daemon knows about itself, shared by the loop and the HTTP listener: Prometheus
//! metrics, the last cycle's status and whether healing is suspended.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Report drift only.
    Observe,
    /// Apply the desired state when drift is found (the same rules as `apply`).
    Heal,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabels {
    pub kind: String,
    pub change: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

pub struct Metrics {
    pub drift: Family<DriftLabels, Gauge>,
    pub last_observe: Gauge<f64, AtomicU64>,
    pub observe_duration: Gauge<f64, AtomicU64>,
    pub applies: Family<ResultLabels, Counter>,
    pub load_errors: Counter,
    pub cycle_failures: Counter,
    pub desired_stale: Gauge,
}

impl Metrics {
    fn register(r: &mut Registry) -> Self {
        let m = Metrics {
            drift: Family::default(),
            last_observe: Gauge::default(),
            observe_duration: Gauge::default(),
            applies: Family::default(),
            load_errors: Counter::default(),
            cycle_failures: Counter::default(),
            desired_stale: Gauge::default(),
        };
        r.register("drift_objects", "Objects whose live state differs from the desired state", m.drift.clone());
        r.register("last_observe_timestamp_seconds", "When the live server was last read (Unix time)", m.last_observe.clone());
        r.register("observe_duration_seconds", "How long the last observe and plan took", m.observe_duration.clone());
        r.register("applies", "Applies by heal mode, by result", m.applies.clone());
        r.register("load_errors", "Times the desired-state directory did not load", m.load_errors.clone());
        r.register("cycle_failures", "Cycles that could not read the live server", m.cycle_failures.clone());
        r.register("desired_state_stale", "1 while the newest desired state does not load and the last good one is used", m.desired_stale.clone());
        m
    }
}

/// The last cycle, as `/status` shows it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub last_cycle: Option<String>,
    /// `ok` or `failed: why`.
    pub result: String,
    pub trigger: Option<String>,
    pub load_error: Option<String>,
    pub last_apply: Option<String>,
    /// The plan as `plan --format json` prints it (secrets masked).
    pub plan: Option<serde_json::Value>,
}

pub struct Shared {
    pub mode: Mode,
    pub registry: Registry,
    pub metrics: Metrics,
    pub status: Mutex<Status>,
    suspended: AtomicBool,
    ready: AtomicBool,
}

impl Shared {
    pub fn new(mode: Mode, suspended: bool) -> Self {
        let mut registry = Registry::with_prefix("mailplane");
        let metrics = Metrics::register(&mut registry);
        // Zero from the start, so a dashboard's rate() sees the first apply.
        if mode == Mode::Heal {
            for result in ["applied", "refused", "failed"] {
                let _ = metrics.applies.get_or_create(&ResultLabels { result: result.into() });
            }
        }
        Shared { mode, registry, metrics, status: Mutex::default(), suspended: AtomicBool::new(suspended), ready: AtomicBool::new(false) }
    }
    pub fn suspended(&self) -> bool {
        self.suspended.load(Ordering::SeqCst)
    }
    pub fn set_suspended(&self, v: bool) {
        self.suspended.store(v, Ordering::SeqCst);
    }
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    pub fn set_ready(&self, v: bool) {
        self.ready.store(v, Ordering::SeqCst);
    }
    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }
    /// `/status`: the last cycle plus the daemon's mode.
    pub fn status_json(&self) -> serde_json::Value {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut v = serde_json::to_value(status).expect("JSON");
        v["mode"] = serde_json::json!(self.mode);
        v["suspended"] = serde_json::json!(self.suspended());
        v["ready"] = serde_json::json!(self.ready());
        v
    }
    pub fn metrics_text(&self) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry).expect("writing to a String");
        s
    }
}
