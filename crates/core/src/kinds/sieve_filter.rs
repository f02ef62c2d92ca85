//! A mailbox's Sieve filters (`sieve_filters`), as mailcow's `mailbox('add'|'edit'|'delete',
//! 'filter')` writes them. The key is `mailbox type description`. mailcow makes room for an active
//! filter by setting every other filter of the mailbox and type inactive; mailplane writes only
//! the filters the plan lists, and refuses a plan that would leave two active instead. The
//! scripts are checked with the real `sievec` before planning (`check_scripts` in the binary).

use std::collections::{BTreeMap, HashMap};

use super::export::{Export, loc, some_if};
use super::{Desired, Facts, KindSpec, Output, Resolver, WriteCtx, WriteError, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names;
use crate::model::{Document, Kind, SieveFilter, SieveFilterType, Span};
use crate::record::{Record, Value};

const FILTERS: Query = Query { from: "sieve_filters", columns: &["username", "script_desc", "script_name", "script_data", "filter_type"], kept: false };

pub const SIEVE_FILTER: KindSpec = KindSpec {
    kind: Kind::SieveFilter,
    warn: super::no_check,
    queries: &[&FILTERS],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().flat_map(|d| &d.mailboxes).map(|m| m.sieve_filters.len()).sum(),
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

/// Each declared filter with its mailbox (lowercased) and its key.
fn declared<'a>(docs: &[&'a Document]) -> impl Iterator<Item = (String, String, &'a SieveFilter)> {
    super::declared_mailboxes(docs).flat_map(|(mailbox, m)| {
        m.sieve_filters.iter().map(move |a| (mailbox.clone(), format!("{mailbox} {} {}", a.filter_type.name(), a.description.as_str()), a))
    })
}

fn record(key: &str, script: &str, active: bool) -> Record {
    Record::new(Kind::SieveFilter, key).with("script", Value::text(script)).with("active", Value::Bool(active))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for (_, key, f) in declared(&r.docs) {
        out.records.push(record(&key, &f.script, f.active.unwrap_or(true)));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&FILTERS) {
        let key = format!("{} {} {}", row.s("username").to_lowercase(), row.s("filter_type"), row.s("script_desc"));
        out.push(record(&key, row.s("script_data"), row.s("script_name") == "active"));
    }
}

fn write(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let Some((mailbox, filter_type, description)) = super::three_parts(&c.key) else { return Ok(()) };
    let state = |r: &Record| t(if r.flag("active") { "active" } else { "inactive" });
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => out.sql(
            "INSERT INTO sieve_filters (username, script_desc, script_name, script_data, filter_type) VALUES (?, ?, ?, ?, ?)",
            vec![t(mailbox), t(description), state(r), t(r.text("script")), t(filter_type)],
        ),
        (Action::Update, Some(r)) => out.sql(
            "UPDATE sieve_filters SET script_name = ?, script_data = ? WHERE username = ? AND filter_type = ? AND script_desc = ?",
            vec![state(r), t(r.text("script")), t(mailbox), t(filter_type), t(description)],
        ),
        _ => out.sql("DELETE FROM sieve_filters WHERE username = ? AND filter_type = ? AND script_desc = ?", vec![t(mailbox), t(filter_type), t(description)]),
    }
    Ok(())
}

