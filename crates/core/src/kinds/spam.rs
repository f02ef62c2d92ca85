//! Spam filter settings (`filterconf`): the allow and deny lists of a domain or a mailbox, as
//! mailcow's `policy('add'|'delete')` writes them (one row per sender, `whitelist_from` or
//! `blacklist_from`), and a mailbox's thresholds, as its `mailbox('edit', 'spam_score')` writes
//! them (both rows deleted, then `highspamlevel` and `lowspamlevel` inserted). Rspamd's
//! `settings.php` notices the table's change; nothing is reloaded.

use std::collections::{BTreeMap, BTreeSet};

use super::export::{Export, loc};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names::{self, normalize_domain};
use crate::model::{Document, Kind, Located, SpamPolicy, SpamScore};
use crate::record::{Record, Value};

const FILTERCONF: Query = Query { from: "filterconf", columns: &["object", "option", "value"], kept: false };

/// The two lists: field, mailcow's `option`.
const LISTS: [(&str, &str); 2] = [("allow", "whitelist_from"), ("deny", "blacklist_from")];

pub const SPAM_POLICY: KindSpec = KindSpec {
    kind: Kind::SpamPolicy,
    warn: super::no_check,
    queries: &[&FILTERCONF],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().map(|d| usize::from(d.spam_policy.is_some()) + d.mailboxes.iter().filter(|m| m.spam_policy.is_some()).count()).sum(),
    validate: validate_policy,
    desired: desired_policy,
    live: live_policy,
    write: write_policy,
    check: super::no_check,
    export: export_policy,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::domain_of_owner,
    mailbox_of: super::own_address,
    vacant: |r| LISTS.iter().all(|(f, _)| r.list(f).is_empty()),
};

pub const SPAM_SCORE: KindSpec = KindSpec {
    kind: Kind::SpamScore,
    warn: super::no_check,
    queries: &[&FILTERCONF],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().flat_map(|d| &d.mailboxes).filter(|m| m.spam_score.is_some()).count(),
    validate: validate_score,
    desired: desired_score,
    live: live_score,
    write: write_score,
    check: super::no_check,
    export: export_score,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::domain_of_owner,
    mailbox_of: super::own_address,
    vacant: super::never_vacant,
};

/// Each declared domain and mailbox (its lowercased key) with what it declares.
fn owners<'a>(docs: &[&'a Document]) -> impl Iterator<Item = (String, Option<&'a Located<SpamPolicy>>, Option<&'a Located<SpamScore>>)> {
    docs.iter().flat_map(|doc| &doc.domains).filter_map(|d| Some((normalize_domain(&d.name).ok()?, d))).flat_map(|(name, d)| {
        let own = (name.clone(), d.spam_policy.as_ref(), None);
        let mailboxes =
            d.mailboxes.iter().map(move |m| (names::address(&m.local_part.trim().to_lowercase(), &name), m.spam_policy.as_deref(), m.spam_score.as_deref()));
        std::iter::once(own).chain(mailboxes)
    })
}

/// An entry as mailcow stores it (`trim(strtolower())`).
fn entry(s: &str) -> String {
    s.trim().to_lowercase()
}

fn sorted(entries: &[Located<String>]) -> Vec<String> {
    entries.iter().map(|e| entry(e)).collect::<BTreeSet<_>>().into_iter().collect()
}

fn policy_record(key: &str, allow: Vec<String>, deny: Vec<String>) -> Record {
    Record::new(Kind::SpamPolicy, key).with("allow", Value::List(allow.into())).with("deny", Value::List(deny.into()))
}

fn desired_policy(r: &mut Resolver, out: &mut Desired) {
    for (key, policy, _) in owners(&r.docs) {
        if let Some(p) = policy {
            out.records.push(policy_record(&key, sorted(&p.allow), sorted(&p.deny)));
        }
    }
}

/// The live rows of `filterconf` by object (lowercased, as mailcow compares them): option → values.
fn by_object(l: &LiveData) -> BTreeMap<String, BTreeMap<&str, BTreeSet<String>>> {
    let mut objects: BTreeMap<String, BTreeMap<&str, BTreeSet<String>>> = BTreeMap::new();
    for row in l.rows(&FILTERCONF) {
        objects.entry(row.s("object").to_lowercase()).or_default().entry(row.s("option")).or_default().insert(entry(row.s("value")));
    }
    objects
}

fn live_policy(l: &LiveData, out: &mut Vec<Record>) {
    for (object, options) in by_object(l) {
        let list = |option: &str| options.get(option).map(|v| v.iter().cloned().collect::<Vec<_>>());
        let (allow, deny) = (list("whitelist_from"), list("blacklist_from"));
        if allow.is_some() || deny.is_some() {
            out.push(policy_record(&object, allow.unwrap_or_default(), deny.unwrap_or_default()));
        }
    }
}

/// The entries removed first (one may move from one list to the other), then those added;
/// entries on both sides keep their rows.
fn write_policy(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let list = |r: &Option<Record>, f: &str| -> BTreeSet<String> { r.as_ref().map(|r| r.list(f).to_vec()).unwrap_or_default().into_iter().collect() };
    let lists = LISTS.map(|(f, option)| (option, list(&c.live, f), if c.action == Action::Delete { BTreeSet::new() } else { list(&c.desired, f) }));
    for (option, old, new) in &lists {
        for v in old.difference(new) {
            out.sql("DELETE FROM filterconf WHERE object = ? AND `option` = ? AND value = ?", vec![t(&c.key), t(option), t(v)]);
        }
    }
    for (option, old, new) in &lists {
        for v in new.difference(old) {
            out.sql("INSERT INTO filterconf (object, `option`, value) VALUES (?, ?, ?)", vec![t(&c.key), t(option), t(v)]);
        }
    }
    Ok(())
}

