//! `mailplane watch [DIR]`: the drift-detection daemon. Re-plans on an interval (with jitter),
//! when the desired state or the managed service files change, and after a git pull; reports
//! drift as logs, metrics, `/status` and an optional webhook; in heal mode applies the desired
//! state through `apply`'s own path. A directory that stops loading is reported and the last
//! good desired state stays in use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc, watch};
use tracing::{error, info, warn};

use super::apply::{Options, apply_prepared};
use super::target::{TargetArgs, TargetError, prepare_loaded, runtime};
use crate::daemon::schedule::{Config, Trigger};
use crate::daemon::state::{DriftLabels, Mode, ResultLabels, Shared};
use crate::daemon::triggers::{GitSource, watch_files};
use crate::kinds;
use crate::load::Loaded;
use crate::plan::{Action, Plan};
use crate::printer::{ExitStatus, Printer};
use crate::render;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Seconds between checks of the live server (±10% jitter).
    #[arg(long, default_value_t = 60)]
    interval: u64,
    /// observe: report drift only; heal: apply the desired state when it drifts.
    #[arg(long, value_enum, default_value = "observe")]
    mode: Mode,
    /// Start with healing paused (`POST /resume` starts it).
    #[arg(long)]
    suspend: bool,
    /// Address of the HTTP listener (/metrics, /healthz, /readyz, /status, /suspend, /resume).
    #[arg(long, default_value = "127.0.0.1:9464")]
    listen: SocketAddr,
    #[arg(long, value_enum, default_value = "human")]
    log_format: LogFormat,
    /// POST a JSON document here whenever the set of drifted objects changes.
    #[arg(long)]
    webhook: Option<String>,
    /// Keep DIR a checkout of this repository's `--branch`, fetched every `--pull-interval` seconds.
    #[arg(long)]
    git_remote: Option<String>,
    #[arg(long, default_value = "main", requires = "git_remote")]
    branch: String,
    #[arg(long, default_value_t = 60, requires = "git_remote")]
    pull_interval: u64,
    /// Seconds between fresh DNS lookups of forwarding hosts given by name (mailcow looks them
    /// up once, when added; 0: never again). Changed addresses then show as drift (heal: applied).
    #[arg(long, default_value_t = 86_400)]
    forwarding_hosts_refresh: u64,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    init_logging(args.log_format);
    // Deleting a mailbox destroys mail: the daemon takes that consent only from `prune` in
    // mailplane.yaml, which is reviewed in git, never from its command line.
    if !args.target.allow_delete.is_empty() || args.target.force {
        printer.err("error: watch takes no --allow-delete or --force; consent to deletions with `prune` in mailplane.yaml");
        return ExitStatus::Error;
    }
    runtime().block_on(serve(args))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let color = Printer::new(false).color_stderr();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(color);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(args: Args) -> ExitStatus {
    let shared = Arc::new(Shared::new(args.mode, args.suspend));
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("stopping: finishing the current cycle");
        let _ = stop_tx.send(true);
    });

    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            error!(listen = %args.listen, "cannot listen: {e}");
            return ExitStatus::Error;
        }
    };
    let mut http_stop = stop.clone();
    let app = crate::daemon::http::router(shared.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { while !*http_stop.borrow_and_update() && http_stop.changed().await.is_ok() {} })
            .await;
    });

    if let Some(remote) = &args.git_remote {
        let git = GitSource { remote: remote.clone(), branch: args.branch.clone(), dir: args.target.dir.clone() };
        pull(&git).await;
        tokio::spawn(pull_every(git, Duration::from_secs(args.pull_interval.max(1)), stop.clone()));
    }

    let (files_tx, files_rx) = mpsc::unbounded_channel();
    let mut roots = vec![args.target.dir.clone()];
    roots.extend(services_root(&args.target));
    let _watcher = match watch_files(roots.clone(), files_tx) {
        Ok(w) => Some(w),
        Err(e) => {
            warn!("cannot watch {roots:?} for changes ({e}); relying on the interval");
            None
        }
    };

    info!(mode = %format!("{:?}", args.mode).to_lowercase(), listen = %args.listen, dir = %args.target.dir.display(), interval_s = args.interval, "watching");
    let cfg = Config { interval: Duration::from_secs(args.interval.max(1)), ..Config::default() };
    let daemon = Arc::new(Mutex::new(Daemon::new(args, shared, stop.clone())));
    crate::daemon::driver::drive(cfg, files_rx, stop, rand::random::<f64>, move |trigger| {
        let d = daemon.clone();
        async move { d.lock().await.cycle(trigger).await }
    })
    .await;
    info!("stopped");
    ExitStatus::Success
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The managed service files' directory (`services_root` in mailplane.yaml), if any.
fn services_root(args: &TargetArgs) -> Option<std::path::PathBuf> {
    let loaded = kinds::load_dir(&args.dir).ok()?;
    let root = loaded.settings.as_ref()?.1.services_root.as_ref()?;
    Some(args.dir.join(root))
}

