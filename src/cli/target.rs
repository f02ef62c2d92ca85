//! Shared by plan and apply: resolve connection settings (flag > environment > mailplane.yaml >
//! the embedded default), load and validate the directory, observe the target, compute the plan.

use std::path::{Path, PathBuf};

use crate::kinds::{self, Desired};
use crate::live::LiveData;
use crate::load::{self, Loaded};
use crate::observe;
use crate::plan::{self, Plan};
use crate::printer::Printer;
use crate::settings::SettingsFile;
use crate::store::db::{Access, Db};
use crate::store::kv::Kv;

pub const DEFAULT_TARGET: &str = "sqlite://state/mailplane.db";

/// Why plan, apply, watch or a read-only command did not get as far as they needed. Printed once,
/// at the edge (`report`), with its causes and what to do; every one exits 1.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The diagnostics (file:line:column) are printed already.
    #[error("the desired-state directory has errors")]
    Invalid,
    #[error(transparent)]
    Load(#[from] load::LoadError),
    #[error("{0}")]
    Connect(String),
    #[error("a mailcow database needs its Redis too (DOMAIN_MAP, RL_VALUE): give --redis or MAILPLANE_REDIS_URL")]
    NoRedis,
    #[error(transparent)]
    Db(#[from] crate::store::db::DbError),
    #[error(transparent)]
    Lock(#[from] crate::store::lock::LockError),
    #[error(transparent)]
    Observe(#[from] observe::ObserveError),
    /// What an interrupted apply left could not be finished.
    #[error("{0}")]
    Outbox(String),
    #[error(transparent)]
    Ldap(#[from] crate::ldap_source::LdapSourceError),
    #[error("cannot resolve the secrets and files the directory names:\n  {}", .0.join("\n  "))]
    Secrets(Vec<String>),
    #[error("cannot read service files:\n  {}", .0.join("\n  "))]
    ServiceFiles(Vec<String>),
    #[error("{}:\n  {}", super::dns::UNRESOLVED_FORWARDING, .0.join("\n  "))]
    Forwarding(Vec<String>),
    #[error("{0}")]
    PasswordCache(String),
    #[error("{0}")]
    ServiceFilesOnDisk(String),
    #[error("{tool} refused {} {what}(s); nothing was written:\n  {}", .refused.len(), .refused.join("\n  "))]
    Refused { tool: &'static str, what: &'static str, refused: Vec<String> },
    #[error("cannot check the {what} with {tool}: {error}")]
    CannotCheck { tool: &'static str, what: &'static str, error: crate::servicefiles::HostError },
    #[error("the Rspamd UI password: {0}")]
    RspamdPassword(crate::servicefiles::password::PasswordError),
    #[error("{} has errors: run `mailplane validate` on it, or give --target", .0.display())]
    BadSettings(PathBuf),
    #[error("cannot read {}: {error}", .path.display())]
    UnreadableSettings { path: PathBuf, error: std::io::Error },
    #[error("{} is not a directory: give the desired-state directory, or --target", .0.display())]
    NotADirectory(PathBuf),
    #[error("the directory did not load")]
    NotLoaded,
    #[error("internal error: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl TargetError {
    pub fn exit_status(&self) -> crate::printer::ExitStatus {
        crate::printer::ExitStatus::Error
    }

    /// What to do, where the message does not say it already.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            TargetError::Secrets(_) => Some("export the variables, or fix the `{file: …}` paths (they are read from inside the desired-state directory)"),
            TargetError::Forwarding(_) => {
                Some("write the hosts' addresses instead of their names, or point MAILPLANE_DNS_RESOLVER at a DNS server that answers")
            }
            TargetError::RspamdPassword(crate::servicefiles::password::PasswordError::Host(_)) => Some(
                "mailcow hashes it in its rspamd container (services_mode: docker); in standalone mode, or with no services configured, rspamadm must be on this host: install rspamd",
            ),
            TargetError::CannotCheck { tool: "sievec", .. } => Some(
                "mailplane checks each new or changed filter with Dovecot's sievec: in mailcow's dovecot container (services_mode: docker), or on this host (services_mode: standalone, or no services configured): install dovecot-sieve",
            ),
            TargetError::CannotCheck { .. } => Some(
                "mailplane checks each new or changed settings map with rspamadm: in mailcow's rspamd container (services_mode: docker), or on this host (services_mode: standalone, or no services configured): install rspamd",
            ),
            _ => None,
        }
    }

    /// Prints it once: `error:` and the message, each cause, the hint. Nothing for `Invalid`,
    /// whose diagnostics were printed where they were found.
    pub fn report(&self, printer: Printer) {
        if matches!(self, TargetError::Invalid) {
            return;
        }
        let mut text = format!("error: {self}");
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(&format!("\n  caused by: {c}"));
            cause = c.source();
        }
        if let Some(hint) = self.hint() {
            text.push_str(&format!("\n  hint: {hint}"));
        }
        printer.err(&text);
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// The desired-state directory (for `apply`, also a plan file saved with `plan --out`).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Database of the live server: `sqlite://path` or `mysql://user@host:port/db`.
    #[arg(long, env = "MAILPLANE_DATABASE_URL")]
    pub target: Option<String>,
    /// mailcow's Redis, e.g. `redis://127.0.0.1:6379/0` (required with a mysql target).
    #[arg(long, env = "MAILPLANE_REDIS_URL")]
    pub redis: Option<String>,
    /// mailcow's memcached `host:port`, flushed after SOGo's view changes.
    #[arg(long, env = "MAILPLANE_MEMCACHED")]
    pub memcached: Option<String>,
    /// Consent to delete mailboxes or domains (their mail is destroyed): a kind (`mailbox`,
    /// `domain`) or one object (`alice@example.org`); repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub allow_delete: Vec<String>,
    /// Apply even when more than `max_change_percent` of a kind's objects change, or all of a kind would be removed.
    #[arg(long)]
    pub force: bool,
    /// Look up forwarding hosts given by name again (SPF, MX, A/AAAA) instead of keeping the
    /// addresses the server already has for them.
    #[arg(long)]
    pub refresh_forwarding_hosts: bool,
    /// apply: seconds to wait for another apply on the same target to finish.
    #[arg(long, default_value_t = 60)]
    pub lock_timeout: u64,
    /// mailcow-dockerized's directory (where `mailcow.conf` is), as `mailcow_dir` in mailplane.yaml.
    #[arg(long, env = "MAILPLANE_MAILCOW_DIR")]
    pub mailcow_dir: Option<PathBuf>,
}

pub struct Prepared {
    pub loaded: Loaded,
    pub desired: Desired,
    pub live: LiveData,
    pub plan: Plan,
    pub db: Db,
    pub kv: Kv,
    pub memcached: Option<String>,
    /// Held from before the live state was read until the apply is over.
    pub lock: Option<crate::store::lock::LockGuard>,
    /// mailcow's `data/conf` when the settings name it (the service files live there).
    pub services_root: Option<PathBuf>,
    /// The password cache's rows for a Rspamd UI password hash in the plan, written once the
    /// file is.
    pub password_cache: Vec<crate::store::db::Stmt>,
}

/// With `lock`, the apply lock is taken before the live state is read. The caller reports
/// the error (`TargetError::report`); the directory's diagnostics are printed here.
///
/// The live server is read while the directory is parsed and validated: `mailplane.yaml` alone
/// says where the target is, and neither side needs the other until the plan.
pub async fn prepare(args: &TargetArgs, printer: Printer, lock: bool) -> Result<Prepared, TargetError> {
    let early = load::read_settings(&args.dir);
    // Without LDAP mailboxes (merged into the documents first), the desired records are built
    // while the directory is validated; without service files (read from the documents too),
    // nothing later needs the parsed YAML, which is freed as soon as they are built.
    let early_desired = early.as_ref().is_some_and(|(_, s)| s.ldap_mailboxes.is_none());
    let free_early = early_desired && early.as_ref().is_some_and(|(_, s)| s.services_root.is_none());
    // The read-ahead connects and takes the lock at once, but reads the rows only once the
    // directory is loaded: at 100,000 mailboxes the parsed YAML, the validation indexes and the
    // live rows held at once peaked at 600 MB; one after the other, 460 MB, for 0.1 s more.
    let (loaded_tx, loaded_rx) = tokio::sync::oneshot::channel::<()>();
    let observing = early.as_ref().map(|(_, settings)| tokio::spawn(observe_target(args.clone(), settings.clone(), lock, false, Some(loaded_rx))));
    let load_args = args.clone();
    let early_text = early.as_ref().map(|(text, _)| text.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        let (loaded, desired) = kinds::load_dir_with(&load_args.dir, |l| early_desired.then(|| kinds::desired(l, &kinds::resolve_secrets(l))))?;
        let mut loaded = checked(loaded, printer)?;
        if free_early && same_settings(early_text.as_ref(), &loaded) {
            loaded.documents = Vec::new();
            // The diagnostics are printed; only the settings' text is still compared.
            let settings = loaded.settings.as_ref().map(|(idx, _)| *idx);
            loaded.sources.iter_mut().enumerate().filter(|(i, _)| Some(*i) != settings).for_each(|(_, s)| s.text = String::new());
        }
        // The live rows are read after this (a dropped sender: loading failed).
        let _ = loaded_tx.send(());
        Ok::<_, TargetError>((loaded, desired))
    })
    .await?;
    let (loaded, desired) = match loaded {
        Ok(both) => both,
        Err(e) => {
            // Let the read-ahead finish and free its lock properly (a cancelled one would leave
            // its holder row in mailplane_lock).
            if let Some(handle) = observing
                && let Ok(Ok(observed)) = handle.await
            {
                observed.release().await;
            }
            return Err(e);
        }
    };
    let same = same_settings(early.as_ref().map(|(text, _)| text), &loaded);
    let observed = match observing {
        Some(handle) => match handle.await {
            Ok(Ok(observed)) if same => Some(observed),
            Ok(Ok(observed)) => {
                observed.release().await;
                None
            }
            // The server itself cannot be reached: trying again the ordinary way would only wait as long again.
            Ok(Err((true, e))) => return Err(e),
            // Not set up yet: the ordinary way below sets it up, or says why not.
            _ => None,
        },
        None => None,
    };
    match observed {
        Some(observed) => finish(args, loaded, printer, observed, desired).await,
        // The records built early were made from this same directory and settings.
        None => prepare_loaded(args, loaded, printer, lock, desired.filter(|_| same)).await,
    }
}

/// Whether the settings read early are the ones the directory was loaded with.
fn same_settings(early: Option<&Option<String>>, loaded: &Loaded) -> bool {
    early.is_some_and(|text| text.as_deref() == loaded.settings.as_ref().map(|(idx, _)| loaded.sources[*idx].text.as_str()))
}

/// Prints a loaded directory's diagnostics; `Invalid` when it has errors.
fn checked(mut loaded: Loaded, printer: Printer) -> Result<Loaded, TargetError> {
    // validate only warns about a secret it cannot resolve; plan and apply need every one.
    for d in loaded.diagnostics.iter_mut().filter(|d| d.code == load::validate::secrets::UNRESOLVED) {
        d.severity = load::Severity::Error;
    }
    super::validate::report_diagnostics(&loaded, printer);
    if loaded.has_errors() {
        return Err(TargetError::Invalid);
    }
    Ok(loaded)
}

/// The live side: connection, lock, live rows and their records.
struct Observed {
    db: Db,
    kv: Kv,
    memcached: Option<String>,
    lock: Option<crate::store::lock::LockGuard>,
    live: LiveData,
    records: Vec<crate::record::Record>,
    /// What an interrupted apply had left and this run finished (`outbox::finish_pending`).
    replayed: Vec<String>,
}

impl Observed {
    /// Frees the apply lock of a read-ahead that is not used.
    async fn release(self) {
        if let Some(guard) = self.lock {
            guard.release().await;
        }
    }
}

/// Errors say whether setting the target up could not help: then a read-ahead's error is final.
/// `gate`: the rows are read once it is sent or dropped.
async fn observe_target(
    args: TargetArgs,
    settings: crate::settings::SettingsFile,
    lock: bool,
    setup: bool,
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<Observed, (bool, TargetError)> {
    // Only SQLite needs setting up before a connection works (the file is created then).
    let final_error = !target_url(&args, &settings).starts_with("sqlite:");
    let (db, kv, memcached) = try_connect(&args, Some(&settings), Access { write: lock, setup }).await.map_err(|e| (final_error, e))?;
    observe_connected(&args, &settings, db, kv, memcached, lock, gate).await.map_err(|e| (false, e))
}

async fn observe_connected(
    args: &TargetArgs,
    settings: &SettingsFile,
    db: Db,
    kv: Kv,
    memcached: Option<String>,
    lock: bool,
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<Observed, TargetError> {
    let lock = match lock {
        true => Some(crate::store::lock::acquire(&db, std::time::Duration::from_secs(args.lock_timeout)).await?),
        false => None,
    };
    if let Some(gate) = gate
        && gate.await.is_err()
    {
        if let Some(lock) = lock {
            lock.release().await;
        }
        return Err(TargetError::NotLoaded);
    }
    let timeout = std::time::Duration::from_secs(args.lock_timeout);
    let replayed = crate::outbox::finish_pending(&db, &kv, memcached.as_deref(), lock.is_some(), timeout).await.map_err(TargetError::Outbox)?;
    let t = std::time::Instant::now();
    let mut live = observe::observe(&db, &kv).await?;
    observe::netfilter_rules(settings, &mut live).await;
    let t = crate::timing::lap("observe", t);
    let (live, records) = tokio::task::spawn_blocking(move || {
        let mut live = live;
        let records = kinds::live(&live);
        live.trim();
        (live, records)
    })
    .await?;
    crate::timing::lap("live", t);
    Ok(Observed { db, kv, memcached, lock, live, records, replayed })
}

/// Connects, observes and plans an already loaded directory (`watch` keeps the last good one
/// when a new commit does not load). Returns what went wrong instead of printing it.
pub async fn prepare_loaded(
    args: &TargetArgs,
    loaded: Loaded,
    printer: Printer,
    lock: bool,
    desired: Option<Result<Desired, Vec<String>>>,
) -> Result<Prepared, TargetError> {
    let settings = loaded.settings.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
    let observed = observe_target(args.clone(), settings, lock, true, None).await.map_err(|(_, e)| e)?;
    finish(args, loaded, printer, observed, desired).await
}

/// The desired side, then the plan.
async fn finish(
    args: &TargetArgs,
    mut loaded: Loaded,
    printer: Printer,
    observed: Observed,
    desired: Option<Result<Desired, Vec<String>>>,
) -> Result<Prepared, TargetError> {
    let Observed { db, kv, memcached, lock, live, records: live_records, replayed } = observed;
    for note in replayed {
        printer.err(&format!("note: {note}"));
    }
    let settings = loaded.settings.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
    let ldap = match &settings.ldap_mailboxes {
        Some(cfg) => {
            let merged = crate::ldap_source::merge(&mut loaded, cfg, &db).await.map_err(TargetError::Ldap)?;
            for s in &merged.skipped {
                printer.err(&format!("note: LDAP user {s}; not provisioned"));
            }
            Some((cfg, merged))
        }
        None => None,
    };
    let t = std::time::Instant::now();
    let mut desired = desired.unwrap_or_else(|| kinds::desired(&loaded, &kinds::resolve_secrets(&loaded))).map_err(TargetError::Secrets)?;
    let services_root = settings.services_root.as_ref().map(|r| loaded.root.join(r));
    let service_files = match &services_root {
        Some(_) => Some(crate::servicefiles::desired(&loaded).map_err(TargetError::ServiceFiles)?),
        None => None,
    };
    let rspamd_password = services_root.as_ref().and_then(|_| crate::servicefiles::password::declared(&loaded));
    // Everything later works from records: at 100,000 mailboxes the parsed YAML is 100s of MB.
    loaded.documents = Vec::new();
    let t = crate::timing::lap("desired", t);
    if let Some((cfg, merged)) = ldap {
        crate::ldap_source::keep_missing(&mut desired, &live_records, &merged, cfg);
        desired.bookkeeping.extend(merged.state);
    }
    report_absent(&db, printer);
    let key = match crate::verify::needs_key(&desired) || rspamd_password.as_ref().is_some_and(|(s, _)| !s.is_literal()) {
        // Only apply (which holds the lock) makes the key.
        true => password_cache_key(&settings, &loaded.root, lock.is_some())?,
        false => None,
    };
    crate::verify::resolve_enforced(&mut desired, &live, &db, key.as_deref()).await?;
    let t = crate::timing::lap("verify", t);
    let policy = plan::Policy {
        prune: settings.prune.iter().map(|(k, m)| (*k, *m)).collect(),
        owned: live.owned(),
        ignore: settings.ignore.clone(),
        allow_delete: args.allow_delete.clone(),
        max_change_percent: settings.max_change_percent.unwrap_or(30),
        force: args.force,
        mailcow_conf: mailcow_conf(args, &settings, &loaded.root, &desired.records).await,
    };
    kinds::dkim::keep_live_keys(&mut desired, &live_records);
    kinds::fail2ban::follow_netfilter(&mut desired, &live);
    if !desired.forwarding_names.is_empty() {
        let known: Vec<_> = live_records.iter().filter(|r| r.kind == crate::model::Kind::ForwardingHost).cloned().collect();
        let refresh = args.refresh_forwarding_hosts;
        desired = tokio::task::spawn_blocking(move || super::dns::resolve_forwarding_hosts(&mut desired, &known, refresh).map(|()| desired))
            .await?
            .map_err(TargetError::Forwarding)?;
    }
    let mut password_cache = Vec::new();
    let files = match (&services_root, service_files) {
        (Some(root), Some(mut files)) => {
            if let Some(declared) = rspamd_password {
                let host = match crate::servicefiles::Host::from_settings(&settings).await.map_err(|e| TargetError::RspamdPassword(e.into()))? {
                    Some(host) => host,
                    None => crate::servicefiles::Host::Standalone(Default::default()),
                };
                let planned = crate::servicefiles::password::plan(declared, &desired.revealed, root, &host, &db, key.as_deref())
                    .await
                    .map_err(TargetError::RspamdPassword)?;
                files.push(planned.file);
                files.sort_by(|a, b| a.path.cmp(&b.path));
                password_cache = planned.remember;
            }
            crate::servicefiles::observe(root, files).map_err(TargetError::ServiceFilesOnDisk)?
        }
        _ => Vec::new(),
    };
    check_scripts(&settings, &desired, &live_records).await?;
    let plan = plan::plan(&desired, &live_records, &live, &files, &policy);
    crate::timing::lap("plan", t);
    Ok(Prepared { loaded, desired, live, plan, db, kv, memcached, lock, services_root, password_cache })
}

/// mailcow.conf, for what a plan must not fight (the API keys php-fpm writes again at every
/// start) or break (Fail2ban denying mailcow's own networks): from mailcow's directory when it is
/// known (one without a readable mailcow.conf blocks the plan), else in docker mode the
/// environment php-fpm-mailcow was started with (compose hands it mailcow.conf's settings); only
/// when API keys or Fail2ban are declared.
async fn mailcow_conf(args: &TargetArgs, settings: &SettingsFile, root: &Path, desired: &[crate::record::Record]) -> Option<Result<String, String>> {
    use crate::model::Kind;
    if let Some(dir) = args.mailcow_dir.clone().or_else(|| settings.mailcow_dir.as_ref().map(|d| root.join(d))) {
        let path = dir.join("mailcow.conf");
        return Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}; `mailcow_dir` (or --mailcow-dir) must be mailcow-dockerized's directory", path.display())),
        );
    }
    if !desired.iter().any(|r| matches!(r.kind, Kind::ApiKey | Kind::Fail2ban)) {
        return None;
    }
    // Without php-fpm's container there is nothing that would undo a change.
    let mailcow = crate::store::docker::Mailcow::connect(settings.docker_project()?).await.ok()?;
    mailcow.env("php-fpm").await.ok().map(|env| Ok(env.join("\n")))
}

/// Bad Sieve or UCL is bad input: each new or changed filter script goes through the real
/// `sievec` and each settings map through `rspamadm configtest` (where the service runs; on this
/// host when no services are configured) before a plan is made.
async fn check_scripts(settings: &crate::settings::SettingsFile, desired: &Desired, live: &[crate::record::Record]) -> Result<(), TargetError> {
    let scripts = kinds::sieve_filter::changed_scripts(&desired.records, live);
    let maps = kinds::settings_map::changed_contents(&desired.records, live);
    if scripts.is_empty() && maps.is_empty() {
        return Ok(());
    }
    let failed = |tool, what| move |error| TargetError::CannotCheck { tool, what, error };
    let host = match crate::servicefiles::Host::from_settings(settings).await.map_err(failed("sievec", "Sieve filters"))? {
        Some(host) => host,
        None => crate::servicefiles::Host::Standalone(Default::default()),
    };
    if !scripts.is_empty() {
        let refused = crate::servicefiles::check_sieve_scripts(&host, &scripts).await.map_err(failed("sievec", "Sieve filters"))?;
        if !refused.is_empty() {
            return Err(TargetError::Refused { tool: "sievec", what: "Sieve filter", refused });
        }
    }
    if !maps.is_empty() {
        let refused = crate::servicefiles::check_settings_maps(&host, &maps).await.map_err(failed("rspamadm configtest", "Rspamd settings maps"))?;
        if !refused.is_empty() {
            return Err(TargetError::Refused { tool: "rspamadm configtest", what: "Rspamd settings map", refused });
        }
    }
    Ok(())
}

/// Connects a read-only command (export, dns) to the database and its Redis (or the SQLite
/// file's kv table).
pub async fn connect(args: &TargetArgs, settings: &SettingsFile, printer: Printer) -> Result<(Db, Kv, Option<String>), TargetError> {
    let connected = try_connect(args, Some(settings), Access::READ).await?;
    report_absent(&connected.0, printer);
    Ok(connected)
}

/// `connect` without the note about a SQLite file that does not exist yet.
pub async fn try_connect(args: &TargetArgs, settings: Option<&SettingsFile>, access: Access) -> Result<(Db, Kv, Option<String>), TargetError> {
    let settings = settings.cloned().unwrap_or_default();
    let db = open_db(args.target.as_deref(), &settings, &args.dir, access).await?;
    let redis = args.redis.clone().or(settings.redis.clone());
    let kv = match (&redis, db.dialect()) {
        (Some(r), _) => Kv::redis(r).await.map_err(|e| TargetError::Connect(format!("cannot connect to Redis: {e}")))?,
        (None, crate::store::db::Dialect::Sqlite) => Kv::table(db.clone()),
        (None, crate::store::db::Dialect::MySql) => return Err(TargetError::NoRedis),
    };
    Ok((db, kv, args.memcached.clone().or(settings.memcached.clone())))
}

/// `dir/mailplane.yaml` alone (the default settings when there is none), for the commands that
/// need only the target.
pub fn settings_only(dir: &Path) -> Result<SettingsFile, TargetError> {
    let path = dir.join(crate::load::SETTINGS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => crate::load::yaml::parse(&text, 0).map_err(|_| TargetError::BadSettings(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SettingsFile::default()),
        Err(error) => Err(TargetError::UnreadableSettings { path, error }),
    }
}

/// The database of `target` (a flag or the environment), else of `dir/mailplane.yaml`'s settings.
pub async fn open_db(target: Option<&str>, settings: &SettingsFile, dir: &Path, access: Access) -> Result<Db, TargetError> {
    let url = resolve_target(target, settings, dir);
    let password = match std::env::var("MAILPLANE_DATABASE_PASSWORD") {
        Ok(p) => Some(p),
        Err(_) => match &settings.database_password_file {
            Some(f) => {
                let f = dir.join(f);
                let read = std::fs::read_to_string(&f).map_err(|e| TargetError::Connect(format!("cannot read {}: {e}", f.display())))?;
                Some(read.trim_end().to_string())
            }
            None => None,
        },
    };
    Ok(Db::open(&url, password.as_deref(), access).await?)
}

fn target_url(args: &TargetArgs, settings: &SettingsFile) -> String {
    resolve_target(args.target.as_deref(), settings, &args.dir)
}

/// The target: `flag` (a flag or the environment; a relative SQLite path from the working
/// directory, as a CLI user expects), else mailplane.yaml's `target` (a relative SQLite path
/// from `dir`, the directory holding it, like `{file:}` secrets), else the embedded default
/// (from the working directory, like Terraform's local state).
pub fn resolve_target(flag: Option<&str>, settings: &SettingsFile, dir: &Path) -> String {
    match (flag, &settings.target) {
        (Some(url), _) => url.to_string(),
        (None, Some(t)) => sqlite_from(&t.value, dir),
        (None, None) => DEFAULT_TARGET.to_string(),
    }
}

/// A relative `sqlite:` path taken from `dir`; any other URL as it is.
fn sqlite_from(url: &str, dir: &Path) -> String {
    let Some(rest) = url.trim().strip_prefix("sqlite:") else { return url.to_string() };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let relative = !(path.is_empty() || path.starts_with([':', '?', '/']) || dir == Path::new("."));
    if !relative {
        return url.to_string();
    }
    format!("sqlite://{}", dir.join(path).display())
}

/// Where apply keeps `password-cache.key`: MAILPLANE_STATE_DIR (from the working directory),
/// else `state_dir` in mailplane.yaml (from `dir`), else `state` in the working directory.
pub fn state_dir(settings: &SettingsFile, dir: &Path) -> PathBuf {
    match (std::env::var_os("MAILPLANE_STATE_DIR"), &settings.state_dir) {
        (Some(env), _) => PathBuf::from(env),
        (None, Some(d)) => dir.join(d),
        (None, None) => PathBuf::from("state"),
    }
}

/// The password cache's key; `create` (apply) makes it when it is missing.
fn password_cache_key(settings: &SettingsFile, dir: &Path, create: bool) -> Result<Option<Vec<u8>>, TargetError> {
    let state = state_dir(settings, dir);
    crate::verify::key(&state, create).map_err(|e| {
        TargetError::PasswordCache(format!(
            "cannot use {}: {e} (apply keeps the key of the password cache in the state directory {}, which must be writable by this user: make it writable, or set MAILPLANE_STATE_DIR or `state_dir` in mailplane.yaml)",
            state.join(crate::verify::KEY_FILE).display(),
            state.display()
        ))
    })
}

/// Says that the SQLite file is not there, loudly (even with --quiet) when mailplane applied to
/// it before: the database, and the journal in it, was deleted or moved.
pub fn report_absent(db: &Db, printer: Printer) {
    let Some(absent) = db.absent() else { return };
    let path = absent.path.display();
    let lock = crate::store::lock::lock_file(&absent.path);
    if absent.applied_before {
        Printer::new(false).err(&format!(
            "warning: the SQLite database {path} does not exist, but mailplane has applied to it before ({} is left from then): it was deleted or moved, and its journal with it.\n  Everything is read as an EMPTY server, and apply would create every object anew. If the file was moved, point the target at it (--target, MAILPLANE_DATABASE_URL or `target` in mailplane.yaml); if starting afresh is intended, delete {} too.",
            lock.display(),
            lock.display()
        ));
    } else if db.read_only() {
        printer.err(&format!("note: {path} does not exist yet: read as an empty server (mailcow's two Default templates); apply creates it"));
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sqlite_paths_in_the_settings_are_taken_from_their_directory() {
        let settings = |t: &str| SettingsFile { target: Some(crate::model::Located::new(t.to_string())), ..Default::default() };
        let dir = Path::new("/srv/mail");
        assert_eq!(resolve_target(None, &settings("sqlite://state/m.db?mode=ro"), dir), "sqlite:///srv/mail/state/m.db?mode=ro");
        assert_eq!(resolve_target(None, &settings("sqlite:m.db"), dir), "sqlite:///srv/mail/m.db");
        for kept in ["sqlite:///var/lib/m.db", "sqlite::memory:", "mysql://u@h:1/db"] {
            assert_eq!(resolve_target(None, &settings(kept), dir), kept);
        }
        // A flag (or the environment) and the default are the working directory's.
        assert_eq!(resolve_target(Some("sqlite://x.db"), &settings("sqlite://y.db"), dir), "sqlite://x.db");
        assert_eq!(resolve_target(None, &SettingsFile::default(), dir), DEFAULT_TARGET);
    }
}
