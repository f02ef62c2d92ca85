//! Mailboxes: `mailbox` (+ attributes JSON), `quota2`/`quota2replica`, the self-alias, `user_acl`,
//! `tags_mailbox`, `sender_acl`; Redis RL_VALUE and RCPT_WANTS_*; the SOGo view.

use foldhash::{HashMap, HashMapExt};

use serde_json::Value as Json;

use super::export::{Export, enum_from, loc, rate, size, some_if, text};
use super::{Desired, KindSpec, Output, Resolver, SecretSource, WriteCtx, WriteError, b, bool_of, t, token};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::Diagnostic;
use crate::load::validate::*;
use crate::model::names::normalize_address;
use crate::model::names::{self, normalize_domain};
use crate::model::*;
use crate::record::{Record, SecretToken, Value};
use crate::sql::{Arg, Dialect};

/// `user_acl` columns as record fields, in `MailboxAcl::COLUMNS` order.
pub const ACL_FIELDS: [&str; 15] = [
    "acl_spam_alias",
    "acl_tls_policy",
    "acl_spam_score",
    "acl_spam_policy",
    "acl_delimiter_action",
    "acl_syncjobs",
    "acl_eas_reset",
    "acl_sogo_profile_reset",
    "acl_pushover",
    "acl_quarantine",
    "acl_quarantine_attachments",
    "acl_quarantine_notification",
    "acl_quarantine_category",
    "acl_app_passwds",
    "acl_pw_reset",
];

const PROTOCOL_FIELDS: [&str; 7] = ["imap_access", "pop3_access", "smtp_access", "sieve_access", "eas_access", "dav_access", "sogo_access"];

pub const MAILBOXES: Query = Query {
    from: "mailbox WHERE kind = ''",
    columns: &["username", "name", "quota", "active", "authsource", "password", "attributes", "local_part", "domain"],
    kept: true,
};
const USER_ACL: Query = Query { from: "user_acl", columns: USER_ACL_COLUMNS, kept: false };
const TAGS_MAILBOX: Query = Query { from: "tags_mailbox", columns: &["username", "tag_name"], kept: false };
const SENDER_ACL: Query = Query { from: "sender_acl", columns: &["logged_in_as", "send_as", "external"], kept: false };
const QUOTA2: Query = Query { from: "quota2", columns: &["username"], kept: false };
const QUOTA2REPLICA: Query = Query { from: "quota2replica", columns: &["username"], kept: false };

/// `user_acl`: the username, then the flags in `MailboxAcl::COLUMNS` order.
const USER_ACL_COLUMNS: &[&str] = &{
    const N: usize = 1 + MailboxAcl::COLUMNS.len();
    let mut all = ["username"; N];
    let mut i = 1;
    while i < N {
        all[i] = MailboxAcl::COLUMNS[i - 1];
        i += 1;
    }
    all
};

