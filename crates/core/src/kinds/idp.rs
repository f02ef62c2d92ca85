//! The identity provider: key/value rows of `identity_provider`, encoded like mailcow's PHP
//! (booleans '1'/'', lists as JSON arrays, secrets in clear).

use super::export::{loc, some_if, text};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, t};
use crate::change::Change;
use crate::live::{LiveData, Query};
use crate::load::validate::*;
use crate::model::Located;
use crate::model::names;
use crate::model::{IdentityProvider, KeycloakProvider, Kind, LdapProvider, OidcProvider, TemplateMapping};
use crate::record::{Field, Record, Value};

const KEY: &str = "identity_provider";

const IDENTITY_PROVIDER_ROWS: Query = Query { from: "identity_provider", columns: &["key", "value"], kept: false };

pub const IDENTITY_PROVIDER: KindSpec = KindSpec {
    kind: Kind::IdentityProvider,
    warn: super::no_check,
    queries: &[&IDENTITY_PROVIDER_ROWS],
    hashes: &[],
    strings: &[],
    count: |d| usize::from(d.identity_provider.is_some()),
    desired,
    live,
    write,
    export: |x, r| {
        if let Some(idp) = export(r) {
            x.file("identity.yaml").identity_provider = Some(loc(idp));
        }
    },
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    check: |f| check_switch(f.desired, f.live),
    validate: |v, file, doc| {
        if let Some(idp) = &doc.identity_provider {
            check_idp(v, file, idp);
        }
    },
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn flag(v: Option<bool>) -> String {
    if v.unwrap_or(false) { "1".into() } else { String::new() }
}
fn int(v: Option<bool>) -> String {
    if v.unwrap_or(false) { "1".into() } else { "0".into() }
}
/// Empty lists are not written at all, like mailcow's optional keys.
fn list(v: &[String]) -> String {
    if v.is_empty() { String::new() } else { super::template::php_json(&serde_json::json!(v)) }
}

/// The keys mailcow writes for each authsource, plus the optional mapping keys.
fn keys_for(authsource: &str) -> &'static [Field] {
    match authsource {
        "ldap" => &[
            "authsource",
            "host",
            "port",
            "basedn",
            "username_field",
            "filter",
            "attribute_field",
            "binddn",
            "bindpass",
            "periodic_sync",
            "import_users",
            "sync_interval",
            "use_ssl",
            "use_tls",
            "ignore_ssl_error",
            "login_provisioning",
            "mappers",
            "templates",
            "default_template",
        ],
        "keycloak" => &[
            "authsource",
            "server_url",
            "realm",
            "client_id",
            "client_secret",
            "redirect_url",
            "redirect_url_extra",
            "version",
            "mailpassword_flow",
            "periodic_sync",
            "import_users",
            "sync_interval",
            "ignore_ssl_error",
            "login_provisioning",
            "mappers",
            "templates",
            "default_template",
        ],
        _ => &[
            "authsource",
            "authorize_url",
            "token_url",
            "client_id",
            "client_secret",
            "redirect_url",
            "redirect_url_extra",
            "userinfo_url",
            "client_scopes",
            "ignore_ssl_error",
            "login_provisioning",
            "mappers",
            "templates",
            "default_template",
        ],
    }
}

fn secret_key(authsource: &str) -> Field {
    if authsource == "ldap" { "bindpass" } else { "client_secret" }
}

