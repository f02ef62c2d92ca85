//! `enforce` passwords given as references (mailboxes, app passwords, administrators): before planning, check the live hash against the
//! secret, so a matching password is not shown as a change. A verified (hash, secret) pair is
//! remembered in `mailplane_password_cache` as a keyed digest, so bcrypt runs once per change,
//! not on every plan; without the key (kept outside the database) the digest reveals nothing.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::kinds::{Desired, SecretSource};
use crate::live::LiveData;
use crate::model::Kind;
use crate::observe::RowExt;
use crate::record::Value;
use crate::store::db::{Arg, Db, DbError, Stmt};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hmac(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(msg).finalize();
    hex(&Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize())
}

pub const KEY_FILE: &str = "password-cache.key";

/// The cache key in the state directory, if it is there; with `create`, one is made (mode
/// 0600) when it is not. Read-only commands never create it: without it nothing is cached.
pub fn key(state_dir: &Path, create: bool) -> std::io::Result<Option<Vec<u8>>> {
    let path = state_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(k) => return Ok(Some(k)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) if !create => return Ok(None),
        Err(_) => {}
    }
    std::fs::create_dir_all(state_dir)?;
    let key: [u8; 32] = rand::random();
    std::fs::write(&path, key)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Some(key.to_vec()))
}

/// A mailbox or app password whose `enforce`d password is a reference, to be checked against
/// the live hash.
fn enforced(rec: &crate::record::Record) -> bool {
    matches!(rec.kind, Kind::Mailbox | Kind::AppPassword | Kind::Admin | Kind::DomainAdmin)
        && matches!(rec.get("password"), Some(Value::Secret(tok)) if !tok.create_only && tok.token == "pending")
}

/// Whether any password is checked (and so the cache key is used at all).
pub fn needs_key(desired: &Desired) -> bool {
    desired.records.iter().any(enforced)
}

#[derive(Debug, Default)]
pub struct Verified {
    pub checked: usize,
    pub from_cache: usize,
}

/// Without `key` nothing is looked up in or added to the cache; a read-only command adds to it
/// only if the database can be written.
pub async fn resolve_enforced(desired: &mut Desired, live: &LiveData, db: &Db, key: Option<&[u8]>) -> Result<Verified, DbError> {
    let mailboxes: HashMap<&str, &str> = live.rows(&crate::kinds::mailbox::MAILBOXES).iter().map(|r| (r.s("username"), r.s("password"))).collect();
    // Built only when an app password needs it: its keys are made, a mailbox's are borrowed.
    let apps = match desired.records.iter().any(|r| r.kind == Kind::AppPassword && enforced(r)) {
        true => crate::kinds::app_password::stored_hashes(live),
        false => HashMap::new(),
    };
    let admins = crate::kinds::admin::stored_hashes(live);
    let cache: HashMap<String, String> = match key {
        Some(_) => db
            .query("SELECT username, stored_hash_sha256, secret_sha256 FROM mailplane_password_cache", &[])
            .await?
            .into_iter()
            .map(|r| (format!("{}\n{}", r.s(0), r.s(1)), r.s(2).to_string()))
            .collect(),
        None => HashMap::new(),
    };
    let mut report = Verified::default();
    let mut remember = Vec::new();
    for rec in desired.records.iter_mut().filter(|r| enforced(r)) {
        let stored = match rec.kind {
            Kind::AppPassword => apps.get(rec.key.as_str()),
            Kind::Admin | Kind::DomainAdmin => admins.get(rec.key.as_str()),
            _ => mailboxes.get(rec.key.as_str()),
        };
        let Some(hash) = stored.copied() else { continue };
        let Some(SecretSource::HashOf(secret)) = desired.secrets.get(&(rec.kind, rec.key.clone(), "password")) else { continue };
        let Ok(plain) = desired.revealed.get(secret) else { continue };
        let hash_id = hex(&Sha256::digest(hash.as_bytes()));
        let digest = key.map(|key| hmac(key, format!("{hash}\n{plain}").as_bytes()));
        let known = digest.is_some() && cache.get(&format!("{}\n{hash_id}", rec.key)) == digest.as_ref();
        let ok = known || matches!(crate::password::verify(hash, &plain), Ok(true));
        report.checked += 1;
        if known {
            report.from_cache += 1;
        }
        if ok {
            rec.set("password", crate::kinds::token(hash));
            if let Some(digest) = digest.filter(|_| !known) {
                remember.extend(cache_rows(&rec.key, hash_id, digest));
            }
        }
    }
    if !remember.is_empty() {
        db.execute_cache(&remember).await?;
    }
    Ok(report)
}

/// The cache's row for a verified (stored hash, secret) pair of `username`, in place of its last.
fn cache_rows(username: &str, hash_id: String, digest: String) -> [Stmt; 2] {
    let u = Arg::Text(username.to_string());
    [
        Stmt { sql: "DELETE FROM mailplane_password_cache WHERE username = ?".into(), args: vec![u.clone()] },
        Stmt {
            sql: "INSERT INTO mailplane_password_cache (username, stored_hash_sha256, secret_sha256) VALUES (?, ?, ?)".into(),
            args: vec![u, Arg::Text(hash_id), Arg::Text(digest)],
        },
    ]
}

/// For a hash mailplane made itself where it cannot check one (the Rspamd UI password, whose
/// `rspamadm pw --check` reads only from a terminal): the rows that remember it came from `plain`.
pub fn remember(username: &str, hash: &str, plain: &str, key: &[u8]) -> [Stmt; 2] {
    cache_rows(username, hex(&Sha256::digest(hash.as_bytes())), hmac(key, format!("{hash}\n{plain}").as_bytes()))
}

/// Whether the cache says `hash` was made from `plain`.
pub async fn remembered(db: &Db, key: &[u8], username: &str, hash: &str, plain: &str) -> Result<bool, DbError> {
    let hash_id = hex(&Sha256::digest(hash.as_bytes()));
    let rows = db
        .query(
            "SELECT secret_sha256 FROM mailplane_password_cache WHERE username = ? AND stored_hash_sha256 = ?",
            &[Arg::Text(username.into()), Arg::Text(hash_id)],
        )
        .await?;
    let digest = hmac(key, format!("{hash}\n{plain}").as_bytes());
    Ok(rows.iter().any(|r| r.s(0) == digest))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(super::hmac(b"Jefe", b"what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
