//! `mailplane apply [DIR]`: show the plan, confirm, write it in one transaction.

use std::io::{BufRead, IsTerminal};

use super::target::{TargetArgs, prepare, runtime};
use crate::printer::{ExitStatus, Printer};
use crate::render;
use crate::servicefiles::{self, FollowUp, Host, Service};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Apply without asking (for CI).
    #[arg(long)]
    auto_approve: bool,
    /// Restart SOGo (sogo-mailcow) after domains were added, as mailcow's "restart SOGo" option does.
    #[arg(long)]
    restart_sogo: bool,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    runtime().block_on(async {
        // `apply FILE`: the saved plan names its directory; everything else is re-read and checked.
        let saved = if args.target.dir.is_file() {
            match crate::planfile::read(&args.target.dir) {
                Ok(f) => Some(f),
                Err(e) => {
                    printer.err(&format!("error: {e}"));
                    return ExitStatus::Error;
                }
            }
        } else {
            None
        };
        let mut target = args.target.clone();
        if let Some(f) = &saved {
            target.dir = f.dir.clone();
            // The saved plan carries the consent it was reviewed with.
            target.allow_delete.extend(f.consent.allow_delete.iter().cloned());
            target.force |= f.consent.force;
        }
        let p = match prepare(&target, printer, true).await {
            Ok(p) => p,
            Err(e) => {
                e.report(printer);
                return e.exit_status();
            }
        };
        let opts = Options { auto_approve: args.auto_approve, restart_sogo: args.restart_sogo };
        apply_prepared(p, &target.dir, saved.as_ref(), &opts, printer).await.0
    })
}

/// How an apply is approved and what it may do beside the database.
pub struct Options {
    pub auto_approve: bool,
    pub restart_sogo: bool,
}

/// Decides, writes and journals a plan prepared under the apply lock, then frees the lock.
/// Also `watch --mode heal`'s way to apply, so both follow the same rules. Returns the exit
/// status and the journal's word for the outcome.
pub async fn apply_prepared(
    mut p: super::target::Prepared,
    dir: &std::path::Path,
    saved: Option<&crate::planfile::PlanFile>,
    opts: &Options,
    printer: Printer,
) -> (ExitStatus, String) {
    let clock = std::time::Instant::now();
    let mut entry = crate::store::journal::Entry {
        id: crate::store::journal::new_id(),
        started: crate::store::db::now_utc(),
        finished: String::new(),
        who: crate::store::lock::who(),
        ci: crate::store::journal::ci(),
        git_commit: crate::store::journal::git_commit(dir),
        summary: p.plan.summary(),
        result: String::new(),
        duration_ms: 0,
    };
    let (status, result) = decide_and_apply(&p, saved, opts, &entry, printer).await;
    entry.finished = crate::store::db::now_utc();
    entry.result = result;
    entry.duration_ms = clock.elapsed().as_millis() as i64;
    crate::failpoint::failpoint("before the journal");
    // Still under the lock: the next apply finds this one in the journal. An apply that wrote
    // has its row already (from its transaction); this gives it the final outcome and duration.
    let journaled = crate::store::journal::write(&p.db, &entry).await;
    if let Some(lock) = p.lock.take() {
        lock.release().await;
    }
    p.db.close().await;
    if let Err(e) = journaled {
        // The outcome stands (an applied change stays applied), but an apply that leaves no
        // trace must not look like a clean run to CI.
        printer.err(&format!(
            "error: the apply's outcome ({}) could not be written to the journal (mailplane_journal): {e}; the history will not show it",
            entry.result
        ));
        return (ExitStatus::Error, entry.result);
    }
    (status, entry.result)
}