pub const MAILBOX: KindSpec = KindSpec {
    kind: Kind::Mailbox,
    warn: super::no_check,
    queries: &[&MAILBOXES, &USER_ACL, &TAGS_MAILBOX, &SENDER_ACL, &QUOTA2, &QUOTA2REPLICA, &super::alias::ALIASES, &super::routing::RELAYHOSTS],
    hashes: &["RL_VALUE", "RCPT_WANTS_SUBJECT_TAG", "RCPT_WANTS_SUBFOLDER_TAG"],
    strings: &[],
    count: |d| d.domains.iter().map(|d| d.mailboxes.len()).sum(),
    desired,
    live,
    write,
    export,
    disabled: |r| super::set_off(r, "state", Value::text("inactive")),
    protected: &[],
    destroys_mail: true,
    check: super::no_check,
    validate: super::no_rules,
    domain_of: |r| Some(crate::model::names::domain_of(&r.key)),
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn state_name(s: MailboxState) -> &'static str {
    match s {
        MailboxState::Active => "active",
        MailboxState::NoLogin => "no-login",
        MailboxState::Inactive => "inactive",
    }
}

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_string)).unwrap_or_default()
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    let templates: HashMap<&str, &MailboxTemplate> = r.docs.iter().flat_map(|d| d.mailbox_templates.iter()).map(|t| (t.name.as_str(), t)).collect();
    for doc in &r.docs {
        for d in &doc.domains {
            let Ok(domain) = normalize_domain(&d.name) else { continue };
            for m in &d.mailboxes {
                let lp = m.local_part.trim().to_lowercase();
                let username = names::address(&lp, &domain);
                // A declared `Default` template stands in for mailcow's built-in one.
                let name = m.template.as_ref().map_or("Default", |t| t.as_str());
                let s = m.settings().effective(templates.get(name).map(|t| t.settings()).as_ref());
                let acl = s.acl.clone().unwrap_or_default();
                let protocols = s.protocols.clone().unwrap_or_default();
                let source = m.authsource.as_ref().map(|a| a.value).unwrap_or_default();
                let policy = m.password_policy.unwrap_or_default();
                let (password, secret) = password_field(m, source, policy);
                if let Some(secret) = secret {
                    out.secrets.insert((Kind::Mailbox, username.clone(), "password"), secret);
                }
                let mut rec = Record::new(Kind::Mailbox, &username)
                    .with("name", Value::text(m.name.as_ref().map_or("", |x| x.as_str()).trim_matches(['<', '>'])))
                    .with("quota", Value::Size(s.quota.as_ref().map(|q| q.value.bytes()).unwrap_or(0)))
                    .with("state", Value::text(state_name(s.state.unwrap_or(MailboxState::Active))))
                    .with("authsource", Value::text(source.mailcow()))
                    .with("password", password)
                    .with("force_password_update", Value::Bool(source == AuthSource::Mailcow && s.force_password_update.unwrap_or(false)))
                    .with("force_tfa", Value::Bool(source != AuthSource::GenericOidc && s.force_tfa.unwrap_or(false)))
                    .with("tls_enforce_in", Value::Bool(s.tls_enforce_in.unwrap_or(false)))
                    .with("tls_enforce_out", Value::Bool(s.tls_enforce_out.unwrap_or(false)));
                for (p, f) in Protocol::ALL.iter().zip(PROTOCOL_FIELDS) {
                    rec.push(f, Value::Bool(protocols.contains(p)));
                }
                rec.push("relay_host", Value::text(r.relay_hostname(&m.relay_host)));
                rec.push("quarantine_notification", Value::text(enum_text(&s.quarantine_notification)));
                rec.push("quarantine_category", Value::text(enum_text(&s.quarantine_category)));
                rec.push("recovery_email", Value::text(m.recovery_email.as_ref().map(|e| e.trim().to_string()).unwrap_or_default()));
                for (f, v) in ACL_FIELDS.iter().zip(acl.flags()) {
                    rec.push(f, Value::Bool(v.unwrap_or(false)));
                }
                let mut tags = s.tags.clone().unwrap_or_default();
                tags.sort();
                tags.dedup();
                rec.push("tags", Value::List(tags.into()));
                rec.push("rate_limit", Value::text(s.rate_limit.as_ref().map(|r| r.redis_value()).unwrap_or_default()));
                rec.push("tagged_mail_handler", Value::text(enum_text(&s.tagged_mail_handler)));
                rec.push("sender_acl", Value::List(sender_list(&m.sender_acl).into()));
                rec.push("external_sender_acl", Value::List(sender_list(&m.external_sender_acl).into()));
                rec.push("self_alias", Value::Bool(true));
                rec.push("quota_rows", Value::Bool(true));
                out.records.push(rec);
            }
        }
    }
}

/// mailcow stores send-as domains as `@domain`.
fn sender_list(entries: &[Located<String>]) -> Vec<String> {
    let mut v: Vec<String> = entries.iter().map(|e| names::normalize_address_or_domain(e).unwrap_or_else(|_| e.trim().to_string())).collect();
    v.sort();
    v.dedup();
    v
}

/// The password field's token and how to write it. External authsources store `''` like mailcow.
fn password_field(m: &Mailbox, source: AuthSource, policy: PasswordPolicy) -> (Value, Option<SecretSource>) {
    let create_only = policy == PasswordPolicy::Initial || source != AuthSource::Mailcow;
    if source != AuthSource::Mailcow {
        return (with_create_only(token(""), true), Some(SecretSource::Verbatim(String::new())));
    }
    password_value(m.password.as_ref().map(|p| &p.value), create_only)
}

/// A password field and where its stored form comes from: a `{SCHEME}` hash as is, a reference
/// hashed when written (`pending` until `verify` finds the live hash matches it).
pub(super) fn password_value(secret: Option<&Secret>, create_only: bool) -> (Value, Option<SecretSource>) {
    let pending = |create_only| Value::Secret(Box::new(SecretToken { token: "pending".into(), create_only }));
    match secret {
        None => (pending(true), None),
        Some(s) => match s.prehashed() {
            Some(h) => (with_create_only(token(h), create_only), Some(SecretSource::Verbatim(h.to_string()))),
            None => (pending(create_only), Some(SecretSource::HashOf(s.clone()))),
        },
    }
}

