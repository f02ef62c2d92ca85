//! Administrators and domain administrators, as mailcow's `admin(…)`, `domain_admin(…)` and
//! `acl('edit', 'domainadmin')` leave them: one `admin` row each (`superadmin` 1 or 0), a
//! domain administrator's `domain_admins` rows (deleted and inserted again on a change, as
//! mailcow's edit does) and its `da_acl` row (an exact set of flags). `force_tfa` and
//! `force_pw_update` live in `admin.attributes`, which mailcow's add leaves NULL and its edit
//! JSON_SETs. TFA and FIDO2 rows are the person's own: never touched, deleted with them.
//! Passwords follow the mailbox rules (`initial`/`enforce`, checked by `verify`).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as Json};

use super::export::{Export, loc, some_if};
use super::mailbox::{declared_password, mariadb_json, missing_password};
use super::{Desired, Facts, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t, token};
use crate::change::{Action, Change};
use crate::live::{LiveData, Named, Query};
use crate::load::validate::Validator;
use crate::model::names::normalize_domain;
use crate::model::{Admin, Document, DomainAdmin, DomainAdminAcl, Kind, Located, PasswordPolicy, Secret};
use crate::record::{Record, Value};
use crate::sql::Arg;

/// Kept after planning: `verify` checks `enforce`d passwords against these hashes, and an
/// update keeps what else `attributes` holds.
pub const ADMINS: Query = Query { from: "admin", columns: &["username", "password", "superadmin", "active", "attributes"], kept: true };
const DOMAINS: Query = Query { from: "domain_admins", columns: &["username", "domain"], kept: false };
const DA_ACL: Query = Query { from: "da_acl", columns: DomainAdminAcl::COLUMNS, kept: false };

/// mailcow's shipped `admin` password (`moohoo`), as its seed stores it.
const SHIPPED_HASH: &str = "{SSHA256}K8eVJ6YsZbQCfuJvSUbaQRLr0HPLz5rC9IAp0PAFl0tmNDBkMDc0NDAyOTAxN2Rk";
const SHIPPED_PASSWORD: &str = "moohoo";

pub const ADMIN: KindSpec = KindSpec {
    kind: Kind::Admin,
    warn: shipped_password,
    queries: &[&ADMINS],
    hashes: &[],
    strings: &[],
    count: |d| d.admins.len(),
    validate,
    desired: |r, out| desired(r, out, false),
    live: |l, out| live(l, out, false),
    write,
    check: |f| {
        let mut problems = missing_password(f.changes, Kind::Admin);
        problems.extend(last_admin(f));
        problems.extend(taken_by_the_other(f));
        problems
    },
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

pub const DOMAIN_ADMIN: KindSpec = KindSpec {
    kind: Kind::DomainAdmin,
    warn: super::no_check,
    queries: &[&ADMINS, &DOMAINS, &DA_ACL],
    hashes: &[],
    strings: &[],
    count: |d| d.domain_admins.len(),
    // Both lists are checked with the administrators'.
    validate: super::no_rules,
    desired: |r, out| desired(r, out, true),
    live: |l, out| live(l, out, true),
    write,
    check: |f| {
        let mut problems = missing_password(f.changes, Kind::DomainAdmin);
        problems.extend(domains_after(f));
        problems
    },
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

/// What both declarations have in common.
struct Declared<'a> {
    username: &'a Located<String>,
    password: Option<&'a Located<Secret>>,
    policy: Option<PasswordPolicy>,
    active: Option<bool>,
    force_tfa: Option<bool>,
    force_pw_update: Option<bool>,
    /// A domain administrator's declaration (their domains and rights).
    domains: Option<&'a DomainAdmin>,
}

fn declared<'a>(doc: &'a Document) -> impl Iterator<Item = Declared<'a>> {
    let admins = doc.admins.iter().map(|a: &Admin| Declared {
        username: &a.username,
        password: a.password.as_ref(),
        policy: a.password_policy,
        active: a.active,
        force_tfa: a.force_tfa,
        force_pw_update: a.force_pw_update,
        domains: None,
    });
    let domain_admins = doc.domain_admins.iter().map(|a: &DomainAdmin| Declared {
        username: &a.username,
        password: a.password.as_ref(),
        policy: a.password_policy,
        active: a.active,
        force_tfa: a.force_tfa,
        force_pw_update: a.force_pw_update,
        domains: Some(a),
    });
    admins.chain(domain_admins)
}

/// mailcow's `strtolower(trim())`.
fn username(u: &str) -> String {
    u.trim().to_lowercase()
}

