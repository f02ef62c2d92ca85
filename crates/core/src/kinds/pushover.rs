//! Pushover settings (`pushover`, one row per mailbox), as mailcow's `pushover('edit')` writes
//! them: `REPLACE INTO`, the senders split, checked and comma-joined (dots before `@gmail.com`
//! taken out), the three options as a JSON object of strings. The key and token are stored in
//! clear: only their tokens are in the records.

use serde_json::json;

use super::export::{Export, loc, some_if};
use super::template::php_json;
use super::{Desired, Facts, KindSpec, Output, Resolver, WriteCtx, WriteError, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names::{self, normalize_address};
use crate::model::{Document, Kind, Located, Pushover, Secret};
use crate::record::{Record, Value};

const PUSHOVER: Query =
    Query { from: "pushover", columns: &["username", "key", "token", "attributes", "title", "text", "senders", "senders_regex", "active"], kept: false };

pub const PUSHOVER_SETTINGS: KindSpec = KindSpec {
    kind: Kind::Pushover,
    warn: super::no_check,
    queries: &[&PUSHOVER],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().flat_map(|d| &d.mailboxes).filter(|m| m.pushover.is_some()).count(),
    validate,
    desired,
    live,
    write,
    check,
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::domain_of_owner,
    mailbox_of: super::own_address,
    vacant: super::never_vacant,
};

fn declared<'a>(docs: &[&'a Document]) -> impl Iterator<Item = (String, &'a Located<Pushover>)> {
    super::declared_mailboxes(docs).filter_map(|(username, m)| Some((username, m.pushover.as_deref()?)))
}

/// mailcow's form of a sender: trimmed, dots before `@gmail.com` removed.
fn sender(s: &str) -> String {
    let s = s.trim();
    match s.to_lowercase().strip_suffix("@gmail.com").map(|_| s.len() - "@gmail.com".len()) {
        Some(at) => format!("{}{}", s[..at].replace('.', ""), &s[at..]),
        None => s.to_string(),
    }
}

/// A key or token: exactly 30 ASCII letters and digits.
fn valid_key(v: &str) -> bool {
    v.len() == 30 && v.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `fields`: title, text, senders_regex, sound; `flags`: evaluate_x_prio, only_x_prio, active.
fn record(username: &str, key: Value, token: Value, fields: [String; 4], senders: Vec<String>, flags: [bool; 3]) -> Record {
    let [title, text, senders_regex, sound] = fields;
    let [evaluate, only, active] = flags;
    Record::new(Kind::Pushover, username)
        .with("key", key)
        .with("token", token)
        .with("title", Value::text(title))
        .with("text", Value::text(text))
        .with("senders", Value::List(senders.into()))
        .with("senders_regex", Value::text(senders_regex))
        .with("evaluate_x_prio", Value::Bool(evaluate))
        .with("only_x_prio", Value::Bool(only))
        .with("sound", Value::text(sound))
        .with("active", Value::Bool(active))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    let docs = r.docs.clone();
    for (username, p) in declared(&docs) {
        let mut secret = |field: &'static str, s: &Option<Located<Secret>>| match s {
            None => super::undeclared_secret(),
            Some(s) => {
                if r.revealed.get(&s.value).is_ok_and(|v| !valid_key(&v)) {
                    r.secret_errors.push(format!("the Pushover {field} of `{username}` is not 30 letters and digits, as Pushover's are"));
                }
                r.clear_secret(out, Kind::Pushover, &username, field, Some(s))
            }
        };
        let (key, token) = (secret("key", &p.key), secret("token", &p.token));
        let text = |v: &Option<Located<String>>, default: &str| v.as_ref().map_or(default.to_string(), |v| v.value.clone());
        let fields = [text(&p.title, "Mail"), text(&p.text, ""), text(&p.senders_regex, ""), text(&p.sound, "pushover")];
        let senders = p.senders.iter().map(|s| sender(s)).filter(|s| !s.is_empty()).collect();
        let flags = [p.evaluate_x_prio.unwrap_or(false), p.only_x_prio.unwrap_or(false), p.active.unwrap_or(true)];
        out.records.push(record(&username, key, token, fields, senders, flags));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&PUSHOVER) {
        let attrs: serde_json::Value = serde_json::from_str(row.s("attributes")).unwrap_or_default();
        let attr = |k: &str| attrs[k].as_str().unwrap_or("").to_string();
        let senders = row.s("senders").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        let fields = [row.s("title").into(), row.s("text").into(), row.s("senders_regex").into(), attr("sound")];
        let flags = [attr("evaluate_x_prio") == "1", attr("only_x_prio") == "1", bool_of(row.col("active"))];
        out.push(record(&row.s("username").to_lowercase(), super::token(row.s("key")), super::token(row.s("token")), fields, senders, flags));
    }
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let u = c.key.as_str();
    let Some(r) = c.desired.as_ref().filter(|_| c.action != Action::Delete) else {
        out.sql("DELETE FROM pushover WHERE username = ?", vec![t(u)]);
        return Ok(());
    };
    let flag = |f: &str| if r.flag(f) { "1" } else { "0" };
    let attributes = php_json(&json!({"evaluate_x_prio": flag("evaluate_x_prio"), "only_x_prio": flag("only_x_prio"), "sound": r.text("sound")}));
    let rest = [t(&attributes), t(r.text("senders_regex")), t(&r.list("senders").join(",")), t(r.text("title")), t(r.text("text")), t(flag("active"))];
    if c.action == Action::Create {
        let mut args = vec![t(u), t(&ctx.secret(Kind::Pushover, u, "key")?), t(&ctx.secret(Kind::Pushover, u, "token")?)];
        args.extend(rest);
        out.sql(
            "REPLACE INTO pushover (username, `key`, token, attributes, senders_regex, senders, title, text, active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            args,
        );
        return Ok(());
    }
    // An update writes what mailcow's REPLACE would; a key or token not declared keeps its value.
    let mut set = vec!["attributes = ?", "senders_regex = ?", "senders = ?", "title = ?", "text = ?", "active = ?"];
    let mut args: Vec<_> = rest.into();
    for (field, column) in [("key", "`key` = ?"), ("token", "token = ?")] {
        if ctx.desired.secrets.contains_key(&(Kind::Pushover, u.to_string(), field)) {
            set.push(column);
            args.push(t(&ctx.secret(Kind::Pushover, u, field)?));
        }
    }
    args.push(t(u));
    out.sql(&format!("UPDATE pushover SET {} WHERE username = ?", set.join(", ")), args);
    Ok(())
}

