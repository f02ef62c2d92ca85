//! Domain and mailbox templates (`templates` rows; attributes as PHP's json_encode writes them).

use serde_json::{Map, Value as Json, json};

use super::export::{enum_from, loc};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::*;
use crate::model::*;
use crate::record::{Record, Value};

pub const TEMPLATES: Query = Query { from: "templates", columns: &["id", "template", "type", "attributes"], kept: false };

pub const DOMAIN_TEMPLATE: KindSpec = KindSpec {
    kind: Kind::DomainTemplate,
    warn: super::no_check,
    queries: &[&TEMPLATES],
    hashes: &[],
    strings: &[],
    count: |d| d.domain_templates.len(),
    desired: desired_domain,
    live: |l, out| live(l, out, Kind::DomainTemplate),
    write,
    export: |x, r| x.file("templates.yaml").domain_templates.push(domain_template(r)),
    disabled: super::never_off,
    protected: &["Default"],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| {
        for t in &doc.domain_templates {
            v.check_text(file, &t.name, "the template name", TEXT_LIMIT);
            v.check_tags(file, t.name.at, t.tags.as_deref());
            v.check_limits(file, t.limits.as_ref());
            v.check_dkim(file, t.dkim_selector.as_ref(), t.dkim_key_size.as_ref());
        }
    },
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

pub const MAILBOX_TEMPLATE: KindSpec = KindSpec {
    kind: Kind::MailboxTemplate,
    warn: super::no_check,
    queries: &[&TEMPLATES],
    hashes: &[],
    strings: &[],
    count: |d| d.mailbox_templates.len(),
    desired: desired_mailbox,
    live: |l, out| live(l, out, Kind::MailboxTemplate),
    write,
    export: |x, r| x.file("templates.yaml").mailbox_templates.push(mailbox_template(r)),
    disabled: super::never_off,
    protected: &["Default"],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| {
        for t in &doc.mailbox_templates {
            v.check_text(file, &t.name, "the template name", TEXT_LIMIT);
            v.check_tags(file, t.name.at, t.tags.as_deref());
        }
    },
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

const DOMAIN_KEYS: [&str; 15] = [
    "tags",
    "max_num_aliases_for_domain",
    "max_num_mboxes_for_domain",
    "def_quota_for_mbox",
    "max_quota_for_mbox",
    "max_quota_for_domain",
    "rl_frame",
    "rl_value",
    "active",
    "gal",
    "backupmx",
    "relay_all_recipients",
    "relay_unknown_only",
    "dkim_selector",
    "key_size",
];

/// The mailbox template's own keys; the `acl_*` keys (mailbox::ACL_FIELDS) follow them.
const MAILBOX_BASE_KEYS: [&str; 19] = [
    "quota",
    "tags",
    "tagged_mail_handler",
    "quarantine_notification",
    "quarantine_category",
    "rl_frame",
    "rl_value",
    "force_pw_update",
    "force_tfa",
    "sogo_access",
    "active",
    "tls_enforce_in",
    "tls_enforce_out",
    "imap_access",
    "pop3_access",
    "smtp_access",
    "sieve_access",
    "eas_access",
    "dav_access",
];

fn mailbox_keys() -> Vec<&'static str> {
    MAILBOX_BASE_KEYS.iter().chain(super::mailbox::ACL_FIELDS.iter()).copied().collect()
}

fn bit(v: Option<bool>) -> Json {
    json!(i64::from(v.unwrap_or(false)))
}

fn rate(r: &Option<Located<RateLimit>>) -> (Json, Json) {
    match r {
        Some(r) => (json!(r.frame.letter().to_string()), json!(r.messages.to_string())),
        None => (json!("s"), json!("")),
    }
}

fn domain_attributes(s: &DomainSettings) -> Map<String, Json> {
    let l = s.limits.clone().unwrap_or_default();
    let size = |v: &Option<Located<Size>>| json!(v.as_ref().map(|x| x.value.bytes()).unwrap_or(0));
    let (frame, value) = rate(&s.rate_limit);
    let vals = [
        json!(s.tags.clone().unwrap_or_default()),
        json!(l.max_aliases.as_ref().map(|x| x.value).unwrap_or(0)),
        json!(l.max_mailboxes.as_ref().map(|x| x.value).unwrap_or(0)),
        size(&l.default_mailbox_quota),
        size(&l.max_mailbox_quota),
        size(&l.domain_quota),
        frame,
        value,
        bit(s.active),
        bit(s.gal),
        bit(s.backup_mx),
        bit(s.relay_all_recipients),
        bit(s.relay_unknown_only),
        json!(s.dkim_selector.as_ref().map_or("", |x| x.as_str())),
        json!(s.dkim_key_size.as_ref().map_or(2048, |x| x.value)),
    ];
    DOMAIN_KEYS.iter().map(|k| k.to_string()).zip(vals).collect()
}

fn mailbox_attributes(s: &MailboxSettings) -> Map<String, Json> {
    let (frame, value) = rate(&s.rate_limit);
    let text = |v: Json| v;
    let protocols = s.protocols.clone().unwrap_or_default();
    let mut vals = vec![
        json!(s.quota.as_ref().map(|q| q.value.bytes()).unwrap_or(0)),
        json!(s.tags.clone().unwrap_or_default()),
        text(serde_json::to_value(s.tagged_mail_handler).unwrap_or(Json::Null)),
        text(serde_json::to_value(s.quarantine_notification).unwrap_or(Json::Null)),
        text(serde_json::to_value(s.quarantine_category).unwrap_or(Json::Null)),
        frame,
        value,
        bit(s.force_password_update),
        bit(s.force_tfa),
        bit(Some(protocols.contains(&Protocol::Sogo))),
        json!(s.state.map(MailboxState::mailcow).unwrap_or(1)),
        bit(s.tls_enforce_in),
        bit(s.tls_enforce_out),
    ];
    for p in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp, Protocol::Sieve, Protocol::Eas, Protocol::Dav] {
        vals.push(bit(Some(protocols.contains(&p))));
    }
    vals.extend(s.acl.clone().unwrap_or_default().flags().into_iter().map(bit));
    mailbox_keys().into_iter().map(str::to_string).zip(vals).collect()
}