/// The rights in `da_acl`'s column order.
fn acl_list(on: impl Fn(DomainAdminAcl) -> bool) -> Value {
    Value::List(DomainAdminAcl::ALL.iter().filter(|f| on(**f)).map(|f| f.column().to_string()).collect())
}

fn record(kind: Kind, key: String, password: Value, domains: Option<(Value, Value)>, flags: [bool; 3]) -> Record {
    let mut r = Record::new(kind, key).with("password", password);
    if let Some((domains, acl)) = domains {
        r.push("domains", domains);
        r.push("acl", acl);
    }
    for (f, on) in ["active", "force_tfa", "force_pw_update"].into_iter().zip(flags) {
        r.push(f, Value::Bool(on));
    }
    r
}

fn desired(r: &mut Resolver, out: &mut Desired, domain_admins: bool) {
    let kind = if domain_admins { Kind::DomainAdmin } else { Kind::Admin };
    for a in r.docs.iter().flat_map(|d| declared(d)).filter(|a| a.domains.is_some() == domain_admins) {
        let key = username(a.username);
        let (password, source) = declared_password(a.password, a.policy);
        if let Some(source) = source {
            out.secrets.insert((kind, key.clone(), "password"), source);
        }
        let domains = a.domains.map(|da| {
            let mut names: Vec<String> = da.domains.iter().filter_map(|d| normalize_domain(d).ok()).collect();
            names.sort();
            names.dedup();
            let acl = match &da.acl {
                Some(listed) => acl_list(|f| listed.iter().any(|l| l.value == f)),
                None => acl_list(|f| DomainAdminAcl::DEFAULTS[DomainAdminAcl::ALL.iter().position(|a| *a == f).unwrap_or(0)]),
            };
            (Value::List(names.into()), acl)
        });
        let flags = [a.active.unwrap_or(true), a.force_tfa.unwrap_or(false), a.force_pw_update.unwrap_or(false)];
        out.records.push(record(kind, key, password, domains, flags));
    }
}

/// `force_tfa` and `force_pw_update` from `admin.attributes` (strings "0"/"1" as mailcow's
/// JSON_SET writes them; NULL, as its add leaves it, is both off).
fn attribute(row: &Named, name: &str) -> bool {
    let attrs: Map<String, Json> = serde_json::from_str(row.s("attributes")).unwrap_or_default();
    match attrs.get(name) {
        Some(Json::String(s)) => s == "1",
        Some(v) => v.as_i64() == Some(1) || v.as_bool() == Some(true),
        None => false,
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>, domain_admins: bool) {
    let kind = if domain_admins { Kind::DomainAdmin } else { Kind::Admin };
    let mut domains: HashMap<String, Vec<String>> = HashMap::new();
    let mut acl: HashMap<String, Named> = HashMap::new();
    if domain_admins {
        for row in l.rows(&DOMAINS) {
            domains.entry(row.s("username").to_lowercase()).or_default().push(row.s("domain").to_lowercase());
        }
        acl = l.rows(&DA_ACL).iter().map(|r| (r.s("username").to_lowercase(), r)).collect();
    }
    for row in l.rows(&ADMINS).iter().filter(|r| bool_of(r.col("superadmin")) != domain_admins) {
        let key = row.s("username").to_lowercase();
        let rights = domain_admins.then(|| {
            let mut names = domains.remove(&key).unwrap_or_default();
            names.sort();
            names.dedup();
            // No da_acl row: mailcow grants nothing.
            let rights = acl.get(&key).map_or(Value::List(Box::default()), |r| acl_list(|f| bool_of(r.col(f.column()))));
            (Value::List(names.into()), rights)
        });
        let flags = [bool_of(row.col("active")), attribute(&row, "force_tfa"), attribute(&row, "force_pw_update")];
        out.push(record(kind, key, token(row.s("password")), rights, flags));
    }
}

/// The stored hash of each live administrator and domain administrator, by username.
pub fn stored_hashes(l: &LiveData) -> HashMap<String, &str> {
    l.rows(&ADMINS).iter().map(|r| (r.s("username").to_lowercase(), r.s("password"))).collect()
}

/// `admin.attributes` with the two flags set: NULL on create when both are off (mailcow's
/// add), else the live object with them set, as MariaDB's JSON_SET leaves it.
fn attributes(r: &Record, live: Option<&str>) -> Arg {
    let base: Option<Map<String, Json>> = live.and_then(|a| serde_json::from_str(a).ok());
    if base.is_none() && live.is_none() && !r.flag("force_tfa") && !r.flag("force_pw_update") {
        return Arg::Null;
    }
    let mut m = base.unwrap_or_default();
    for f in ["force_tfa", "force_pw_update"] {
        m.insert(f.to_string(), Json::String(if r.flag(f) { "1" } else { "0" }.into()));
    }
    t(&mariadb_json(&m))
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let u = c.key.as_str();
    let superadmin = c.kind == Kind::Admin;
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => {
            let password = ctx.secret(c.kind, u, "password")?;
            out.sql(
                "INSERT INTO admin (username, password, superadmin, active, attributes, created) VALUES (?, ?, ?, ?, ?, ?)",
                vec![t(u), t(&password), b(superadmin), b(r.flag("active")), attributes(r, None), t(&ctx.now)],
            );
            if !superadmin {
                domains(r, ctx, out, u);
                acl(r, out, u);
            }
        }
        (Action::Update, Some(r)) => {
            let live = ctx.live.rows(&ADMINS).find("username", u).map(|row| row.s("attributes"));
            // A NULL attributes column reads as text "": JSON_SET(COALESCE(attributes, '{}'), …).
            let attrs = attributes(r, Some(live.filter(|a| !a.is_empty()).unwrap_or("{}")));
            out.sql("UPDATE admin SET active = ?, attributes = ?, modified = ? WHERE username = ?", vec![b(r.flag("active")), attrs, t(&ctx.now), t(u)]);
            let changed = |f: &str| c.fields.iter().any(|x| x.field == f);
            if changed("password") {
                out.sql("UPDATE admin SET password = ? WHERE username = ?", vec![t(&ctx.secret(c.kind, u, "password")?), t(u)]);
            }
            if !superadmin && (changed("domains") || changed("active")) {
                out.sql("DELETE FROM domain_admins WHERE username = ?", vec![t(u)]);
                domains(r, ctx, out, u);
            }
            if !superadmin && changed("acl") {
                out.sql("DELETE FROM da_acl WHERE username = ?", vec![t(u)]);
                acl(r, out, u);
            }
        }
        _ => {
            for table in ["domain_admins", "admin", "da_acl", "tfa", "fido2"].into_iter().filter(|t| !superadmin || *t != "da_acl") {
                out.sql(&format!("DELETE FROM {table} WHERE username = ?"), vec![t(u)]);
            }
        }
    }
    Ok(())
}

