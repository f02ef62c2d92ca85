//! Resources (`mailbox` rows whose `kind` is location, group or thing), as mailcow's
//! `mailbox('add'|'edit'|'delete', 'resource')` writes them: password `RESOURCE`, quota 0, no
//! quota rows, self-alias or ACL; the username built from the description on add and kept
//! after. Their SOGo row is refreshed (and memcached flushed) as for a mailbox; a delete also
//! removes their SOGo data (the calendar), so it needs consent like a mailbox delete.

use std::collections::HashMap;

use super::export::{Export, loc, some_if};
use super::{Desired, Facts, KindSpec, Output, Resolver, WriteCtx, WriteError, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names::{self, normalize_domain};
use crate::model::{Document, Kind, Resource, ResourceKind};
use crate::record::{Record, Value};
use crate::sql::Arg;

/// Kept: a domain's own check reads it too.
pub const RESOURCES: Query =
    Query { from: "mailbox WHERE kind <> ''", columns: &["username", "name", "local_part", "domain", "kind", "multiple_bookings", "active"], kept: true };

pub const RESOURCE: KindSpec = KindSpec {
    kind: Kind::Resource,
    warn: super::no_check,
    queries: &[&RESOURCES],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().map(|d| d.resources.len()).sum(),
    validate,
    desired,
    live,
    write,
    check,
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: true,
    domain_of: |r| Some(names::domain_of(&r.key)),
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

/// mailcow's local part of a new resource: the description's ASCII letters and digits.
pub fn local_part_of(description: &str) -> String {
    description.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Each declared resource with its username (letter case kept, as mailcow keeps it).
fn declared<'a>(docs: &[&'a Document]) -> impl Iterator<Item = (String, &'a Resource)> {
    docs.iter().flat_map(|doc| &doc.domains).filter_map(|d| Some((normalize_domain(&d.name).ok()?, d))).flat_map(|(domain, d)| {
        d.resources.iter().map(move |r| {
            let local = r.local_part.as_ref().map_or_else(|| local_part_of(&r.description), |l| l.trim().to_string());
            (names::address(&local, &domain), r)
        })
    })
}

fn record(username: &str, description: &str, kind: &str, bookings: i64, active: bool) -> Record {
    Record::new(Kind::Resource, username)
        .with("description", Value::text(description))
        .with("kind", Value::text(kind))
        .with("multiple_bookings", Value::Int(bookings))
        .with("active", Value::Bool(active))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for (username, res) in declared(&r.docs) {
        let bookings = res.multiple_bookings.as_ref().map_or(-1, |b| b.value);
        out.records.push(record(&username, &res.description, res.kind.name(), bookings, res.active.unwrap_or(true)));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&RESOURCES) {
        out.push(record(row.s("username"), row.s("name"), row.s("kind"), row.i("multiple_bookings"), bool_of(row.col("active"))));
    }
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let u = c.key.as_str();
    let (local, domain) = u.rsplit_once('@').unwrap_or((u, ""));
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => out.sql(
            "INSERT INTO mailbox (username, password, name, quota, local_part, domain, active, multiple_bookings, kind) VALUES (?, 'RESOURCE', ?, 0, ?, ?, ?, ?, ?)",
            vec![t(u), t(r.text("description")), t(local), t(domain), Arg::Int(i64::from(r.flag("active"))), Arg::Int(r.int("multiple_bookings")), t(r.text("kind"))],
        ),
        (Action::Update, Some(r)) => out.sql(
            "UPDATE mailbox SET active = ?, name = ?, kind = ?, multiple_bookings = ? WHERE username = ? AND kind <> ''",
            vec![Arg::Int(i64::from(r.flag("active"))), t(r.text("description")), t(r.text("kind")), Arg::Int(r.int("multiple_bookings")), t(u)],
        ),
        _ => {
            out.sql("DELETE FROM mailbox WHERE username = ? AND kind <> ''", vec![t(u)]);
            if ctx.dialect == crate::sql::Dialect::MySql {
                super::mailbox::sogo_cleanup(u, out);
            }
        }
    }
    out.effects.insert(super::Effect::SogoRefresh(u.to_string()));
    Ok(())
}

