//! A mailbox's custom attributes (`mailbox.custom_attributes`, the values of the domain footer's
//! placeholders), as mailcow's `mailbox('edit', 'mailbox_custom_attribute')` writes them: the
//! whole object replaced, PHP's `json_encode` in the declared order. No attributes is `{}`.

use indexmap::IndexMap;

use super::export::{Export, loc};
use super::template::php_json;
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names;
use crate::model::{Document, Kind};
use crate::record::{Record, Value};

const ATTRIBUTES: Query = Query { from: "mailbox WHERE kind = '' AND custom_attributes <> '{}'", columns: &["username", "custom_attributes"], kept: false };

pub const CUSTOM_ATTRIBUTES: KindSpec = KindSpec {
    kind: Kind::CustomAttributes,
    warn: super::no_check,
    queries: &[&ATTRIBUTES],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().flat_map(|d| &d.mailboxes).filter(|m| m.custom_attributes.is_some()).count(),
    validate,
    desired,
    live,
    write,
    check: super::no_check,
    export,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::domain_of_owner,
    mailbox_of: super::own_address,
    vacant: |r| r.text("attributes") == "{}",
};

fn encode(attributes: &IndexMap<String, String>) -> String {
    php_json(&serde_json::to_value(attributes).unwrap_or_default())
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for (username, m) in super::declared_mailboxes(&r.docs) {
        if let Some(a) = &m.custom_attributes {
            out.records.push(Record::new(Kind::CustomAttributes, username).with("attributes", Value::text(encode(a))));
        }
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&ATTRIBUTES) {
        // Read back and encoded again, so the same attributes compare equal however they were written.
        let attributes: IndexMap<String, serde_json::Value> = serde_json::from_str(row.s("custom_attributes")).unwrap_or_default();
        if attributes.is_empty() {
            continue;
        }
        let text = php_json(&serde_json::to_value(&attributes).unwrap_or_default());
        out.push(Record::new(Kind::CustomAttributes, row.s("username").to_lowercase()).with("attributes", Value::text(text)));
    }
}

fn write(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let value = match (c.action, &c.desired) {
        (Action::Create | Action::Update, Some(r)) => r.text("attributes").to_string(),
        _ => "{}".into(),
    };
    out.sql("UPDATE mailbox SET custom_attributes = ? WHERE username = ? AND kind = ''", vec![t(&value), t(&c.key)]);
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let attributes: IndexMap<String, serde_json::Value> = serde_json::from_str(r.text("attributes")).unwrap_or_default();
    let text = |v: serde_json::Value| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let attributes: IndexMap<String, String> = attributes.into_iter().map(|(k, v)| (k, text(v))).collect();
    if let Some(m) = x.mailbox(&r.key, "custom attributes") {
        m.custom_attributes = Some(Box::new(loc(attributes)));
    }
}

/// Names without spaces (mailcow takes them out, so two names could become one) and not empty.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    for d in &doc.domains {
        for m in &d.mailboxes {
            let Some(a) = &m.custom_attributes else { continue };
            for name in a.keys().filter(|n| n.is_empty() || n.chars().any(char::is_whitespace)) {
                let msg = format!("custom attribute `{}` of mailbox `{}`: a name is one word", names::printable(name), m.local_part.as_str());
                v.error_help("custom-attribute", file, a.at, msg, "write it without spaces (mailcow removes them), e.g. `costcenter`");
            }
        }
    }
}
