//! Server-wide settings that mailcow keeps in Redis, one object each: the quarantine (`Q_*`, as
//! `quarantine('edit', settings)` writes them), the quota-warning mail (`QW_SENDER`, `QW_SUBJ`,
//! `QW_HTML`, as `quota_notification('edit')`), the password-reset mail (`PW_RESET_*`, as
//! `reset_password('edit_notification')`), the UI (`customize('edit', …)`: its texts, app links,
//! IP check and login page) and the API's CORS headers (the `CORS_SETTINGS` hash, as `cors('edit')`).
//! mailcow writes every key of a form on each edit, and so does mailplane. mailcow would replace an invalid address with
//! nothing; mailplane refuses it. They cannot be deleted (mailcow's forms have no delete): a
//! plan that would is blocked, one not declared is left alone.

use super::export::{Export, loc, some_if};
use super::template::php_json;
use super::{Desired, KindSpec, Output, Resolver, SecretSource, WriteError};
use crate::change::{Action, Change};
use crate::live::LiveData;
use crate::load::validate::Validator;
use serde_json::{Value as Json, json};

use super::app_password::{html_escape, html_unescape};
use crate::model::names::{check_host_labels, normalize_address, normalize_domain, printable};
use crate::model::{AnnouncementType, AppLink, Cors, CorsMethod, Document, Kind, Located, PasswordResetMail, Quarantine, QuotaWarningMail, ReleaseFormat, Ui};
use crate::record::{Field, Record, Value};

/// How a record field is kept in its Redis string.
#[derive(Clone, Copy)]
enum Form {
    Text,
    /// PHP's intval of it.
    Int,
    /// A JSON list of strings, as PHP's json_encode writes it.
    List,
    /// JSON as PHP's json_encode writes it, compared as values; absent, it is this default.
    Json(&'static str),
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

const UI_KEYS: &[Key] = &[
    ("title", "TITLE_NAME", Form::Text),
    ("main_name", "MAIN_NAME", Form::Text),
    ("apps_name", "APPS_NAME", Form::Text),
    ("help_text", "HELP_TEXT", Form::Text),
    ("footer", "UI_FOOTER", Form::Text),
    ("announcement", "UI_ANNOUNCEMENT_TEXT", Form::Text),
    ("announcement_type", "UI_ANNOUNCEMENT_TYPE", Form::Text),
    ("announcement_active", "UI_ANNOUNCEMENT_ACTIVE", Form::Int),
    ("app_links", "APP_LINKS", Form::Json("[]")),
    ("ip_check", "IP_CHECK", Form::Int),
    ("login", "CUSTOM_LOGIN", Form::Json(r#"{"hide_user_quicklink":0,"hide_domainadmin_quicklink":0,"hide_admin_quicklink":0,"force_sso":0}"#)),
];
const LOGIN_FLAGS: [&str; 4] = ["hide_user_quicklink", "hide_domainadmin_quicklink", "hide_admin_quicklink", "force_sso"];

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
            check: |f| super::never_deleted(f, Kind::$kind, "mailcow has no way to"),
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

pub const UI: KindSpec = KindSpec {
    strings: &[
        "TITLE_NAME",
        "MAIN_NAME",
        "APPS_NAME",
        "HELP_TEXT",
        "UI_FOOTER",
        "UI_ANNOUNCEMENT_TEXT",
        "UI_ANNOUNCEMENT_TYPE",
        "UI_ANNOUNCEMENT_ACTIVE",
        "APP_LINKS",
        "IP_CHECK",
        "CUSTOM_LOGIN",
        "MAIN_LOGO",
        "MAIN_LOGO_DARK",
    ],
    live: ui_live,
    write: ui_write,
    ..notice_spec!(Ui, UI_KEYS, &[], |d| usize::from(d.ui.is_some()), ui_desired, ui_export)
};

/// The logos: record field, Redis string (`data:<type>;base64,…`, as `customize('add')` writes it).
const LOGOS: [(Field, &str); 2] = [("logo", "MAIN_LOGO"), ("logo_dark", "MAIN_LOGO_DARK")];
/// mailcow's `$LOGO_LIMITS`.
pub const MAX_LOGO_BYTES: u64 = 15 * 1024 * 1024;
const MAX_LOGO_SIDE: u32 = 1920;

/// An image's type as mailcow's upload form names it, and its size in pixels where the format
/// says it in its header (SVG does not; mailcow's `getimagesize` does not check it either).
fn image_kind(b: &[u8]) -> Option<(&'static str, Option<(u32, u32)>)> {
    let be = |i: usize, n: usize| b.get(i..i + n).map(|s| s.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)));
    let le16 = |i: usize| b.get(i..i + 2).map(|s| u32::from(s[0]) | (u32::from(s[1]) << 8));
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(("image/png", be(16, 4).zip(be(20, 4))));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(("image/gif", le16(6).zip(le16(8))));
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        // The first start-of-frame segment holds height and width.
        let mut i = 2;
        while let (Some(0xFF), Some(&marker)) = (b.get(i), b.get(i + 1)) {
            if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some(("image/jpeg", be(i + 7, 2).zip(be(i + 5, 2))));
            }
            i += 2 + be(i + 2, 2)? as usize;
        }
        return Some(("image/jpeg", None));
    }
    let text = std::str::from_utf8(b).ok()?;
    text.contains("<svg").then_some(("image/svg+xml", None))
}

