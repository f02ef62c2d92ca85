//! `mailplane history`: the apply journal of a target, newest first.

use std::path::{Path, PathBuf};

use super::Format;
use super::target::runtime;
use crate::printer::{ExitStatus, Printer};
use crate::store::db::{Access, Db};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The desired-state directory, whose mailplane.yaml may name the target.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Database of the live server: `sqlite://path` or `mysql://user@host:port/db` (no Redis needed).
    #[arg(long, env = "MAILPLANE_DATABASE_URL")]
    target: Option<String>,
    /// human (a table) or json (an array of objects, the journal rows as stored).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// How many applies to show.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    runtime().block_on(async {
        let db = match connect(&args.dir, args.target.as_deref(), printer).await {
            Ok(db) => db,
            Err(e) => {
                e.report(printer);
                return e.exit_status();
            }
        };
        let entries = crate::store::journal::read(&db, args.limit).await;
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
            Format::Human | Format::Markdown if entries.is_empty() => printer.out("No applies recorded yet."),
            Format::Human | Format::Markdown => printer.out(&table(&entries)),
        }
        ExitStatus::Success
    })
}

/// Only the database is needed (no Redis), resolved like plan and apply resolve it:
/// flag or MAILPLANE_DATABASE_URL > mailplane.yaml `target` > the embedded default.
/// A SQLite file that does not exist has no history (and is not created).
async fn connect(dir: &Path, target: Option<&str>, printer: Printer) -> Result<Db, super::target::TargetError> {
    if !dir.is_dir() && target.is_none() {
        return Err(super::target::TargetError::NotADirectory(dir.to_path_buf()));
    }
    // The history of a target must not depend on the other files being valid.
    let settings = super::target::settings_only(dir)?;
    let db = super::target::open_db(target, &settings, dir, Access::READ).await?;
    super::target::report_absent(&db, printer);
    Ok(db)
}

fn table(entries: &[crate::store::journal::Entry]) -> String {
    let mut rows = vec![["STARTED (UTC)", "WHO", "COMMIT", "CHANGES", "RESULT", "DURATION", "CI"].map(String::from)];
    for e in entries {
        let s = &e.summary;
        // A commit id is recognisable by its first 12 characters; keep the `+dirty` mark.
        let commit = match e.git_commit.split_once('+') {
            _ if e.git_commit.is_empty() => "-".to_string(),
            Some((id, mark)) => format!("{}+{mark}", &id[..id.len().min(12)]),
            None => e.git_commit.chars().take(12).collect(),
        };
        rows.push([
            e.started.clone(),
            e.who.clone(),
            commit,
            format!("+{} ~{} -{}", s["create"], s["update"], s["delete"]),
            // Failure messages can span lines (the failed statement); the JSON has them whole.
            e.result.lines().next().unwrap_or_default().to_string(),
            format!("{} ms", e.duration_ms),
            e.ci.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