fn record(kind: Kind, name: &str, keys: &[&'static str], attrs: &Map<String, Json>) -> Record {
    let mut r = Record::new(kind, name);
    for k in keys {
        let v = match attrs.get(*k) {
            Some(Json::Number(n)) => Value::Int(n.as_i64().unwrap_or_default()),
            Some(Json::String(s)) => Value::text(s.clone()),
            Some(Json::Array(a)) => Value::List(a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect()),
            Some(Json::Bool(b)) => Value::Int(i64::from(*b)),
            _ => Value::text(""),
        };
        r.push(k, v);
    }
    r
}

fn desired_domain(r: &mut Resolver, out: &mut Desired) {
    for t in r.docs.iter().flat_map(|d| d.domain_templates.iter()) {
        out.records.push(record(Kind::DomainTemplate, &t.name, &DOMAIN_KEYS, &domain_attributes(&t.settings().effective(None))));
    }
}

fn desired_mailbox(r: &mut Resolver, out: &mut Desired) {
    for t in r.docs.iter().flat_map(|d| d.mailbox_templates.iter()) {
        out.records.push(record(Kind::MailboxTemplate, &t.name, &mailbox_keys(), &mailbox_attributes(&t.settings().effective(None))));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>, kind: Kind) {
    let (ty, keys) = if kind == Kind::DomainTemplate { ("domain", DOMAIN_KEYS.to_vec()) } else { ("mailbox", mailbox_keys()) };
    for row in l.rows(&TEMPLATES).iter().filter(|row| row.s("type") == ty) {
        let attrs: Map<String, Json> = serde_json::from_str(row.s("attributes")).unwrap_or_default();
        out.push(record(kind, row.s("template"), &keys, &attrs));
    }
}

/// PHP's json_encode: compact, `/` escaped, other than ASCII as `\uXXXX`.
pub fn php_json(v: &Json) -> String {
    php_json_unescaped_slashes(v).replace('/', "\\/")
}

/// PHP's json_encode with JSON_UNESCAPED_SLASHES: compact, other than ASCII as `\uXXXX`.
pub fn php_json_unescaped_slashes(v: &Json) -> String {
    let mut out = String::new();
    for c in serde_json::to_string(v).expect("JSON").chars() {
        match c.is_ascii() {
            true => out.push(c),
            false => c.encode_utf16(&mut [0; 2]).iter().for_each(|u| out.push_str(&format!("\\u{u:04x}"))),
        }
    }
    out
}

fn to_json(r: &Record) -> Json {
    let m: Map<String, Json> = r
        .fields()
        .map(|(k, v)| {
            let j = match v {
                Value::Int(i) => json!(i),
                Value::Size(s) => json!(s),
                Value::Bool(b) => json!(i64::from(b)),
                Value::List(l) => json!(l),
                Value::Text(s) => json!(s),
                Value::Secret(_) => Json::Null,
            };
            (k.to_string(), j)
        })
        .collect();
    Json::Object(m)
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let kind = if c.kind == Kind::DomainTemplate { "domain" } else { "mailbox" };
    match (&c.desired, c.action) {
        (Some(r), Action::Create) => out.sql(
            "INSERT INTO templates (template, type, attributes, created) VALUES (?, ?, ?, ?)",
            vec![t(&c.key), t(kind), t(&php_json(&to_json(r))), t(&ctx.now)],
        ),
        (Some(r), _) => out.sql(
            "UPDATE templates SET attributes = ?, modified = ? WHERE template = ? AND type = ?",
            vec![t(&php_json(&to_json(r))), t(&ctx.now), t(&c.key), t(kind)],
        ),
        (None, _) => out.sql("DELETE FROM templates WHERE template = ? AND type = ? AND template <> 'Default'", vec![t(&c.key), t(kind)]),
    }
    Ok(())
}

fn template_rate(r: &Record) -> Option<Located<RateLimit>> {
    let frame = r.text("rl_frame").chars().next().and_then(Frame::from_letter)?;
    let messages: u32 = r.text("rl_value").parse().ok().filter(|n| *n > 0)?;
    Some(loc(RateLimit { messages, frame }))
}

fn int_flag(r: &Record, f: &str) -> Option<bool> {
    Some(r.int(f) != 0)
}

fn domain_template(r: &Record) -> DomainTemplate {
    DomainTemplate {
        name: loc(r.key.clone()),
        limits: Some(DomainLimits {
            max_mailboxes: Some(loc(r.int("max_num_mboxes_for_domain") as u32)),
            max_aliases: Some(loc(r.int("max_num_aliases_for_domain") as u32)),
            default_mailbox_quota: Some(loc(Size(r.int("def_quota_for_mbox") as u64))),
            max_mailbox_quota: Some(loc(Size(r.int("max_quota_for_mbox") as u64))),
            domain_quota: Some(loc(Size(r.int("max_quota_for_domain") as u64))),
        }),
        active: int_flag(r, "active"),
        gal: int_flag(r, "gal"),
        backup_mx: int_flag(r, "backupmx"),
        relay_all_recipients: int_flag(r, "relay_all_recipients"),
        relay_unknown_only: int_flag(r, "relay_unknown_only"),
        rate_limit: template_rate(r),
        tags: Some(r.list("tags").to_vec()),
        dkim_selector: Some(loc(r.text("dkim_selector").to_string())),
        dkim_key_size: Some(loc(r.int("key_size") as u32)),
    }
}

fn mailbox_template(r: &Record) -> MailboxTemplate {
    let protocols: Vec<Protocol> = Protocol::ALL.into_iter().filter(|p| r.int(p.attribute()) != 0).collect();
    let acl = MailboxAcl::from_flags(&super::mailbox::ACL_FIELDS.iter().map(|f| int_flag(r, f)).collect::<Vec<_>>());
    MailboxTemplate {
        name: loc(r.key.clone()),
        quota: Some(loc(Size(r.int("quota") as u64))),
        state: Some(MailboxState::from_mailcow(r.int("active"))),
        protocols: Some(protocols),
        tls_enforce_in: int_flag(r, "tls_enforce_in"),
        tls_enforce_out: int_flag(r, "tls_enforce_out"),
        quarantine_notification: enum_from(r.text("quarantine_notification")),
        quarantine_category: enum_from(r.text("quarantine_category")),
        force_password_update: int_flag(r, "force_pw_update"),
        force_tfa: int_flag(r, "force_tfa"),
        rate_limit: template_rate(r),
        tags: Some(r.list("tags").to_vec()),
        tagged_mail_handler: enum_from(r.text("tagged_mail_handler")),
        acl: Some(acl),
    }
}
