//! `mailplane plan [DIR]`: what apply would change, in human, JSON or Markdown form.

use super::Format;
use super::target::{TargetArgs, prepare, runtime};
use crate::printer::{ExitStatus, Printer};
use crate::render;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Save the plan here; `mailplane apply FILE` applies exactly it, or refuses if it is stale.
    #[arg(long, short = 'o')]
    out: Option<std::path::PathBuf>,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    runtime().block_on(async {
        let p = match prepare(&args.target, printer, false).await {
            Ok(p) => p,
            Err(e) => {
                e.report(printer);
                return e.exit_status();
            }
        };
        match args.format {
            Format::Human => render::human_in_parts(&p.plan, printer.color_stdout(), |part| printer.out(part)),
            Format::Json => printer.out(&render::json(&p.plan)),
            Format::Markdown => printer.out(&render::markdown(&p.plan)),
        }
        if let Some(path) = &args.out {
            let file = crate::planfile::make(
                &p.plan,
                &p.desired.records,
                &args.target.dir,
                p.db.label(),
                crate::planfile::Consent { allow_delete: args.target.allow_delete.clone(), force: args.target.force },
            );
            let json = serde_json::to_string_pretty(&file).expect("JSON");
            if let Err(e) = std::fs::write(path, json + "\n") {
                printer.err(&format!("error: cannot write {}: {e}", path.display()));
                return ExitStatus::Error;
            }
            printer.err(&format!("Saved the plan to {}; apply it with `mailplane apply {}`.", path.display(), path.display()));
        }
        p.db.clone().close().await;
        let status = match (p.plan.problems.is_empty(), p.plan.is_empty()) {
            (false, _) => ExitStatus::Error,
            (true, false) if args.detailed_exitcode => ExitStatus::Changes,
            _ => ExitStatus::Success,
        };
        // The process ends here: freeing 100,000s of records one by one would only cost time.
        std::mem::forget(p);
        status
    })
}
