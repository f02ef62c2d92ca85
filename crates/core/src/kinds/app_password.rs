//! App passwords (`app_passwd`), as mailcow's `app_passwd('add'|'edit'|'delete')` writes them:
//! the name HTML-escaped (`htmlspecialchars(trim())`), the domain copied from the mailbox, one
//! `*_access` flag per protocol. The key is `mailbox name`, the name as stored. A password given
//! as a reference follows the mailbox password rules (`initial`/`enforce`, checked by `verify`);
//! dovecot's auth cache is flushed after a change, as for mailbox passwords.

use std::collections::HashMap;

use super::export::{Export, loc, some_if};
use super::mailbox::{declared_password, missing_password};
use super::{Desired, Facts, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t, token};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names;
use crate::model::{AppPassword, Document, Kind, Located, Protocol, Secret, Span};
use crate::record::{Record, Value};

/// Kept after planning: `verify` checks `enforce`d passwords against these hashes.
pub const APP_PASSWORDS: Query = Query {
    from: "app_passwd",
    columns: &["name", "mailbox", "password", "imap_access", "pop3_access", "smtp_access", "sieve_access", "eas_access", "dav_access", "active"],
    kept: true,
};

/// The protocols an app password can have, in mailcow's column order.
const PROTOCOLS: [Protocol; 6] = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp, Protocol::Sieve, Protocol::Eas, Protocol::Dav];

pub const APP_PASSWORD: KindSpec = KindSpec {
    kind: Kind::AppPassword,
    warn: super::no_check,
    queries: &[&APP_PASSWORDS],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().flat_map(|d| &d.mailboxes).map(|m| m.app_passwords.len()).sum(),
    validate,
    desired,
    live,
    write,
    check,
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::domain_of_mailbox_part,
    mailbox_of: super::mailbox_part,
    vacant: super::never_vacant,
};

/// PHP's `htmlspecialchars` (ENT_QUOTES, as PHP 8 does by default).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('\'', "&#039;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#039;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Each declared app password with its mailbox (lowercased) and its key.
fn declared<'a>(docs: &[&'a Document]) -> impl Iterator<Item = (String, String, &'a AppPassword)> {
    super::declared_mailboxes(docs)
        .flat_map(|(mailbox, m)| m.app_passwords.iter().map(move |a| (mailbox.clone(), format!("{mailbox} {}", html_escape(a.name.trim())), a)))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for (_, key, a) in declared(&r.docs) {
        let (password, source) = declared_password(a.password.as_ref(), a.password_policy);
        if let Some(source) = source {
            out.secrets.insert((Kind::AppPassword, key.clone(), "password"), source);
        }
        let protocols: Vec<Protocol> = a.protocols.as_ref().map_or(PROTOCOLS.to_vec(), |p| p.iter().map(|p| p.value).collect());
        let mut rec = Record::new(Kind::AppPassword, &key).with("password", password);
        for p in PROTOCOLS {
            rec.push(p.attribute(), Value::Bool(protocols.contains(&p)));
        }
        out.records.push(rec.with("active", Value::Bool(a.active.unwrap_or(true))));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&APP_PASSWORDS) {
        let mut rec =
            Record::new(Kind::AppPassword, format!("{} {}", row.s("mailbox").to_lowercase(), row.s("name"))).with("password", token(row.s("password")));
        for p in PROTOCOLS {
            rec.push(p.attribute(), Value::Bool(bool_of(row.col(p.attribute()))));
        }
        out.push(rec.with("active", Value::Bool(bool_of(row.col("active")))));
    }
}

