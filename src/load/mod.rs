//! `load`: a directory of YAML files → documents with source spans, plus diagnostics.

mod diagnostic;
pub mod fast;
pub mod validate;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, JsonDiagnostic, Severity, sort};

use crate::model::Document;
use crate::settings::SettingsFile;

/// The tool's own settings file at the root of a desired-state directory.
pub const SETTINGS_FILE: &str = "mailplane.yaml";

#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
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
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads every `*.yaml`/`*.yml` below `root` (hidden folders skipped), parses and validates them.
pub fn load_dir(root: &Path) -> Result<Loaded, LoadError> {
    load_dir_with(root, |_| ()).map(|(loaded, ())| loaded)
}

/// `load_dir`, running `alongside` on the parsed documents on another core while they are
/// validated (plan builds the desired records then). Its result means nothing when the
/// directory has errors.
pub fn load_dir_with<T: Send>(root: &Path, alongside: impl FnOnce(&Loaded) -> T + Send) -> Result<(Loaded, T), LoadError> {
    if !root.is_dir() {
        return Err(LoadError::NotADirectory(root.to_path_buf()));
    }
    if root.join(SETTINGS_FILE).is_dir() {
        return Err(LoadError::SettingsNotAFile(root.join(SETTINGS_FILE)));
    }
    let t = std::time::Instant::now();
    let mut paths = Vec::new();
    collect(root, &mut paths)?;
    paths.sort();
    let display_base = root.parent().filter(|p| !p.as_os_str().is_empty());
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io { path: path.clone(), source })?;
        let shown = display_base.and_then(|b| path.strip_prefix(b).ok()).unwrap_or(&path);
        let name = shown.to_string_lossy().replace('\\', "/");
        sources.push(SourceFile { path, name, text });
    }
    let mut loaded = Loaded { root: root.to_path_buf(), ..Default::default() };
    let settings_path = root.join(SETTINGS_FILE);
    let t = crate::timing::lap("read", t);
    let parsed = parse_all(&sources, &settings_path);
    let t = crate::timing::lap("parse", t);
    for (idx, result) in parsed.into_iter().enumerate() {
        match result {
            Ok(Parsed::Settings(s)) => loaded.settings = Some((idx, *s)),
            Ok(Parsed::Document(d)) => loaded.documents.push((idx, *d)),
            Err(d) => loaded.diagnostics.push(d),
        }
    }
    loaded.sources = sources;
    let (mut more, extra) = std::thread::scope(|scope| {
        let extra = scope.spawn(|| alongside(&loaded));
        let more = validate::validate(&loaded);
        (more, extra.join().expect("thread beside validation panicked"))
    });
    if loaded.has_errors() {
        // A file that did not parse is missing from the model: references into it are not real problems.
        more.retain(|d| d.code != "unknown-reference");
    }
    loaded.diagnostics.append(&mut more);
    sort(&mut loaded.diagnostics, &loaded.sources);
    crate::timing::lap("validate", t);
    Ok((loaded, extra))
}

/// `mailplane.yaml` alone, read and parsed ahead of the rest (it says where the target is),
/// with its text so the caller can check it is the file the directory was loaded with.
/// A missing file gives the defaults and no text; None when it cannot be read or does not
/// parse: `load_dir` reports that.
pub fn read_settings(root: &Path) -> Option<(Option<String>, SettingsFile)> {
    let text = match std::fs::read_to_string(root.join(SETTINGS_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some((None, SettingsFile::default())),
        Err(_) => return None,
    };
    let settings = yaml::parse::<SettingsFile>(&text, 0).ok()?;
    Some((Some(text), settings))
}

enum Parsed {
    Settings(Box<SettingsFile>),
    Document(Box<Document>),
}

/// Files are independent, so they are parsed on all cores.
fn parse_all(sources: &[SourceFile], settings_path: &Path) -> Vec<Result<Parsed, Diagnostic>> {
    let parse_one = |idx: usize, src: &SourceFile| {
        if src.path == settings_path {
            yaml::parse::<SettingsFile>(&src.text, idx).map(|s| Parsed::Settings(Box::new(s)))
        } else {
            yaml::parse::<Document>(&src.text, idx).map(|d| Parsed::Document(Box::new(d)))
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
            .map(|(c, files)| {
                scope.spawn(move || {
                    files.iter().enumerate().map(|(i, s)| parse_one(c * chunk + i, s)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("parser thread panicked")).collect()
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
    Ok(())
}
