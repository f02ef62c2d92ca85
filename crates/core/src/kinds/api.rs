//! mailcow's API keys (`api`, one row per access, as `admin_api('ro'|'rw', 'edit')` keeps them)
//! and OAuth2 clients (`oauth_clients`, as `oauth2('add'|'edit'|'delete', 'client')` writes them,
//! keyed by a client id chosen in YAML). Keys and client secrets are stored in clear, as mailcow
//! does: mailplane reads them from references and never shows or exports them. mailcow's php-fpm
//! rewrites the API rows from `mailcow.conf` at every start: `mailcow_conf_conflicts` says so
//! instead of fighting it.

use std::collections::HashSet;

use super::export::{Export, loc, some_if};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t, token};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names::{is_network, printable};
use crate::model::{ApiAccess, ApiKey, Document, Kind, Located, OAuthClient};
use crate::record::{Record, Value};
use crate::sql::Dialect;

const API: Query = Query { from: "api", columns: &["api_key", "allow_from", "skip_ip_check", "access", "active"], kept: false };
const CLIENTS: Query = Query { from: "oauth_clients", columns: &["client_id", "client_secret", "redirect_uri", "scope"], kept: false };

/// mailcow's only scope (its add refuses any other).
const SCOPE: &str = "profile";

pub const API_KEY: KindSpec = KindSpec {
    kind: Kind::ApiKey,
    warn: super::no_check,
    queries: &[&API],
    hashes: &[],
    strings: &[],
    count: |d| d.api_keys.len(),
    validate,
    desired: api_desired,
    live: api_live,
    write: api_write,
    check: |f| {
        let mut problems: Vec<String> = super::created_without(f.changes, Kind::ApiKey, &["key"])
            .map(|c| format!("the `{}` API key has no key to be created with: declare `key` (`{{env: NAME}}` or `{{file: path}}`)", c.key))
            .collect();
        problems.extend(shared_api_keys(f));
        problems.extend(f.mailcow_conf.map(|conf| mailcow_conf_conflicts(conf, f.changes)).unwrap_or_default());
        problems
    },
    export: api_export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

pub const OAUTH_CLIENT: KindSpec = KindSpec {
    kind: Kind::OAuthClient,
    warn: super::no_check,
    queries: &[&CLIENTS],
    hashes: &[],
    strings: &[],
    count: |d| d.oauth_clients.len(),
    // Checked with the API keys.
    validate: super::no_rules,
    desired: client_desired,
    live: client_live,
    write: client_write,
    check: |f| {
        super::created_without(f.changes, Kind::OAuthClient, &["secret"])
            .map(|c| format!("OAuth2 client `{}` has no secret to be created with: declare `secret` (`{{env: NAME}}` or `{{file: path}}`)", c.key))
            .collect()
    },
    export: client_export,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

/// The list as mailcow stores it: trimmed, the first of each entry kept, in order.
fn allow_from(entries: &[Located<String>]) -> Vec<String> {
    let mut seen = HashSet::new();
    entries.iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty() && seen.insert(e.clone())).collect()
}

fn api_record(access: &str, key: Value, allow: Vec<String>, skip: bool, active: bool) -> Record {
    Record::new(Kind::ApiKey, access)
        .with("key", key)
        .with("allow_from", Value::List(allow.into()))
        .with("skip_ip_check", Value::Bool(skip))
        .with("active", Value::Bool(active))
}

fn api_desired(r: &mut Resolver, out: &mut Desired) {
    let docs = r.docs.clone();
    for a in docs.iter().flat_map(|d| &d.api_keys) {
        let access = a.access.name();
        let key = match &a.key {
            None => super::undeclared_secret(),
            Some(s) => {
                if r.revealed.get(&s.value).is_ok_and(|v| !valid_api_key(&v)) {
                    r.secret_errors.push(format!("the `{access}` API key is not 1 to 255 letters, digits and `-`: mailcow would not accept it from a request"));
                }
                r.clear_secret(out, Kind::ApiKey, access, "key", Some(s))
            }
        };
        out.records.push(api_record(access, key, allow_from(&a.allow_from), a.skip_ip_check.unwrap_or(false), a.active.unwrap_or(true)));
    }
}

/// What mailcow's session code leaves of an `X-API-Key` header is what it compares.
fn valid_api_key(k: &str) -> bool {
    (1..=255).contains(&k.len()) && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

fn api_live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&API) {
        let allow = row.s("allow_from").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        out.push(api_record(row.s("access"), token(row.s("api_key")), allow, bool_of(row.col("skip_ip_check")), bool_of(row.col("active"))));
    }
}

