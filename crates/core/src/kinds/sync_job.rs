//! Sync jobs (`imapsync`), as mailcow's `mailbox('add'|'edit'|'delete', 'syncjob')` writes them:
//! `host1` lowercased, `authmech1` PLAIN, `password1` in clear (a secret: only its token is in
//! the records), the numbers in mailcow's ranges. The key is `mailbox host user`, mailcow's own
//! uniqueness rule. The columns imapsync's runner writes (`is_running`, `returned_text`,
//! `last_run`, `success`, `exit_status`) are never read, compared or written.

use std::collections::HashMap;

use super::export::{Export, loc, some_if};
use super::{Desired, Facts, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names;
use crate::model::{Document, Kind, Located, Span, SyncEncryption, SyncJob};
use crate::record::{Record, Value};
use crate::sql::Arg;

const JOBS: Query = Query {
    from: "imapsync",
    columns: &[
        "user2",
        "host1",
        "user1",
        "password1",
        "port1",
        "enc1",
        "mins_interval",
        "subfolder2",
        "exclude",
        "maxage",
        "maxbytespersecond",
        "timeout1",
        "timeout2",
        "delete2duplicates",
        "delete1",
        "delete2",
        "automap",
        "skipcrossduplicates",
        "subscribeall",
        "dry",
        "custom_params",
        "active",
    ],
    kept: false,
};

/// The numbers: field, column, default, mailcow's range.
const NUMBERS: [(&str, &str, i64, (i64, i64)); 6] = [
    ("port", "port1", 143, (1, 65535)),
    ("interval_minutes", "mins_interval", 20, (1, 43800)),
    ("max_age_days", "maxage", 0, (0, 32000)),
    ("max_bytes_per_second", "maxbytespersecond", 0, (0, 125_000_000)),
    ("timeout_remote", "timeout1", 600, (1, 32000)),
    ("timeout_local", "timeout2", 600, (1, 32000)),
];

/// The switches: field, column, default.
const FLAGS: [(&str, &str, bool); 8] = [
    ("delete_duplicates", "delete2duplicates", true),
    ("delete_from_source", "delete1", false),
    ("delete_missing", "delete2", false),
    ("automap", "automap", true),
    ("skip_cross_duplicates", "skipcrossduplicates", false),
    ("subscribe_all", "subscribeall", true),
    ("dry_run", "dry", false),
    ("active", "active", true),
];

/// The texts: field, column, default.
const TEXTS: [(&str, &str, &str); 4] =
    [("encryption", "enc1", "TLS"), ("subfolder", "subfolder2", ""), ("exclude", "exclude", DEFAULT_EXCLUDE), ("custom_params", "custom_params", "")];

const DEFAULT_EXCLUDE: &str = "(?i)spam|(?i)junk";

pub const SYNC_JOB: KindSpec = KindSpec {
    kind: Kind::SyncJob,
    warn: super::no_check,
    queries: &[&JOBS],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().flat_map(|d| &d.mailboxes).map(|m| m.sync_jobs.len()).sum(),
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

/// Each declared job with its mailbox (lowercased) and its key.
fn declared<'a>(docs: &[&'a Document]) -> impl Iterator<Item = (String, String, &'a SyncJob)> {
    super::declared_mailboxes(docs).flat_map(|(mailbox, m)| {
        m.sync_jobs.iter().map(move |a| (mailbox.clone(), format!("{mailbox} {} {}", a.host.trim().to_lowercase(), a.user.as_str()), a))
    })
}

fn numbers(j: &SyncJob) -> [Option<&Located<u32>>; 6] {
    [
        j.port.as_ref(),
        j.interval_minutes.as_ref(),
        j.max_age_days.as_ref(),
        j.max_bytes_per_second.as_ref(),
        j.timeout_remote.as_ref(),
        j.timeout_local.as_ref(),
    ]
}

