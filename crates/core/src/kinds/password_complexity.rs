//! The password policy (`PASSWD_POLICY` hash: length, chars, special_chars, lowerupper,
//! numbers), as mailcow's `password_complexity('edit')` writes it, and mailcow's
//! `password_check` applied to every plaintext password mailplane hashes (a `{SCHEME}` hash is
//! not checked: its plaintext is not known). mailcow always has a policy (php-fpm seeds it), so
//! it cannot be deleted: a plan that would (`prune`) is blocked; one not declared is left alone.

use super::export::{Export, loc, some_if};
use super::{Desired, KindSpec, Output, Resolver, SecretSource, WriteCtx, WriteError};
use crate::change::{Action, Change};
use crate::live::LiveData;
use crate::load::validate::Validator;
use crate::model::{Document, Kind, PasswordComplexity};
use crate::record::{Record, Value};

const HASH: &str = "PASSWD_POLICY";
const KEY: &str = "password_complexity";
const FLAGS: [&str; 4] = ["chars", "special_chars", "lowerupper", "numbers"];
/// php-fpm's seed.
const SEED_LENGTH: i64 = 6;

pub const PASSWORD_COMPLEXITY: KindSpec = KindSpec {
    kind: Kind::PasswordComplexity,
    warn: super::no_check,
    queries: &[],
    hashes: &[HASH],
    strings: &[],
    count: |d| usize::from(d.password_complexity.is_some()),
    validate,
    desired,
    live,
    write,
    check: |f| {
        [super::never_deleted(f, Kind::PasswordComplexity, "mailcow always has one (php-fpm seeds it)"), weak_passwords(f.changes, f.secrets, f.live)].concat()
    },
    export,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn record(length: i64, flags: [bool; 4]) -> Record {
    let mut r = Record::new(Kind::PasswordComplexity, KEY).with("length", Value::Int(length));
    for (f, on) in FLAGS.iter().zip(flags) {
        r.push(f, Value::Bool(on));
    }
    r
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for p in r.docs.iter().filter_map(|d| d.password_complexity.as_ref()) {
        let flags = [p.chars, p.special_chars, p.lowerupper, p.numbers].map(|f| f.unwrap_or(false));
        out.records.push(record(p.length.as_ref().map_or(SEED_LENGTH, |l| i64::from(l.value)), flags));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    // Observe lists every hash it asked for, empty when the server has none.
    let Some(h) = l.kv.get(HASH).filter(|h| !h.is_empty()) else { return };
    let int = |f: &str| h.get(f).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    out.push(record(int("length"), FLAGS.map(|f| int(f) == 1)));
}

fn write(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    if let (Action::Create | Action::Update, Some(r)) = (c.action, &c.desired) {
        out.hset(HASH, "length", &r.int("length").to_string());
        for f in FLAGS {
            out.hset(HASH, f, if r.flag(f) { "1" } else { "0" });
        }
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let flag = |f: &str| some_if(r.flag(f), true);
    x.file("server.yaml").password_complexity = Some(loc(PasswordComplexity {
        // mailcow ignores a length below 3 on edit; such a stored one is exported as the seed.
        length: some_if(r.int("length") != SEED_LENGTH && r.int("length") >= 3, loc(u32::try_from(r.int("length")).unwrap_or(0))),
        chars: flag("chars"),
        special_chars: flag("special_chars"),
        lowerupper: flag("lowerupper"),
        numbers: flag("numbers"),
    }));
}

/// Once per directory; a length mailcow keeps (it ignores one below 3).
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let Some(p) = &doc.password_complexity else { return };
    v.claim("password_complexity", KEY, "the password policy", (file, p.at));
    if let Some(l) = p.length.as_ref().filter(|l| l.value < 3) {
        v.error_help("out-of-range", file, l.at, format!("the password policy's length is {}; mailcow keeps 3 or more", l.value), "choose 3 or more");
    }
}

/// What mailcow's `password_check` misses in `password` under `policy` (a record of this kind).
fn misses(password: &str, policy: &Record) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if (password.len() as i64) < policy.int("length") {
        missing.push("length");
    }
    let has = |f: &str| match f {
        "chars" => password.chars().any(|c| c.is_ascii_alphabetic()),
        "special_chars" => password.chars().any(|c| !c.is_ascii_alphanumeric()),
        "lowerupper" => password.chars().any(|c| c.is_ascii_lowercase()) && password.chars().any(|c| c.is_ascii_uppercase()),
        _ => password.chars().any(|c| c.is_ascii_digit()),
    };
    missing.extend(FLAGS.into_iter().filter(|f| policy.flag(f) && !has(f)));
    missing
}

/// The passwords this plan would hash from plaintext that the policy after it refuses (the
/// declared one, else the server's, else mailcow's seed): mailcow's UI would refuse them too.
/// Says what is missing, never the password.
fn weak_passwords(changes: &[Change], desired: &Desired, live: &[Record]) -> Vec<String> {
    let policy = desired.records.iter().chain(live).find(|r| r.kind == Kind::PasswordComplexity).cloned().unwrap_or_else(|| record(SEED_LENGTH, [false; 4]));
    let written = |c: &&Change| c.action == Action::Create || c.fields.iter().any(|f| f.field == "password");
    changes
        .iter()
        .filter(|c| matches!(c.kind, Kind::Mailbox | Kind::AppPassword | Kind::Admin | Kind::DomainAdmin))
        .filter(written)
        .filter_map(|c| match desired.secrets.get(&(c.kind, c.key.clone(), "password")) {
            Some(SecretSource::HashOf(s)) => {
                let missing = misses(&desired.revealed.get(s).ok()?, &policy);
                let what = missing
                    .iter()
                    .map(|m| match *m {
                        "length" => format!("at least {} characters", policy.int("length")),
                        "chars" => "a letter".into(),
                        "special_chars" => "a character other than letters and digits".into(),
                        "lowerupper" => "a lowercase and an uppercase letter".into(),
                        _ => "a digit".into(),
                    })
                    .collect::<Vec<_>>();
                (!what.is_empty())
                    .then(|| format!("the password of {} {} ({}) does not meet the password policy: it needs {}", c.kind, c.key, s.describe(), what.join(", ")))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailcow_password_check() {
        let policy = record(8, [true, true, true, true]);
        assert!(misses("Abcdef1!", &policy).is_empty());
        assert_eq!(misses("abc", &policy), ["length", "special_chars", "lowerupper", "numbers"]);
        assert_eq!(misses("ABCDEFG1!", &policy), ["lowerupper"]);
        // Bytes, as PHP's strlen counts: four two-byte letters are eight.
        assert!(!misses("ääää", &record(8, [false; 4])).contains(&"length"));
        assert!(misses("123456", &record(SEED_LENGTH, [false; 4])).is_empty());
    }
}
