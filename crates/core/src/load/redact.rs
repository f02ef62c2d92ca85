//! Keeping secrets and oversized input out of diagnostics. Diagnostics quote the user's file
//! (the line, and values in the YAML library's messages), and in CI they are public: a line
//! that holds a literal secret is shown masked, the secret's text is cut out of messages, a
//! file that a `{file: ...}` secret names is not desired state at all, and long values are
//! shortened instead of echoed whole.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::{Diagnostic, Loaded, SourceFile};

/// The YAML keys whose values are secrets, from the schema (every field of type `Secret`), so
/// a new secret field is covered without being listed here.
static SECRET_KEYS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut keys = HashSet::new();
    for schema in [crate::schema::document_schema(), crate::schema::settings_schema()] {
        let value: serde_json::Value = serde_json::from_str(&schema).unwrap_or_default();
        collect_secret_keys(&value, &mut keys);
    }
    keys
});

fn mentions_secret(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s == "#/$defs/Secret",
        serde_json::Value::Array(a) => a.iter().any(mentions_secret),
        serde_json::Value::Object(o) => o.values().any(mentions_secret),
        _ => false,
    }
}

fn collect_secret_keys(v: &serde_json::Value, keys: &mut HashSet<String>) {
    match v {
        serde_json::Value::Object(o) => {
            if let Some(serde_json::Value::Object(props)) = o.get("properties") {
                keys.extend(props.iter().filter(|(_, s)| mentions_secret(s)).map(|(k, _)| k.clone()));
            }
            o.values().for_each(|x| collect_secret_keys(x, keys));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_secret_keys(x, keys)),
        _ => {}
    }
}

/// Where a file holds literal secrets: the 1-based lines, and the values themselves.
#[derive(Default)]
struct Secrets {
    lines: HashMap<u32, Vec<String>>,
    /// Lines of a block value under a secret key: masked whole.
    block_lines: HashSet<u32>,
}

impl Secrets {
    fn values(&self) -> impl Iterator<Item = &str> {
        self.lines.values().flatten().map(String::as_str)
    }
}

/// `key:` at the start of a block line, after `- `, or after `{`/`,` in a flow mapping;
/// returns what follows the colon.
fn after_secret_key(line: &str) -> Option<&str> {
    for (i, _) in line.match_indices(':') {
        let before = line.get(..i)?;
        let key_start = before.rfind(|c: char| c.is_whitespace() || matches!(c, '{' | ',' | '-')).map_or(0, |k| k + 1);
        let key = before.get(key_start..)?.trim_matches(['"', '\'']);
        let rest = line.get(i + 1..)?;
        if SECRET_KEYS.contains(key) && (rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            return Some(rest);
        }
    }
    None
}

/// The literal value that starts `rest` (quoted or plain, up to a comment or the end of a
/// flow entry); None for a reference (`{env: …}`) or an empty value.
fn literal_value(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let value = match rest.chars().next()? {
        '{' | '|' | '>' => return None,
        q @ ('"' | '\'') => rest.get(1..).and_then(|r| r.find(q).and_then(|e| r.get(..e))).unwrap_or(rest.get(1..).unwrap_or("")),
        _ => {
            let end = rest.find(" #").unwrap_or(rest.len());
            rest.get(..end).unwrap_or(rest).split([',', '}']).next().unwrap_or("").trim_end()
        }
    };
    (!value.is_empty()).then(|| value.to_string())
}

fn scan(text: &str) -> Secrets {
    let mut s = Secrets::default();
    let mut block: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let indent = line.len() - line.trim_start().len();
        if let Some(parent) = block {
            if line.trim().is_empty() || indent > parent {
                s.block_lines.insert(n);
                s.lines.entry(n).or_default().extend(Some(line.trim().to_string()).filter(|v| !v.is_empty()));
                continue;
            }
            block = None;
        }
        let Some(rest) = after_secret_key(line) else { continue };
        let trimmed = rest.trim_start();
        if trimmed.is_empty() || trimmed.starts_with(['|', '>']) || trimmed.starts_with('#') {
            block = Some(indent);
        }
        let values = s.lines.entry(n).or_default();
        values.extend(literal_value(rest));
        // The value as written (quotes, escapes) too: the YAML library may quote either.
        values.extend(Some(trimmed.to_string()).filter(|v| !v.is_empty() && !v.starts_with(['{', '|', '>', '#'])));
    }
    s
}