/// How a logo shows in plans and is compared: its type, size and a digest (the image itself is
/// up to 15 MB of base64).
fn logo_summary(mime: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let pixels = image_kind(bytes).and_then(|(_, d)| d).map_or(String::new(), |(w, h)| format!(" {w}x{h}"));
    format!("{mime}{pixels}, {} bytes, sha256 {hex}", bytes.len())
}

/// The stored logo as `logo_summary` shows it; `""` when there is none.
fn stored_logo(stored: &str) -> String {
    use base64::Engine;
    let parsed = stored.strip_prefix("data:").and_then(|r| r.split_once(";base64,"));
    match parsed.map(|(mime, b64)| (mime, base64::engine::general_purpose::STANDARD.decode(b64.trim()))) {
        _ if stored.is_empty() => String::new(),
        Some((mime, Ok(bytes))) => logo_summary(mime, &bytes),
        _ => format!("not a data: URI ({} characters)", stored.len()),
    }
}

/// A declared logo: its summary for the record and the value to store, or what is wrong with it.
fn declared_logo(r: &Resolver, content: &crate::model::Content) -> Result<(String, String), String> {
    use crate::model::Content;
    use base64::Engine;
    let (bytes, what): (&[u8], String) = match content {
        Content::Inline(text) if text.is_empty() => return Ok((String::new(), String::new())),
        Content::Inline(text) => (text.as_bytes(), "the inline logo".into()),
        Content::File { file } => (r.revealed.file(file)?, file.display().to_string()),
    };
    if bytes.len() as u64 > MAX_LOGO_BYTES {
        return Err(format!("{what} is larger than mailcow's 15 MB"));
    }
    let Some((mime, pixels)) = image_kind(bytes) else { return Err(format!("{what} is not a PNG, JPEG, GIF or SVG image")) };
    if let Some((w, h)) = pixels.filter(|&(w, h)| w > MAX_LOGO_SIDE || h > MAX_LOGO_SIDE) {
        return Err(format!("{what} is {w}x{h} pixels; mailcow takes at most {MAX_LOGO_SIDE}x{MAX_LOGO_SIDE}"));
    }
    Ok((logo_summary(mime, bytes), format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))))
}

fn ui_live(l: &LiveData, out: &mut Vec<Record>) {
    if !UI_KEYS.iter().map(|k| k.1).chain(LOGOS.map(|k| k.1)).any(|k| l.string(k).is_some()) {
        return;
    }
    let mut r = record_of(Kind::Ui, UI_KEYS, l);
    for (field, key) in LOGOS {
        r.push(field, Value::text(stored_logo(l.string(key).unwrap_or(""))));
    }
    out.push(r);
}