/// The password of an object other than a mailbox (an app password, an administrator):
/// `password_value`, or undeclared (`missing_password`).
pub(super) fn declared_password(secret: Option<&Located<Secret>>, policy: Option<PasswordPolicy>) -> (Value, Option<SecretSource>) {
    let create_only = policy.unwrap_or_default() == PasswordPolicy::Initial;
    match secret {
        Some(p) => password_value(Some(&p.value), create_only),
        None => (super::undeclared_secret(), None),
    }
}

/// The plan's creates of `kind` that have no password to be created with (known at plan time).
pub(super) fn missing_password(changes: &[Change], kind: Kind) -> Vec<String> {
    super::created_without(changes, kind, &["password"])
        .map(|c| {
            format!(
                "{} `{}` has no password to be created with: declare `password` (a `{{SCHEME}}` hash, `{{env: NAME}}` or `{{file: path}}`)",
                kind.singular(),
                c.key
            )
        })
        .collect()
}

fn with_create_only(v: Value, create_only: bool) -> Value {
    match v {
        Value::Secret(s) => Value::Secret(Box::new(SecretToken { create_only, ..*s })),
        other => other,
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    let acl: HashMap<&str, crate::live::Named> = l.rows(&USER_ACL).iter().map(|r| (r.s("username"), r)).collect();
    let mut tags: HashMap<&str, Vec<String>> = HashMap::new();
    for r in l.rows(&TAGS_MAILBOX) {
        tags.entry(r.s("username")).or_default().push(r.s("tag_name").to_string());
    }
    let mut senders: HashMap<(&str, bool), Vec<String>> = HashMap::new();
    for r in l.rows(&SENDER_ACL) {
        senders.entry((r.s("logged_in_as"), bool_of(r.col("external")))).or_default().push(r.s("send_as").to_string());
    }
    let self_alias: HashMap<&str, i64> =
        l.rows(&super::alias::ALIASES).iter().filter(|r| r.s("address") == r.s("goto")).map(|r| (r.s("address"), r.i("active"))).collect();
    let q2: foldhash::HashSet<&str> = l.rows(&QUOTA2).iter().map(|r| r.s("username")).collect();
    let q2r: foldhash::HashSet<&str> = l.rows(&QUOTA2REPLICA).iter().map(|r| r.s("username")).collect();
    for row in l.rows(&MAILBOXES) {
        let u = row.s("username");
        // Borrowed and undecoded until a key is asked for: 100,000 rows of ~20 keys each.
        let attrs: HashMap<std::borrow::Cow<str>, &serde_json::value::RawValue> = serde_json::from_str(row.s("attributes")).unwrap_or_default();
        let attr = |k: &str| {
            attrs.get(k).map(|v| match v.get().strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(plain) if !plain.contains('\\') => plain.to_string(),
                _ => match serde_json::from_str::<Json>(v.get()) {
                    Ok(Json::String(s)) => s,
                    Ok(Json::Null) | Err(_) => String::new(),
                    Ok(other) => other.to_string(),
                },
            })
        };
        let flag = |k: &str| Value::Bool(bool_of(attr(k).as_deref()));
        let active = row.i("active");
        let state = state_name(MailboxState::from_mailcow(active));
        let mut rec = Record::new(Kind::Mailbox, u)
            .with("name", Value::text(row.s("name")))
            .with("quota", Value::Size(row.u("quota")))
            .with("state", Value::text(state))
            .with("authsource", Value::text(if row.s("authsource").is_empty() { "mailcow" } else { row.s("authsource") }))
            .with("password", token(row.s("password")))
            .with("force_password_update", flag("force_pw_update"))
            .with("force_tfa", flag("force_tfa"))
            .with("tls_enforce_in", flag("tls_enforce_in"))
            .with("tls_enforce_out", flag("tls_enforce_out"));
        for f in PROTOCOL_FIELDS {
            rec.push(f, flag(f));
        }
        rec.push("relay_host", Value::text(super::routing::relay_hostname(l, &attr("relayhost").unwrap_or_default())));
        rec.push("quarantine_notification", Value::text(attr("quarantine_notification").unwrap_or_default()));
        rec.push("quarantine_category", Value::text(attr("quarantine_category").unwrap_or_default()));
        rec.push("recovery_email", Value::text(attr("recovery_email").unwrap_or_default()));
        for (f, column) in ACL_FIELDS.iter().zip(crate::model::MailboxAcl::COLUMNS) {
            rec.push(f, Value::Bool(acl.get(u).is_some_and(|r| bool_of(r.col(column)))));
        }
        let mut t = tags.remove(u).unwrap_or_default();
        t.sort();
        rec.push("tags", Value::List(t.into()));
        rec.push("rate_limit", Value::text(l.rate_limit(u)));
        let handler = if l.kv_has("RCPT_WANTS_SUBJECT_TAG", u) {
            "subject"
        } else if l.kv_has("RCPT_WANTS_SUBFOLDER_TAG", u) {
            "subfolder"
        } else {
            "none"
        };
        rec.push("tagged_mail_handler", Value::text(handler));
        for (field, external) in [("sender_acl", false), ("external_sender_acl", true)] {
            let mut v = senders.remove(&(u, external)).unwrap_or_default();
            v.sort();
            v.dedup();
            rec.push(field, Value::List(v.into()));
        }
        rec.push("self_alias", Value::Bool(self_alias.get(u) == Some(&active)));
        rec.push("quota_rows", Value::Bool(q2.contains(u) && q2r.contains(u)));
        out.push(rec);
    }
}