fn api_write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let access = c.key.as_str();
    let Some(r) = c.desired.as_ref().filter(|_| c.action != Action::Delete) else {
        out.sql("DELETE FROM api WHERE access = ?", vec![t(access)]);
        return Ok(());
    };
    let allow = t(&r.list("allow_from").join(","));
    if c.action == Action::Create {
        let key = ctx.secret(Kind::ApiKey, access, "key")?;
        out.sql(
            "INSERT INTO api (api_key, allow_from, skip_ip_check, access, active, created) VALUES (?, ?, ?, ?, ?, ?)",
            vec![t(&key), allow, b(r.flag("skip_ip_check")), t(access), b(r.flag("active")), t(&ctx.now)],
        );
        return Ok(());
    }
    out.sql(
        "UPDATE api SET allow_from = ?, skip_ip_check = ?, active = ?, modified = ? WHERE access = ?",
        vec![allow, b(r.flag("skip_ip_check")), b(r.flag("active")), t(&ctx.now), t(access)],
    );
    if c.fields.iter().any(|f| f.field == "key") {
        out.sql("UPDATE api SET api_key = ? WHERE access = ?", vec![t(&ctx.secret(Kind::ApiKey, access, "key")?), t(access)]);
    }
    Ok(())
}

/// The key is the row's primary key: a key one access gets may not be the other's, now or
/// after the apply (swapping them would fail half-way: rotate them in two applies).
fn shared_api_keys(f: &super::Facts) -> Vec<String> {
    let keys = |rs: &mut dyn Iterator<Item = &Record>| -> Vec<(String, Value)> {
        rs.filter(|r| r.kind == Kind::ApiKey)
            .filter_map(|r| Some((r.key.clone(), r.get("key").filter(|k| !matches!(k, Value::Secret(s) if s.create_only))?)))
            .collect()
    };
    let (live, desired) = (keys(&mut f.live.iter()), keys(&mut f.changes.iter().filter_map(|c| c.desired.as_ref())));
    let written = f.changes.iter().filter(|c| c.kind == Kind::ApiKey && (c.action == Action::Create || c.fields.iter().any(|x| x.field == "key")));
    written
        .filter(|c| {
            let Some(mine) = desired.iter().find(|(a, _)| *a == c.key).map(|(_, k)| k) else { return false };
            live.iter().chain(&desired).any(|(access, k)| *access != c.key && k == mine)
        })
        .map(|c| format!("the `{}` API key would be the other access's key, now or after this plan: mailcow stores each key once; give each its own (rotating both into each other's takes two applies)", c.key))
        .collect()
}

fn api_export(x: &mut Export, r: &Record) {
    let access = if r.key == "ro" { ApiAccess::Ro } else { ApiAccess::Rw };
    x.file("api.yaml").api_keys.push(ApiKey {
        access: loc(access),
        // Never exported: mailcow keeps it in clear. Left out, the live one stays.
        key: None,
        allow_from: r.list("allow_from").into_iter().map(loc).collect(),
        skip_ip_check: some_if(r.flag("skip_ip_check"), true),
        active: some_if(!r.flag("active"), false),
    });
}

fn client_record(id: &str, secret: Value, redirect_uri: &str, scope: &str) -> Record {
    Record::new(Kind::OAuthClient, id).with("secret", secret).with("redirect_uri", Value::text(redirect_uri)).with("scope", Value::text(scope))
}