/// The texts as one form (written together, as mailcow's edit does) when any of them changes;
/// each logo on its own (mailcow uploads each alone), deleted when declared as `""`.
fn ui_write(c: &Change, ctx: &mut super::WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let Some(r) = c.desired.as_ref().filter(|_| matches!(c.action, Action::Create | Action::Update)) else { return Ok(()) };
    if UI_KEYS.iter().any(|(f, _, form)| r.get(f) != c.live.as_ref().map_or(Some(value(*form, None)), |l| l.get(f))) {
        write(c, UI_KEYS, out)?;
    }
    for (field, key) in LOGOS {
        if r.has(field) && c.live.as_ref().is_none_or(|l| l.text(field) != r.text(field)) {
            match ctx.secret(Kind::Ui, Kind::Ui.name(), field)? {
                stored if stored.is_empty() => out.del(key),
                stored => out.set(key, &stored),
            }
        }
    }
    Ok(())
}

const CORS_HASH: &str = "CORS_SETTINGS";

pub const CORS: KindSpec = KindSpec {
    hashes: &[CORS_HASH],
    strings: &[],
    live: |l, out| {
        let Some(h) = l.kv.get(CORS_HASH).filter(|h| !h.is_empty()) else { return };
        let list = |f: &str| Value::List(h.get(f).map_or("", String::as_str).split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect());
        out.push(Record::new(Kind::Cors, Kind::Cors.name()).with("allowed_origins", list("allowed_origins")).with("allowed_methods", list("allowed_methods")));
    },
    write: |c, _, out| {
        if let (Action::Create | Action::Update, Some(r)) = (c.action, &c.desired) {
            for f in ["allowed_origins", "allowed_methods"] {
                out.hset(CORS_HASH, f, &r.list(f).join(", "));
            }
        }
        Ok(())
    },
    ..notice_spec!(Cors, UI_KEYS, &[], |d| usize::from(d.cors.is_some()), cors_desired, cors_export)
};