fn active_of(r: &Record) -> i64 {
    match r.text("state") {
        "active" => 1,
        "no-login" => 2,
        _ => 0,
    }
}

/// The attributes JSON in mailcow's key order, formatted the way MariaDB re-serialises it.
fn attributes(r: &Record, ctx: &WriteCtx, base: Option<&serde_json::Map<String, Json>>, passwd_update: Option<&str>) -> String {
    let mut m = base.cloned().unwrap_or_default();
    fn set(m: &mut serde_json::Map<String, Json>, k: &str, v: String) {
        m.insert(k.to_string(), Json::String(v));
    }
    let bit = |f: &str| if r.flag(f) { "1" } else { "0" }.to_string();
    set(&mut m, "force_pw_update", bit("force_password_update"));
    set(&mut m, "force_tfa", bit("force_tfa"));
    set(&mut m, "tls_enforce_in", bit("tls_enforce_in"));
    set(&mut m, "tls_enforce_out", bit("tls_enforce_out"));
    for f in ["sogo_access", "imap_access", "pop3_access", "smtp_access", "sieve_access", "eas_access", "dav_access"] {
        set(&mut m, f, bit(f));
    }
    set(&mut m, "relayhost", ctx.relay_id(r.text("relay_host")));
    if let Some(p) = passwd_update {
        set(&mut m, "passwd_update", p.to_string());
    }
    if !m.contains_key("mailbox_format") {
        set(&mut m, "mailbox_format", "maildir:".into());
    }
    set(&mut m, "quarantine_notification", r.text("quarantine_notification").to_string());
    set(&mut m, "quarantine_category", r.text("quarantine_category").to_string());
    if !m.contains_key("attribute_hash") {
        set(&mut m, "attribute_hash", String::new());
    }
    let email = r.text("recovery_email");
    if !email.is_empty() || m.contains_key("recovery_email") {
        set(&mut m, "recovery_email", email.to_string());
    }
    mariadb_json(&m)
}

