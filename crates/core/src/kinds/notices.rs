//! Server-wide settings that mailcow keeps as Redis strings, one object each: the quarantine
//! (`Q_*`, as `quarantine('edit', settings)` writes them), the quota-warning mail (`QW_SENDER`,
//! `QW_SUBJ`, `QW_HTML`, as `quota_notification('edit')`) and the password-reset mail
//! (`PW_RESET_*`, as `reset_password('edit_notification')`). mailcow writes every key of the
//! form on each edit, and so does mailplane. mailcow would replace an invalid address with
//! nothing; mailplane refuses it. They cannot be deleted (mailcow's forms have no delete): a
//! plan that would is blocked, one not declared is left alone.

use super::export::{Export, loc, some_if};
use super::template::php_json;
use super::{Desired, Facts, KindSpec, Output, Resolver, WriteError};
use crate::change::{Action, Change};
use crate::live::LiveData;
use crate::load::validate::Validator;
use crate::model::names::{normalize_address, normalize_domain, printable};
use crate::model::{Document, Kind, Located, PasswordResetMail, Quarantine, QuotaWarningMail, ReleaseFormat};
use crate::record::{Field, Record, Value};

/// How a record field is kept in its Redis string.
#[derive(Clone, Copy)]
enum Form {
    Text,
    /// PHP's intval of it.
    Int,
    /// A JSON list of strings, as PHP's json_encode writes it.
    List,
}