fn mappings(m: &[TemplateMapping]) -> (String, String) {
    let values: Vec<String> = m.iter().map(|x| x.value.value.clone()).collect();
    let templates: Vec<String> = m.iter().map(|x| x.template.value.clone()).collect();
    (list(&values), list(&templates))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    let Some(idp) = r.docs.iter().find_map(|d| d.identity_provider.as_ref()).map(|i| i.value.clone()) else { return };
    let source = idp.authsource().mailcow();
    let secret = idp.secret().map(|s| r.clear_secret(out, Kind::IdentityProvider, KEY, secret_key(source), Some(s)));
    let (mappers, templates) = mappings(idp.mappings());
    let default_template = idp.default_template().map(|t| t.value.clone()).unwrap_or_default();
    let s = |v: &crate::model::Located<String>| v.value.clone();
    let extra = |v: &[crate::model::Located<String>]| list(&v.iter().map(|x| x.value.clone()).collect::<Vec<_>>());
    let values: Vec<String> = match &idp {
        IdentityProvider::Ldap(p) => vec![
            source.into(),
            p.hosts.iter().map(|h| h.trim().to_string()).collect::<Vec<_>>().join(","),
            p.port.as_ref().map_or(389, |x| x.value).to_string(),
            s(&p.base_dn),
            p.username_field.clone().unwrap_or_else(|| "mail".into()).to_lowercase(),
            p.filter.as_ref().map(s).unwrap_or_default(),
            p.attribute_field.clone().unwrap_or_default().to_lowercase(),
            s(&p.bind_dn),
            String::new(),
            int(p.periodic_sync),
            int(p.import_users),
            p.sync_interval.as_ref().map_or(15, |x| x.value).to_string(),
            flag(p.use_ssl),
            flag(p.use_tls.filter(|_| !p.use_ssl.unwrap_or(false))),
            flag(p.ignore_ssl_errors),
            flag(p.login_provisioning),
            mappers,
            templates,
            default_template,
        ],
        IdentityProvider::Keycloak(p) => vec![
            source.into(),
            p.server_url.trim_end_matches('/').to_string(),
            s(&p.realm),
            s(&p.client_id),
            String::new(),
            s(&p.redirect_url),
            extra(&p.redirect_url_extra),
            s(&p.version),
            int(p.mailpassword_flow),
            int(p.periodic_sync),
            int(p.import_users),
            p.sync_interval.as_ref().map_or(15, |x| x.value).to_string(),
            flag(p.ignore_ssl_errors),
            flag(p.login_provisioning),
            mappers,
            templates,
            default_template,
        ],
        IdentityProvider::GenericOidc(p) => vec![
            source.into(),
            s(&p.authorize_url),
            s(&p.token_url),
            s(&p.client_id),
            String::new(),
            s(&p.redirect_url),
            extra(&p.redirect_url_extra),
            s(&p.userinfo_url),
            p.client_scopes.clone().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "openid profile email mailcow_template".into()),
            flag(p.ignore_ssl_errors),
            flag(p.login_provisioning),
            mappers,
            templates,
            default_template,
        ],
    };
    let mut rec = Record::new(Kind::IdentityProvider, KEY);
    for (k, v) in keys_for(source).iter().zip(values) {
        match (*k == secret_key(source), &secret) {
            // An undeclared secret is left as it is on the server: not compared, not written.
            (true, None) => {}
            (true, Some(s)) => rec.push(k, s.clone()),
            (false, _) => rec.push(k, Value::text(v)),
        }
    }
    out.records.push(rec);
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    let get = |k: &str| l.rows(&IDENTITY_PROVIDER_ROWS).iter().find(|r| r.s("key") == k).map(|r| r.s("value").to_string());
    let Some(source) = get("authsource") else { return };
    let mut rec = Record::new(Kind::IdentityProvider, KEY);
    for k in keys_for(&source) {
        let v = get(k).unwrap_or_default();
        rec.push(k, if *k == secret_key(&source) { super::token(&v) } else { Value::text(v) });
    }
    out.push(rec);
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let Some(r) = &c.desired else {
        out.sql("DELETE FROM identity_provider", vec![]);
        return Ok(());
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in r.fields() {
        let value = match v {
            Value::Secret(_) => ctx.secret(Kind::IdentityProvider, KEY, k)?,
            _ => r.text(k).to_string(),
        };
        // Optional keys are written only when set, like mailcow.
        if matches!(k, "mappers" | "templates" | "default_template" | "redirect_url_extra") && (value.is_empty() || value == "[]") {
            out.sql("DELETE FROM identity_provider WHERE `key` = ?", vec![t(k)]);
            continue;
        }
        pairs.push((k.to_string(), value));
    }
    pairs.push(("access_token".into(), String::new()));
    for (k, v) in pairs {
        out.sql("DELETE FROM identity_provider WHERE `key` = ?", vec![t(&k)]);
        out.sql("INSERT INTO identity_provider (`key`, value, created) VALUES (?, ?, ?)", vec![t(&k), t(&v), t(&ctx.now)]);
    }
    Ok(())
}

/// mailcow refuses to switch the authsource, or to remove the provider, while mailboxes still
/// authenticate with another external provider: they would be locked out.
fn check_switch(desired: &[Record], live: &[Record]) -> Vec<String> {
    let source = |rs: &[Record]| rs.iter().find(|r| r.kind == Kind::IdentityProvider).map(|r| r.text("authsource").to_string());
    let (now, next) = (source(live), source(desired));
    if now.is_none() || now == next {
        return Vec::new();
    }
    let desired_boxes: std::collections::HashMap<&str, &Record> = desired.iter().filter(|r| r.kind == Kind::Mailbox).map(|r| (r.key.as_str(), r)).collect();
    let stranded: Vec<&str> = live
        .iter()
        .filter(|r| r.kind == Kind::Mailbox)
        .map(|r| desired_boxes.get(r.key.as_str()).copied().unwrap_or(r))
        .filter(|r| !matches!(r.text("authsource"), "mailcow" | "") && Some(r.text("authsource").to_string()) != next)
        .map(|r| r.key.as_str())
        .collect();
    if stranded.is_empty() {
        return Vec::new();
    }
    let shown: Vec<&str> = stranded.iter().take(5).copied().collect();
    vec![format!(
        "the identity provider would change from {} to {}, but {} mailboxes still authenticate with {} (e.g. {}): move them to another authsource first",
        now.unwrap_or_default(),
        next.unwrap_or_else(|| "none".into()),
        stranded.len(),
        source(live).unwrap_or_default(),
        shown.join(", ")
    )]
}

