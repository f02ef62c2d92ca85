//! Events that start a cycle early: a change under a watched directory (the desired state, the
//! managed service files), and a newer commit on a git remote (checked out into the directory,
//! which the file watch then sees). Debouncing is the schedule's job, not this module's.

use std::path::{Path, PathBuf};
use std::process::Command;

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Watches `roots` recursively and sends `()` per relevant change. Keep the watcher alive.
pub fn watch_files(roots: Vec<PathBuf>, tx: mpsc::UnboundedSender<()>) -> notify::Result<RecommendedWatcher> {
    // Events name absolute paths; hidden() looks only below the roots, so compare like with like.
    let roots: Vec<PathBuf> = roots.into_iter().map(|r| r.canonicalize().unwrap_or(r)).collect();
    let watched = roots.clone();
    let mut w = notify::recommended_watcher(move |res: notify::Result<Event>| {
        if let Ok(ev) = res
            && relevant(&ev, &watched)
        {
            let _ = tx.send(());
        }
    })?;
    for r in &roots {
        w.watch(r, RecursiveMode::Recursive)?;
    }
    Ok(w)
}

/// A write, create, rename or delete of a visible file. Reads are ignored (each cycle reads every
/// file, which would otherwise trigger the next), and so are hidden paths such as `.git/`, which
/// the loader skips too.
fn relevant(ev: &Event, roots: &[PathBuf]) -> bool {
    let writes = match ev.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(m) => !matches!(m, notify::event::ModifyKind::Metadata(_)),
        _ => false,
    };
    writes && ev.paths.iter().any(|p| !hidden(p, roots))
}

fn hidden(path: &Path, roots: &[PathBuf]) -> bool {
    let rel = roots.iter().find_map(|r| path.strip_prefix(r).ok()).unwrap_or(path);
    rel.components().any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with('.')))
}

/// `--git-remote`: the daemon's directory is a checkout it owns.
#[derive(Clone, Debug)]
pub struct GitSource {
    pub remote: String,
    pub branch: String,
    pub dir: PathBuf,
}

impl GitSource {
    /// Clones when the directory is not a checkout yet, else fetches the branch and checks out
    /// its newest commit, discarding local edits (the remote is the source of truth). Returns
    /// the commit now checked out.
    pub fn sync(&self) -> Result<String, GitError> {
        let dir = self.dir.to_string_lossy();
        if !self.dir.join(".git").exists() {
            git(&["clone", "--quiet", "--branch", &self.branch, &self.remote, &dir])?;
        } else {
            git(&["-C", &dir, "fetch", "--quiet", &self.remote, &self.branch])?;
            git(&["-C", &dir, "checkout", "--quiet", "--force", "FETCH_HEAD"])?;
        }
        git(&["-C", &dir, "rev-parse", "HEAD"])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Run(#[from] std::io::Error),
    #[error("git {command} failed: {stderr}")]
    Failed { command: String, stderr: String },
}

fn git(args: &[&str]) -> Result<String, GitError> {
    let out = Command::new("git").args(args).output()?;
    if !out.status.success() {
        return Err(GitError::Failed { command: args.join(" "), stderr: String::from_utf8_lossy(&out.stderr).trim().to_string() });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, CreateKind, DataChange, MetadataKind, ModifyKind};

    use super::*;

    fn ev(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_visible_writes_count() {
        let roots = [PathBuf::from("/srv/.config/desired")];
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert!(relevant(&ev(write, "/srv/.config/desired/domains/a.yaml"), &roots));
        assert!(relevant(&ev(EventKind::Create(CreateKind::File), "/srv/.config/desired/b.yaml"), &roots));
        assert!(!relevant(&ev(write, "/srv/.config/desired/.git/index"), &roots));
        assert!(!relevant(&ev(EventKind::Access(AccessKind::Any), "/srv/.config/desired/a.yaml"), &roots));
        assert!(!relevant(&ev(EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)), "/srv/.config/desired/a.yaml"), &roots));
    }

    #[test]
    fn git_source_clones_then_follows_the_branch() {
        if Command::new("git").arg("--version").output().is_err() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (remote, work) = (tmp.path().join("remote"), tmp.path().join("work"));
        let r = remote.to_string_lossy().to_string();
        let commit = |msg: &str| {
            std::fs::write(remote.join("a.yaml"), msg).unwrap();
            git(&["-C", &r, "add", "."]).unwrap();
            git(&["-C", &r, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", msg]).unwrap();
            git(&["-C", &r, "rev-parse", "HEAD"]).unwrap()
        };
        git(&["init", "--quiet", "--initial-branch", "main", &r]).unwrap();
        let first = commit("one");
        let src = GitSource { remote: r.clone(), branch: "main".into(), dir: work.clone() };
        assert_eq!(src.sync().unwrap(), first);
        let second = commit("two");
        std::fs::write(work.join("a.yaml"), "local edit").unwrap();
        assert_eq!(src.sync().unwrap(), second);
        assert_eq!(std::fs::read_to_string(work.join("a.yaml")).unwrap(), "two");
    }
}
