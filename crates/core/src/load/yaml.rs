//! The only place that knows the YAML library: parse with limits, map its errors to diagnostics.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Diagnostic;
use crate::model::{Located, Span};
use serde::{Deserialize, Deserializer};

/// Files larger than this are refused before parsing; a desired-state file is never this big.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // Room for a 100,000-mailbox server in one file, still bounded against alias bombs.
    budget.max_nodes = 20_000_000;
    budget.max_events = 40_000_000;
    budget.max_aliases = 10_000;
    budget.max_depth = 32;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options
}

/// Parses one file. An empty file (or one holding only comments) is the default value.
pub fn parse<T: DeserializeOwned + Default>(text: &str, file: usize) -> Result<T, Diagnostic> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            "file-too-large",
            file,
            Span::default(),
            format!("file is {} bytes, more than the {MAX_FILE_BYTES} a desired-state file may have", text.len()),
        )
        .help("split it into several files: every *.yaml file under the directory is read"));
    }
    if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Ok(T::default());
    }
    match super::fast::parse(text) {
        Some(value) => Ok(value),
        None => parse_with_saphyr(text, file),
    }
}

/// `parse` without the fast path: serde-saphyr for everything (tests compare the two).
pub fn parse_with_saphyr<T: DeserializeOwned>(text: &str, file: usize) -> Result<T, Diagnostic> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| to_diagnostic(&e, text, file))
}

fn to_diagnostic(err: &serde_saphyr::Error, text: &str, file: usize) -> Diagnostic {
    let raw = err.without_snippet().to_string();
    let message = plain_words(strip_location(&raw));
    let span = err.location().map(|l| Span { line: l.line() as u32, column: l.column() as u32, offset: 0, len: 0 });
    let span = span.filter(|s| s.line > 0).unwrap_or_else(|| end_of(text));
    let (code, help) = classify(&message);
    let d = Diagnostic::error(code, file, span, message);
    match help {
        Some(h) => d.help(h),
        None => d,
    }
}

/// serde-saphyr prefixes messages with "line L column C: "; the diagnostic shows the place itself.
fn strip_location(msg: &str) -> &str {
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].split_whitespace().all(|w| w == "column" || w.chars().all(|c| c.is_ascii_digit()))
    {
        return strip_trailing_location(rest[idx + 2..].lines().next().unwrap_or(""));
    }
    strip_trailing_location(msg.lines().next().unwrap_or(""))
}

fn strip_trailing_location(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => &msg[..i],
        _ => msg,
    }
}

fn end_of(text: &str) -> Span {
    let line = text.lines().count().max(1) as u32;
    Span { line, column: 1, offset: 0, len: 0 }
}

fn classify(msg: &str) -> (&'static str, Option<&'static str>) {
    let m = msg.to_ascii_lowercase();
    if m.contains("unknown field") {
        ("unknown-field", Some("check the spelling; `mailplane schema` lists every field"))
    } else if m.contains("duplicate mapping key") || m.contains("duplicate field") {
        ("duplicate-key", Some("each key may appear once in a mapping; remove or merge the repeated one"))
    } else if m.contains("missing field") {
        ("missing-field", None)
    } else if m.contains("unknown variant") || VALUE_MESSAGES.iter().any(|v| m.contains(v)) {
        ("invalid-value", None)
    } else if m.contains("budget") || m.contains("limit") && m.contains("exceed") {
        ("yaml-too-complex", Some("the file nests too deeply or expands too many aliases; write it out plainly"))
    } else if m.contains("while parsing") || m.contains("did not find expected") || m.contains("unclosed") || m.contains("tabs") {
        ("yaml-syntax", None)
    } else if m.contains("invalid type") || m.contains("expected") || m.contains("invalid") {
        ("invalid-type", None)
    } else {
        ("yaml-syntax", None)
    }
}

/// Messages of mailplane's own value parsers (sizes, rate limits, secrets).
const VALUE_MESSAGES: [&str; 7] =
    ["is not a rate limit", "no binary unit", "has no unit", "is not a size", "a secret reference", "more than mailcow can store", "would mean unlimited"];

/// The YAML library's words for type errors, in an admin's words.
fn plain_words(msg: &str) -> String {
    let msg = msg.trim_end_matches(", set DuplicateKeyPolicy in Options if acceptable");
    match msg {
        "invalid u16" | "invalid u32" | "invalid u64" => "expected a whole number (0 or more)".into(),
        "expected string scalar" => "expected a text value, found a list or a mapping".into(),
        "expected mapping start" => "expected a mapping of `key: value` pairs here".into(),
        other => other.to_string(),
    }
}

/// Writes a value as YAML (export, round-trip tests).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| e.to_string())
}

// A located value takes its span from whichever parser reads it: the fast path hands it over
// through `fast`, serde-saphyr through `Spanned`. Here so that the model knows no YAML library.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if super::fast::active() {
            return d.deserialize_newtype_struct(super::fast::LOCATED, FastVisitor(std::marker::PhantomData));
        }
        let spanned = serde_saphyr::Spanned::<T>::deserialize(d)?;
        let loc = spanned.referenced;
        let span = loc.span();
        let at = Span {
            line: loc.line() as u32,
            column: loc.column() as u32,
            offset: span.byte_offset().unwrap_or(0) as u32,
            len: span.byte_len().unwrap_or(0) as u32,
        };
        Ok(Located { value: spanned.value, at })
    }
}

/// `load::fast`'s side of `Located`: the span is handed over just before the value is read.
struct FastVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for FastVisitor<T> {
    type Value = Located<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a located value")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Located<T>, D::Error> {
        let at = super::fast::take_span().ok_or_else(|| serde::de::Error::custom("no span"))?;
        Ok(Located { value: T::deserialize(d)?, at })
    }
}