/// One field of a settings object: its record field, its Redis key, its form.
type Key = (Field, &'static str, Form);

const QUARANTINE_KEYS: &[Key] = &[
    ("retention_size", "Q_RETENTION_SIZE", Form::Int),
    ("max_size", "Q_MAX_SIZE", Form::Int),
    ("max_score", "Q_MAX_SCORE", Form::Text),
    ("max_age", "Q_MAX_AGE", Form::Int),
    ("exclude_domains", "Q_EXCLUDE_DOMAINS", Form::List),
    ("release_format", "Q_RELEASE_FORMAT", Form::Text),
    ("sender", "Q_SENDER", Form::Text),
    ("bcc", "Q_BCC", Form::Text),
    ("redirect", "Q_REDIRECT", Form::Text),
    ("subject", "Q_SUBJ", Form::Text),
    ("html", "Q_HTML", Form::Text),
];
const QUOTA_WARNING_KEYS: &[Key] = &[("sender", "QW_SENDER", Form::Text), ("subject", "QW_SUBJ", Form::Text), ("html", "QW_HTML", Form::Text)];
const PASSWORD_RESET_KEYS: &[Key] = &[
    ("from", "PW_RESET_FROM", Form::Text),
    ("subject", "PW_RESET_SUBJ", Form::Text),
    ("text", "PW_RESET_TEXT", Form::Text),
    ("html", "PW_RESET_HTML", Form::Text),
];

/// mailcow's quarantine age when none (or 0) is given.
const MAX_AGE: u32 = 365;

macro_rules! notice_spec {
    ($kind:ident, $keys:ident, $strings:expr, $count:expr, $desired:ident, $export:ident) => {
        KindSpec {
            kind: Kind::$kind,
            warn: super::no_check,
            queries: &[],
            hashes: &[],
            strings: $strings,
            count: $count,
            validate: super::no_rules,
            desired: $desired,
            live: |l, out| out.extend(live(Kind::$kind, $keys, l)),
            write: |c, _, out| write(c, $keys, out),
            check: |f| never_deleted(f, Kind::$kind),
            export: $export,
            disabled: super::never_off,
            protected: &[],
            destroys_mail: false,
            domain_of: super::no_domain,
            mailbox_of: super::no_mailbox,
            vacant: super::never_vacant,
        }
    };
}

pub const QUARANTINE: KindSpec = KindSpec {
    validate,
    ..notice_spec!(
        Quarantine,
        QUARANTINE_KEYS,
        &[
            "Q_RETENTION_SIZE",
            "Q_MAX_SIZE",
            "Q_MAX_SCORE",
            "Q_MAX_AGE",
            "Q_EXCLUDE_DOMAINS",
            "Q_RELEASE_FORMAT",
            "Q_SENDER",
            "Q_BCC",
            "Q_REDIRECT",
            "Q_SUBJ",
            "Q_HTML"
        ],
        |d| usize::from(d.quarantine.is_some()),
        quarantine_desired,
        quarantine_export
    )
};
pub const QUOTA_WARNING_MAIL: KindSpec = notice_spec!(
    QuotaWarningMail,
    QUOTA_WARNING_KEYS,
    &["QW_SENDER", "QW_SUBJ", "QW_HTML"],
    |d| usize::from(d.quota_warning_mail.is_some()),
    quota_warning_desired,
    quota_warning_export
);
pub const PASSWORD_RESET_MAIL: KindSpec = notice_spec!(
    PasswordResetMail,
    PASSWORD_RESET_KEYS,
    &["PW_RESET_FROM", "PW_RESET_SUBJ", "PW_RESET_TEXT", "PW_RESET_HTML"],
    |d| usize::from(d.password_reset_mail.is_some()),
    password_reset_desired,
    password_reset_export
);

fn value(form: Form, stored: Option<&str>) -> Value {
    let s = stored.unwrap_or("");
    match form {
        Form::Text => Value::text(s),
        Form::Int => Value::Int(s.trim().parse().unwrap_or(0)),
        Form::List => Value::List(serde_json::from_str::<Vec<String>>(s).unwrap_or_default().into()),
    }
}

fn stored(form: Form, v: Option<Value>) -> String {
    match (form, v) {
        (Form::List, Some(Value::List(l))) => php_json(&serde_json::json!(l)),
        (_, Some(Value::Int(i))) => i.to_string(),
        (_, Some(Value::Text(t))) => t.to_string(),
        _ => String::new(),
    }
}

/// The object as the server has it: none while none of its keys is there.
fn live(kind: Kind, keys: &[Key], l: &LiveData) -> Option<Record> {
    keys.iter().any(|(_, k, _)| l.string(k).is_some()).then(|| {
        let mut r = Record::new(kind, kind.name());
        for (field, k, form) in keys {
            r.push(field, value(*form, l.string(k)));
        }
        r
    })
}

fn write(c: &Change, keys: &[Key], out: &mut Output) -> Result<(), WriteError> {
    if let (Action::Create | Action::Update, Some(r)) = (c.action, &c.desired) {
        for (field, k, form) in keys {
            out.set(k, &stored(*form, r.get(field)));
        }
    }
    Ok(())
}

fn never_deleted(f: &Facts, kind: Kind) -> Vec<String> {
    f.changes
        .iter()
        .filter(|c| c.kind == kind && c.action == Action::Delete)
        .map(|_| {
            format!(
                "the {} cannot be deleted: mailcow has no way to; declare it with the values you want, or leave it undeclared without `prune: {{{}: delete}}`",
                kind.singular(),
                kind.name()
            )
        })
        .collect()
}

fn text(v: &Option<Located<String>>) -> Value {
    Value::text(v.as_ref().map_or("", |v| v.value.as_str()))
}

fn push(kind: Kind, out: &mut Desired, values: Vec<(Field, Value)>) {
    let mut r = Record::new(kind, kind.name());
    for (f, v) in values {
        r.push(f, v);
    }
    out.records.push(r);
}

fn quarantine_desired(r: &mut Resolver, out: &mut Desired) {
    for q in r.docs.iter().filter_map(|d| d.quarantine.as_ref()) {
        let int = |v: &Option<Located<u32>>, default: u32| Value::Int(i64::from(v.as_ref().map_or(default, |v| v.value)));
        let domains = q.exclude_domains.iter().map(|d| normalize_domain(d).unwrap_or_default()).collect();
        let format = match q.release_format.unwrap_or_default() {
            ReleaseFormat::Raw => "raw",
            ReleaseFormat::Attachment => "attachment",
        };
        push(
            Kind::Quarantine,
            out,
            vec![
                ("retention_size", int(&q.retention_size, 0)),
                ("max_size", int(&q.max_size, 0)),
                // PHP's floatval, printed as PHP prints a float: 12.5, 12.
                ("max_score", Value::text(q.max_score.as_ref().map_or(String::new(), |s| s.value.to_string()))),
                ("max_age", int(&q.max_age, MAX_AGE)),
                ("exclude_domains", Value::List(domains)),
                ("release_format", Value::text(format)),
                ("sender", text(&q.sender)),
                ("bcc", text(&q.bcc)),
                ("redirect", text(&q.redirect)),
                ("subject", text(&q.subject)),
                ("html", text(&q.html)),
            ],
        );
    }
}

fn quota_warning_desired(r: &mut Resolver, out: &mut Desired) {
    for m in r.docs.iter().filter_map(|d| d.quota_warning_mail.as_ref()) {
        push(Kind::QuotaWarningMail, out, vec![("sender", text(&m.sender)), ("subject", text(&m.subject)), ("html", text(&m.html))]);
    }
}

fn password_reset_desired(r: &mut Resolver, out: &mut Desired) {
    for m in r.docs.iter().filter_map(|d| d.password_reset_mail.as_ref()) {
        push(Kind::PasswordResetMail, out, vec![("from", text(&m.from)), ("subject", text(&m.subject)), ("text", text(&m.text)), ("html", text(&m.html))]);
    }
}

fn some_text(r: &Record, f: &str) -> Option<Located<String>> {
    some_if(!r.text(f).is_empty(), loc(r.text(f).to_string()))
}

fn quarantine_export(x: &mut Export, r: &Record) {
    let int = |f: &str, default: i64| some_if(r.int(f) != default, loc(u32::try_from(r.int(f)).unwrap_or(0)));
    x.file("server.yaml").quarantine = Some(loc(Quarantine {
        retention_size: int("retention_size", 0),
        max_size: int("max_size", 0),
        max_score: r.text("max_score").parse().ok().map(loc),
        // mailcow keeps 365 for an age of 0 or less.
        max_age: int("max_age", i64::from(MAX_AGE)).filter(|a| a.value > 0),
        exclude_domains: r.list("exclude_domains").into_iter().map(loc).collect(),
        release_format: some_if(r.text("release_format") == "attachment", ReleaseFormat::Attachment),
        sender: some_text(r, "sender"),
        bcc: some_text(r, "bcc"),
        redirect: some_text(r, "redirect"),
        subject: some_text(r, "subject"),
        html: some_text(r, "html"),
    }));
}

fn quota_warning_export(x: &mut Export, r: &Record) {
    x.file("server.yaml").quota_warning_mail =
        Some(loc(QuotaWarningMail { sender: some_text(r, "sender"), subject: some_text(r, "subject"), html: some_text(r, "html") }));
}

fn password_reset_export(x: &mut Export, r: &Record) {
    x.file("server.yaml").password_reset_mail =
        Some(loc(PasswordResetMail { from: some_text(r, "from"), subject: some_text(r, "subject"), text: some_text(r, "text"), html: some_text(r, "html") }));
}

/// Each object once per directory; addresses mailcow would keep (it drops others silently),
/// domain names, an age of at least a day, a score that is a number.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let address = |v: &mut Validator, what: &str, a: &Option<Located<String>>| {
        if let Some(a) = a.as_ref().filter(|a| !a.trim().is_empty() && normalize_address(a.trim()).is_err()) {
            let message = format!("{what}: `{}` is not an email address (mailcow would store nothing instead)", printable(a));
            v.error_help("invalid-address", file, a.at, message, "write a full address, e.g. `postmaster@example.org`, or leave it out");
        }
    };
    let at = |o: Option<crate::model::Span>, ns: &'static str, what: &'static str, v: &mut Validator| {
        if let Some(at) = o {
            v.claim(ns, ns, what, (file, at));
        }
    };
    at(doc.quarantine.as_ref().map(|q| q.at), "quarantine", "the quarantine settings", v);
    at(doc.quota_warning_mail.as_ref().map(|q| q.at), "quota_warning_mail", "the quota-warning mail", v);
    at(doc.password_reset_mail.as_ref().map(|q| q.at), "password_reset_mail", "the password-reset mail", v);
    if let Some(q) = &doc.quarantine {
        for (what, a) in [("the quarantine's sender", &q.sender), ("the quarantine's bcc", &q.bcc), ("the quarantine's redirect", &q.redirect)] {
            address(v, what, a);
        }
        for d in &q.exclude_domains {
            if let Err(e) = normalize_domain(d) {
                v.error_help("invalid-domain", file, d.at, format!("the quarantine's exclude_domains: {e}"), "write a domain name like example.org");
            }
        }
        if let Some(a) = q.max_age.as_ref().filter(|a| a.value == 0) {
            v.error_help("out-of-range", file, a.at, "the quarantine's max_age is 0 days; mailcow keeps 365 then", "choose 1 or more, or leave it out for 365");
        }
        if let Some(s) = q.max_score.as_ref().filter(|s| !s.value.is_finite()) {
            v.error_help("out-of-range", file, s.at, "the quarantine's max_score must be a number", "e.g. 15");
        }
    }
    if let Some(m) = &doc.quota_warning_mail {
        address(v, "the quota-warning mail's sender", &m.sender);
    }
    if let Some(m) = &doc.password_reset_mail {
        address(v, "the password-reset mail's from", &m.from);
    }
}