/// `{"k": "v", "k2": "v2"}`: MariaDB's own JSON text form, so rows read back byte-identical.
pub fn mariadb_json(m: &serde_json::Map<String, Json>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{}: {}", Json::String(k.clone()), v)).collect();
    format!("{{{}}}", parts.join(", "))
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let u = c.key.as_str();
    let (local, domain) = u.rsplit_once('@').unwrap_or((u, ""));
    match c.action {
        Action::Create => {
            let r = c.desired.as_ref().expect("desired");
            let active = active_of(r);
            let password = ctx.secret(Kind::Mailbox, u, "password")?;
            let attrs = attributes(r, ctx, None, Some(&ctx.now));
            out.sql(
                "INSERT INTO mailbox (username, password, name, quota, local_part, domain, attributes, authsource, active, created) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    t(u),
                    t(&password),
                    t(r.text("name")),
                    Arg::Int(r.int("quota")),
                    t(local),
                    t(domain),
                    t(&attrs),
                    t(r.text("authsource")),
                    Arg::Int(active),
                    t(&ctx.now),
                ],
            );
            write_quota_rows(u, out);
            out.sql("DELETE FROM alias WHERE address = ?", vec![t(u)]);
            out.sql(
                "INSERT INTO alias (address, goto, domain, active, created) VALUES (?, ?, ?, ?, ?)",
                vec![t(u), t(u), t(domain), Arg::Int(active), t(&ctx.now)],
            );
            write_acl(u, r, out);
            write_tags(u, r, out);
            write_senders(u, r, out);
            write_redis(u, r, out);
        }
        Action::Update => {
            let r = c.desired.as_ref().expect("desired");
            let active = active_of(r);
            let changed = |f: &str| c.fields.iter().any(|x| x.field == f);
            let base = ctx.live.rows(&MAILBOXES).find("username", u).and_then(|r| serde_json::from_str(r.s("attributes")).ok());
            let password_changed = changed("password");
            let attrs = attributes(r, ctx, base.as_ref(), password_changed.then_some(ctx.now.as_str()));
            out.sql(
                "UPDATE mailbox SET name = ?, quota = ?, authsource = ?, active = ?, attributes = ?, modified = ? WHERE username = ?",
                vec![t(r.text("name")), Arg::Int(r.int("quota")), t(r.text("authsource")), Arg::Int(active), t(&attrs), t(&ctx.now), t(u)],
            );
            if password_changed {
                let password = ctx.secret(Kind::Mailbox, u, "password")?;
                out.sql("UPDATE mailbox SET password = ? WHERE username = ?", vec![t(&password), t(u)]);
            }
            if changed("self_alias") || changed("state") {
                out.sql("DELETE FROM alias WHERE address = ? AND goto = ?", vec![t(u), t(u)]);
                out.sql(
                    "INSERT INTO alias (address, goto, domain, active, created) VALUES (?, ?, ?, ?, ?)",
                    vec![t(u), t(u), t(domain), Arg::Int(active), t(&ctx.now)],
                );
            }
            if changed("quota_rows") {
                write_quota_rows(u, out);
            }
            if ACL_FIELDS.iter().any(|f| changed(f)) {
                out.sql("DELETE FROM user_acl WHERE username = ?", vec![t(u)]);
                write_acl(u, r, out);
            }
            if changed("tags") {
                out.sql("DELETE FROM tags_mailbox WHERE username = ?", vec![t(u)]);
                write_tags(u, r, out);
            }
            if changed("sender_acl") || changed("external_sender_acl") {
                out.sql("DELETE FROM sender_acl WHERE logged_in_as = ?", vec![t(u)]);
                write_senders(u, r, out);
            }
            write_redis(u, r, out);
        }
        Action::Delete => {
            let mut stmts: Vec<(&str, &str)> = vec![
                // Its own alias row. Other aliases, BCC maps and send-as rights that name it
                // are the plan's to change (mailcow cleans them up; plan::unlisted_removals).
                ("DELETE FROM alias WHERE address = ?", u),
                ("DELETE FROM pushover WHERE username = ?", u),
                ("DELETE FROM quota2 WHERE username = ?", u),
                ("DELETE FROM quota2replica WHERE username = ?", u),
                ("DELETE FROM mailbox WHERE username = ?", u),
                ("DELETE FROM user_acl WHERE username = ?", u),
                ("DELETE FROM spamalias WHERE goto = ?", u),
                ("DELETE FROM imapsync WHERE user2 = ?", u),
                ("DELETE FROM filterconf WHERE object = ?", u),
                ("DELETE FROM tags_mailbox WHERE username = ?", u),
                ("DELETE FROM app_passwd WHERE mailbox = ?", u),
                ("DELETE FROM sieve_filters WHERE username = ?", u),
            ];
            if ctx.dialect == Dialect::MySql {
                stmts.extend([
                    ("DELETE FROM quarantine WHERE rcpt = ?", u),
                    ("DELETE FROM oauth_access_tokens WHERE user_id = ?", u),
                    ("DELETE FROM oauth_refresh_tokens WHERE user_id = ?", u),
                    ("DELETE FROM oauth_authorization_codes WHERE user_id = ?", u),
                    ("DELETE FROM tfa WHERE username = ?", u),
                    ("DELETE FROM fido2 WHERE username = ?", u),
                ]);
            }
            for (sql, arg) in stmts {
                out.sql(sql, vec![t(arg)]);
            }
            if ctx.dialect == Dialect::MySql {
                sogo_cleanup(u, out);
            }
            out.sql("DELETE FROM sender_acl WHERE logged_in_as = ?", vec![t(u)]);
            out.hdel("RL_VALUE", u);
        }
    }
    out.effects.insert(super::Effect::SogoRefresh(u.to_string()));
    Ok(())
}

