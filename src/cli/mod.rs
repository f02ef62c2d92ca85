//! The command line: one file per subcommand. Parses arguments, runs, maps errors to exit codes.

mod apply;
mod dns;
mod export;
mod generate;
mod history;
mod idp;
mod plan;
mod schema;
pub mod target;
mod validate;
mod watch;

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
    /// Show what apply would change on the live server.
    Plan(plan::Args),
    /// Change the live server to match the desired state.
    Apply(apply::Args),
    /// The journal of applies to a target, newest first.
    History(history::Args),
    /// Identity provider tools.
    #[command(subcommand)]
    Idp(idp::Command),
    /// Write the live server's objects as a desired-state directory (to adopt a server).
    Export(export::Args),
    /// Print the JSON Schema of the desired-state files (or of mailplane.yaml).
    Schema(schema::Args),
    /// Re-plan periodically and report drift between the files and the live server.
    Watch(watch::Args),
    /// The DNS records each domain needs; with --check, whether DNS has them right.
    Dns(dns::Args),
    /// Write a deterministic benchmark data set (bench/run.sh).
    #[command(hide = true)]
    Generate(generate::Args),
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap exits 2 on a usage error, which `plan --detailed-exitcode` means as "changes":
            // a mistyped flag in CI would pass. `--help` and `--version` are not errors.
            return if e.use_stderr() { ExitStatus::Error } else { ExitStatus::Success };
        }
    };
    let printer = Printer::new(cli.quiet);
    match cli.command {
        Command::Validate(args) => validate::run(args, printer),
        Command::Schema(args) => schema::run(args, printer),
        Command::Plan(args) => plan::run(args, printer),
        Command::Apply(args) => apply::run(args, printer),
        Command::Export(args) => export::run(args, printer),
        Command::Idp(cmd) => idp::run(cmd, printer),
        Command::History(args) => history::run(args, printer),
        Command::Watch(args) => watch::run(args, printer),
        Command::Dns(args) => dns::run(args, printer),
        Command::Generate(args) => generate::run(args, printer),
    }
}
