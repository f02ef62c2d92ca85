//! `enforce` passwords given as references: before planning, check the live hash against the
//! secret, so a matching password is not shown as a change. A verified (hash, secret) pair is
//! remembered in `mailplane_password_cache` as a keyed digest, so bcrypt runs once per change,
//! not on every plan; without the key (kept outside the database) the digest reveals nothing.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::kinds::{Desired, SecretSource};
use crate::model::Kind;
use crate::observe::{LiveData, RowExt};
use crate::record::Value;
use crate::target::db::{Arg, Db, DbError, Stmt};

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

/// The cache key lives in the state directory, created once with mode 0600.
pub fn load_key(state_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = state_dir.join("password-cache.key");
    if let Ok(k) = std::fs::read(&path) {
        return Ok(k);
    }
    std::fs::create_dir_all(state_dir)?;
    let key: [u8; 32] = rand::random();
    std::fs::write(&path, key)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(key.to_vec())
}

#[derive(Debug, Default)]
pub struct Verified {
    pub checked: usize,
    pub from_cache: usize,
}

pub async fn resolve_enforced(desired: &mut Desired, live: &LiveData, db: &Db, key: &[u8]) -> Result<Verified, DbError> {
    let stored: HashMap<&str, &str> = live.mailboxes.iter().map(|r| (r.s(0), r.s(5))).collect();
    let cache: HashMap<String, String> = db
        .query("SELECT username, stored_hash_sha256, secret_sha256 FROM mailplane_password_cache", &[])
        .await?
        .into_iter()
        .map(|r| (format!("{}\n{}", r.s(0), r.s(1)), r.s(2).to_string()))
        .collect();
    let mut report = Verified::default();
    let mut remember = Vec::new();
    for rec in desired.records.iter_mut().filter(|r| r.kind == Kind::Mailbox) {
        let Some(Value::Secret(tok)) = rec.get("password") else { continue };
        if tok.create_only || tok.token != "pending" {
            continue;
        }
        let Some(hash) = stored.get(rec.key.as_str()) else { continue };
        let Some(SecretSource::HashOf(secret)) = desired.secrets.get(&(Kind::Mailbox, rec.key.clone(), "password")) else { continue };
        let Ok(plain) = secret.reveal(&desired.root) else { continue };
        let hash_id = hex(&Sha256::digest(hash.as_bytes()));
        let digest = hmac(key, format!("{hash}\n{plain}").as_bytes());
        let known = cache.get(&format!("{}\n{hash_id}", rec.key)) == Some(&digest);
        let ok = known || matches!(crate::password::verify(hash, &plain), Ok(true));
        report.checked += 1;
        if known {
            report.from_cache += 1;
        }
        if ok {
            rec.set("password", crate::kinds::token(hash));
            if !known {
                let u = Arg::Text(rec.key.clone());
                remember.push(Stmt { sql: "DELETE FROM mailplane_password_cache WHERE username = ?".into(), args: vec![u.clone()] });
                remember.push(Stmt {
                    sql: "INSERT INTO mailplane_password_cache (username, stored_hash_sha256, secret_sha256) VALUES (?, ?, ?)".into(),
                    args: vec![u, Arg::Text(hash_id), Arg::Text(digest)],
                });
            }
        }
    }
    if !remember.is_empty() {
        db.execute_all(&remember).await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            super::hmac(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