/// The stored hash of each live app password, by key (`verify` checks `enforce`d ones).
pub fn stored_hashes(l: &LiveData) -> HashMap<String, &str> {
    l.rows(&APP_PASSWORDS).iter().map(|r| (format!("{} {}", r.s("mailbox").to_lowercase(), r.s("name")), r.s("password"))).collect()
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let Some((mailbox, name)) = c.key.split_once(' ') else { return Ok(()) };
    let flags = |r: &Record| PROTOCOLS.map(|p| b(r.flag(p.attribute())));
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => {
            let password = ctx.secret(Kind::AppPassword, &c.key, "password")?;
            let mut args = vec![t(name), t(mailbox), t(names::domain_of(mailbox)), t(&password)];
            args.extend(flags(r));
            args.push(b(r.flag("active")));
            out.sql(
                "INSERT INTO app_passwd (name, mailbox, domain, password, imap_access, pop3_access, smtp_access, sieve_access, eas_access, dav_access, active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args,
            );
        }
        (Action::Update, Some(r)) => {
            let mut args: Vec<_> = flags(r).into();
            args.extend([b(r.flag("active")), t(mailbox), t(name)]);
            out.sql(
                "UPDATE app_passwd SET imap_access = ?, pop3_access = ?, smtp_access = ?, sieve_access = ?, eas_access = ?, dav_access = ?, active = ? WHERE mailbox = ? AND name = ?",
                args,
            );
            if c.fields.iter().any(|f| f.field == "password") {
                let password = ctx.secret(Kind::AppPassword, &c.key, "password")?;
                out.sql("UPDATE app_passwd SET password = ? WHERE mailbox = ? AND name = ?", vec![t(&password), t(mailbox), t(name)]);
            }
        }
        _ => out.sql("DELETE FROM app_passwd WHERE mailbox = ? AND name = ?", vec![t(mailbox), t(name)]),
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let Some((mailbox, name)) = r.key.split_once(' ') else { return };
    let hash = x.hashes.and_then(|h| h.get(&r.key)).cloned();
    let protocols: Vec<Located<Protocol>> = PROTOCOLS.into_iter().filter(|p| r.flag(p.attribute())).map(loc).collect();
    let Some(m) = x.mailbox(mailbox, "app password") else { return };
    m.app_passwords.push(AppPassword {
        name: loc(html_unescape(name)),
        // Without `--include-hashes`, none: an `initial` password of an existing one is never compared.
        password: hash.filter(|h| !h.is_empty()).map(|h| loc(Secret::Literal(h))),
        password_policy: None,
        protocols: some_if(protocols.len() != PROTOCOLS.len(), protocols),
        active: some_if(!r.flag("active"), false),
    });
}

/// An app password to create needs its password: known at plan time, so said then.
fn check(f: &Facts) -> Vec<String> {
    missing_password(f.changes, Kind::AppPassword)
}

/// A name once per mailbox (mailcow compares names without regard to case), at most 255
/// characters as stored, and only the protocols an app password has.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let docs = [doc];
    let mut seen: HashMap<String, Span> = HashMap::new();
    for (mailbox, key, a) in declared(&docs) {
        let what = format!("app password `{}` of `{mailbox}`", names::printable(a.name.trim()));
        let stored = key.len() - mailbox.len() - 1;
        if a.name.trim().is_empty() {
            v.error_help(
                "empty-name",
                file,
                a.name.at,
                format!("an app password of `{mailbox}` has an empty name"),
                "give it a name, e.g. the device it is for",
            );
        } else if stored > 255 {
            v.error_help(
                "text-too-long",
                file,
                a.name.at,
                format!("{what}: its name is {stored} characters as mailcow stores it (HTML-escaped); at most 255"),
                "shorten it",
            );
        }
        if let Some(first) = seen.insert(key.to_lowercase(), a.name.at) {
            let help = format!("first declared at {}; mailcow compares names without regard to case", v.place((file, first)));
            v.error_help("duplicate", file, a.name.at, format!("{what} is declared twice"), help);
        }
        if let Some(p) = &a.password {
            super::mailbox::check_password(v, file, p, &what);
        }
        for p in a.protocols.iter().flatten().filter(|p| !PROTOCOLS.contains(&p.value)) {
            v.error_help(
                "invalid-protocol",
                file,
                p.at,
                format!("{what}: `{}` is not a protocol of app passwords", p.attribute().trim_end_matches("_access")),
                "choose from imap, pop3, smtp, sieve, eas, dav",
            );
        }
    }
}
