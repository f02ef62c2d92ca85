//! The command line: one file per subcommand. Parses arguments, runs, maps errors to exit codes.

mod schema;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::printer::{ExitStatus, Printer};

#[derive(Parser, Debug)]
#[command(name = "mailplane", version, about = "Run a mailcow-style mail server from git", propagate_version = true)]
pub struct Cli {
    /// Print only results, no progress or diagnostics summaries.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a desired-state directory and report every problem with its location.
    Validate(validate::Args),
    /// Print the JSON Schema of the desired-state files (or of mailplane.yaml).
    Schema(schema::Args),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Markdown,
}

/// The directory argument most commands take.
pub fn default_dir() -> PathBuf {
    PathBuf::from(".")
}

pub fn run() -> ExitStatus {
    let cli = Cli::parse();
    let printer = Printer::new(cli.quiet);
    match cli.command {
        Command::Validate(args) => validate::run(args, printer),
        Command::Schema(args) => schema::run(args, printer),
    }
}
