//! Service configuration files under mailcow's `data/conf` (`services:` in the desired state):
//! which path each declared file has, what the service needs to pick it up, the plan (a unified
//! diff per changed file) and, in `apply`, checking, writing and reloading.
//!
//! Only declared files are managed. A file that is no longer declared is left as it is.

mod apply;
mod check;
mod host;
pub mod password;

use std::path::Path;

pub use apply::{FilesError, apply, check_all};
pub use check::{check_settings_maps, check_sieve_scripts};
pub use host::{Host, HostError};

pub use crate::change::{DesiredFile, FileChange, FileKind, FollowUp, Service};
use crate::load::Loaded;
use crate::model::{Content, Located};

/// The first line of every file mailplane writes, so someone about to edit it by hand knows.
pub const HEADER_NOTE: &str = "managed by mailplane: edit the desired state instead; changes here are reverted";

/// Every declared file, in a stable order, or why some content could not be read.
pub fn desired(loaded: &Loaded) -> Result<Vec<DesiredFile>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut main_cf = Vec::new();
    let mut main_cf_at = None;
    for (file, doc) in &loaded.documents {
        let Some(services) = &doc.services else { continue };
        let src = &loaded.sources[*file].name;
        let at = |l: &crate::model::Span| format!("{src}:{}:{}", l.line, l.column);
        let mut add = |path: String, kind: FileKind, content: &Located<Content>| match read_content(&content.value, &loaded.root) {
            Ok(text) => out.push(DesiredFile { path, kind, content: text, declared_at: at(&content.at), secret: false }),
            Err(e) => errors.push(format!("{}: {e}", at(&content.at))),
        };
        if let Some(p) = &services.postfix {
            if let Some(params) = &p.main_cf {
                if let Some((first, _)) = params.first() {
                    main_cf_at.get_or_insert_with(|| at(&first.at));
                }
                main_cf.extend(params.iter().map(|(k, v)| format!("{} = {}", k.value, v.as_postfix())));
            }
            for (name, content) in &p.files {
                add(format!("postfix/{}", name.value), FileKind::PostfixTable, content);
            }
        }
        if let Some(d) = &services.dovecot {
            let named = [
                ("extra.conf", FileKind::DovecotConf, &d.extra_conf),
                ("global_sieve_before", FileKind::Sieve, &d.sieve_before),
                ("global_sieve_after", FileKind::Sieve, &d.sieve_after),
            ];
            for (name, kind, content) in named {
                if let Some(c) = content {
                    add(format!("dovecot/{name}"), kind, c);
                }
            }
        }
        if let Some(r) = &services.rspamd {
            let dirs =
                [("local.d", FileKind::RspamdConf, &r.local_d), ("override.d", FileKind::RspamdConf, &r.override_d), ("custom", FileKind::RspamdMap, &r.maps)];
            for (dir, kind, files) in dirs {
                for (name, content) in files {
                    add(format!("rspamd/{dir}/{}", name.value), kind, content);
                }
            }
        }
    }
    if let Some(declared_at) = main_cf_at {
        let content = format!("# {HEADER_NOTE}\n{}\n", main_cf.join("\n"));
        out.push(DesiredFile { path: EXTRA_CF.into(), kind: FileKind::PostfixExtraCf, content, declared_at, secret: false });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

pub const EXTRA_CF: &str = "postfix/extra.cf";

fn read_content(c: &Content, root: &Path) -> Result<String, crate::confined::ConfinedError> {
    match c {
        Content::Inline(text) => Ok(text.clone()),
        // The content is shown in plans, which CI posts publicly: only files inside the directory.
        Content::File { file } => crate::confined::read_text(root, file, crate::confined::Scope::Directory, crate::load::MAX_SERVICE_FILE_BYTES),
    }
}

/// What is on disk now, as mailplane compares it: `None` when the file does not exist.
pub fn read_live(root: &Path, file: &DesiredFile) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(root.join(&file.path)) {
        Ok(text) if file.kind == FileKind::PostfixExtraCf => Ok(Some(without_myhostname(&text))),
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// mailcow's postfix start script puts `myhostname = $MAILCOW_HOSTNAME` at the top of extra.cf
/// itself (validation forbids declaring it), so that line is not drift.
fn without_myhostname(text: &str) -> String {
    match text.split_once('\n') {
        Some((first, rest)) if first.trim_start().starts_with("myhostname") && !first.contains("$myhostname") => rest.to_string(),
        _ => text.to_string(),
    }
}

/// Each declared file with what is on disk now, for the plan to compare.
pub fn observe(root: &Path, desired: Vec<DesiredFile>) -> Result<Vec<crate::change::ObservedFile>, String> {
    if !desired.is_empty() && !root.is_dir() {
        return Err(format!("services_root `{}` is not a directory; it should be mailcow's data/conf", root.display()));
    }
    desired
        .into_iter()
        .map(|file| {
            let old = read_live(root, &file).map_err(|e| format!("cannot read {}: {e}", root.join(&file.path).display()))?;
            Ok((file, old))
        })
        .collect()
}

/// The follow-ups a set of changes needs, each once; a postfix restart makes a reload needless.
pub fn follow_ups(changes: &[FileChange]) -> Vec<FollowUp> {
    let mut all: Vec<FollowUp> = changes.iter().map(|c| c.then).filter(|f| *f != FollowUp::Nothing).collect();
    all.sort();
    all.dedup();
    if all.contains(&FollowUp::Restart(Service::Postfix)) {
        all.retain(|f| *f != FollowUp::PostfixReload);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Action;

    fn change(path: &str, old: Option<&str>, new: &str, kind: FileKind) -> FileChange {
        FileChange {
            path: path.into(),
            action: if old.is_some() { Action::Update } else { Action::Create },
            then: kind.follow_up(),
            kind,
            old: old.map(str::to_string),
            new: new.into(),
            declared_at: String::new(),
            secret: false,
        }
    }

    #[test]
    fn diff_has_headers_hunks_and_context() {
        let c = change("postfix/extra.cf", Some("a = 1\nb = 2\nc = 3\n"), "a = 1\nb = 20\nc = 3\n", FileKind::PostfixExtraCf);
        assert_eq!(c.diff(), "--- a/postfix/extra.cf\n+++ b/postfix/extra.cf\n@@ -1,3 +1,3 @@\n a = 1\n-b = 2\n+b = 20\n c = 3\n");
        let created = change("rspamd/custom/x.map", None, "1.2.3.4\n", FileKind::RspamdMap);
        assert!(created.diff().starts_with("--- /dev/null\n+++ b/rspamd/custom/x.map\n@@ -0,0 +1 @@\n+1.2.3.4\n"), "{}", created.diff());
    }

    #[test]
    fn mailcows_myhostname_line_is_not_drift() {
        assert_eq!(without_myhostname("myhostname = mail.example.org\n# x\na = 1\n"), "# x\na = 1\n");
        assert_eq!(without_myhostname("smtp_helo_name = $myhostname\n"), "smtp_helo_name = $myhostname\n");
    }

    #[test]
    fn a_postfix_restart_covers_a_reload() {
        let changes = [
            change("postfix/custom_transport.pcre", None, "", FileKind::PostfixTable),
            change("postfix/extra.cf", None, "", FileKind::PostfixExtraCf),
            change("rspamd/custom/a.map", None, "", FileKind::RspamdMap),
            change("dovecot/global_sieve_before", None, "", FileKind::Sieve),
            change("dovecot/extra.conf", None, "", FileKind::DovecotConf),
        ];
        assert_eq!(follow_ups(&changes), vec![FollowUp::Restart(Service::Postfix), FollowUp::Restart(Service::Dovecot)]);
        assert_eq!(follow_ups(&changes[..1]), vec![FollowUp::PostfixReload]);
    }
}