async fn pull(git: &GitSource) {
    let g = git.clone();
    match tokio::task::spawn_blocking(move || g.sync()).await {
        Ok(Ok(commit)) => tracing::debug!(%commit, "pulled"),
        Ok(Err(e)) => error!(remote = %git.remote, "git pull failed: {e}"),
        Err(e) => error!("git pull panicked: {e}"),
    }
}

/// A checkout that changes files is picked up by the file watch, like any other edit.
async fn pull_every(git: GitSource, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => pull(&git).await,
            _ = stop.changed() => return,
        }
    }
}

struct Daemon {
    target: TargetArgs,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    last_good: Option<Loaded>,
    last_load_error: Option<String>,
    /// The drifted objects last reported, so each is logged (and the webhook called) once per change.
    last_drift: Option<Vec<String>>,
    webhook: Option<(reqwest::Client, String)>,
    forwarding_refresh: Option<Duration>,
    /// When forwarding hosts were last looked up again (the start counts: the server's entries are fresh enough).
    forwarding_refreshed: Instant,
}

/// The apply journal's word for an outcome, as a metric label: applied, refused, failed, no changes.
fn result_label(result: &str) -> String {
    result.split(':').next().unwrap_or(result).split(';').next().unwrap_or(result).to_string()
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    }
}

