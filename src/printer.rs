//! All output goes through the Printer: colours only on a terminal and never with NO_COLOR.

use std::io::Write;

/// Writes to stdout (results) and stderr (diagnostics, progress). anstream strips ANSI
/// styling when the stream is not a terminal or NO_COLOR is set.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    pub quiet: bool,
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        Printer { quiet }
    }
    /// Whether styled output would reach the user on stdout.
    pub fn color_stdout(&self) -> bool {
        anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
    }
    pub fn color_stderr(&self) -> bool {
        anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
    }
    /// A result line on stdout.
    pub fn out(&self, text: &str) {
        let mut s = anstream::stdout().lock();
        let _ = s.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = s.write_all(b"\n");
        }
    }
    /// A message on stderr (diagnostics, progress, prompts).
    pub fn err(&self, text: &str) {
        if self.quiet {
            return;
        }
        let mut s = anstream::stderr().lock();
        let _ = s.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = s.write_all(b"\n");
        }
    }
}

/// Process exit codes, shared by every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success; for `plan --detailed-exitcode`: no changes.
    Success = 0,
    /// An error: invalid input, a failed connection, a refused apply.
    Error = 1,
    /// Something to act on: `plan --detailed-exitcode` has changes; `dns --check` found a
    /// required record missing or wrong.
    Changes = 2,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s as u8)
    }
}