fn flags(j: &SyncJob) -> [Option<bool>; 8] {
    [j.delete_duplicates, j.delete_from_source, j.delete_missing, j.automap, j.skip_cross_duplicates, j.subscribe_all, j.dry_run, j.active]
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    let docs = r.docs.clone();
    for (_, key, j) in declared(&docs) {
        let password = match &j.password {
            Some(p) => r.clear_secret(out, Kind::SyncJob, &key, "password", Some(p)),
            None => super::undeclared_secret(),
        };
        let mut rec = Record::new(Kind::SyncJob, &key).with("password", password);
        for ((field, _, default, _), v) in NUMBERS.iter().zip(numbers(j)) {
            rec.push(field, Value::Int(v.map_or(*default, |v| i64::from(v.value))));
        }
        let texts = [
            j.encryption.unwrap_or_default().mailcow().to_string(),
            j.subfolder.as_ref().map_or(String::new(), |s| s.value.clone()),
            j.exclude.as_ref().map_or(DEFAULT_EXCLUDE.to_string(), |s| s.value.clone()),
            j.custom_params.as_ref().map_or(String::new(), |s| s.trim().to_string()),
        ];
        for ((field, ..), v) in TEXTS.iter().zip(texts) {
            rec.push(field, Value::text(v));
        }
        for ((field, _, default), v) in FLAGS.iter().zip(flags(j)) {
            rec.push(field, Value::Bool(v.unwrap_or(*default)));
        }
        out.records.push(rec);
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&JOBS) {
        let key = format!("{} {} {}", row.s("user2").to_lowercase(), row.s("host1").to_lowercase(), row.s("user1"));
        let mut rec = Record::new(Kind::SyncJob, key).with("password", super::token(row.s("password1")));
        for (field, column, ..) in NUMBERS {
            rec.push(field, Value::Int(row.i(column)));
        }
        for (field, column, _) in TEXTS {
            rec.push(field, Value::text(row.s(column)));
        }
        for (field, column, _) in FLAGS {
            rec.push(field, Value::Bool(bool_of(row.col(column))));
        }
        out.push(rec);
    }
}

/// The configuration columns in `columns()` order, from a record.
fn values(r: &Record) -> Vec<Arg> {
    let mut args: Vec<Arg> = NUMBERS.iter().map(|(f, c, ..)| if *c == "maxbytespersecond" { t(&r.int(f).to_string()) } else { Arg::Int(r.int(f)) }).collect();
    args.extend(TEXTS.iter().map(|(f, ..)| t(r.text(f))));
    args.extend(FLAGS.iter().map(|(f, ..)| b(r.flag(f))));
    args
}

fn columns() -> Vec<&'static str> {
    NUMBERS.iter().map(|n| n.1).chain(TEXTS.iter().map(|x| x.1)).chain(FLAGS.iter().map(|f| f.1)).collect()
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let Some((mailbox, host, user)) = super::three_parts(&c.key) else { return Ok(()) };
    let who = || vec![t(mailbox), t(host), t(user)];
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => {
            let cols = columns();
            let sql = format!(
                "INSERT INTO imapsync (user2, host1, user1, password1, authmech1, {}) VALUES (?, ?, ?, ?, 'PLAIN', {})",
                cols.join(", "),
                vec!["?"; cols.len()].join(", ")
            );
            let mut args = who();
            args.push(t(&ctx.secret(Kind::SyncJob, &c.key, "password")?));
            args.extend(values(r));
            out.sql(&sql, args);
        }
        (Action::Update, Some(r)) => {
            let set: Vec<String> = columns().iter().map(|c| format!("{c} = ?")).collect();
            let mut args = values(r);
            args.extend(who());
            out.sql(&format!("UPDATE imapsync SET {} WHERE user2 = ? AND host1 = ? AND user1 = ?", set.join(", ")), args);
            if c.fields.iter().any(|f| f.field == "password") {
                let mut args = vec![t(&ctx.secret(Kind::SyncJob, &c.key, "password")?)];
                args.extend(who());
                out.sql("UPDATE imapsync SET password1 = ? WHERE user2 = ? AND host1 = ? AND user1 = ?", args);
            }
        }
        _ => out.sql("DELETE FROM imapsync WHERE user2 = ? AND host1 = ? AND user1 = ?", who()),
    }
    Ok(())
}

/// A job to create needs its password: known at plan time, so said then.
fn check(f: &Facts) -> Vec<String> {
    super::created_without(f.changes, Kind::SyncJob, &["password"])
        .map(|c| format!("sync job `{}` has no password to be created with: declare `password` (`{{env: NAME}}` or `{{file: path}}`)", c.key))
        .collect()
}

