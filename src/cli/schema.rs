//! `mailplane schema`: the JSON Schema editors use to validate and complete the files.

use crate::printer::{ExitStatus, Printer};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schema of `mailplane.yaml` instead of the desired-state files.
    #[arg(long)]
    settings: bool,
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    let text = if args.settings { crate::schema::settings_schema() } else { crate::schema::document_schema() };
    printer.out(&text);
    ExitStatus::Success
}
