//! `mailplane apply [DIR]`: show the plan, confirm, write it in one transaction.

use std::io::{BufRead, IsTerminal};

use super::target::{TargetArgs, prepare, runtime};
use crate::printer::{ExitStatus, Printer};
use crate::render;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Apply without asking (for CI).
    #[arg(long)]
    auto_approve: bool,
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
        }
        let Ok(mut p) = prepare(&target, printer, true).await else { return ExitStatus::Error };
        let started = crate::target::db::now_utc();
        let clock = std::time::Instant::now();
        let (status, result) = decide_and_apply(&p, saved.as_ref(), args.auto_approve, printer).await;
        let entry = crate::journal::Entry {
            id: crate::journal::new_id(),
            started,
            finished: crate::target::db::now_utc(),
            who: crate::lock::who(),
            ci: crate::journal::ci(),
            git_commit: crate::journal::git_commit(&target.dir),
            summary: crate::journal::summary(&p.plan),
            result,
            duration_ms: clock.elapsed().as_millis() as i64,
        };
        // Still under the lock: the next apply finds this one in the journal.
        let journaled = crate::journal::write(&p.db, &entry).await;
        if let Some(lock) = p.lock.take() {
            lock.release().await;
        }
        p.db.close().await;
        if let Err(e) = journaled {
            // The outcome stands (an applied change stays applied), but an apply that leaves no
            // trace must not look like a clean run to CI.
            printer.err(&format!(
                "error: the apply's outcome ({}) could not be written to the journal (mailplane_journal): {e}; the history will not show this run",
                entry.result
            ));
            return ExitStatus::Error;
        }
        status
    })
}

/// Everything between reading the live state and the end of the write. Returns the exit status
/// and the journal's word for the outcome.
async fn decide_and_apply(p: &super::target::Prepared, saved: Option<&crate::planfile::PlanFile>, auto_approve: bool, printer: Printer) -> (ExitStatus, String) {
    let refuse = |msg: String, why: &str| {
        printer.err(&format!("error: {msg}"));
        (ExitStatus::Error, format!("refused: {why}"))
    };
    if let Some(f) = saved
        && let Err(e) = crate::planfile::check(f, &p.plan, &p.desired.records, p.db.label())
    {
        return refuse(e.to_string(), "stale plan");
    }
    printer.out(&render::human(&p.plan, printer.color_stdout()));
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
    if !auto_approve && saved.is_none() {
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
    let started = std::time::Instant::now();
    match crate::apply::apply(&p.plan, &p.desired, &p.live, &p.db, &p.kv, p.memcached.as_deref()).await {
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
            (ExitStatus::Success, "applied".into())
        }
        Err(e) => {
            printer.err(&format!("error: {e}"));
            (ExitStatus::Error, format!("failed: {e}"))
        }
    }
}