fn export(x: &mut Export, r: &Record) {
    let Some((mailbox, host, user)) = super::three_parts(&r.key) else { return };
    let number = |i: usize| {
        let (field, _, default, _) = NUMBERS[i];
        let v = r.int(field);
        some_if(v != default, loc(u32::try_from(v).unwrap_or(0)))
    };
    let text = |i: usize| {
        let (field, _, default) = TEXTS[i];
        some_if(r.text(field) != default, loc(r.text(field).to_string()))
    };
    let flag = |i: usize| {
        let (field, _, default) = FLAGS[i];
        some_if(r.flag(field) != default, r.flag(field))
    };
    let job = SyncJob {
        host: loc(host.to_string()),
        port: number(0),
        encryption: SyncEncryption::ALL.into_iter().find(|e| e.mailcow() == r.text("encryption")).filter(|e| *e != SyncEncryption::default()),
        user: loc(user.to_string()),
        // Never exported: mailcow keeps it in clear. Left out, the live password stays.
        password: None,
        interval_minutes: number(1),
        subfolder: text(1),
        exclude: text(2),
        max_age_days: number(2),
        max_bytes_per_second: number(3),
        timeout_remote: number(4),
        timeout_local: number(5),
        delete_duplicates: flag(0),
        delete_from_source: flag(1),
        delete_missing: flag(2),
        automap: flag(3),
        skip_cross_duplicates: flag(4),
        subscribe_all: flag(5),
        dry_run: flag(6),
        custom_params: text(3),
        active: flag(7),
    };
    if let Some(m) = x.mailbox(mailbox, "sync job") {
        m.sync_jobs.push(job);
    }
}

/// mailcow's rule for `custom_params`: split on `-`, each option (before `=`) on its list and
/// without a space. The error names the first option it refuses.
fn custom_params_problem(params: &str) -> Option<String> {
    for part in params.trim().split('-').filter(|p| !p.is_empty()) {
        let option = part.split_once('=').map_or(part.trim_end_matches(' '), |(o, _)| o);
        if option.contains(' ') {
            return Some(format!("`{}` holds a space: mailcow refuses options that take a value unless written `--option=value`", part.trim()));
        }
        if !IMAPSYNC_OPTIONS.contains(&option.to_lowercase().as_str()) {
            return Some(format!("`--{option}` is not an imapsync option mailcow allows"));
        }
    }
    None
}

/// The imapsync options mailcow allows in `custom_params` (its `$IMAPSYNC_OPTIONS['whitelist']`).
const IMAPSYNC_OPTIONS: [&str; 114] = [
    "abort",
    "authmd51",
    "authmd52",
    "authmech1",
    "authmech2",
    "authuser1",
    "authuser2",
    "debug",
    "debugcontent",
    "debugcrossduplicates",
    "debugflags",
    "debugfolders",
    "debugimap",
    "debugimap1",
    "debugimap2",
    "debugmemory",
    "debugssl",
    "delete1emptyfolders",
    "delete2folders",
    "disarmreadreceipts",
    "domain1",
    "domain2",
    "domino1",
    "domino2",
    "dry",
    "errorsmax",
    "exchange1",
    "exchange2",
    "exitwhenover",
    "expunge1",
    "f1f2",
    "filterbuggyflags",
    "folder",
    "folderfirst",
    "folderlast",
    "folderrec",
    "gmail1",
    "gmail2",
    "idatefromheader",
    "include",
    "inet4",
    "inet6",
    "justconnect",
    "justfolders",
    "justfoldersizes",
    "justlogin",
    "keepalive1",
    "keepalive2",
    "log",
    "logdir",
    "logfile",
    "maxbytesafter",
    "maxlinelength",
    "maxmessagespersecond",
    "maxsize",
    "maxsleep",
    "minage",
    "minsize",
    "noabletosearch",
    "noabletosearch1",
    "noabletosearch2",
    "noexpunge1",
    "noexpunge2",
    "nofoldersizesatend",
    "noid",
    "nolog",
    "nomixfolders",
    "noresyncflags",
    "nossl1",
    "nossl2",
    "nosyncacls",
    "notls1",
    "notls2",
    "nouidexpunge2",
    "nousecache",
    "oauthaccesstoken1",
    "oauthaccesstoken2",
    "oauthdirect1",
    "oauthdirect2",
    "office1",
    "office2",
    "pidfile",
    "pidfilelocking",
    "prefix1",
    "prefix2",
    "proxyauth1",
    "proxyauth2",
    "resyncflags",
    "resynclabels",
    "search",
    "search1",
    "search2",
    "sep1",
    "sep2",
    "showpasswords",
    "skipemptyfolders",
    "ssl2",
    "sslargs1",
    "sslargs2",
    "subfolder1",
    "subscribe",
    "subscribed",
    "syncacls",
    "syncduplicates",
    "syncinternaldates",
    "synclabels",
    "tests",
    "testslive",
    "testslive6",
    "tls2",
    "truncmess",
    "usecache",
    "useheader",
    "useuid",
];