/// The line to show for a diagnostic: with every secret on it masked.
pub fn shown_line(text: &str, line: u32) -> Option<Cow<'_, str>> {
    let shown = text.lines().nth((line as usize).checked_sub(1)?)?;
    let secrets = scan(text);
    if secrets.block_lines.contains(&line) {
        return Some(Cow::Owned(shown.chars().map(|c| if c.is_whitespace() { c } else { '*' }).collect()));
    }
    // The line's own secrets, and any other of the file's that it repeats (say, under a
    // misspelled key).
    let own = secrets.lines.get(&line).into_iter().flatten().map(String::as_str);
    let others = secrets.values().filter(|v| v.chars().count() >= 3);
    let mut masked = Cow::Borrowed(shown);
    for v in own.chain(others).filter(|v| !v.is_empty()) {
        if masked.contains(v) {
            masked = Cow::Owned(masked.replace(v, &"*".repeat(v.chars().count())));
        }
    }
    Some(masked)
}

/// Values longer than this are shortened in messages.
const ECHO_LIMIT: usize = 60;

/// Masks secrets of the diagnostics' files in their messages and shortens echoed values.
pub fn diagnostics(diags: &mut [Diagnostic], sources: &[SourceFile]) {
    let mut scanned: HashMap<usize, Secrets> = HashMap::new();
    for d in diags.iter_mut() {
        let secrets = scanned.entry(d.file).or_insert_with(|| sources.get(d.file).map(|s| scan(&s.text)).unwrap_or_default());
        let mut message = d.message.clone();
        for v in secrets.values().filter(|v| v.chars().count() >= 3) {
            message = message.replace(v, "(sensitive)");
        }
        d.message = shorten(&message);
    }
}

/// Quoted parts of a message longer than `ECHO_LIMIT` characters are cut, saying how much.
fn shorten(message: &str) -> String {
    if message.chars().count() <= 2 * ECHO_LIMIT {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len().min(4 * ECHO_LIMIT));
    let mut quote: Option<char> = None;
    let mut run = 0usize;
    let mut dropped = 0usize;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                if dropped > 0 {
                    out.push_str(&format!("… ({dropped} more characters)"));
                }
                out.push(c);
                (quote, run, dropped) = (None, 0, 0);
            }
            Some(_) if run >= ECHO_LIMIT => dropped += 1,
            Some(_) => {
                out.push(c);
                run += 1;
            }
            None => {
                if matches!(c, '"' | '`') {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    if dropped > 0 {
        out.push_str(&format!("… ({dropped} more characters)"));
    }
    out
}

/// A file that a `{file: ...}` secret names holds a secret, not desired state: its parse and
/// its problems are dropped and its text forgotten.
pub fn drop_secret_files(loaded: &mut Loaded) {
    let named: HashSet<std::path::PathBuf> = loaded
        .documents
        .iter()
        .flat_map(|(_, d)| d.secrets())
        .filter_map(|(_, s)| match &s.value {
            crate::model::Secret::File(p) => crate::confined::resolve(&loaded.root, p, crate::confined::Scope::Directory).ok(),
            _ => None,
        })
        .collect();
    if named.is_empty() {
        return;
    }
    let secret_files: HashSet<usize> = loaded.sources.iter().enumerate().filter(|(_, s)| named.contains(&s.real)).map(|(i, _)| i).collect();
    loaded.documents.retain(|(i, _)| !secret_files.contains(i));
    loaded.diagnostics.retain(|d| !secret_files.contains(&d.file));
    for i in &secret_files {
        if let Some(s) = loaded.sources.get_mut(*i) {
            s.text = String::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_lines_are_masked_and_values_found() {
        let text = "relay_hosts:\n  - name: r\n    password: \"hunter2 x\" # c\n    bind_password: 'p4ss'\n  - {name: x, password: s3cret, hostname: h}\nidentity_provider:\n  client_secret: |\n    BLOCKSECRET\n  other: 1\n";
        assert_eq!(shown_line(text, 3).unwrap(), "    password: \"*********\" # c");
        assert!(!shown_line(text, 4).unwrap().contains("p4ss"));
        assert!(!shown_line(text, 5).unwrap().contains("s3cret"));
        assert_eq!(shown_line(text, 8).unwrap(), "    ***********");
        assert_eq!(shown_line(text, 9).unwrap(), "  other: 1");
        let values: Vec<_> = scan(text).values().map(str::to_string).collect();
        for v in ["hunter2 x", "p4ss", "s3cret", "BLOCKSECRET"] {
            assert!(values.iter().any(|x| x == v), "{v} in {values:?}");
        }
        assert!(scan("password: {env: X}\n").values().next().is_none());
        // Repeated under a misspelled key, which is what the diagnostic is about.
        assert_eq!(shown_line("password: abcdef\npasswrd: abcdef\n", 2).unwrap(), "passwrd: ******");
    }

    #[test]
    fn long_quoted_values_are_shortened() {
        let long = "x".repeat(1000);
        let m = shorten(&format!("invalid value \"{long}\" for `{long}`"));
        assert!(m.len() < 300, "{m}");
        assert!(m.contains("940 more characters"), "{m}");
    }
}