/// One `domain_admins` row per domain, with the administrator's `active`, as mailcow writes them.
fn domains(r: &Record, ctx: &WriteCtx, out: &mut Output, u: &str) {
    for d in r.list("domains") {
        out.sql("INSERT INTO domain_admins (username, domain, created, active) VALUES (?, ?, ?, ?)", vec![t(u), t(&d), t(&ctx.now), b(r.flag("active"))]);
    }
}

/// The `da_acl` row: every flag, the listed ones on.
fn acl(r: &Record, out: &mut Output, u: &str) {
    let on: HashSet<String> = r.list("acl").into_iter().collect();
    let mut args = vec![t(u)];
    args.extend(DomainAdminAcl::ALL.iter().map(|f| b(on.contains(f.column()))));
    let marks = vec!["?"; DomainAdminAcl::COLUMNS.len()].join(", ");
    out.sql(&format!("INSERT INTO da_acl ({}) VALUES ({marks})", DomainAdminAcl::COLUMNS.join(", ")), args);
}

fn export(x: &mut Export, r: &Record) {
    let password = x.hashes.and_then(|h| h.get(&r.key)).filter(|h| !h.is_empty()).map(|h| loc(Secret::Literal(h.clone())));
    let flag = |f: &str, default: bool| some_if(r.flag(f) != default, r.flag(f));
    let doc = x.file("admins.yaml");
    let username = loc(r.key.clone());
    if r.kind == Kind::Admin {
        doc.admins.push(Admin {
            username,
            password,
            password_policy: None,
            active: flag("active", true),
            force_tfa: flag("force_tfa", false),
            force_pw_update: flag("force_pw_update", false),
        });
        return;
    }
    let on: Vec<String> = r.list("acl");
    let defaults = DomainAdminAcl::ALL.iter().zip(DomainAdminAcl::DEFAULTS).all(|(f, d)| on.iter().any(|o| o == f.column()) == *d);
    doc.domain_admins.push(DomainAdmin {
        username,
        password,
        password_policy: None,
        domains: r.list("domains").into_iter().map(loc).collect(),
        acl: some_if(!defaults, DomainAdminAcl::ALL.iter().filter(|f| on.iter().any(|o| o == f.column())).map(|f| loc(*f)).collect()),
        active: flag("active", true),
        force_tfa: flag("force_tfa", false),
        force_pw_update: flag("force_pw_update", false),
    });
}