/// Why mailcow would refuse the `exclude` expression (it must compile as PCRE `/exclude/`).
fn exclude_problem(exclude: &str) -> Option<String> {
    let mut escaped = false;
    for c in exclude.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, '/') => return Some("holds an unescaped `/`, which ends mailcow's PCRE `/…/`: write `\\/`".into()),
            _ => escaped = false,
        }
    }
    match regex::Regex::new(exclude) {
        Ok(_) => None,
        // Perl's and PCRE's look-around and back-references are fine for imapsync; this crate lacks them.
        Err(e) if e.to_string().contains("not supported") => None,
        Err(e) => Some(format!("is not a regular expression: {}", e.to_string().lines().last().unwrap_or("").trim())),
    }
}

/// mailcow's ranges and checks, refused instead of silently replaced; a job once per mailbox,
/// host and user (without regard to case, as mailcow compares).
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let docs = [doc];
    let mut seen: HashMap<String, Span> = HashMap::new();
    for (mailbox, key, j) in declared(&docs) {
        let what = format!("sync job `{}` on `{}` of `{mailbox}`", names::printable(&j.user), names::printable(&j.host));
        for (text, name, limit) in [(&j.host, "host", 255), (&j.user, "user", 255)] {
            if text.trim().is_empty() {
                v.error_help("empty-name", file, text.at, format!("a sync job of `{mailbox}` has an empty {name}"), "give the remote server and its login");
            }
            v.check_text(file, text, &format!("{what}: the {name}"), limit);
            if text.contains(' ') {
                v.error_help("sync-job", file, text.at, format!("{what}: the {name} holds a space"), "write it without spaces");
            }
        }
        for ((field, _, _, (min, max)), n) in NUMBERS.iter().zip(numbers(j)) {
            if let Some(n) = n.filter(|n| !(*min..=*max).contains(&i64::from(n.value))) {
                v.error_help(
                    "out-of-range",
                    file,
                    n.at,
                    format!("{what}: `{field}` is {}; mailcow takes {min} to {max}", n.value),
                    "choose a value in that range",
                );
            }
        }
        for (text, name, limit) in [(&j.subfolder, "subfolder", 255), (&j.exclude, "exclude", 500), (&j.custom_params, "custom_params", 512)] {
            if let Some(text) = text {
                v.check_text(file, text, &format!("{what}: `{name}`"), limit);
            }
        }
        if let Some(problem) = j.exclude.as_ref().and_then(|e| exclude_problem(e).map(|p| (e.at, p))) {
            v.error_help(
                "sync-job-exclude",
                file,
                problem.0,
                format!("{what}: `exclude` {}", problem.1),
                "write a regular expression of folder names, e.g. `(?i)spam|(?i)junk`",
            );
        }
        if let Some(problem) = j.custom_params.as_ref().and_then(|c| custom_params_problem(c).map(|p| (c.at, p))) {
            v.error_help(
                "sync-job-params",
                file,
                problem.0,
                format!("{what}: `custom_params`: {}", problem.1),
                "use options from mailcow's list, e.g. `--skipemptyfolders --maxsize=52428800`",
            );
        }
        if let Some(p) = &j.password {
            v.warn_literal_secret(file, p, format!("{what}: the password"));
        }
        if let Some(first) = seen.insert(key.to_lowercase(), j.user.at) {
            let help = format!("first declared at {}; mailcow keeps one job per mailbox, host and user", v.place((file, first)));
            v.error_help("duplicate", file, j.user.at, format!("{what} is declared twice"), help);
        }
    }
}