impl Daemon {
    fn new(args: Args, shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Self {
        let webhook = args.webhook.map(|url| (reqwest::Client::new(), url));
        let forwarding_refresh = (args.forwarding_hosts_refresh > 0).then(|| Duration::from_secs(args.forwarding_hosts_refresh));
        Daemon {
            target: args.target,
            shared,
            stop,
            last_good: None,
            last_load_error: None,
            last_drift: None,
            webhook,
            forwarding_refresh,
            forwarding_refreshed: Instant::now(),
        }
    }

    /// One observe → plan (→ heal). Returns whether the live server could be read.
    async fn cycle(&mut self, trigger: Trigger) -> bool {
        self.reload();
        let Some(loaded) = self.last_good.clone() else {
            return self.failed(trigger, "the desired state has not loaded yet".into());
        };
        let started = Instant::now();
        let quiet = Printer::new(true);
        // Observing only reads (and may finish an interrupted apply's outbox, which is safe to
        // repeat): a stop request abandons it.
        let mut stop = self.stop.clone();
        let mut target = self.target.clone();
        target.refresh_forwarding_hosts = self.forwarding_refresh.is_some_and(|every| self.forwarding_refreshed.elapsed() >= every);
        let mut prepared = tokio::select! {
            p = prepare_loaded(&target, loaded.clone(), quiet, false, None) => p,
            _ = stop.wait_for(|s| *s) => return true,
        };
        if target.refresh_forwarding_hosts {
            self.forwarding_refreshed = Instant::now();
            // A failed lookup keeps the addresses the server has, as without a refresh.
            if let Err(e @ TargetError::Forwarding(_)) = &prepared {
                warn!(error = %e, "forwarding hosts could not be looked up again; keeping their addresses");
                target.refresh_forwarding_hosts = false;
                prepared = tokio::select! {
                    p = prepare_loaded(&target, loaded.clone(), quiet, false, None) => p,
                    _ = stop.wait_for(|s| *s) => return true,
                };
            }
        }
        let p = match prepared {
            Ok(p) => p,
            Err(e) => return self.failed(trigger, e.to_string()),
        };
        p.db.close().await;
        self.report(&p.plan, trigger, started.elapsed());
        if self.shared.mode == Mode::Heal && !p.plan.is_empty() {
            self.heal(&target, &p.plan, loaded).await;
        }
        true
    }

    /// Loads the directory; on errors keeps the last good desired state and says so.
    fn reload(&mut self) {
        let m = &self.shared.metrics;
        let error = match kinds::load_dir(&self.target.dir) {
            Ok(l) if !l.has_errors() => {
                self.last_good = Some(l);
                None
            }
            Ok(l) => Some(l.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.render(&l.sources, false)).collect::<Vec<_>>().join("\n")),
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = &error {
            m.load_errors.inc();
            if self.last_load_error.as_ref() != Some(e) {
                error!(error = %e, using_last_good = self.last_good.is_some(), "the desired state does not load; keeping the last good one");
            }
        } else if self.last_load_error.is_some() {
            info!("the desired state loads again");
        }
        m.desired_stale.set(i64::from(error.is_some() && self.last_good.is_some()));
        self.shared.update(|s| s.load_error = error.clone());
        self.last_load_error = error;
    }

    fn failed(&mut self, trigger: Trigger, why: String) -> bool {
        self.shared.metrics.cycle_failures.inc();
        self.shared.set_ready(false);
        error!(?trigger, error = %why, "cycle failed; retrying with backoff");
        self.shared.update(|s| {
            s.last_cycle = Some(crate::store::db::now_utc());
            s.result = format!("failed: {why}");
            s.trigger = Some(format!("{trigger:?}").to_lowercase());
        });
        false
    }

    fn report(&mut self, plan: &Plan, trigger: Trigger, took: Duration) {
        let m = &self.shared.metrics;
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        m.last_observe.set(unix.as_secs_f64());
        m.observe_duration.set(took.as_secs_f64());
        m.drift.clear();
        for c in &plan.changes {
            m.drift.get_or_create(&DriftLabels { kind: c.kind.to_string(), change: action_word(c.action).into() }).inc();
        }
        for f in &plan.files {
            m.drift.get_or_create(&DriftLabels { kind: "file".into(), change: action_word(f.action).into() }).inc();
        }
        let drift: Vec<String> = plan.summary()["changes"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(String::from)).collect();
        if self.last_drift.as_ref() != Some(&drift) {
            // Field names only: values may be secrets.
            for c in &plan.changes {
                let fields: Vec<&str> = c.field_changes().iter().map(|f| f.field).collect();
                info!(kind = %c.kind, key = %c.key, change = action_word(c.action), fields = %fields.join(","), "drift");
            }
            for f in &plan.files {
                info!(kind = "file", key = %f.path, change = action_word(f.action), "drift");
            }
            if plan.is_empty() {
                info!("no drift: the live server matches the desired state");
            }
            self.notify(plan);
            self.last_drift = Some(drift);
        }
        let summary = render::summary(plan);
        tracing::debug!(?trigger, took_ms = took.as_millis() as u64, %summary, "cycle");
        let doc = serde_json::from_str(&render::json(plan)).ok();
        self.shared.set_ready(true);
        self.shared.update(|s| {
            s.last_cycle = Some(crate::store::db::now_utc());
            s.result = "ok".into();
            s.trigger = Some(format!("{trigger:?}").to_lowercase());
            s.plan = doc;
        });
    }

    /// The webhook hears about each change of the drift set; a slow receiver never holds up a cycle.
    fn notify(&self, plan: &Plan) {
        let Some((client, url)) = self.webhook.clone() else { return };
        let body = serde_json::json!({
            "event": if plan.is_empty() { "in_sync" } else { "drift" },
            "summary": render::summary(plan),
            "plan": serde_json::from_str::<serde_json::Value>(&render::json(plan)).ok(),
        });
        tokio::spawn(async move {
            let sent = client.post(&url).json(&body).timeout(Duration::from_secs(10)).send().await.and_then(|r| r.error_for_status());
            if let Err(e) = sent {
                warn!(%url, "webhook failed: {e}");
            }
        });
    }

    /// Applies through `apply`'s path: under its lock, re-planned under it, journaled, refused
    /// when the plan has problems. Never cancelled once started (it is one transaction).
    /// Applies with the `target` settings of the cycle that observed the drift (a refresh of the
    /// forwarding hosts included).
    async fn heal(&mut self, target: &TargetArgs, observed: &Plan, loaded: Loaded) {
        if self.shared.suspended() {
            info!("drift found; healing is suspended (POST /resume)");
            return;
        }
        if !observed.problems.is_empty() {
            warn!(problems = %observed.problems.join("; "), "drift found but the plan is blocked; not healing");
            self.shared.update(|s| s.last_apply = Some(format!("blocked: {}", observed.problems.join("; "))));
            return;
        }
        let quiet = Printer::new(true);
        let result = match prepare_loaded(target, loaded, quiet, true, None).await {
            Ok(p) => apply_prepared(p, &target.dir, None, &Options { auto_approve: true, restart_sogo: false }, quiet).await.1,
            Err(e) => format!("failed: {e}"),
        };
        let label = result_label(&result);
        self.shared.metrics.applies.get_or_create(&ResultLabels { result: label.clone() }).inc();
        if label == "applied" || label == "no changes" {
            info!(result = %result, "healed");
        } else {
            error!(result = %result, "heal did not apply");
        }
        self.shared.update(|s| s.last_apply = Some(format!("{} {result}", crate::store::db::now_utc())));
    }
}