/// After the apply, Dovecot runs one filter per mailbox and type: two active ones block the plan
/// (two live filters of one key are the plan's `shared_keys` rule).
fn check(f: &Facts) -> Vec<String> {
    let changed: HashMap<&str, &Change> = f.changes.iter().filter(|c| c.kind == Kind::SieveFilter).map(|c| (c.key.as_str(), c)).collect();
    let declared: HashMap<&str, &Record> = f.desired.iter().filter(|r| r.kind == Kind::SieveFilter).map(|r| (r.key.as_str(), r)).collect();
    let mut active: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for r in f.live.iter().filter(|r| r.kind == Kind::SieveFilter) {
        let after = match changed.get(r.key.as_str()) {
            Some(c) => c.desired.as_ref(),
            None => Some(declared.get(r.key.as_str()).copied().unwrap_or(r)),
        };
        if let (Some(after), Some((m, ty, _))) = (after, super::three_parts(&r.key))
            && after.flag("active")
        {
            active.entry((m, ty)).or_default().push(&r.key);
        }
    }
    for c in f.changes.iter().filter(|c| c.kind == Kind::SieveFilter && c.action == Action::Create) {
        if let (Some(r), Some((m, ty, _))) = (&c.desired, super::three_parts(&c.key))
            && r.flag("active")
        {
            active.entry((m, ty)).or_default().push(&c.key);
        }
    }
    let touched = |keys: &[&str]| keys.iter().any(|k| changed.contains_key(k));
    active
        .iter()
        .filter(|(_, keys)| keys.len() > 1 && touched(keys))
        .map(|((m, ty), keys)| {
            format!(
                "{m} would have {} active {ty}s ({}); Dovecot runs one: declare the others inactive (`active: false`), or deactivate them in mailcow",
                keys.len(),
                keys.join("; ")
            )
        })
        .collect()
}

fn export(x: &mut Export, r: &Record) {
    let Some((mailbox, filter_type, description)) = super::three_parts(&r.key) else { return };
    let filter_type = if filter_type == "postfilter" { SieveFilterType::Postfilter } else { SieveFilterType::Prefilter };
    let Some(m) = x.mailbox(mailbox, "Sieve filter") else { return };
    m.sieve_filters.push(SieveFilter {
        description: loc(description.to_string()),
        filter_type: loc(filter_type),
        script: loc(r.text("script").to_string()),
        active: some_if(!r.flag("active"), false),
    });
}

/// A description per mailbox and type once (without regard to case, as mailcow compares), at
/// most 255 characters; a script that is not empty and fits mailcow's TEXT column; one active
/// filter per mailbox and type.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let docs = [doc];
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut active: HashMap<(String, SieveFilterType), Span> = HashMap::new();
    for (mailbox, key, f) in declared(&docs) {
        let what = format!("Sieve filter `{}` of `{mailbox}`", names::printable(&f.description));
        if f.description.trim().is_empty() {
            v.error_help(
                "empty-name",
                file,
                f.description.at,
                format!("a Sieve filter of `{mailbox}` has an empty description"),
                "say what it does, e.g. `Sort newsletters`",
            );
        }
        v.check_text(file, &f.description, &what, 255);
        if f.script.trim().is_empty() {
            v.error_help("empty-script", file, f.script.at, format!("{what} has an empty script"), "write the Sieve script, or remove the filter");
        } else if f.script.len() > 65535 {
            v.error_help(
                "text-too-long",
                file,
                f.script.at,
                format!("{what}: the script is {} bytes; mailcow stores at most 65535", f.script.len()),
                "shorten it",
            );
        }
        if let Some(first) = seen.insert(key.to_lowercase(), f.description.at) {
            let help = format!("first declared at {}; mailcow compares descriptions without regard to case", v.place((file, first)));
            v.error_help("duplicate", file, f.description.at, format!("{what} is declared twice for its type"), help);
        }
        if f.active.unwrap_or(true)
            && let Some(first) = active.insert((mailbox.clone(), f.filter_type.value), f.description.at)
        {
            let help = format!("the other is at {}; declare one of them `active: false`", v.place((file, first)));
            v.error_help(
                "two-active-filters",
                file,
                f.description.at,
                format!("{what} is a second active {} of the mailbox; Dovecot runs one", f.filter_type.name()),
                help,
            );
        }
    }
}

/// The scripts sievec must check before this plan is written: created ones and changed ones, by key.
pub fn changed_scripts<'a>(desired: &'a [Record], live: &'a [Record]) -> Vec<(&'a str, &'a str)> {
    let live: HashMap<&str, &str> = live.iter().filter(|r| r.kind == Kind::SieveFilter).map(|r| (r.key.as_str(), r.text("script"))).collect();
    desired
        .iter()
        .filter(|r| r.kind == Kind::SieveFilter && live.get(r.key.as_str()) != Some(&r.text("script")))
        .map(|r| (r.key.as_str(), r.text("script")))
        .collect()
}
