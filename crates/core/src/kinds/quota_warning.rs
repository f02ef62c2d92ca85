//! Quota-warning BCCs (`QW_BCC[domain]` = `{"bcc_rcpts":[...],"active":N}`), as mailcow's
//! `quota_notification_bcc('edit')` writes them, with one deliberate difference: mailcow can store
//! the recipients as a JSON object (`{"0":"a@x","2":"b@x"}`, when its input had empty parts), and
//! Dovecot's `quota_notify.py` then iterates the object's keys instead of the addresses;
//! mailplane always writes a list. Reading, both forms count.

use serde_json::{Value as Json, json};

use super::export::{Export, loc, some_if};
use super::template::php_json;
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError};
use crate::change::{Action, Change};
use crate::live::LiveData;
use crate::load::validate::Validator;
use crate::model::names::{self, normalize_address, normalize_domain};
use crate::model::{Document, Kind, QuotaWarningBcc};
use crate::record::{Record, Value};

const HASH: &str = "QW_BCC";

pub const QUOTA_WARNING_BCC: KindSpec = KindSpec {
    kind: Kind::QuotaWarningBcc,
    warn: super::no_check,
    queries: &[],
    hashes: &[HASH],
    strings: &[],
    count: |d| d.domains.iter().filter(|d| d.quota_warning_bcc.is_some()).count(),
    validate,
    desired,
    live,
    write,
    check: super::no_check,
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::own_key,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn record(domain: &str, recipients: Vec<String>, active: bool) -> Record {
    Record::new(Kind::QuotaWarningBcc, domain).with("recipients", Value::List(recipients.into())).with("active", Value::Bool(active))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for d in r.docs.iter().flat_map(|doc| doc.domains.iter()) {
        let (Some(q), Ok(name)) = (&d.quota_warning_bcc, normalize_domain(&d.name)) else { continue };
        let mut recipients: Vec<String> = Vec::new();
        for a in q.recipients.iter().map(|a| a.trim().to_string()) {
            if !recipients.contains(&a) {
                recipients.push(a);
            }
        }
        out.records.push(record(&name, recipients, q.active.unwrap_or(true)));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    let Some(hash) = l.kv.get(HASH) else { return };
    let mut records: Vec<Record> = hash
        .iter()
        .map(|(domain, v)| {
            let v: Json = serde_json::from_str(v).unwrap_or_default();
            let recipients = match &v["bcc_rcpts"] {
                Json::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
                Json::Object(o) => o.values().filter_map(|x| x.as_str().map(str::to_string)).collect(),
                _ => Vec::new(),
            };
            record(domain, recipients, v["active"].as_i64().is_some_and(|a| a == 1))
        })
        .collect();
    records.sort_by(|a, b| a.key.cmp(&b.key));
    out.extend(records);
}

fn write(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    match (c.action, &c.desired) {
        (Action::Create | Action::Update, Some(r)) => {
            let value = json!({"bcc_rcpts": r.list("recipients"), "active": i64::from(r.flag("active"))});
            out.hset(HASH, &c.key, &php_json(&value));
        }
        _ => out.hdel(HASH, &c.key),
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let Some(d) = x.domain(r, "quota-warning BCC") else { return };
    let recipients = r.list("recipients").into_iter().map(loc).collect();
    d.quota_warning_bcc = Some(loc(QuotaWarningBcc { recipients, active: some_if(!r.flag("active"), false) }));
}

/// mailcow drops what is not an address (`FILTER_VALIDATE_EMAIL`); mailplane refuses it.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    for q in doc.domains.iter().filter_map(|d| d.quota_warning_bcc.as_ref()) {
        for a in &q.recipients {
            if let Err(e) = normalize_address(a.trim()) {
                v.error_help(
                    "invalid-address",
                    file,
                    a.at,
                    format!("quota-warning BCC `{}`: {e}", names::printable(a)),
                    "write a full address, e.g. `postmaster@example.org`",
                );
            }
        }
    }
}