fn client_desired(r: &mut Resolver, out: &mut Desired) {
    let docs = r.docs.clone();
    for c in docs.iter().flat_map(|d| &d.oauth_clients) {
        let id = c.client_id.trim();
        let secret = match &c.secret {
            None => super::undeclared_secret(),
            Some(s) => {
                if r.revealed.get(&s.value).is_ok_and(|v| v.is_empty() || v.len() > 80) {
                    r.secret_errors.push(format!("the secret of OAuth2 client `{id}` is not 1 to 80 characters, which mailcow's column holds"));
                }
                r.clear_secret(out, Kind::OAuthClient, id, "secret", Some(s))
            }
        };
        out.records.push(client_record(id, secret, c.redirect_uri.trim(), c.scope.as_ref().map_or(SCOPE, |s| s.trim())));
    }
}

fn client_live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&CLIENTS) {
        out.push(client_record(row.s("client_id"), token(row.s("client_secret")), row.s("redirect_uri"), row.s("scope")));
    }
}

fn client_write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let id = c.key.as_str();
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => {
            let secret = ctx.secret(Kind::OAuthClient, id, "secret")?;
            // `id` is AUTO_INCREMENT without being the key, which SQLite has no form for.
            let sql = match ctx.dialect {
                Dialect::MySql => "INSERT INTO oauth_clients (client_id, client_secret, redirect_uri, scope) VALUES (?, ?, ?, ?)",
                // One row per statement: INSERT … SELECT is never merged into a multi-row INSERT.
                Dialect::Sqlite => {
                    "INSERT INTO oauth_clients (id, client_id, client_secret, redirect_uri, scope) SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ? FROM oauth_clients"
                }
            };
            out.sql(sql, vec![t(id), t(&secret), t(r.text("redirect_uri")), t(r.text("scope"))]);
        }
        (Action::Update, Some(r)) => {
            out.sql("UPDATE oauth_clients SET redirect_uri = ?, scope = ? WHERE client_id = ?", vec![t(r.text("redirect_uri")), t(r.text("scope")), t(id)]);
            if c.fields.iter().any(|f| f.field == "secret") {
                out.sql("UPDATE oauth_clients SET client_secret = ? WHERE client_id = ?", vec![t(&ctx.secret(Kind::OAuthClient, id, "secret")?), t(id)]);
            }
        }
        // mailcow's delete leaves the client's tokens: so does mailplane's.
        _ => out.sql("DELETE FROM oauth_clients WHERE client_id = ?", vec![t(id)]),
    }
    Ok(())
}

fn client_export(x: &mut Export, r: &Record) {
    x.file("api.yaml").oauth_clients.push(OAuthClient {
        client_id: loc(r.key.clone()),
        secret: None,
        redirect_uri: loc(r.text("redirect_uri").to_string()),
        scope: some_if(r.text("scope") != SCOPE, loc(r.text("scope").to_string())),
    });
}

/// API keys: one per access, mailcow's network rule for `allow_from` (which may be empty only
/// with `skip_ip_check`) and its 512 characters. OAuth2 clients: once each, an id the column
/// holds, a redirect URI (mailcow's edit refuses an empty one), mailcow's one scope.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    for a in &doc.api_keys {
        let what = format!("the `{}` API key", a.access.name());
        v.claim("api_key", a.access.name(), "an API key", (file, a.access.at));
        for e in a.allow_from.iter().filter(|e| !is_network(e.trim())) {
            let message = format!("{what}: `{}` is not an IP address or network", printable(e));
            v.error_help("invalid-network", file, e.at, message, "write an address (192.0.2.10) or a network (192.0.2.0/24, 2001:db8::/48)");
        }
        let stored = allow_from(&a.allow_from).join(",");
        if stored.is_empty() && !a.skip_ip_check.unwrap_or(false) {
            let help = "list the addresses it may be used from, or set `skip_ip_check: true`";
            v.error_help("no-networks", file, a.access.at, format!("{what} has no `allow_from` (mailcow refuses that)"), help);
        } else if stored.len() > 512 {
            let message = format!("{what}: `allow_from` is {} characters as mailcow stores it (comma-joined); at most 512", stored.len());
            v.error_help("text-too-long", file, a.access.at, message, "use networks instead of single addresses");
        }
        if let Some(k) = &a.key {
            v.warn_literal_secret(file, k, format!("{what}: the key"));
        }
    }
    for c in &doc.oauth_clients {
        let id = c.client_id.trim();
        v.claim("oauth_client", id, "an OAuth2 client", (file, c.client_id.at));
        if id.is_empty() || id.len() > 80 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            let message = format!("OAuth2 client `{}`: a client id is 1 to 80 letters, digits, `-`, `_` and `.`", printable(id));
            v.error_help("invalid-client-id", file, c.client_id.at, message, "choose another id, e.g. wiki or chat-server");
        }
        let uri = c.redirect_uri.trim();
        if uri.is_empty() || uri.len() > 2000 || uri.chars().any(char::is_whitespace) {
            let message = format!("OAuth2 client `{id}`: the redirect URI must be one URL of at most 2000 characters");
            v.error_help(
                "invalid-redirect-uri",
                file,
                c.redirect_uri.at,
                message,
                "write the app's callback URL, e.g. https://wiki.example.org/oauth/callback",
            );
        }
        if let Some(s) = c.scope.as_ref().filter(|s| s.trim() != SCOPE) {
            v.error_help("invalid-scope", file, s.at, format!("OAuth2 client `{id}`: mailcow has one scope, `profile`"), "leave `scope` out");
        }
        if let Some(s) = &c.secret {
            v.warn_literal_secret(file, s, format!("OAuth2 client `{id}`: the secret"));
        }
    }
}