/// mailcow's username rule, once among administrators and domain administrators, and a
/// domain administrator's domains: at least one, each a domain name, none twice.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    for a in declared(doc) {
        let what = if a.domains.is_some() { "domain administrator" } else { "administrator" };
        let key = username(a.username);
        let plain: String = key.chars().filter(|c| !matches!(c, '_' | '.' | '-')).collect();
        if plain.is_empty() || !plain.chars().all(|c| c.is_ascii_alphanumeric()) || key.len() > 255 {
            let shown = crate::model::names::printable(a.username.trim());
            let message = format!("{what} `{shown}`: mailcow's usernames are letters, digits, `_`, `.` and `-` (at most 255)");
            v.error_help("invalid-username", file, a.username.at, message, "choose another username");
        }
        v.claim("admin", &key, if a.domains.is_some() { "a domain administrator" } else { "an administrator" }, (file, a.username.at));
        if let Some(p) = a.password {
            super::mailbox::check_password(v, file, p, &format!("{what} `{key}`"));
        }
        if let Some(p) = a.password.filter(|p| p.prehashed() == Some(SHIPPED_HASH)) {
            let message = format!("{what} `{key}` is given mailcow's shipped password, which anyone can look up");
            v.push(crate::load::Diagnostic::warning("shipped-password", file, p.at, message).help("give them a password of their own"));
        }
        let Some(DomainAdmin { domains, .. }) = a.domains else { continue };
        if domains.is_empty() {
            let help = "list the domains they administer; mailcow deletes a domain administrator without one at its next start";
            v.error_help("no-domains", file, a.username.at, format!("{what} `{key}` has no domains"), help);
        }
        let mut seen = HashSet::new();
        for d in domains {
            match normalize_domain(d) {
                Err(e) => v.error_help("invalid-domain", file, d.at, format!("{what} `{key}`: {e}"), "write a domain name like example.org"),
                Ok(n) if !seen.insert(n.clone()) => v.error_help("duplicate", file, d.at, format!("{what} `{key}`: `{n}` is listed twice"), "list it once"),
                Ok(_) => {}
            }
        }
    }
}

/// mailcow refuses to deactivate its last active administrator (and then nobody can log in
/// to fix it): neither may a plan, whether by deleting or deactivating them.
fn last_admin(f: &Facts) -> Vec<String> {
    let listed: HashMap<&str, &Change> = f.changes.iter().filter(|c| c.kind == Kind::Admin).map(|c| (c.key.as_str(), c)).collect();
    let live: Vec<&Record> = f.live.iter().filter(|r| r.kind == Kind::Admin).collect();
    let active_now = live.iter().filter(|r| r.flag("active")).count();
    let after = |r: &Record| listed.get(r.key.as_str()).map_or(r.flag("active"), |c| c.desired.as_ref().is_some_and(|d| d.flag("active")));
    let created = f.changes.iter().filter(|c| c.kind == Kind::Admin && c.action == Action::Create && c.desired.as_ref().is_some_and(|d| d.flag("active")));
    if active_now == 0 || live.iter().any(|r| after(r)) || created.count() > 0 {
        return Vec::new();
    }
    let gone: Vec<&str> = live.iter().filter(|r| r.flag("active")).map(|r| r.key.as_str()).collect();
    vec![format!(
        "this plan would leave no active administrator ({} deleted or deactivated): nobody could log in to mailcow's admin panel; keep one active, or declare a new one",
        gone.join(", ")
    )]
}

/// A username is an administrator or a domain administrator: one of either kind cannot be
/// created while the other holds the name (the `admin` row would clash).
fn taken_by_the_other(f: &Facts) -> Vec<String> {
    let deleted: HashSet<(Kind, &str)> = f.changes.iter().filter(|c| c.action == Action::Delete).map(|c| (c.kind, c.key.as_str())).collect();
    let live: HashSet<(Kind, &str)> = f.live.iter().filter(|r| matches!(r.kind, Kind::Admin | Kind::DomainAdmin)).map(|r| (r.kind, r.key.as_str())).collect();
    f.changes
        .iter()
        .filter(|c| c.action == Action::Create && matches!(c.kind, Kind::Admin | Kind::DomainAdmin))
        .filter_map(|c| {
            let other = if c.kind == Kind::Admin { Kind::DomainAdmin } else { Kind::Admin };
            (live.contains(&(other, c.key.as_str())) && !deleted.contains(&(other, c.key.as_str()))).then(|| {
                format!(
                    "{} `{}` cannot be created: the name is a {} on the server; delete that one first (`prune: {{{}: delete}}`) or choose another username",
                    c.kind.singular(),
                    c.key,
                    other.singular(),
                    other.name()
                )
            })
        })
        .collect()
}