/// Settings to create need their key and token: known at plan time, so said then.
fn check(f: &Facts) -> Vec<String> {
    super::created_without(f.changes, Kind::Pushover, &["key", "token"])
        .map(|c| format!("the Pushover settings of `{}` need `key` and `token` to be created (`{{env: NAME}}` or `{{file: path}}`)", c.key))
        .collect()
}

fn export(x: &mut Export, r: &Record) {
    let text = |f: &str, default: &str| some_if(r.text(f) != default, loc(r.text(f).to_string()));
    let p = Pushover {
        // Never exported: mailcow keeps them in clear. Left out, the live ones stay.
        key: None,
        token: None,
        title: text("title", "Mail"),
        text: text("text", ""),
        senders: r.list("senders").iter().map(|s| loc(s.clone())).collect(),
        senders_regex: text("senders_regex", ""),
        evaluate_x_prio: some_if(r.flag("evaluate_x_prio"), true),
        only_x_prio: some_if(r.flag("only_x_prio"), true),
        sound: text("sound", "pushover"),
        active: some_if(!r.flag("active"), false),
    };
    if let Some(m) = x.mailbox(&r.key, "Pushover settings") {
        m.pushover = Some(Box::new(loc(p)));
    }
}

/// Why PHP's `preg_match` would refuse `re` (a PCRE with its delimiters, as mailcow checks it).
fn pcre_problem(re: &str) -> Option<&'static str> {
    let mut chars = re.chars();
    let open = chars.next()?;
    if open.is_ascii_alphanumeric() || open == '\\' || open.is_whitespace() {
        return Some("needs delimiters, e.g. `/@example\\.org$/`");
    }
    let close = match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        c => c,
    };
    let body = &re[open.len_utf8()..];
    let Some(end) = body.rfind(close) else { return Some("is not closed by its delimiter") };
    let (pattern, flags) = (&body[..end], &body[end + close.len_utf8()..]);
    if !flags.chars().all(|c| "imsxuADSUXJn".contains(c)) {
        return Some("has an unknown modifier after its closing delimiter");
    }
    match regex::Regex::new(pattern) {
        Err(e) if !e.to_string().contains("not supported") => Some("is not a regular expression"),
        _ => None,
    }
}

/// Senders that are addresses, a regex PHP compiles, a key and token as Pushover issues them.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let docs = [doc];
    for (username, p) in declared(&docs) {
        for s in &p.senders {
            if let Err(e) = normalize_address(s.trim()) {
                let msg = format!("Pushover settings of `{username}`: sender `{}`: {e}", names::printable(s));
                v.error_help("invalid-address", file, s.at, msg, "write full addresses; use `senders_regex` for patterns");
            }
        }
        if let Some((re, problem)) = p.senders_regex.as_ref().filter(|r| !r.is_empty()).and_then(|r| pcre_problem(r).map(|p| (r, p))) {
            v.error_help(
                "invalid-regex",
                file,
                re.at,
                format!("Pushover settings of `{username}`: senders_regex {problem}"),
                "write a PCRE with delimiters, e.g. `/@example\\.org$/`",
            );
        }
        // mailcow's TEXT columns: a longer value would fail the apply.
        for (text, name) in [(&p.title, "title"), (&p.text, "text"), (&p.senders_regex, "senders_regex"), (&p.sound, "sound")] {
            if let Some(t) = text.as_ref().filter(|t| t.len() > 65535) {
                let msg = format!("Pushover settings of `{username}`: `{name}` is {} bytes; mailcow stores at most 65535", t.len());
                v.error_help("text-too-long", file, t.at, msg, "shorten it");
            }
        }
        let joined = p.senders.iter().map(|s| s.trim().len() + 1).sum::<usize>();
        if let Some(last) = p.senders.last().filter(|_| joined > 65536) {
            let msg = format!("Pushover settings of `{username}`: the senders are {joined} bytes together; mailcow stores at most 65535");
            v.error_help("text-too-long", file, last.at, msg, "use `senders_regex` for many senders");
        }
        for (what, s) in [("key", &p.key), ("token", &p.token)] {
            let Some(s) = s else { continue };
            if let Secret::Literal(l) = &s.value
                && !valid_key(l)
            {
                v.error_help(
                    "invalid-key",
                    file,
                    s.at,
                    format!("the Pushover {what} of `{username}` is not 30 letters and digits"),
                    "copy it from pushover.net",
                );
            }
            v.warn_literal_secret(file, s, format!("the Pushover {what} of `{username}`"));
        }
    }
}