/// A user's SOGo data (profile, caches, shares, calendars and address books), as mailcow's
/// mailbox and resource deletes remove it.
pub(super) fn sogo_cleanup(u: &str, out: &mut Output) {
    for sql in [
        "DELETE FROM sogo_user_profile WHERE c_uid = ?",
        "DELETE FROM sogo_cache_folder WHERE c_uid = ?",
        "DELETE FROM sogo_acl WHERE c_uid = ?",
        // The user's calendars and address books, found through their folders.
        "DELETE FROM sogo_store WHERE c_folder_id IN (SELECT c_folder_id FROM sogo_folder_info WHERE c_path2 = ?)",
        "DELETE FROM sogo_quick_contact WHERE c_folder_id IN (SELECT c_folder_id FROM sogo_folder_info WHERE c_path2 = ?)",
        "DELETE FROM sogo_quick_appointment WHERE c_folder_id IN (SELECT c_folder_id FROM sogo_folder_info WHERE c_path2 = ?)",
        "DELETE FROM sogo_folder_info WHERE c_path2 = ?",
    ] {
        out.sql(sql, vec![t(u)]);
    }
    // Shares of other users' folders with this one; mailcow matches `%/<user>/%`, here with
    // LIKE's wildcards in the name escaped, so `a_b` never matches `axb`.
    let escaped = u.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    out.sql("DELETE FROM sogo_acl WHERE c_object LIKE ? ESCAPE '\\\\'", vec![t(&format!("%/{escaped}/%"))]);
}

fn write_quota_rows(u: &str, out: &mut Output) {
    for table in ["quota2", "quota2replica"] {
        out.stmts.push(crate::sql::Stmt { sql: format!("DELETE FROM {table} WHERE username = ?"), args: vec![t(u)] });
        out.stmts.push(crate::sql::Stmt { sql: format!("INSERT INTO {table} (username, bytes, messages) VALUES (?, 0, 0)"), args: vec![t(u)] });
    }
}

fn write_acl(u: &str, r: &Record, out: &mut Output) {
    let cols = MailboxAcl::COLUMNS.join(", ");
    let marks = vec!["?"; MailboxAcl::COLUMNS.len() + 1].join(", ");
    let mut args = vec![t(u)];
    args.extend(ACL_FIELDS.iter().map(|f| b(r.flag(f))));
    out.stmts.push(crate::sql::Stmt { sql: format!("INSERT INTO user_acl (username, {cols}) VALUES ({marks})"), args });
}

fn write_tags(u: &str, r: &Record, out: &mut Output) {
    for tag in r.list("tags") {
        out.sql("INSERT INTO tags_mailbox (tag_name, username) VALUES (?, ?)", vec![t(&tag), t(u)]);
    }
}

fn write_senders(u: &str, r: &Record, out: &mut Output) {
    for (field, external) in [("sender_acl", false), ("external_sender_acl", true)] {
        for s in r.list(field) {
            out.sql("INSERT INTO sender_acl (logged_in_as, send_as, external) VALUES (?, ?, ?)", vec![t(u), t(&s), b(external)]);
        }
    }
}

fn write_redis(u: &str, r: &Record, out: &mut Output) {
    out.rate_limit(u, r.text("rate_limit"));
    match r.text("tagged_mail_handler") {
        "subject" => {
            out.hset("RCPT_WANTS_SUBJECT_TAG", u, "1");
            out.hdel("RCPT_WANTS_SUBFOLDER_TAG", u);
        }
        "subfolder" => {
            out.hset("RCPT_WANTS_SUBFOLDER_TAG", u, "1");
            out.hdel("RCPT_WANTS_SUBJECT_TAG", u);
        }
        _ => {
            out.hdel("RCPT_WANTS_SUBJECT_TAG", u);
            out.hdel("RCPT_WANTS_SUBFOLDER_TAG", u);
        }
    }
}

fn export(x: &mut Export, r: &Record) {
    let (local, dom) = r.key.rsplit_once('@').unwrap_or((&r.key, ""));
    let hash = x.hashes.and_then(|h| h.get(&r.key));
    let m = mailbox(r, local, hash);
    x.add_mailbox(&r.key, dom, m);
}

