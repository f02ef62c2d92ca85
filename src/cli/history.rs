//! `mailplane history`: the apply journal of a target, newest first.

use super::Format;
use super::target::{TargetArgs, connect, runtime};
use crate::printer::{ExitStatus, Printer};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// How many applies to show.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    runtime().block_on(async {
        let settings = crate::load::load_dir(&args.target.dir).ok().and_then(|l| l.settings.map(|(_, s)| s));
        let Ok((db, _, _)) = connect(&args.target, settings.as_ref(), printer).await else { return ExitStatus::Error };
        let entries = crate::journal::read(&db, args.limit).await;
        db.close().await;
        let entries = match entries {
            Ok(e) => e,
            Err(e) => {
                printer.err(&format!("error: {e}"));
                return ExitStatus::Error;
            }
        };
        match args.format {
            Format::Json => printer.out(&serde_json::to_string_pretty(&entries).expect("JSON")),
            Format::Human | Format::Markdown => {
                if entries.is_empty() {
                    printer.out("No applies recorded yet.");
                }
                for e in &entries {
                    let s = &e.summary;
                    let commit = if e.git_commit.is_empty() { "-".to_string() } else { e.git_commit.chars().take(12).collect() };
                    printer.out(&format!(
                        "{}  {}  {}  +{} ~{} -{}  {}  {} ms{}",
                        e.started,
                        e.who,
                        commit,
                        s["create"],
                        s["update"],
                        s["delete"],
                        e.result,
                        e.duration_ms,
                        if e.ci.is_empty() { String::new() } else { format!("  [{}]", e.ci) }
                    ));
                }
            }
        }
        ExitStatus::Success
    })
}
