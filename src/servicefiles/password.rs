//! The Rspamd UI password (`services.rspamd.ui_password`), as mailcow's "Rspamd UI" form sets it:
//! `rspamadm pw -e` where rspamd runs, its `$2$…` hash written as
//! `enable_password = "<hash>";` to `override.d/worker-controller-password.inc`, then rspamd
//! restarts. The hash is salted and `rspamadm pw --check` reads only from a terminal, so a
//! password given as a reference is compared through the password cache: mailplane remembers
//! each hash it made (a keyed digest, as for mailbox passwords). A hash it did not make (mailcow's
//! form, a hand edit) is replaced once, by the declared password.

use std::path::Path;

use super::{DesiredFile, FileKind, Host, HostError, Service};
use crate::load::Loaded;
use crate::model::{RSPAMD_PASSWORD_FILE, Revealed, Secret, is_rspamd_hash};
use crate::store::db::{Db, Stmt};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("it is shorter than the 6 characters mailcow's form requires")]
    Short,
    #[error("{0}")]
    Unresolved(String),
    #[error("reading the password cache: {0}")]
    Cache(#[from] crate::store::db::DbError),
    #[error("cannot hash it with `rspamadm pw` where rspamd runs: {0}")]
    Host(#[from] HostError),
}

/// The password cache's name for it: not a mailbox or administrator name (those have no space).
const CACHE_NAME: &str = "rspamd ui";

/// The declared password and where (`file:line:column`), read before the documents are dropped.
pub fn declared(loaded: &Loaded) -> Option<(Secret, String)> {
    loaded.documents.iter().find_map(|(file, d)| {
        let p = d.services.as_ref()?.rspamd.as_ref()?.ui_password.as_ref()?;
        Some((p.value.clone(), format!("{}:{}:{}", loaded.sources[*file].name, p.at.line, p.at.column)))
    })
}

/// The file as it should be, and the cache rows to write once it is.
pub struct Planned {
    pub file: DesiredFile,
    pub remember: Vec<Stmt>,
}

fn content(hash: &str) -> String {
    format!("enable_password = \"{hash}\";\n")
}

/// The hash in the file on disk, if it holds one.
fn live_hash(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix("enable_password")?.trim_start().strip_prefix('=')?.trim_start().strip_prefix('"')?;
    rest.split_once('"').map(|(hash, _)| hash)
}

/// What the file must hold: the file on disk when its hash is the declared one (or mailplane
/// made it from the declared password), else a new hash (made now, so apply writes what the
/// plan compared). `key`: the password cache's; without it every hash is new.
pub async fn plan(declared: (Secret, String), revealed: &Revealed, root: &Path, host: &Host, db: &Db, key: Option<&[u8]>) -> Result<Planned, PasswordError> {
    let (secret, declared_at) = declared;
    let on_disk = std::fs::read_to_string(root.join(RSPAMD_PASSWORD_FILE)).ok();
    let live = on_disk.as_deref().and_then(live_hash);
    let file = |content: String| DesiredFile {
        path: RSPAMD_PASSWORD_FILE.into(),
        kind: FileKind::RspamdConf,
        content,
        declared_at: declared_at.clone(),
        secret: true,
    };
    let keep = || Planned { file: file(on_disk.clone().unwrap_or_default()), remember: Vec::new() };
    if let Secret::Literal(hash) = &secret {
        return Ok(if live == Some(hash.as_str()) { keep() } else { Planned { file: file(content(hash)), remember: Vec::new() } });
    }
    let plain = revealed.get(&secret).map_err(|e| PasswordError::Unresolved(e.to_string()))?;
    if plain.chars().count() < 6 {
        return Err(PasswordError::Short);
    }
    if let (Some(live), Some(key)) = (live, key)
        && crate::verify::remembered(db, key, CACHE_NAME, live, &plain).await?
    {
        return Ok(keep());
    }
    let hash = hash(host, &plain).await?;
    let remember = key.map(|k| crate::verify::remember(CACHE_NAME, &hash, &plain, k).to_vec()).unwrap_or_default();
    Ok(Planned { file: file(content(&hash)), remember })
}

/// `rspamadm pw -e -p <password>` where rspamd runs, as mailcow's dockerapi runs it (the
/// password on its command line for that moment, as there), and the `$2$…` line of its output.
async fn hash(host: &Host, plain: &str) -> Result<String, HostError> {
    let out = host.run(Service::Rspamd, &["rspamadm", "pw", "-e", "-p", plain]).await?;
    let hash = out.stdout.lines().find_map(|l| l.find("$2$").map(|i| l[i..].trim().to_string())).filter(|h| is_rspamd_hash(h));
    hash.ok_or_else(|| HostError::Failed { command: "rspamadm pw -e".into(), code: out.code, message: out.stderr.trim().to_string() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hash_is_read_from_mailcows_line() {
        assert_eq!(super::live_hash("enable_password = \"$2$abc$def\";\n"), Some("$2$abc$def"));
        assert_eq!(super::live_hash("  enable_password=\"$2$x$y\";"), Some("$2$x$y"));
        assert_eq!(super::live_hash("# nothing\n"), None);
    }
}