/// Everything between reading the live state and the end of the write. Returns the exit status
/// and the journal's word for the outcome.
async fn decide_and_apply(
    p: &super::target::Prepared,
    saved: Option<&crate::planfile::PlanFile>,
    args: &Options,
    journal: &crate::store::journal::Entry,
    printer: Printer,
) -> (ExitStatus, String) {
    let refuse = |msg: String, why: &str| {
        printer.err(&format!("error: {msg}"));
        (ExitStatus::Error, format!("refused: {why}"))
    };
    if let Some(f) = saved
        && let Err(e) = crate::planfile::check(f, &p.plan, &p.desired.records, p.db.label())
    {
        return refuse(e.to_string(), "stale plan");
    }
    // Without a question to ask, the apply is certain: new DKIM keys are made while the plan is shown.
    let keys = if (args.auto_approve || saved.is_some()) && p.plan.problems.is_empty() && !p.plan.changes.is_empty() {
        match crate::apply::KeyGen::start(&p.plan, &p.desired, &p.live, p.db.dialect()) {
            Ok(k) => Some(k),
            Err(e) => return refuse(e.to_string(), "failed"),
        }
    } else {
        None
    };
    render::human_in_parts(&p.plan, printer.color_stdout(), |part| printer.out(part));
    if !p.plan.problems.is_empty() {
        return refuse("the plan is blocked (see above); nothing was written".into(), &format!("blocked: {}", p.plan.problems.join("; ")));
    }
    if p.plan.is_empty() {
        return match crate::apply::adopt(&p.desired, &p.live, &p.db).await {
            Ok(0) => (ExitStatus::Success, "no changes".into()),
            Ok(n) => {
                printer.out(&format!("Adopted {n} existing objects: mailplane manages them from now on."));
                (ExitStatus::Success, format!("no changes; adopted {n} objects"))
            }
            Err(e) => {
                printer.err(&format!("error: {e}"));
                (ExitStatus::Error, format!("failed: {e}"))
            }
        };
    }
    // A saved plan was reviewed when it was made: applying the file is the approval.
    if !args.auto_approve && saved.is_none() {
        if !std::io::stdin().is_terminal() {
            return refuse("refusing to apply without confirmation; run in a terminal or pass --auto-approve".into(), "no confirmation");
        }
        printer.err("Apply these changes? Only 'yes' is accepted: ");
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            return refuse("apply cancelled; nothing was written".into(), "cancelled");
        }
    }
    let failed = |e: String| {
        printer.err(&format!("error: {e}"));
        (ExitStatus::Error, format!("failed: {e}"))
    };
    let services = match services::connect(p, args.restart_sogo).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    // Files are checked before the database is touched: a refused file stops the whole apply.
    if let Some(s) = &services
        && let Err(e) = s.check_files(p).await
    {
        return refuse(e.to_string(), "service files refused by their checkers");
    }
    let started = std::time::Instant::now();
    if p.plan.changes.is_empty() {
        match crate::apply::adopt(&p.desired, &p.live, &p.db).await {
            Ok(0) => {}
            Ok(n) => printer.out(&format!("Adopted {n} existing objects: mailplane manages them from now on.")),
            Err(e) => return failed(e.to_string()),
        }
    } else {
        match crate::apply::apply(&p.plan, &p.desired, &p.live, &p.db, &p.kv, p.memcached.as_deref(), keys, journal).await {
            Ok(a) => {
                use crate::plan::Action;
                printer.out(&format!(
                    "Apply complete: {} created, {} updated, {} deleted ({} SQL statements in one transaction, {} Redis updates{}) in {:.2}s.",
                    p.plan.count(Action::Create),
                    p.plan.count(Action::Update),
                    p.plan.count(Action::Delete),
                    a.statements,
                    a.redis_ops,
                    if a.memcached_flushed { ", memcached flushed" } else { "" },
                    started.elapsed().as_secs_f64()
                ));
            }
            Err(e) => return failed(e.to_string()),
        }
    }
    if let Some(s) = &services
        && let Err(e) = s.after_database(p, args.restart_sogo, printer).await
    {
        return failed(e);
    }
    // Only once the file holds the new hash: a cache row for a hash that was never written is harmless, but useless.
    if !p.password_cache.is_empty()
        && let Err(e) = p.db.execute_cache(&p.password_cache).await
    {
        return failed(e.to_string());
    }
    (ExitStatus::Success, "applied".into())
}

