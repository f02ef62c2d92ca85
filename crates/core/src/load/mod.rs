//! `load`: a directory of YAML files → documents with source spans, plus diagnostics.

mod diagnostic;
pub mod fast;
mod redact;
pub mod validate;
mod walk;
pub mod yaml;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, JsonDiagnostic, Severity, sort};

use crate::model::Document;
use crate::settings::SettingsFile;

/// The tool's own settings file at the root of a desired-state directory.
pub const SETTINGS_FILE: &str = "mailplane.yaml";

/// A service file (a configuration file or an Rspamd map) larger than this is surely a mistake.
pub const MAX_SERVICE_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Where `path` leads, symlinks resolved (always inside the directory).
    pub real: PathBuf,
    /// The path as shown in diagnostics: relative to the directory's parent, `/`-separated.
    pub name: String,
    pub text: String,
}

/// Everything read from a directory. `documents` holds (source index, document).
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub root: PathBuf,
    pub sources: Vec<SourceFile>,
    pub documents: Vec<(usize, Document)>,
    pub settings: Option<(usize, SettingsFile)>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("`{0}` is not a directory of desired-state files")]
    NotADirectory(PathBuf),
    #[error("`{0}` is a directory: the settings file must be a file (rename the directory, or make it the desired-state directory itself)")]
    SettingsNotAFile(PathBuf),
    #[error("cannot read `{path}`: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{0}` is nested too deeply; a desired-state directory has at most 32 levels of folders")]
    TooDeep(PathBuf),
    #[error("the directory holds more than {files} YAML files or {bytes} bytes of them; point mailplane at the desired-state directory itself")]
    TooBig { files: usize, bytes: u64 },
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads every `*.yaml`/`*.yml` below `root` (hidden folders skipped), parses them and validates
/// them with `rules` (each kind's, `kinds::load_dir`), running `alongside` on the parsed documents
/// on another core meanwhile. Its result means nothing when the directory has errors.
pub fn load_dir_with<T: Send>(root: &Path, rules: &[validate::Rule], alongside: impl FnOnce(&Loaded) -> T + Send) -> Result<(Loaded, T), LoadError> {
    if !root.is_dir() {
        return Err(LoadError::NotADirectory(root.to_path_buf()));
    }
    if root.join(SETTINGS_FILE).is_dir() {
        return Err(LoadError::SettingsNotAFile(root.join(SETTINGS_FILE)));
    }
    let t = std::time::Instant::now();
    let found = walk::walk(root)?;
    let display_base = root.parent().filter(|p| !p.as_os_str().is_empty());
    let mut sources = Vec::with_capacity(found.files.len());
    let mut problems = Vec::new();
    for (idx, f) in found.files.into_iter().enumerate() {
        let shown = display_base.and_then(|b| f.path.strip_prefix(b).ok()).unwrap_or(&f.path);
        let name = shown.to_string_lossy().replace('\\', "/");
        let text = match f.problem {
            Some(problem) => {
                problems.push(problem.into_diagnostic(idx));
                String::new()
            }
            None => match walk::read_text(&f.real, &f.path) {
                Ok(text) => text,
                Err((problem, text)) => {
                    problems.push(problem.into_diagnostic(idx));
                    text
                }
            },
        };
        sources.push(SourceFile { path: f.path, real: f.real, name, text });
    }
    let mut loaded = Loaded { root: root.to_path_buf(), diagnostics: problems, ..Default::default() };
    let settings_path = root.join(SETTINGS_FILE);
    let t = crate::timing::lap("read", t);
    let unreadable: HashSet<usize> = loaded.diagnostics.iter().map(|d| d.file).collect();
    let parsed = parse_all(&sources, &settings_path, &unreadable);
    let t = crate::timing::lap("parse", t);
    for (idx, result) in parsed.into_iter().enumerate() {
        match result {
            Some(Ok(Parsed::Settings(s))) => loaded.settings = Some((idx, *s)),
            Some(Ok(Parsed::Document(d))) => loaded.documents.push((idx, *d)),
            Some(Err(d)) => loaded.diagnostics.push(d),
            None => {}
        }
    }
    loaded.sources = sources;
    redact::drop_secret_files(&mut loaded);
    let (mut more, extra) = std::thread::scope(|scope| {
        let extra = scope.spawn(|| alongside(&loaded));
        let more = validate::validate(&loaded, rules);
        (more, extra.join().expect("thread beside validation panicked"))
    });
    if loaded.has_errors() {
        // A file that did not parse is missing from the model: references into it are not real problems.
        more.retain(|d| d.code != "unknown-reference");
    }
    loaded.diagnostics.append(&mut more);
    redact::diagnostics(&mut loaded.diagnostics, &loaded.sources);
    sort(&mut loaded.diagnostics, &loaded.sources);
    crate::timing::lap("validate", t);
    Ok((loaded, extra))
}

/// `mailplane.yaml` alone, read and parsed ahead of the rest (it says where the target is),
/// with its text so the caller can check it is the file the directory was loaded with.
/// A missing file gives the defaults and no text; None when it cannot be read or does not
/// parse: `load_dir` reports that.
pub fn read_settings(root: &Path) -> Option<(Option<String>, SettingsFile)> {
    let path = root.join(SETTINGS_FILE);
    if std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Some((None, SettingsFile::default()));
    }
    let real = crate::confined::resolve(root, Path::new(SETTINGS_FILE), crate::confined::Scope::Directory).ok()?;
    let text = walk::read_text(&real, &path).ok()?;
    let settings = yaml::parse::<SettingsFile>(&text, 0).ok()?;
    Some((Some(text), settings))
}

enum Parsed {
    Settings(Box<SettingsFile>),
    Document(Box<Document>),
}

/// Files are independent, so they are parsed on all cores. Files that could not be read are
/// not parsed (None).
fn parse_all(sources: &[SourceFile], settings_path: &Path, unreadable: &HashSet<usize>) -> Vec<Option<Result<Parsed, Diagnostic>>> {
    let parse_one = |idx: usize, src: &SourceFile| {
        if unreadable.contains(&idx) {
            None
        } else if src.path == settings_path {
            Some(yaml::parse::<SettingsFile>(&src.text, idx).map(|s| Parsed::Settings(Box::new(s))))
        } else {
            Some(yaml::parse::<Document>(&src.text, idx).map(|d| Parsed::Document(Box::new(d))))
        }
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(sources.len().max(1));
    if threads <= 1 {
        return sources.iter().enumerate().map(|(i, s)| parse_one(i, s)).collect();
    }
    let chunk = sources.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .chunks(chunk)
            .enumerate()
            .map(|(c, files)| scope.spawn(move || files.iter().enumerate().map(|(i, s)| parse_one(c * chunk + i, s)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("parser thread panicked")).collect()
    })
}
