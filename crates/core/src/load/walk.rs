//! Finding and reading the directory's YAML files. The directory is untrusted: symlinks are
//! followed only while they stay inside it, each directory is entered once (link loops end),
//! anything that is not a regular file is reported instead of opened (a named pipe would
//! block, a device never ends), and every read is bounded.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::yaml::MAX_FILE_BYTES;
use super::{Diagnostic, LoadError};
use crate::confined::{self, ConfinedError};
use crate::model::Span;

/// Deeper than this is a mistake or a trap.
const MAX_DEPTH: usize = 32;
/// More YAML files than this, or more bytes in all, and the rest is refused.
const MAX_FILES: usize = 200_000;
const MAX_TOTAL_BYTES: u64 = 1 << 30;

pub struct Found {
    pub files: Vec<FoundFile>,
}

pub struct FoundFile {
    /// The path below the directory as the walk reached it (through links, as named).
    pub path: PathBuf,
    /// Where it leads (inside the directory).
    pub real: PathBuf,
    /// Why it is not read, if so.
    pub problem: Option<Problem>,
}

/// A problem with a whole file, reported at its first line (or the place it is about).
pub struct Problem {
    code: &'static str,
    message: String,
    help: &'static str,
    span: Span,
}

impl Problem {
    fn new(code: &'static str, message: impl Into<String>, help: &'static str) -> Problem {
        Problem { code, message: message.into(), help, span: Span { line: 1, column: 1, offset: 0, len: 0 } }
    }
    pub fn into_diagnostic(self, file: usize) -> Diagnostic {
        Diagnostic::error(self.code, file, self.span, self.message).help(self.help)
    }
}

fn is_yaml(name: &Path) -> bool {
    matches!(name.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

pub fn walk(root: &Path) -> Result<Found, LoadError> {
    let croot = root.canonicalize().map_err(|source| LoadError::Io { path: root.to_path_buf(), source })?;
    let mut w = Walker { croot: croot.clone(), seen: HashSet::from([croot.clone()]), files: Vec::new(), read: HashSet::new(), bytes: 0 };
    w.dir(root, &croot, 0)?;
    w.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Found { files: w.files })
}

struct Walker {
    croot: PathBuf,
    /// Directories entered, by real path: a link back up is not entered again.
    seen: HashSet<PathBuf>,
    /// Files taken, by real path: a link to a file that is read anyway adds nothing.
    read: HashSet<PathBuf>,
    files: Vec<FoundFile>,
    bytes: u64,
}

impl Walker {
    fn bad(&mut self, path: PathBuf, problem: Problem) {
        self.files.push(FoundFile { real: path.clone(), path, problem: Some(problem) });
    }

    fn dir(&mut self, dir: &Path, real_dir: &Path, depth: usize) -> Result<(), LoadError> {
        let io = |source| LoadError::Io { path: dir.to_path_buf(), source };
        let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let ft = entry.file_type().map_err(|source| LoadError::Io { path: path.clone(), source })?;
            let (real, meta) = if ft.is_symlink() {
                match path.canonicalize().and_then(|r| std::fs::metadata(&r).map(|m| (r, m))) {
                    Ok((r, _)) if !r.starts_with(&self.croot) => {
                        // Where it leads is not said: the name alone can tell an attacker what exists.
                        if is_yaml(&path) {
                            self.bad(
                                path,
                                Problem::new(
                                    "outside-directory",
                                    "this file is a symbolic link to a place outside the directory; it is not read",
                                    "commit the file itself; mailplane reads only files inside the desired-state directory",
                                ),
                            );
                        }
                        continue;
                    }
                    Ok(found) => found,
                    Err(_) => {
                        if is_yaml(&path) {
                            self.bad(
                                path,
                                Problem::new(
                                    "broken-link",
                                    "this file is a symbolic link that leads nowhere",
                                    "remove the link or commit the file it should point to",
                                ),
                            );
                        }
                        continue;
                    }
                }
            } else {
                let meta = entry.metadata().map_err(|source| LoadError::Io { path: path.clone(), source })?;
                (real_dir.join(entry.file_name()), meta)
            };
            if meta.is_dir() && depth == 0 && entry.file_name() == super::SETTINGS_FILE {
                self.bad(
                    path,
                    Problem::new("not-a-file", "`mailplane.yaml` is a directory; the settings file must be a file", "remove or rename the directory"),
                );
            } else if meta.is_dir() {
                if depth + 1 >= MAX_DEPTH {
                    return Err(LoadError::TooDeep(path));
                }
                if self.seen.insert(real.clone()) {
                    self.dir(&path, &real, depth + 1)?;
                }
            } else if !is_yaml(&path) {
                continue;
            } else if !meta.is_file() {
                let what = confined::describe(meta.file_type());
                self.bad(
                    path,
                    Problem::new("not-a-file", format!("this is {what}, not a regular file; it is not read"), "remove it: desired-state files are plain files"),
                );
            } else if self.read.insert(real.clone()) {
                self.bytes += meta.len();
                if self.files.len() >= MAX_FILES || self.bytes > MAX_TOTAL_BYTES {
                    return Err(LoadError::TooBig { files: MAX_FILES, bytes: MAX_TOTAL_BYTES });
                }
                self.files.push(FoundFile { path, real, problem: None });
            }
        }
        Ok(())
    }
}

/// Reads one found file as UTF-8 text, bounded. On a problem: the diagnostic and the text that
/// may be shown with it (the valid lines before a bad byte; nothing from a file not read).
pub fn read_text(real: &Path, shown: &Path) -> Result<String, (Problem, String)> {
    let limit = MAX_FILE_BYTES as u64;
    let bytes = confined::read_resolved(real, shown, limit).map_err(|e| {
        let p = match e {
            ConfinedError::TooLarge(..) => Problem::new(
                "file-too-large",
                format!("the file is larger than {limit} bytes"),
                "split it into several files: every *.yaml file under the directory is read",
            ),
            ConfinedError::NotRegular(_, what) => {
                Problem::new("not-a-file", format!("this is {what}, not a regular file; it is not read"), "remove it: desired-state files are plain files")
            }
            other => Problem::new("unreadable", other.to_string(), "check the file's permissions"),
        };
        (p, String::new())
    })?;
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err((
            Problem::new("not-utf8", "the file is UTF-16 text; mailplane reads UTF-8", "save it as UTF-8 (most editors: \"Save with encoding\")"),
            String::new(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let before = String::from_utf8_lossy(bytes.get(..bad).unwrap_or_default()).into_owned();
        let line = before.matches('\n').count() as u32 + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        let byte = bytes.get(bad).copied().unwrap_or(0);
        let mut p =
            Problem::new("not-utf8", format!("byte 0x{byte:02X} is not UTF-8 text (the file is probably Latin-1 or Windows-1252)"), "save the file as UTF-8");
        p.span = Span { line, column, offset: 0, len: 1 };
        // The lines before the bad byte may be shown with the error; the bad line up to it.
        (p, before)
    })
}