/// A setting of mailcow.conf (shell syntax: the last `NAME=value` wins); `""` when unset.
pub fn conf_value(conf: &str, name: &str) -> String {
    conf.lines().filter_map(|l| l.trim().strip_prefix(name)?.strip_prefix('=')).next_back().map(|v| v.trim().trim_matches('"').to_string()).unwrap_or_default()
}

/// The API rows php-fpm rewrites from `mailcow.conf` at every start (`API_KEY`,
/// `API_KEY_READ_ONLY`, with a valid `API_ALLOW_FROM`): a change this plan makes to one of them
/// would be undone at the next start, so the plan says so instead. Reads only those three.
pub fn mailcow_conf_conflicts(conf: &str, changes: &[Change]) -> Vec<String> {
    let value = |name: &str| conf_value(conf, name);
    let set = |v: &str| !v.is_empty() && v != "invalid";
    let allow = value("API_ALLOW_FROM");
    if !set(&allow) || !allow.split(',').any(|ip| is_network(ip.trim())) {
        return Vec::new();
    }
    [("rw", "API_KEY"), ("ro", "API_KEY_READ_ONLY")]
        .into_iter()
        .filter(|(_, name)| set(&value(name)))
        .filter(|(access, _)| changes.iter().any(|c| c.kind == Kind::ApiKey && c.key == *access))
        .map(|(access, name)| {
            format!(
                "the `{access}` API key is set in mailcow.conf ({name} and API_ALLOW_FROM), and mailcow's php-fpm writes it again at every start, undoing this change: change it in mailcow.conf, or remove {name} there to manage it here"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailcows_network_rule() {
        for ok in ["10.0.0.5", "192.168.10.0/24", "2001:db8:c0::/48", "::1", "0.0.0.0/0"] {
            assert!(is_network(ok), "{ok}");
        }
        for bad in ["10.0.0.5/33", "2001:db8::/129", "example.org", "10.0.0/24", "10.0.0.0/+8", "10.0.0.0/", ""] {
            assert!(!is_network(bad), "{bad}");
        }
    }

    #[test]
    fn mailcow_conf_owns_the_keys_it_sets() {
        let change = |key: &str| Change { action: Action::Update, kind: Kind::ApiKey, key: key.into(), fields: Vec::new(), desired: None, live: None };
        let changes = [change("rw"), change("ro")];
        let conf = "# API\nAPI_KEY=ABC-123\nAPI_KEY_READ_ONLY=invalid\nAPI_ALLOW_FROM=172.22.1.1,127.0.0.1\n";
        let found = mailcow_conf_conflicts(conf, &changes);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("the `rw` API key is set in mailcow.conf (API_KEY and API_ALLOW_FROM)") && !found[0].contains("ABC"));
        // Without a valid allow list, php-fpm leaves the rows alone.
        assert!(mailcow_conf_conflicts("API_KEY=ABC\nAPI_ALLOW_FROM=invalid\n", &changes).is_empty());
        assert!(mailcow_conf_conflicts(conf, &[]).is_empty());
    }
}
