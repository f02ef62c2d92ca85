//! Reading files that the desired-state directory names. The directory arrives by pull request
//! and plans are posted publicly, so a path in it must never reach a file outside it: every
//! path is resolved (symlinks included) and must stay inside the directory (or the operator's
//! `MAILPLANE_SECRETS_DIR`, for secrets only), be a regular file, and is read with a bound
//! checked on the open file, never after reading.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The environment variable naming one more directory that `{file:}` secrets may be read from.
/// It is set by whoever runs mailplane, never by the directory, so it may point anywhere.
pub const SECRETS_DIR_ENV: &str = "MAILPLANE_SECRETS_DIR";

/// A secret file is never this big; service files and YAML files have their own limits.
pub const MAX_SECRET_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfinedError {
    #[error("`{0}` does not exist")]
    NotFound(String),
    #[error("`{0}` is outside the desired-state directory; mailplane reads only files inside it{hint}", hint = outside_hint())]
    Outside(String),
    #[error("`{0}` is {1}, not a regular file")]
    NotRegular(String, &'static str),
    #[error("`{0}` is larger than {1} bytes")]
    TooLarge(String, u64),
    #[error("cannot read `{0}`: {1}")]
    Io(String, std::io::ErrorKind),
}

fn outside_hint() -> &'static str {
    " (for secrets kept elsewhere on the host, set MAILPLANE_SECRETS_DIR)"
}

/// Where a path may lead.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only inside the directory (YAML files, service files: their content may be shown).
    Directory,
    /// Inside the directory or `MAILPLANE_SECRETS_DIR` (secrets: never shown).
    Secrets,
}

/// The canonical form of `root` (the directory itself is trusted: the operator named it).
pub fn canonical_root(root: &Path) -> Result<PathBuf, ConfinedError> {
    root.canonicalize().map_err(|e| io_error(root, e))
}

fn io_error(shown: &Path, e: std::io::Error) -> ConfinedError {
    let shown = shown.display().to_string();
    match e.kind() {
        std::io::ErrorKind::NotFound => ConfinedError::NotFound(shown),
        kind => ConfinedError::Io(shown, kind),
    }
}

/// Resolves `path` (relative to `root`, or absolute) and checks it stays inside `scope`.
/// `shown` is the path as the user wrote it: errors name that, never what it resolved to.
pub fn resolve(root: &Path, path: &Path, scope: Scope) -> Result<PathBuf, ConfinedError> {
    let shown = path;
    let croot = canonical_root(root)?;
    let joined = if path.is_absolute() { path.to_path_buf() } else { croot.join(path) };
    let real = joined.canonicalize().map_err(|e| io_error(shown, e))?;
    let inside = real.starts_with(&croot)
        || scope == Scope::Secrets
            && std::env::var_os(SECRETS_DIR_ENV).filter(|d| !d.is_empty()).and_then(|d| Path::new(&d).canonicalize().ok()).is_some_and(|d| real.starts_with(d));
    if !inside {
        return Err(ConfinedError::Outside(shown.display().to_string()));
    }
    Ok(real)
}

/// What a non-regular file is, in words.
pub fn describe(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a named pipe"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Opens an already resolved path without blocking (a named pipe would wait for a writer) and
/// without following a last-moment symlink, checks it is a regular file of at most `limit`
/// bytes, and reads at most that much.
pub fn read_resolved(real: &Path, shown: &Path, limit: u64) -> Result<Vec<u8>, ConfinedError> {
    let shown_s = || shown.display().to_string();
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY).open(real).map_err(|e| io_error(shown, e))?;
    let meta = file.metadata().map_err(|e| io_error(shown, e))?;
    if !meta.file_type().is_file() {
        return Err(ConfinedError::NotRegular(shown_s(), describe(meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ConfinedError::TooLarge(shown_s(), limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after fstat: the bound holds for what is read, too.
    (&file).take(limit + 1).read_to_end(&mut bytes).map_err(|e| io_error(shown, e))?;
    if bytes.len() as u64 > limit {
        return Err(ConfinedError::TooLarge(shown_s(), limit));
    }
    Ok(bytes)
}

/// `resolve` then `read_resolved`.
pub fn read(root: &Path, path: &Path, scope: Scope, limit: u64) -> Result<Vec<u8>, ConfinedError> {
    let real = resolve(root, path, scope)?;
    read_resolved(&real, path, limit)
}

/// `read` as UTF-8 text.
pub fn read_text(root: &Path, path: &Path, scope: Scope, limit: u64) -> Result<String, ConfinedError> {
    let bytes = read(root, path, scope, limit)?;
    String::from_utf8(bytes).map_err(|_| ConfinedError::Io(path.display().to_string(), std::io::ErrorKind::InvalidData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_and_special_files_are_refused() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("repo");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/ok.txt"), "fine\n").unwrap();
        std::fs::write(outer.path().join("secret.txt"), "TOPSECRET").unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink("sub/ok.txt", root.join("inner.txt")).unwrap();
        let fifo = root.join("pipe.txt");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());

        assert_eq!(read_text(&root, Path::new("sub/ok.txt"), Scope::Directory, 100).unwrap(), "fine\n");
        assert_eq!(read_text(&root, Path::new("inner.txt"), Scope::Directory, 100).unwrap(), "fine\n");
        for p in ["../secret.txt", "link.txt", "sub/../../secret.txt", "/etc/passwd", "/proc/self/environ"] {
            let e = read(&root, Path::new(p), Scope::Directory, 100).unwrap_err();
            assert!(matches!(e, ConfinedError::Outside(_)), "{p}: {e}");
            assert!(!e.to_string().contains("TOPSECRET") && e.to_string().contains(p), "{e}");
        }
        assert!(matches!(read(&root, Path::new("pipe.txt"), Scope::Directory, 100), Err(ConfinedError::NotRegular(_, "a named pipe"))));
        assert!(matches!(read(&root, Path::new("sub"), Scope::Directory, 100), Err(ConfinedError::NotRegular(_, "a directory"))));
        assert!(matches!(read(&root, Path::new("sub/ok.txt"), Scope::Directory, 3), Err(ConfinedError::TooLarge(_, 3))));
        assert!(matches!(read(&root, Path::new("missing"), Scope::Directory, 3), Err(ConfinedError::NotFound(_))));
    }
}