fn export(r: &Record) -> Option<IdentityProvider> {
    let s = |k: &str| loc(r.text(k).to_string());
    let b = |k: &str| some_if(r.text(k) == "1", true);
    let list = |k: &str| serde_json::from_str::<Vec<String>>(r.text(k)).unwrap_or_default();
    let mappings: Vec<TemplateMapping> =
        list("mappers").into_iter().zip(list("templates")).map(|(v, t)| TemplateMapping { value: loc(v), template: loc(t) }).collect();
    let interval = || r.text("sync_interval").parse().ok().filter(|n| *n != 15).map(loc);
    let default_template = text(r, "default_template").map(loc);
    Some(match r.text("authsource") {
        "ldap" => IdentityProvider::Ldap(LdapProvider {
            hosts: loc(r.text("host").split(',').filter(|h| !h.is_empty()).map(|h| loc(h.to_string())).collect()),
            port: r.text("port").parse().ok().filter(|p| *p != 389).map(loc),
            use_ssl: b("use_ssl"),
            use_tls: b("use_tls"),
            ignore_ssl_errors: b("ignore_ssl_error"),
            base_dn: s("basedn"),
            username_field: text(r, "username_field").filter(|u| u != "mail"),
            filter: text(r, "filter").map(loc),
            attribute_field: text(r, "attribute_field"),
            bind_dn: s("binddn"),
            bind_password: None,
            periodic_sync: b("periodic_sync"),
            import_users: b("import_users"),
            sync_interval: interval(),
            login_provisioning: b("login_provisioning"),
            mappings,
            default_template,
        }),
        "keycloak" => IdentityProvider::Keycloak(KeycloakProvider {
            server_url: s("server_url"),
            realm: s("realm"),
            client_id: s("client_id"),
            client_secret: None,
            redirect_url: s("redirect_url"),
            redirect_url_extra: list("redirect_url_extra").into_iter().map(loc).collect(),
            version: s("version"),
            mailpassword_flow: b("mailpassword_flow"),
            periodic_sync: b("periodic_sync"),
            import_users: b("import_users"),
            sync_interval: interval(),
            ignore_ssl_errors: b("ignore_ssl_error"),
            login_provisioning: b("login_provisioning"),
            mappings,
            default_template,
        }),
        "generic-oidc" => IdentityProvider::GenericOidc(OidcProvider {
            authorize_url: s("authorize_url"),
            token_url: s("token_url"),
            userinfo_url: s("userinfo_url"),
            client_id: s("client_id"),
            client_secret: None,
            redirect_url: s("redirect_url"),
            redirect_url_extra: list("redirect_url_extra").into_iter().map(loc).collect(),
            client_scopes: text(r, "client_scopes"),
            ignore_ssl_errors: b("ignore_ssl_error"),
            login_provisioning: b("login_provisioning"),
            mappings,
            default_template,
        }),
        _ => return None,
    })
}

pub(crate) fn check_idp(val: &mut Validator, file: usize, idp: &Located<IdentityProvider>) {
    if val.idp.is_none_or(|i| !std::ptr::eq(i, &idp.value)) {
        return;
    }
    for m in idp.mappings() {
        val.template_exists(file, &m.template, false);
    }
    if let Some(t) = idp.default_template() {
        val.template_exists(file, t, false);
    }
    if let Some(s) = idp.secret() {
        val.warn_literal_secret(file, s, "the identity provider's secret".to_string());
    }
    let interval = match &idp.value {
        IdentityProvider::Ldap(p) => {
            if p.hosts.is_empty() {
                val.error("idp-settings", file, p.hosts.at, "LDAP needs at least one host");
            }
            for h in p.hosts.iter() {
                // mailcow strips spaces and joins the hosts with commas into one value.
                if h.trim().is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',') {
                    val.error_help(
                        "idp-settings",
                        file,
                        h.at,
                        format!("`{}` is not an LDAP host", names::printable(h)),
                        "write one host name or IP address per list item, without spaces or commas",
                    );
                }
            }
            if let Some(port) = p.port.as_ref().filter(|p| p.value == 0) {
                val.error("idp-settings", file, port.at, "the LDAP port must be from 1 to 65535");
            }
            p.sync_interval.as_ref()
        }
        IdentityProvider::Keycloak(p) => p.sync_interval.as_ref(),
        IdentityProvider::GenericOidc(_) => None,
    };
    if let Some(i) = interval
        && i.value < 1
    {
        val.error("idp-settings", file, i.at, "sync_interval is in minutes and must be at least 1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp(source: &str) -> Record {
        Record::new(Kind::IdentityProvider, KEY).with("authsource", Value::text(source))
    }
    fn mailbox(source: &str) -> Record {
        Record::new(Kind::Mailbox, "a@x.org").with("authsource", Value::text(source))
    }

    #[test]
    fn switching_provider_is_refused_while_mailboxes_use_the_old_one() {
        let live = vec![idp("ldap"), mailbox("ldap")];
        assert!(check_switch(&[idp("keycloak")], &live)[0].contains("from ldap to keycloak, but 1 mailboxes still authenticate with ldap (e.g. a@x.org)"));
        assert!(check_switch(&[], &live)[0].contains("from ldap to none"));
        assert!(check_switch(&[idp("keycloak"), mailbox("mailcow")], &live).is_empty(), "moved first: fine");
        assert!(check_switch(&[idp("ldap")], &live).is_empty());
    }
}