fn mailbox(r: &Record, local: &str, hash: Option<&String>) -> Mailbox {
    let def = defaults::mailbox_template();
    let def_acl = def.acl.clone().unwrap_or_default().flags();
    let acl_flags: Vec<Option<bool>> = ACL_FIELDS.iter().zip(def_acl).map(|(f, d)| some_if(Some(r.flag(f)) != d, r.flag(f))).collect();
    let acl = MailboxAcl::from_flags(&acl_flags);
    let protocols: Vec<Protocol> = Protocol::ALL.into_iter().filter(|p| r.flag(p.attribute())).collect();
    let authsource: AuthSource = enum_from(r.text("authsource")).unwrap_or_default();
    let tags = r.list("tags").to_vec();
    let state: MailboxState = enum_from(r.text("state")).unwrap_or(MailboxState::Active);
    Mailbox {
        local_part: loc(local.to_string()),
        name: text(r, "name").map(loc),
        template: None,
        password: hash.filter(|h| authsource == AuthSource::Mailcow && !h.is_empty()).map(|h| loc(Secret::Literal(h.clone()))),
        password_policy: None,
        authsource: some_if(authsource != AuthSource::Mailcow, loc(authsource)),
        relay_host: text(r, "relay_host").map(loc),
        recovery_email: text(r, "recovery_email").map(loc),
        sender_acl: r.list("sender_acl").iter().cloned().map(loc).collect(),
        external_sender_acl: r.list("external_sender_acl").iter().cloned().map(loc).collect(),
        spam_policy: None,
        spam_score: None,
        app_passwords: Vec::new(),
        sieve_filters: Vec::new(),
        sync_jobs: Vec::new(),
        pushover: None,
        custom_attributes: None,
        quota: some_if(r.int("quota") != 0, loc(size(r, "quota"))),
        state: some_if(state != MailboxState::Active, state),
        protocols: some_if(protocols.len() != Protocol::ALL.len(), protocols),
        tls_enforce_in: some_if(r.flag("tls_enforce_in"), true),
        tls_enforce_out: some_if(r.flag("tls_enforce_out"), true),
        quarantine_notification: enum_from(r.text("quarantine_notification")).filter(|q| Some(*q) != def.quarantine_notification),
        quarantine_category: enum_from(r.text("quarantine_category")).filter(|q| Some(*q) != def.quarantine_category),
        force_password_update: some_if(r.flag("force_password_update"), true),
        force_tfa: some_if(r.flag("force_tfa"), true),
        rate_limit: rate(r, "rate_limit"),
        tags: some_if(!tags.is_empty(), tags),
        tagged_mail_handler: enum_from(r.text("tagged_mail_handler")).filter(|h| *h != TaggedMailHandler::None),
        acl: some_if(acl != MailboxAcl::default(), acl),
    }
}

/// Checks one mailbox; returns its effective quota.
pub(crate) fn check_mailbox(val: &mut Validator, file: usize, m: &Mailbox, addr: &str, max: Size) -> Size {
    if let Some(t) = &m.template {
        val.template_exists(file, t, false);
    }
    let name = m.template.as_ref().map_or("Default", |t| t.as_str());
    let s = m.settings().effective(val.mailbox_templates.get(name).map(|t| t.settings()).as_ref());
    let quota = s.quota.as_ref().map(|q| q.value).unwrap_or_default();
    if !max.is_unlimited() && quota > max {
        let at = m.quota.as_ref().map(|q| q.at).unwrap_or(m.local_part.at);
        val.error_help(
            "quota-exceeded",
            file,
            at,
            format!("mailbox `{addr}`: quota {quota} exceeds the domain's maximum mailbox quota {max}"),
            "lower the quota or raise `limits.max_mailbox_quota` of the domain",
        );
    }
    if !max.is_unlimited() && quota.is_unlimited() && m.quota.is_some() {
        // mailcow allows unlimited mailboxes only to admins; that is what mailplane is.
    }
    val.check_tags(file, m.local_part.at, m.tags.as_deref());
    if let Some(n) = &m.name {
        val.check_text(file, n, &format!("mailbox `{addr}`: the name"), TEXT_LIMIT);
    }
    if let Some(r) = &m.relay_host {
        val.relay_host_exists(file, r);
    }
    let source = m.authsource.as_ref().map(|a| a.value).unwrap_or_default();
    if source != AuthSource::Mailcow {
        let at = m.authsource.as_ref().map(|a| a.at).unwrap_or(m.local_part.at);
        if val.idp.map(|i| i.authsource()) != Some(source) {
            val.error_help(
                "unknown-reference",
                file,
                at,
                format!("mailbox `{addr}` uses authsource `{}`, but no such identity provider is declared", source.mailcow()),
                format!("declare `identity_provider: {{{}: ...}}` or use `mailcow`", source.mailcow().replace('-', "_")),
            );
        }
        if let Some(p) = &m.password {
            val.error_help(
                "password-unused",
                file,
                p.at,
                format!("mailbox `{addr}` authenticates with {}; a password cannot be set", source.mailcow()),
                "remove `password`: mailcow stores an empty password for external authsources",
            );
        }
    }
    if let Some(p) = &m.password {
        check_password(val, file, p, &format!("mailbox `{addr}`"));
    }
    if let Some(r) = &m.recovery_email
        && let Err(e) = normalize_address(r)
    {
        val.error("invalid-address", file, r.at, format!("recovery_email: {e}"));
    }
    for e in &m.sender_acl {
        check_sender_acl(val, file, e, addr, false);
    }
    for e in &m.external_sender_acl {
        check_sender_acl(val, file, e, addr, true);
    }
    let ext = m.external_sender_acl.iter().map(|e| e.trim()).filter(|e| !e.starts_with('@')).map(|e| e.len() + 1).sum::<usize>().saturating_sub(1);
    if ext > SOGO_LIST_LIMIT {
        val.error_help(
            "text-too-long",
            file,
            m.local_part.at,
            format!("mailbox `{addr}`: its external sender addresses add up to {ext} characters; mailcow's SOGo view keeps at most {SOGO_LIST_LIMIT}"),
            "send as whole domains (`@example.net`), which are not listed there, or list fewer addresses",
        );
    }
    quota
}