/// mailcow refuses a resource on an address a mailbox or an alias has (MariaDB compares
/// addresses without regard to case): known at plan time for those the plan leaves in place.
fn check(f: &Facts) -> Vec<String> {
    let created: Vec<&Change> = f.changes.iter().filter(|c| c.kind == Kind::Resource && c.action == Action::Create).collect();
    if created.is_empty() {
        return Vec::new();
    }
    let deleted: std::collections::HashSet<(Kind, &str)> = f.changes.iter().filter(|c| c.action == Action::Delete).map(|c| (c.kind, c.key.as_str())).collect();
    let taken: HashMap<String, &crate::record::Record> = f
        .live
        .iter()
        .chain(f.desired)
        .filter(|r| matches!(r.kind, Kind::Mailbox | Kind::Alias | Kind::Resource) && !deleted.contains(&(r.kind, r.key.as_str())))
        .filter(|r| !(r.kind == Kind::Resource && created.iter().any(|c| c.key == r.key)))
        .map(|r| (r.key.to_lowercase(), r))
        .collect();
    created
        .iter()
        .filter_map(|c| taken.get(&c.key.to_lowercase()).map(|r| format!("resource {} cannot be created: {} {} has that address", c.key, r.kind, r.key)))
        .collect()
}

fn export(x: &mut Export, r: &Record) {
    let (local, domain) = r.key.rsplit_once('@').unwrap_or((&r.key, ""));
    let description = r.text("description").to_string();
    let kind = ResourceKind::ALL.into_iter().find(|k| k.name() == r.text("kind"));
    let Some(kind) = kind else {
        x.skipped.push(format!("resource {} (kind {:?} is not location, group or thing)", r.key, r.text("kind")));
        return;
    };
    let resource = Resource {
        local_part: some_if(local_part_of(&description) != local, loc(local.to_string())),
        description: loc(description),
        kind: loc(kind),
        multiple_bookings: some_if(r.int("multiple_bookings") != -1, loc(r.int("multiple_bookings"))),
        active: some_if(!r.flag("active"), false),
    };
    match x.domains.get_mut(domain) {
        Some(d) => d.resources.push(resource),
        None => x.skipped.push(format!("resource {} (domain {domain} does not exist)", r.key)),
    }
}

/// A description; a local part of letters, digits and `. _ -` that no mailbox or alias of the
/// directory has; bookings from -1 on (mailcow silently makes less into -1).
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    let docs = [doc];
    for (username, r) in declared(&docs) {
        let at = r.local_part.as_ref().map_or(r.description.at, |l| l.at);
        if r.description.trim().is_empty() {
            v.error_help("empty-name", file, r.description.at, "a resource has an empty description", "name it, e.g. `Board Room 7`");
            continue;
        }
        v.check_text(file, &r.description, &format!("resource `{username}`: the description"), 255);
        let local = username.rsplit_once('@').map_or("", |(l, _)| l);
        if let Err(e) = names::check_local_part(&local.to_lowercase()) {
            let help = "declare `local_part` (letters, digits and . _ -), or a description with letters or digits";
            v.error_help("invalid-local-part", file, at, format!("resource `{}`: {e}", names::printable(&r.description)), help);
            continue;
        }
        v.claim("address", &username, "a resource", (file, at));
        if let Some(b) = r.multiple_bookings.as_ref().filter(|b| b.value < -1) {
            v.error_help(
                "out-of-range",
                file,
                b.at,
                format!("resource `{username}`: multiple_bookings is {}", b.value),
                "-1 (busy, any number), 0 (always free) or a limit",
            );
        }
    }
}