fn value(form: Form, stored: Option<&str>) -> Value {
    let s = stored.unwrap_or("");
    match form {
        // Re-encoded: what PHP wrote (unicode escaped) and what mailplane writes compare equal.
        Form::Json(default) => {
            let parsed = serde_json::from_str::<serde_json::Value>(if s.is_empty() { default } else { s });
            Value::text(parsed.map(|j| php_json(&j)).unwrap_or_else(|_| s.to_string()))
        }
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
    keys.iter().any(|(_, k, _)| l.string(k).is_some()).then(|| record_of(kind, keys, l))
}

fn record_of(kind: Kind, keys: &[Key], l: &LiveData) -> Record {
    let mut r = Record::new(kind, kind.name());
    for (field, k, form) in keys {
        r.push(field, value(*form, l.string(k)));
    }
    r
}

fn write(c: &Change, keys: &[Key], out: &mut Output) -> Result<(), WriteError> {
    if let (Action::Create | Action::Update, Some(r)) = (c.action, &c.desired) {
        for (field, k, form) in keys {
            out.set(k, &stored(*form, r.get(field)));
        }
    }
    Ok(())
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

fn flag(v: Option<bool>) -> Value {
    Value::Int(i64::from(v.unwrap_or(false)))
}

fn ui_desired(r: &mut Resolver, out: &mut Desired) {
    for u in r.docs.iter().filter_map(|d| d.ui.as_ref()) {
        let escaped = |v: &Option<Located<String>>| Value::text(html_escape(v.as_ref().map_or("", |v| v.value.as_str())));
        let kind = u.announcement_type.map_or("", |t| match t {
            AnnouncementType::Info => "info",
            AnnouncementType::Warning => "warning",
            AnnouncementType::Danger => "danger",
        });
        let links: Vec<Json> = u
            .app_links
            .iter()
            .map(|a| json!({a.name.value.as_str(): {"link": a.link.value, "user_link": a.user_link.as_ref().map_or("", |l| l.value.as_str()), "hide": a.hide.unwrap_or(false)}}))
            .collect();
        let login: serde_json::Map<String, Json> = LOGIN_FLAGS
            .iter()
            .zip([u.hide_user_quicklink, u.hide_domainadmin_quicklink, u.hide_admin_quicklink, u.force_sso])
            .map(|(k, v)| (k.to_string(), json!(i64::from(v.unwrap_or(false)))))
            .collect();
        let mut logos = Vec::new();
        for (field, content) in LOGOS.iter().map(|l| l.0).zip([&u.logo, &u.logo_dark]) {
            let Some(content) = content else { continue };
            match declared_logo(r, &content.value) {
                Ok((summary, stored)) => {
                    out.secrets.insert((Kind::Ui, Kind::Ui.name().to_string(), field), SecretSource::Verbatim(stored));
                    logos.push((field, Value::text(summary)));
                }
                Err(e) => r.secret_errors.push(format!("ui {field}: {e}")),
            }
        }
        push(
            Kind::Ui,
            out,
            logos
                .into_iter()
                .chain([
                    // mailcow stores the three names HTML-escaped.
                    ("title", escaped(&u.title)),
                    ("main_name", escaped(&u.main_name)),
                    ("apps_name", escaped(&u.apps_name)),
                    ("help_text", text(&u.help_text)),
                    ("footer", text(&u.footer)),
                    ("announcement", text(&u.announcement)),
                    ("announcement_type", Value::text(kind)),
                    ("announcement_active", flag(u.announcement_active)),
                    ("app_links", Value::text(php_json(&Json::Array(links)))),
                    ("ip_check", flag(u.ip_check)),
                    ("login", Value::text(php_json(&Json::Object(login)))),
                ])
                .collect(),
        );
    }
}

fn cors_desired(r: &mut Resolver, out: &mut Desired) {
    for c in r.docs.iter().filter_map(|d| d.cors.as_ref()) {
        // Browsers send the origin lowercased; mailcow stores it so.
        let origins = c.allowed_origins.iter().map(|o| o.trim().to_lowercase()).collect();
        let methods = c.allowed_methods.clone().unwrap_or(CorsMethod::ALL.to_vec()).iter().map(|m| m.name().to_string()).collect();
        push(Kind::Cors, out, vec![("allowed_origins", Value::List(origins)), ("allowed_methods", Value::List(methods))]);
    }
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

fn ui_export(x: &mut Export, r: &Record) {
    let unescaped = |f: &str| some_if(!r.text(f).is_empty(), loc(html_unescape(r.text(f))));
    let links: Vec<serde_json::Map<String, Json>> = serde_json::from_str(r.text("app_links")).unwrap_or_default();
    let login: serde_json::Map<String, Json> = serde_json::from_str(r.text("login")).unwrap_or_default();
    let on = |k: &str| some_if(login.get(k).and_then(Json::as_i64).unwrap_or(0) != 0, true);
    let kind = match r.text("announcement_type") {
        "info" => Some(AnnouncementType::Info),
        "warning" => Some(AnnouncementType::Warning),
        "danger" => Some(AnnouncementType::Danger),
        _ => None,
    };
    for (field, key) in LOGOS.into_iter().filter(|(f, _)| !r.text(f).is_empty()) {
        x.skipped.push(format!("the UI's {field} ({key}): put the image in the directory and declare `ui: {{{field}: {{file: …}}}}`"));
    }
    x.file("server.yaml").ui = Some(loc(Ui {
        logo: None,
        logo_dark: None,
        title: unescaped("title"),
        main_name: unescaped("main_name"),
        apps_name: unescaped("apps_name"),
        help_text: some_text(r, "help_text"),
        footer: some_text(r, "footer"),
        announcement: some_text(r, "announcement"),
        announcement_type: kind,
        announcement_active: some_if(r.int("announcement_active") != 0, true),
        app_links: links
            .iter()
            .flat_map(|m| m.iter())
            .map(|(name, l)| AppLink {
                name: loc(name.clone()),
                link: loc(l["link"].as_str().unwrap_or("").to_string()),
                user_link: l["user_link"].as_str().filter(|u| !u.is_empty()).map(|u| loc(u.to_string())),
                hide: some_if(l["hide"].as_bool().unwrap_or(false), true),
            })
            .collect(),
        ip_check: some_if(r.int("ip_check") != 0, true),
        hide_user_quicklink: on("hide_user_quicklink"),
        hide_domainadmin_quicklink: on("hide_domainadmin_quicklink"),
        hide_admin_quicklink: on("hide_admin_quicklink"),
        force_sso: on("force_sso"),
    }));
}

fn cors_export(x: &mut Export, r: &Record) {
    let methods: Vec<CorsMethod> = r.list("allowed_methods").iter().filter_map(|m| CorsMethod::ALL.into_iter().find(|c| c.name() == m)).collect();
    x.file("server.yaml").cors = Some(loc(Cors {
        allowed_origins: r.list("allowed_origins").into_iter().map(loc).collect(),
        allowed_methods: some_if(methods != CorsMethod::ALL, methods),
    }));
}

/// mailcow's `valid_origin`: `http(s)://host[:port]` and nothing more, the host a host name or an
/// address (IPv6 in brackets), or `*`.
fn valid_origin(o: &str) -> bool {
    let lower = o.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else { return o == "*" };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return false;
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((ip, tail)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => ("", tail),
            _ => return false,
        },
        None => rest.rsplit_once(':').map_or((rest, ""), |(h, _)| (h, &rest[h.len()..])),
    };
    let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    port_ok && (host.is_empty() || host.parse::<std::net::Ipv4Addr>().is_ok() || check_host_labels(host).is_ok())
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
    at(doc.ui.as_ref().map(|q| q.at), "ui", "the UI customisation", v);
    at(doc.cors.as_ref().map(|q| q.at), "cors", "the CORS settings", v);
    if let Some(c) = &doc.cors {
        if c.allowed_origins.is_empty() {
            v.error_help(
                "no-origins",
                file,
                c.at,
                "the CORS settings list no `allowed_origins`",
                "list the origins that may call the API, e.g. https://portal.example.org, or `*`",
            );
        }
        for o in c.allowed_origins.iter().filter(|o| !valid_origin(o.trim())) {
            let message = format!("CORS: `{}` is not an origin (`https://host[:port]`, nothing after it) or `*`", printable(o));
            v.error_help("invalid-origin", file, o.at, message, "write it as a browser sends it, e.g. https://portal.example.org");
        }
    }
    if let Some(u) = &doc.ui {
        let mut names = std::collections::HashSet::new();
        for a in &u.app_links {
            if a.name.trim().is_empty() || !names.insert(a.name.trim().to_string()) {
                v.error_help("duplicate", file, a.name.at, format!("app link `{}`: each needs a name of its own", printable(&a.name)), "name it after the app");
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailcows_origin_rule() {
        for ok in ["https://portal.example.org", "http://Intranet.Example.org:8080", "https://[2001:db8::1]:443", "https://192.0.2.1", "*"] {
            assert!(valid_origin(ok), "{ok}");
        }
        for bad in
            ["https://portal.example.org/", "ftp://x.example", "https://user@x.example", "https://x.example:http", "portal.example.org", "https://", "**"]
        {
            assert!(!valid_origin(bad), "{bad}");
        }
    }

    #[test]
    fn image_types_and_sizes_come_from_their_bytes() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        jpeg.extend([0; 14]);
        jpeg.extend([0xFF, 0xC2, 0x00, 0x11, 0x08, 0x00, 0x64, 0x00, 0xC8]);
        assert_eq!(image_kind(&jpeg), Some(("image/jpeg", Some((200, 100)))));
        assert_eq!(image_kind(b"GIF89a\x0a\x00\x05\x00rest"), Some(("image/gif", Some((10, 5)))));
        assert_eq!(image_kind(b"<?xml version='1.0'?><svg/>"), Some(("image/svg+xml", None)));
        assert_eq!(image_kind(b"\xFF\xD8\xFF"), Some(("image/jpeg", None)), "no frame header: mailcow's getimagesize decides nothing either");
        assert_eq!(image_kind(b"BM\0\0"), None);
        assert_eq!(stored_logo("data:image/gif;base64,R0lGODlhCgAFAA=="), logo_summary("image/gif", b"GIF89a\x0a\x00\x05\x00"));
        assert!(stored_logo("data:image/gif;base64,R0lGODlhCgAFAA==").starts_with("image/gif 10x5, 10 bytes, sha256 "));
        assert_eq!(stored_logo("http://x"), "not a data: URI (8 characters)");
    }
}
