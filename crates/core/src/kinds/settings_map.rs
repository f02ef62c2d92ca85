//! Rspamd settings maps (`settingsmap`), as mailcow's `rsettings('add'|'edit'|'delete')` writes
//! them, keyed by description (mailcow does not keep descriptions unique: two live maps of one
//! description are refused by the plan's shared-key rule). mailcow's `settings.php` puts each
//! active map into Rspamd's settings verbatim, and one that does not parse breaks every setting:
//! every new or changed content goes through the real `rspamadm configtest` before a plan is made
//! (`changed_contents`, run by the CLI where Rspamd runs).

use std::collections::HashMap;

use super::export::{Export, loc, some_if};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names::printable;
use crate::model::{Document, Kind, SettingsMap};
use crate::record::{Record, Value};

const SETTINGS_MAPS: Query = Query { from: "settingsmap", columns: &["desc", "content", "active"], kept: false };

pub const SETTINGS_MAP: KindSpec = KindSpec {
    kind: Kind::SettingsMap,
    warn: super::no_check,
    queries: &[&SETTINGS_MAPS],
    hashes: &[],
    strings: &[],
    count: |d| d.rspamd_settings_maps.len(),
    validate,
    desired,
    live,
    write,
    check: super::no_check,
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn record(desc: &str, content: &str, active: bool) -> Record {
    Record::new(Kind::SettingsMap, desc).with("content", Value::text(content)).with("active", Value::Bool(active))
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for m in r.docs.iter().flat_map(|d| &d.rspamd_settings_maps) {
        out.records.push(record(m.description.trim(), m.content.trim(), m.active.unwrap_or(true)));
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&SETTINGS_MAPS) {
        out.push(record(row.s("desc"), row.s("content"), bool_of(row.col("active"))));
    }
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let desc = c.key.as_str();
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => out.sql(
            "INSERT INTO settingsmap (`desc`, content, active, created) VALUES (?, ?, ?, ?)",
            vec![t(desc), t(r.text("content")), b(r.flag("active")), t(&ctx.now)],
        ),
        (Action::Update, Some(r)) => out.sql(
            "UPDATE settingsmap SET content = ?, active = ?, modified = ? WHERE `desc` = ?",
            vec![t(r.text("content")), b(r.flag("active")), t(&ctx.now), t(desc)],
        ),
        _ => out.sql("DELETE FROM settingsmap WHERE `desc` = ?", vec![t(desc)]),
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    x.file("rspamd.yaml").rspamd_settings_maps.push(SettingsMap {
        description: loc(r.key.clone()),
        content: loc(r.text("content").to_string()),
        active: some_if(!r.flag("active"), false),
    });
}

/// The maps whose content is new or changed (key, content): what `rspamadm configtest` checks.
pub fn changed_contents<'a>(desired: &'a [Record], live: &'a [Record]) -> Vec<(&'a str, &'a str)> {
    let live: HashMap<&str, &str> = live.iter().filter(|r| r.kind == Kind::SettingsMap).map(|r| (r.key.as_str(), r.text("content"))).collect();
    desired
        .iter()
        .filter(|r| r.kind == Kind::SettingsMap && live.get(r.key.as_str()) != Some(&r.text("content")))
        .map(|r| (r.key.as_str(), r.text("content")))
        .collect()
}

/// A description once (mailcow compares them without regard to case), at most 255 characters;
/// content that is not empty (mailcow refuses that).
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    for m in &doc.rspamd_settings_maps {
        let desc = m.description.trim();
        v.claim("settings_map", desc, "an Rspamd settings map", (file, m.description.at));
        if desc.is_empty() || desc.chars().count() > 255 {
            let message = format!("an Rspamd settings map's description must be 1 to 255 characters (`{}`)", printable(desc));
            v.error_help("invalid-description", file, m.description.at, message, "say what the map is for");
        }
        if m.content.trim().is_empty() {
            v.error_help(
                "empty-content",
                file,
                m.content.at,
                format!("Rspamd settings map `{}` has no content", printable(desc)),
                "write the rule, e.g. `priority = 10; ip = \"192.0.2.0/24\"; apply { … }`",
            );
        }
    }
}
