//! Applying file changes: everything is checked first; only when every check passed are the
//! files replaced (atomically, keeping owner, mode and the previous version), then each
//! affected service is restarted or reloaded once.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::check::{Refusal, check};
use super::host::{Host, HostError};
use super::{FileChange, FollowUp, follow_ups};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{}; no file was written:\n  {}", refused(.0.len()), .0.iter().map(Refusal::to_string).collect::<Vec<_>>().join("\n  "))]
    Refused(Vec<Refusal>),
    #[error("cannot check the service files: {0}")]
    Host(#[from] HostError),
    #[error("cannot write {path}: {message} (files written before it stay written; each previous version is in <name>.mailplane-bak)")]
    Write { path: String, message: String },
    #[error("the files were written, but `{follow_up}` failed: {error}; the service may still use the old files")]
    FollowUp { follow_up: FollowUp, error: HostError },
}

fn refused(n: usize) -> String {
    if n == 1 { "1 file was refused by its checker".into() } else { format!("{n} files were refused by their checkers") }
}

/// Every check, and that each needed restart or reload can be done. Writes nothing.
pub async fn check_all(host: &Host, root: &Path, changes: &[FileChange]) -> Result<(), FilesError> {
    for f in follow_ups(changes) {
        host.can(f)?;
    }
    let refusals = check(host, root, changes).await?;
    if refusals.is_empty() { Ok(()) } else { Err(FilesError::Refused(refusals)) }
}

/// Writes the (already checked) files, then runs their follow-ups. Returns the follow-ups run.
pub async fn apply(host: &Host, root: &Path, changes: &[FileChange]) -> Result<Vec<FollowUp>, FilesError> {
    for c in changes {
        let path = root.join(&c.path);
        let write = if BIND_MOUNTED.contains(&c.path.as_str()) && path.is_file() { write_in_place } else { write_atomic };
        write(&path, &c.new).map_err(|e| FilesError::Write { path: path.display().to_string(), message: e.to_string() })?;
    }
    let done = follow_ups(changes);
    for f in &done {
        host.follow_up(*f).await.map_err(|error| FilesError::FollowUp { follow_up: *f, error })?;
    }
    Ok(done)
}

/// Files mailcow bind-mounts into php-fpm one by one (its UI edits them): a rename would leave
/// that mount on the old inode, so the UI would show and save the old text. They are written in
/// place, after their checker passed.
const BIND_MOUNTED: [&str; 2] = ["dovecot/global_sieve_before", "dovecot/global_sieve_after"];

/// Overwrites `path` keeping its inode (owner and mode stay); the previous version is copied to
/// `<name>.mailplane-bak` first (a copy: a hard link would share the inode being overwritten).
fn write_in_place(path: &Path, content: &str) -> std::io::Result<()> {
    let name = path.file_name().expect("a managed file has a name").to_string_lossy();
    let bak = path.with_file_name(format!("{name}.mailplane-bak"));
    let _ = std::fs::remove_file(&bak);
    std::fs::copy(path, &bak)?;
    let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// Replaces `path` so that readers see the old or the new file, never a part: a temporary file
/// in the same directory, renamed over it. Owner and mode stay those of the file replaced; the
/// previous version stays as `<name>.mailplane-bak`.
fn write_atomic(path: &Path, content: &str) -> std::io::Result<()> {
    let dir = path.parent().expect("a managed file is inside the services root");
    let name = path.file_name().expect("a managed file has a name").to_string_lossy();
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.mailplane-tmp"));
    let old = std::fs::metadata(path).ok();
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    drop(f);
    if let Some(m) = &old {
        std::fs::set_permissions(&tmp, m.permissions())?;
        let mine = std::fs::metadata(&tmp)?;
        if (mine.uid(), mine.gid()) != (m.uid(), m.gid()) {
            std::os::unix::fs::chown(&tmp, Some(m.uid()), Some(m.gid()))?;
        }
        let bak = dir.join(format!("{name}.mailplane-bak"));
        let _ = std::fs::remove_file(&bak);
        // A hard link keeps the old file exactly (inode, owner, mode); copy where links are not allowed.
        std::fs::hard_link(path, &bak).or_else(|_| std::fs::copy(path, &bak).map(|_| ()))?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn write_keeps_mode_and_the_previous_version() {
        let dir = std::env::temp_dir().join(format!("mailplane-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("postfix/extra.cf");
        write_atomic(&path, "a = 1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, "a = 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 2\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_to_string(dir.join("postfix/extra.cf.mailplane-bak")).unwrap(), "a = 1\n");
        let names: Vec<_> = std::fs::read_dir(dir.join("postfix")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bind_mounted_sieve_files_keep_their_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot/global_sieve_before");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "# old\n").unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        write_in_place(&path, "# new\n").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# new\n");
        assert_eq!(std::fs::read_to_string(dir.path().join("dovecot/global_sieve_before.mailplane-bak")).unwrap(), "# old\n");
    }
}