fn export_policy(x: &mut Export, r: &Record) {
    let [allow, deny] = LISTS.map(|(f, _)| r.list(f).iter().map(|v| loc(v.clone())).collect::<Vec<_>>());
    let policy = Some(loc(SpamPolicy { allow, deny }));
    if r.key.contains('@') {
        if let Some(m) = x.mailbox(&r.key, "spam policy") {
            m.spam_policy = policy.map(Box::new);
        }
    } else if let Some(d) = x.domain(r, "spam policy") {
        d.spam_policy = policy;
    }
}

/// mailcow's rules for an entry (`policy('add')`), and an entry in one list only.
fn validate_policy(v: &mut Validator, file: usize, doc: &Document) {
    let docs = [doc];
    for (key, policy, _) in owners(&docs) {
        let Some(p) = policy else { continue };
        let mut seen = BTreeMap::new();
        for ((field, _), entries) in LISTS.iter().zip([&p.allow, &p.deny]) {
            for e in entries {
                let value = entry(e);
                let letters = value.replace(['@', '_', '.', '-', '*'], "");
                let problem = if value.chars().count() > 100 {
                    Some(format!("is {} characters long; mailcow stores at most 100", value.chars().count()))
                } else if letters.is_empty() || !letters.chars().all(|c| c.is_ascii_alphanumeric()) {
                    Some("may hold only letters, digits and `@ _ . * -`, and at least one letter or digit".to_string())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    let msg = format!("spam policy of `{key}`: entry `{}` {problem}", names::printable(e));
                    v.error_help("invalid-spam-entry", file, e.at, msg, "write an address or a domain, `*` for any characters (`*@partner.example`)");
                    continue;
                }
                match seen.get(&value) {
                    Some((other, at)) if other != field => {
                        let msg = format!("spam policy of `{key}`: `{value}` is in both `allow` and `deny`");
                        let help = format!("mailcow keeps a sender in one list only; the other is at {}", v.place((file, *at)));
                        v.error_help("spam-entry-in-both-lists", file, e.at, msg, help);
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(value, (*field, e.at));
                    }
                }
            }
        }
    }
}

/// A number as PHP turns it into text (14 significant digits): what mailcow stores.
fn php_number(x: f64) -> String {
    let rounded: f64 = format!("{x:.13e}").parse().unwrap_or(x);
    format!("{rounded}")
}

fn score_record(key: &str, low: &str, high: &str) -> Record {
    Record::new(Kind::SpamScore, key).with("low", Value::text(low)).with("high", Value::text(high))
}

fn desired_score(r: &mut Resolver, out: &mut Desired) {
    for (key, _, score) in owners(&r.docs) {
        if let Some(s) = score {
            // mailcow's rule: equal thresholds are made a tenth apart.
            let high = if s.low.value == s.high.value { s.high.value + 0.1 } else { s.high.value };
            out.records.push(score_record(&key, &php_number(s.low.value), &php_number(high)));
        }
    }
}

fn live_score(l: &LiveData, out: &mut Vec<Record>) {
    for (object, options) in by_object(l) {
        let level = |option: &str| options.get(option).and_then(|v| v.first()).map(|v| v.parse::<f64>().map_or(v.clone(), php_number));
        let (low, high) = (level("lowspamlevel"), level("highspamlevel"));
        if low.is_some() || high.is_some() {
            out.push(score_record(&object, &low.unwrap_or_default(), &high.unwrap_or_default()));
        }
    }
}

fn write_score(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    out.sql("DELETE FROM filterconf WHERE object = ? AND `option` IN ('lowspamlevel', 'highspamlevel')", vec![t(&c.key)]);
    if let (Action::Create | Action::Update, Some(r)) = (c.action, &c.desired) {
        for (option, field) in [("highspamlevel", "high"), ("lowspamlevel", "low")] {
            out.sql("INSERT INTO filterconf (object, `option`, value) VALUES (?, ?, ?)", vec![t(&c.key), t(option), t(r.text(field))]);
        }
    }
    Ok(())
}

fn export_score(x: &mut Export, r: &Record) {
    let (Ok(low), Ok(high)) = (r.text("low").parse::<f64>(), r.text("high").parse::<f64>()) else {
        x.skipped.push(format!("spam score of {} (not two numbers: {:?}, {:?})", r.key, r.text("low"), r.text("high")));
        return;
    };
    if let Some(m) = x.mailbox(&r.key, "spam score") {
        m.spam_score = Some(Box::new(loc(SpamScore { low: loc(low), high: loc(high) })));
    }
}

/// Two finite numbers, `low` not above `high` (mailcow's UI slider keeps them so; its API does not).
fn validate_score(v: &mut Validator, file: usize, doc: &Document) {
    let docs = [doc];
    for (key, _, score) in owners(&docs) {
        let Some(s) = score else { continue };
        let msg = if !s.low.is_finite() || !s.high.is_finite() {
            "is not two numbers"
        } else if s.low.value > s.high.value {
            "has `low` above `high`"
        } else {
            continue;
        };
        v.error_help(
            "invalid-spam-score",
            file,
            s.at,
            format!("spam score of `{key}` {msg}"),
            "mail from `low` on is marked as spam, from `high` on rejected: e.g. `{low: 8, high: 15}`",
        );
    }
}
