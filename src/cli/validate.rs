//! `mailplane validate [DIR]`: load and check, print a summary or every diagnostic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Format;
use crate::kinds;
use crate::load::{Loaded, Severity};
use crate::model::Kind;
use crate::printer::{ExitStatus, Printer};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The desired-state directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    let loaded = match kinds::load_dir(&args.dir) {
        Ok(l) => l,
        Err(e) => {
            printer.err(&format!("error: {e}"));
            return ExitStatus::Error;
        }
    };
    let failed = loaded.has_errors() || (args.strict && !loaded.diagnostics.is_empty());
    match args.format {
        Format::Json => printer.out(&json_report(&loaded, failed)),
        Format::Human | Format::Markdown => {
            report_diagnostics(&loaded, printer);
            if !failed {
                printer.out(&summary_line(&loaded));
            }
        }
    }
    // The process ends here: freeing 100,000s of parsed objects one by one would only cost time.
    std::mem::forget(loaded);
    if failed { ExitStatus::Error } else { ExitStatus::Success }
}

/// Every diagnostic on stderr, then a count line.
pub fn report_diagnostics(loaded: &Loaded, printer: Printer) {
    let color = printer.color_stderr();
    for d in &loaded.diagnostics {
        printer.err(&d.render(&loaded.sources, color));
    }
    let errors = loaded.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = loaded.diagnostics.len() - errors;
    if errors > 0 {
        printer.err(&format!("{} found in {}", plural(errors, "error"), loaded.root.display()));
    } else if warnings > 0 {
        printer.err(&plural(warnings, "warning").to_string());
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// Counts per kind of what the directory declares.
pub fn counts(loaded: &Loaded) -> BTreeMap<Kind, usize> {
    let mut c = BTreeMap::new();
    let mut add = |k: Kind, n: usize| {
        if n > 0 {
            *c.entry(k).or_insert(0) += n;
        }
    };
    for (_, doc) in &loaded.documents {
        for k in &crate::kinds::KINDS {
            add(k.kind, (k.count)(doc));
        }
    }
    c
}

fn summary_line(loaded: &Loaded) -> String {
    let parts: Vec<String> = counts(loaded).iter().map(|(k, n)| format!("{n} {}", if *n == 1 { k.singular() } else { k.plural() })).collect();
    let files = loaded.sources.len();
    let what = if parts.is_empty() { "nothing declared".to_string() } else { parts.join(", ") };
    format!("valid: {what} ({})", plural(files, "file"))
}

fn json_report(loaded: &Loaded, failed: bool) -> String {
    let diags: Vec<_> = loaded.diagnostics.iter().map(|d| d.to_json(&loaded.sources)).collect();
    let counts: BTreeMap<&str, usize> = counts(loaded).into_iter().map(|(k, n)| (k.name(), n)).collect();
    let v = serde_json::json!({
        "valid": !failed,
        "files": loaded.sources.len(),
        "counts": counts,
        "diagnostics": diags,
    });
    serde_json::to_string_pretty(&v).expect("JSON")
}