/// The mail services beside the database: service files, dovecot's auth cache, SOGo.
mod services {
    use super::*;
    use crate::plan::{Action, Plan};

    pub struct Services {
        host: Host,
        root: std::path::PathBuf,
    }

    /// Mailbox fields whose change must not wait for dovecot's auth cache to expire.
    const AUTH_FIELDS: [&str; 4] = ["password", "state", "authsource", "protocols"];

    fn needs_auth_flush(plan: &Plan) -> bool {
        plan.changes.iter().any(|c| {
            (c.kind == crate::model::Kind::Mailbox && (c.action != Action::Update || c.fields.iter().any(|f| AUTH_FIELDS.contains(&f.field))))
                || c.kind == crate::model::Kind::AppPassword
        })
    }

    fn adds_domains(plan: &Plan) -> bool {
        plan.changes.iter().any(|c| c.kind == crate::model::Kind::Domain && c.action == Action::Create)
    }

    /// Connects only when there is something to do, so a SQLite target never looks for Docker.
    pub async fn connect(p: &crate::cli::target::Prepared, restart_sogo: bool) -> Result<Option<Services>, String> {
        let settings = p.loaded.settings.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
        let docker = settings.services_root.is_some() && settings.services_mode.unwrap_or_default() == crate::settings::ServicesMode::Docker;
        let wanted = !p.plan.files.is_empty() || (restart_sogo && adds_domains(&p.plan)) || (docker && needs_auth_flush(&p.plan));
        if !wanted {
            return Ok(None);
        }
        let Some(host) = Host::from_settings(&settings).await.map_err(|e| e.to_string())? else {
            return Err("--restart-sogo needs `services_root` (and `services_mode`) in mailplane.yaml to know how SOGo runs".into());
        };
        let root = p.services_root.clone().unwrap_or_default();
        if restart_sogo && adds_domains(&p.plan) {
            host.can(FollowUp::Restart(Service::Sogo)).map_err(|e| e.to_string())?;
        }
        Ok(Some(Services { host, root }))
    }

    impl Services {
        pub async fn check_files(&self, p: &crate::cli::target::Prepared) -> Result<(), servicefiles::FilesError> {
            if p.plan.files.is_empty() {
                return Ok(());
            }
            servicefiles::check_all(&self.host, &self.root, &p.plan.files).await
        }

        /// After the database: the auth cache, SOGo, then the files and their restarts.
        pub async fn after_database(&self, p: &crate::cli::target::Prepared, restart_sogo: bool, printer: Printer) -> Result<(), String> {
            let done = "the database was updated, but";
            if needs_auth_flush(&p.plan) && self.host.flush_auth_cache().await.map_err(|e| format!("{done} flushing dovecot's auth cache failed: {e}"))? {
                printer.out("Flushed dovecot's auth cache (doveadm auth cache flush).");
            }
            if restart_sogo && adds_domains(&p.plan) {
                self.host.follow_up(FollowUp::Restart(Service::Sogo)).await.map_err(|e| format!("{done} restarting SOGo failed: {e}"))?;
                printer.out("Restarted SOGo.");
            }
            if !p.plan.files.is_empty() {
                let followed = servicefiles::apply(&self.host, &self.root, &p.plan.files).await.map_err(|e| e.to_string())?;
                let then: Vec<String> = followed.iter().map(ToString::to_string).collect();
                let then = if then.is_empty() { String::new() } else { format!("; then: {}", then.join(", ")) };
                printer.out(&format!("Wrote {} service file(s) under {}{then}.", p.plan.files.len(), self.root.display()));
            }
            Ok(())
        }
    }
}