/// A literal password of `owner` (a mailbox, an app password, an administrator): a hash that
/// fits mailcow's column and that Dovecot knows; plaintext is said.
pub(crate) fn check_password(val: &mut Validator, file: usize, p: &Located<Secret>, owner: &str) {
    if let Secret::Literal(v) = &p.value {
        if v.chars().count() > TEXT_LIMIT {
            val.error_help(
                "text-too-long",
                file,
                p.at,
                format!("{owner}: the password is longer than mailcow stores ({TEXT_LIMIT} characters)"),
                "use a shorter hash, e.g. {BLF-CRYPT} from `doveadm pw -s BLF-CRYPT`",
            );
        } else if v.starts_with('{') && !crate::password::is_prehashed(v) {
            let scheme: String = v.chars().take_while(|c| *c != '}').chain(std::iter::once('}')).collect();
            val.error_help(
                "unknown-hash-scheme",
                file,
                p.at,
                format!("{owner}: `{scheme}` is not a password scheme mailcow accepts"),
                "use e.g. {BLF-CRYPT}, {SHA512-CRYPT}, {ARGON2ID}, {SSHA256}; make one with `doveadm pw -s BLF-CRYPT`",
            );
        } else if !v.starts_with('{') {
            val.push(
                Diagnostic::warning("plaintext-secret", file, p.at, format!("{owner}: the password is written in clear text"))
                    .help("store a hash (`doveadm pw -s BLF-CRYPT`) or a reference such as `{env: ALICE_PASSWORD}`"),
            );
        }
    }
}

pub(crate) fn check_sender_acl(val: &mut Validator, file: usize, e: &Located<String>, owner: &str, external: bool) {
    let v = e.trim();
    if v == "*" {
        if external {
            val.error("sender-acl", file, e.at, "`*` is only allowed in sender_acl, not in external_sender_acl");
        }
        return;
    }
    let (domain, is_domain) = match v.strip_prefix('@') {
        Some(d) => (normalize_domain(d), true),
        None => (normalize_address(v).map(|(_, d)| d), false),
    };
    let domain = match domain {
        Ok(d) => d,
        Err(err) => return val.error("invalid-address", file, e.at, err),
    };
    let local = val.is_local_domain(&domain);
    if external && local {
        val.error_help("sender-acl", file, e.at, format!("mailbox `{owner}`: `{v}` is on this server, not external"), "move it to `sender_acl`");
    } else if !external && !local {
        val.error_help("sender-acl", file, e.at, format!("mailbox `{owner}`: `{v}` is not in a domain of this server"), "move it to `external_sender_acl`");
    } else if !external && !is_domain {
        let key = normalize_address(v).map(|(l, d)| names::address(&l, &d)).unwrap_or_default();
        let key = key.to_lowercase();
        if !val.aliases.contains_key(&key) && !val.mailboxes.contains_key(&key) {
            val.error_help(
                "unknown-reference",
                file,
                e.at,
                format!("mailbox `{owner}` may send as `{v}`, but no alias or mailbox has that address"),
                "declare the alias, or send-as a whole domain with `@domain`",
            );
        }
    }
}