/// Every domain a domain administrator has after the apply must be on the server then: mailcow
/// refuses to add one to a domain that is not, and its domain delete takes the administrator
/// off the domain (and at its next start deletes one left without any).
fn domains_after(f: &Facts) -> Vec<String> {
    let deleted: HashSet<(Kind, &str)> = f.changes.iter().filter(|c| c.action == Action::Delete).map(|c| (c.kind, c.key.as_str())).collect();
    let mut domains: HashSet<&str> =
        f.live.iter().filter(|r| r.kind == Kind::Domain && !deleted.contains(&(Kind::Domain, r.key.as_str()))).map(|r| r.key.as_str()).collect();
    domains.extend(f.changes.iter().filter(|c| c.kind == Kind::Domain && c.action == Action::Create).map(|c| c.key.as_str()));
    let listed: HashMap<&str, &Change> = f.changes.iter().filter(|c| c.kind == Kind::DomainAdmin).map(|c| (c.key.as_str(), c)).collect();
    let mut problems = Vec::new();
    for c in listed.values().filter(|c| c.action != Action::Delete) {
        let Some(r) = &c.desired else { continue };
        let missing: Vec<String> = r.list("domains").into_iter().filter(|d| !domains.contains(d.as_str())).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "domain administrator `{}` would administer {}, not a domain on the server after this plan: declare it, or take it out of `domains`",
                c.key,
                missing.join(", ")
            ));
        }
    }
    for r in f.live.iter().filter(|r| r.kind == Kind::DomainAdmin && !listed.contains_key(r.key.as_str())) {
        let lost: Vec<String> = r.list("domains").into_iter().filter(|d| deleted.contains(&(Kind::Domain, d.as_str()))).collect();
        if !lost.is_empty() {
            problems.push(format!(
                "domain {} cannot be deleted while domain administrator `{}` administers it and this plan leaves them alone: mailcow's delete would take them off it; declare them without it, or change them in mailcow",
                lost.join(", "),
                r.key
            ));
        }
    }
    problems.sort();
    problems
}

/// mailcow's shipped password still on an active administrator the plan does not change.
fn shipped_password(f: &Facts) -> Vec<String> {
    let changed: HashSet<&str> = f
        .changes
        .iter()
        .filter(|c| c.kind == Kind::Admin && (c.action == Action::Delete || c.fields.iter().any(|x| x.field == "password")))
        .map(|c| c.key.as_str())
        .collect();
    // Cheap schemes only: the shipped hash is SSHA256, and bcrypt for every administrator on every plan is not.
    let cheap =
        |h: &str| ["{SSHA256}", "{SSHA512}", "{SSHA}", "{SHA512-CRYPT}", "{SHA256-CRYPT}", "{MD5-CRYPT}", "{PLAIN-MD5}"].iter().any(|p| h.starts_with(p));
    f.rows
        .rows(&ADMINS)
        .iter()
        .filter(|r| bool_of(r.col("superadmin")) && bool_of(r.col("active")) && !changed.contains(r.s("username")))
        .filter(|r| r.s("password") == SHIPPED_HASH || cheap(r.s("password")) && crate::password::verify(r.s("password"), SHIPPED_PASSWORD).unwrap_or(false))
        .map(|r| {
            format!(
                "administrator `{}` still has mailcow's shipped password, which anyone can look up: declare it with `password: {{env: NAME}}` and `password_policy: enforce`, or change it in mailcow now",
                r.s("username")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_hash_is_moohoo() {
        assert!(crate::password::verify(SHIPPED_HASH, SHIPPED_PASSWORD).unwrap());
    }

    #[test]
    fn attributes_as_mailcow_leaves_them() {
        let r = record(Kind::Admin, "a".into(), token(""), None, [true, false, true]);
        assert_eq!(attributes(&record(Kind::Admin, "a".into(), token(""), None, [true, false, false]), None), Arg::Null);
        assert_eq!(attributes(&r, None), t(r#"{"force_tfa": "0", "force_pw_update": "1"}"#));
        // JSON_SET keeps what else is there, in place.
        assert_eq!(attributes(&r, Some(r#"{"force_pw_update": "0", "x": 1}"#)), t(r#"{"force_pw_update": "1", "x": 1, "force_tfa": "0"}"#));
    }
}
