//! LDAP as a source of mailboxes (`ldap_mailboxes:` in mailplane.yaml): LDAP users in declared
//! domains become declared mailboxes (authsource ldap, name from displayName, template from the
//! attribute mapping), merged with the YAML before planning — what mailcow's import/sync cron
//! does, but reviewable. A user who disappears from LDAP is never deleted: it stays as it is
//! until it has been missing from `miss_threshold` consecutive applies, then it is deactivated.

use std::collections::{HashMap, HashSet};

use crate::kinds::Desired;
use crate::load::Loaded;
use crate::model::names::{check_local_part, normalize_domain};
use crate::model::{AuthSource, IdentityProvider, Kind, Located, Mailbox};
use crate::observe::RowExt;
use crate::record::Record;
use crate::settings::LdapMailboxes;
use crate::store::db::{Arg, Db, Stmt};
use crate::store::ldap::{self, User};

/// What LDAP said this time, and the bookkeeping apply writes.
#[derive(Debug, Default)]
pub struct Merged {
    pub added: usize,
    /// LDAP users skipped, with why.
    pub skipped: Vec<String>,
    /// Earlier LDAP mailboxes now missing: (username, consecutive misses including this one).
    pub missing: Vec<(String, u32)>,
    /// Statements that record this observation; run by apply.
    pub state: Vec<Stmt>,
}

#[derive(Debug, thiserror::Error)]
pub enum LdapSourceError {
    #[error("`ldap_mailboxes` needs an LDAP identity_provider")]
    NoLdapProvider,
    #[error("`ldap_mailboxes` needs the LDAP bind_password")]
    NoBindPassword,
    #[error(transparent)]
    BindPassword(#[from] crate::model::SecretError),
    #[error("LDAP: {0}")]
    Ldap(#[from] ldap::Problem),
    #[error(transparent)]
    Db(#[from] crate::store::db::DbError),
    #[error("LDAP returned no users, but {0} LDAP mailboxes exist: refusing to treat that as everyone leaving; check the filter and base DN")]
    NoUsers(usize),
}

/// Adds LDAP's users to the loaded documents.
pub async fn merge(loaded: &mut Loaded, cfg: &LdapMailboxes, db: &Db) -> Result<Merged, LdapSourceError> {
    let idp = loaded.documents.iter().find_map(|(_, d)| d.identity_provider.as_ref()).map(|i| i.value.clone());
    let Some(IdentityProvider::Ldap(p)) = idp else { return Err(LdapSourceError::NoLdapProvider) };
    let bind_password = p.bind_password.as_ref().ok_or(LdapSourceError::NoBindPassword)?.reveal(&loaded.root)?;
    let settings = ldap::Settings { provider: &p, bind_password, timeout: std::time::Duration::from_secs(cfg.timeout.unwrap_or(10)) };
    let found = ldap::fetch_users(&settings).await?;
    let known: HashMap<String, u32> =
        db.query("SELECT username, misses FROM mailplane_ldap_state", &[]).await?.iter().map(|r| (r.s(0).to_string(), r.i(1) as u32)).collect();
    if found.users.is_empty() && !known.is_empty() {
        return Err(LdapSourceError::NoUsers(known.len()));
    }
    let mut merged = Merged::default();
    let mut present = HashSet::new();
    for user in &found.users {
        match add_user(loaded, &p, user) {
            Ok(true) => merged.added += 1,
            Ok(false) => {}
            Err(why) => {
                merged.skipped.push(format!("{}: {why}", user.username));
                continue;
            }
        }
        present.insert(user.username.clone());
    }
    let mut state = Vec::new();
    for u in &present {
        state.push(Stmt { sql: "DELETE FROM mailplane_ldap_state WHERE username = ?".into(), args: vec![Arg::Text(u.clone())] });
        state.push(Stmt { sql: "INSERT INTO mailplane_ldap_state (username, misses) VALUES (?, 0)".into(), args: vec![Arg::Text(u.clone())] });
    }
    for (u, misses) in known.iter().filter(|(u, _)| !present.contains(*u)) {
        merged.missing.push((u.clone(), misses + 1));
        state.push(Stmt {
            sql: "UPDATE mailplane_ldap_state SET misses = ? WHERE username = ?".into(),
            args: vec![Arg::Int(i64::from(misses + 1)), Arg::Text(u.clone())],
        });
    }
    merged.missing.sort();
    merged.state = state;
    Ok(merged)
}

/// Declares one LDAP user's mailbox in its domain's entry; false when the YAML already declares it.
fn add_user(loaded: &mut Loaded, p: &crate::model::LdapProvider, user: &User) -> Result<bool, String> {
    let (local, domain) = user.username.rsplit_once('@').ok_or("not an e-mail address")?;
    check_local_part(local)?;
    let domain = normalize_domain(domain)?;
    let template = ldap::template_for(p, user.attribute.as_deref()).ok_or("no template mapping and no default_template")?;
    let entry = loaded
        .documents
        .iter_mut()
        .flat_map(|(_, d)| d.domains.iter_mut())
        .find(|d| normalize_domain(&d.name).as_deref() == Ok(domain.as_str()))
        .ok_or_else(|| format!("domain {domain} is not declared"))?;
    if entry.mailboxes.iter().any(|m| m.local_part.trim().eq_ignore_ascii_case(local)) {
        return Ok(false);
    }
    entry.mailboxes.push(Mailbox {
        local_part: Located::new(local.to_string()),
        name: user.display_name.clone().map(Located::new),
        template: Some(Located::new(template.to_string())),
        authsource: Some(Located::new(AuthSource::Ldap)),
        ..empty_mailbox()
    });
    Ok(true)
}

fn empty_mailbox() -> Mailbox {
    serde_json::from_value(serde_json::json!({"local_part": ""})).expect("a mailbox with only a local part")
}

/// Missing LDAP users stay as they are on the server until the threshold, then are deactivated.
pub fn keep_missing(desired: &mut Desired, live: &[Record], merged: &Merged, cfg: &LdapMailboxes) {
    let live: HashMap<&str, &Record> = live.iter().filter(|r| r.kind == Kind::Mailbox).map(|r| (r.key.as_str(), r)).collect();
    let threshold = cfg.miss_threshold.filter(|t| *t > 0);
    for (user, misses) in &merged.missing {
        let Some(l) = live.get(user.as_str()) else { continue };
        let record = match threshold {
            Some(t) if *misses >= t => crate::kinds::disabled(l).unwrap_or_else(|| (*l).clone()),
            _ => (*l).clone(),
        };
        desired.records.push(record);
    }
}
