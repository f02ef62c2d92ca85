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
        let Ok(p) = prepare(&target, printer).await else { return ExitStatus::Error };
        if let Some(f) = &saved
            && let Err(e) = crate::planfile::check(f, &p.plan, &p.desired.records, p.db.label()) {
                printer.err(&format!("error: {e}"));
                p.db.close().await;
                return ExitStatus::Error;
            }
        printer.out(&render::human(&p.plan, printer.color_stdout()));
        if !p.plan.problems.is_empty() {
            printer.err("error: the plan is blocked (see above); nothing was written");
            p.db.close().await;
            return ExitStatus::Error;
        }
        if p.plan.is_empty() {
            let adopted = crate::apply::adopt(&p.desired, &p.live, &p.db).await;
            p.db.close().await;
            return match adopted {
                Ok(0) => ExitStatus::Success,
                Ok(n) => {
                    printer.out(&format!("Adopted {n} existing objects: mailplane manages them from now on."));
                    ExitStatus::Success
                }
                Err(e) => {
                    printer.err(&format!("error: {e}"));
                    ExitStatus::Error
                }
            };
        }
        // A saved plan was reviewed when it was made: applying the file is the approval.
        if !args.auto_approve && saved.is_none() {
            if !std::io::stdin().is_terminal() {
                printer.err("error: refusing to apply without confirmation; run in a terminal or pass --auto-approve");
                return ExitStatus::Error;
            }
            printer.err("Apply these changes? Only 'yes' is accepted: ");
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            if answer.trim() != "yes" {
                printer.err("Apply cancelled; nothing was written.");
                return ExitStatus::Error;
            }
        }
        let started = std::time::Instant::now();
        let result = crate::apply::apply(&p.plan, &p.desired, &p.live, &p.db, &p.kv, p.memcached.as_deref()).await;
        p.db.close().await;
        match result {
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
                ExitStatus::Success
            }
            Err(e) => {
                printer.err(&format!("error: {e}"));
                ExitStatus::Error
            }
        }
    })
}
