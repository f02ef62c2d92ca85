//! Talking to the LDAP identity provider: hosts in order (fallback), LDAPS or StartTLS, bind,
//! search. Used by `mailplane idp test` and by LDAP as a source of mailboxes.

use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};

use crate::model::LdapProvider;

/// The provider's settings with its bind password resolved.
pub struct Settings<'a> {
    pub provider: &'a LdapProvider,
    pub bind_password: String,
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub dn: String,
    /// The username field's first value: the mail address users log in with.
    pub username: String,
    pub display_name: Option<String>,
    /// The attribute field's first value, which selects the mailbox template.
    pub attribute: Option<String>,
}

#[derive(Debug)]
pub struct Found {
    /// The host that answered; earlier hosts that failed are in `skipped`.
    pub url: String,
    pub skipped: Vec<(String, String)>,
    pub users: Vec<User>,
}

#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("cannot connect to any LDAP host: {}", .0.iter().map(|(h, e)| format!("{h}: {e}")).collect::<Vec<_>>().join("; "))]
    NoHost(Vec<(String, String)>),
    #[error("{url}: invalid credentials for bind DN `{bind_dn}` (LDAP result 49); check bind_dn and the bind password")]
    InvalidCredentials { url: String, bind_dn: String },
    #[error("{url}: the base DN `{base_dn}` does not exist (LDAP result 32); check base_dn")]
    BadBaseDn { url: String, base_dn: String },
    #[error("the filter `{0}` is not valid LDAP filter syntax; it must look like `(objectClass=inetOrgPerson)`")]
    FilterSyntax(String),
    #[error("{url}: {what} failed: {message}")]
    Other { url: String, what: &'static str, message: String },
}

fn plain(e: &LdapError) -> String {
    match e {
        LdapError::Io { source } => match source.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            std::io::ErrorKind::TimedOut => "timed out".into(),
            _ => source.to_string(),
        },
        LdapError::Timeout { .. } => "timed out".into(),
        LdapError::Rustls { source } => format!("TLS error: {source}"),
        LdapError::LdapResult { result } => format!("LDAP result {}: {}", result.rc, result.text),
        other => other.to_string(),
    }
}

/// The search filter: the configured one, narrowed to entries that have the username field.
pub fn search_filter(p: &LdapProvider) -> String {
    let field = username_field(p);
    match p.filter.as_ref().map(|f| f.trim()).filter(|f| !f.is_empty()) {
        Some(f) => format!("(&{f}({field}=*))"),
        None => format!("({field}=*)"),
    }
}

pub fn username_field(p: &LdapProvider) -> String {
    p.username_field.clone().unwrap_or_else(|| "mail".into()).to_lowercase()
}

fn first(e: &SearchEntry, attr: &str) -> Option<String> {
    e.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(attr)).and_then(|(_, v)| v.first().cloned())
}

/// Connects to the first host that answers, binds, and lists the users.
pub async fn fetch_users(s: &Settings<'_>) -> Result<Found, Problem> {
    let p = s.provider;
    let ssl = p.use_ssl.unwrap_or(false);
    let port = p.port.as_ref().map_or(if ssl { 636 } else { 389 }, |p| p.value);
    let mut skipped = Vec::new();
    for host in p.hosts.iter() {
        let url = format!("{}://{}:{port}", if ssl { "ldaps" } else { "ldap" }, host.trim());
        let settings = LdapConnSettings::new()
            .set_conn_timeout(s.timeout)
            .set_starttls(p.use_tls.unwrap_or(false) && !ssl)
            .set_no_tls_verify(p.ignore_ssl_errors.unwrap_or(false));
        let (conn, mut ldap) = match LdapConnAsync::with_settings(settings, &url).await {
            Ok(c) => c,
            Err(e) => {
                skipped.push((url, plain(&e)));
                continue;
            }
        };
        ldap3::drive!(conn);
        ldap.with_timeout(s.timeout);
        let bind = ldap.simple_bind(&p.bind_dn, &s.bind_password).await.and_then(|r| r.success());
        match bind {
            Ok(_) => {}
            Err(LdapError::LdapResult { result }) if result.rc == 49 => {
                return Err(Problem::InvalidCredentials { url, bind_dn: p.bind_dn.value.clone() });
            }
            Err(e) => return Err(Problem::Other { url, what: "bind", message: plain(&e) }),
        }
        let filter = search_filter(p);
        let field = username_field(p);
        let attribute = p.attribute_field.clone().unwrap_or_default().to_lowercase();
        let mut attrs = vec![field.clone(), "displayName".to_string()];
        if !attribute.is_empty() {
            attrs.push(attribute.clone());
        }
        ldap.with_timeout(s.timeout);
        let result = ldap.search(&p.base_dn, Scope::Subtree, &filter, attrs).await;
        let entries = match result.and_then(|r| r.success()) {
            Ok((entries, _)) => entries,
            Err(LdapError::FilterParsing) => return Err(Problem::FilterSyntax(p.filter.as_ref().map(|f| f.value.clone()).unwrap_or_default())),
            Err(LdapError::LdapResult { result }) if result.rc == 32 => {
                return Err(Problem::BadBaseDn { url, base_dn: p.base_dn.value.clone() });
            }
            Err(e) => return Err(Problem::Other { url, what: "search", message: plain(&e) }),
        };
        let _ = ldap.unbind().await;
        let mut users: Vec<User> = entries
            .into_iter()
            .map(SearchEntry::construct)
            .filter_map(|e| {
                Some(User {
                    username: first(&e, &field)?.trim().to_lowercase(),
                    display_name: first(&e, "displayName"),
                    attribute: (!attribute.is_empty()).then(|| first(&e, &attribute)).flatten(),
                    dn: e.dn,
                })
            })
            .collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        return Ok(Found { url, skipped, users });
    }
    Err(Problem::NoHost(skipped))
}

/// Which template a user gets: the mapping for its attribute value, else the default (on create).
pub fn template_for<'a>(p: &'a LdapProvider, attribute: Option<&str>) -> Option<&'a str> {
    crate::model::template_for(&p.mappings, p.default_template.as_ref(), attribute)
}
