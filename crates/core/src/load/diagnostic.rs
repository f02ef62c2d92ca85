//! Located problems found while loading and validating, and how they are shown.

use std::fmt;

use serde::Serialize;

use super::SourceFile;
use crate::model::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem at one place. `file` indexes the loaded sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: usize,
    pub span: Span,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: usize, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, code, message: message.into(), file, span, help: None }
    }
    pub fn warning(code: &'static str, file: usize, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, code, message: message.into(), file, span, help: None }
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    fn sort_key(&self, sources: &[SourceFile]) -> (String, u32, u32, Severity, String) {
        let name = sources.get(self.file).map(|s| s.name.clone()).unwrap_or_default();
        (name, self.span.line, self.span.column, self.severity, self.message.clone())
    }
}

/// Sorts by file, line, column; drops exact repeats.
pub fn sort(diags: &mut Vec<Diagnostic>, sources: &[SourceFile]) {
    diags.sort_by_key(|d| d.sort_key(sources));
    diags.dedup();
}

/// The machine-readable form (`--format json`).
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'a str>,
}

impl Diagnostic {
    pub fn to_json<'a>(&'a self, sources: &'a [SourceFile]) -> JsonDiagnostic<'a> {
        JsonDiagnostic {
            severity: self.severity,
            code: self.code,
            message: &self.message,
            file: sources.get(self.file).map(|s| s.name.as_str()).unwrap_or(""),
            line: self.span.line,
            column: self.span.column,
            help: self.help.as_deref(),
        }
    }

    /// Rendered like a compiler: header, `--> file:line:column`, the source line and a caret.
    pub fn render(&self, sources: &[SourceFile], color: bool) -> String {
        Rendered { d: self, sources, color }.to_string()
    }
}

struct Rendered<'a> {
    d: &'a Diagnostic,
    sources: &'a [SourceFile],
    color: bool,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use owo_colors::OwoColorize;
        let d = self.d;
        let (label, paint): (&str, fn(&str) -> String) = match d.severity {
            Severity::Error => ("error", |s| s.red().bold().to_string()),
            Severity::Warning => ("warning", |s| s.yellow().bold().to_string()),
        };
        let head = format!("{label}[{}]", d.code);
        let head = if self.color { paint(&head) } else { head };
        writeln!(f, "{head}: {}", d.message)?;
        let Some(src) = self.sources.get(d.file) else { return Ok(()) };
        if !d.span.is_known() {
            return writeln!(f, "  --> {}", src.name);
        }
        writeln!(f, "  --> {}:{}:{}", src.name, d.span.line, d.span.column)?;
        if let Some(line) = super::redact::shown_line(&src.text, d.span.line) {
            let num = d.span.line.to_string();
            let pad = " ".repeat(num.len());
            let (line, start) = window(&line, (d.span.column as usize).saturating_sub(1));
            let line = line.as_str();
            // Within the part shown (a long value is cut).
            let width = caret_width(line, start, d.span.len as usize).min(line.chars().count().saturating_sub(start).max(1));
            let indent: String = line.chars().take(start).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            // A warning about a clear-text secret must not print the secret it warns about.
            let line = if d.code == "plaintext-secret" { mask(line, start, width) } else { line.to_string() };
            let carets = "^".repeat(width);
            let carets = if self.color { paint(&carets) } else { carets };
            writeln!(f, "{pad} |")?;
            writeln!(f, "{num} | {line}")?;
            writeln!(f, "{pad} | {indent}{carets}")?;
        }
        if let Some(help) = &d.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

/// Characters of a source line shown around the column; a 1 MB line is not echoed whole.
const WINDOW: usize = 160;

/// The part of `line` to show and the column's place in it.
fn window(line: &str, start: usize) -> (String, usize) {
    let count = line.chars().count();
    if count <= WINDOW {
        return (line.to_string(), start);
    }
    let from = start.saturating_sub(WINDOW / 4).min(count.saturating_sub(WINDOW));
    let mut shown: String = line.chars().skip(from).take(WINDOW).collect();
    let lead = if from > 0 { "…" } else { "" };
    if from + WINDOW < count {
        shown.push('…');
    }
    (format!("{lead}{shown}"), start - from + lead.chars().count())
}

fn mask(line: &str, start: usize, width: usize) -> String {
    line.chars().enumerate().map(|(i, c)| if i >= start && i < start + width { '*' } else { c }).collect()
}

/// The caret covers the value's bytes when known, else the token starting at the column.
fn caret_width(line: &str, start_char: usize, byte_len: usize) -> usize {
    let rest: String = line.chars().skip(start_char).collect();
    let token = if byte_len > 0 && byte_len <= rest.len() && rest.is_char_boundary(byte_len) {
        rest[..byte_len].to_string()
    } else if rest.starts_with(['"', '\'']) {
        rest.trim_end().to_string()
    } else {
        rest.split([' ', ':', ',', '}', ']']).next().unwrap_or("").to_string()
    };
    token.chars().count().max(1)
}
