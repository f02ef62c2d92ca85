//! Domain-wide footers (`domain_wide_footer`, one row per domain), as mailcow's
//! `mailbox('edit', 'domain_wide_footer')` writes them: the row deleted and inserted again, the
//! excluded addresses and alias domains as two JSON lists (PHP's `json_encode`), the texts as given.

use serde_json::json;

use super::export::{Export, loc, some_if, text};
use super::template::php_json;
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::Validator;
use crate::model::names::{self, normalize_domain};
use crate::model::{Document, DomainFooter, Kind};
use crate::record::{Record, Value};

const FOOTERS: Query =
    Query { from: "domain_wide_footer", columns: &["domain", "html", "plain", "mbox_exclude", "alias_domain_exclude", "skip_replies"], kept: false };

pub const DOMAIN_FOOTER: KindSpec = KindSpec {
    kind: Kind::DomainFooter,
    warn: super::no_check,
    queries: &[&FOOTERS],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().filter(|d| d.footer.is_some()).count(),
    validate,
    desired,
    live,
    write,
    check: super::no_check,
    export,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    domain_of: super::own_key,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

/// The excluded mailboxes and aliases, and the excluded alias domains, each once, as written.
fn excludes(f: &DomainFooter) -> (Vec<String>, Vec<String>) {
    let (mut addresses, mut domains) = (Vec::new(), Vec::new());
    for e in &f.exclude {
        let e = e.trim().to_string();
        let list = if e.contains('@') { &mut addresses } else { &mut domains };
        if !list.contains(&e) {
            list.push(e);
        }
    }
    (addresses, domains)
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for d in r.docs.iter().flat_map(|doc| doc.domains.iter()) {
        let (Some(f), Ok(name)) = (&d.footer, normalize_domain(&d.name)) else { continue };
        let (addresses, domains) = excludes(f);
        let given = |x: &Option<crate::model::Located<String>>| Value::text(x.as_ref().map_or("", |x| x.as_str()));
        out.records.push(
            Record::new(Kind::DomainFooter, name)
                .with("html", given(&f.html))
                .with("plain", given(&f.plain))
                .with("mbox_exclude", Value::List(addresses.into()))
                .with("alias_domain_exclude", Value::List(domains.into()))
                .with("skip_replies", Value::Bool(f.skip_replies.unwrap_or(false))),
        );
    }
}

fn list(json: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(json).unwrap_or_default()
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&FOOTERS) {
        out.push(
            Record::new(Kind::DomainFooter, row.s("domain"))
                .with("html", Value::text(row.s("html")))
                .with("plain", Value::text(row.s("plain")))
                .with("mbox_exclude", Value::List(list(row.s("mbox_exclude")).into()))
                .with("alias_domain_exclude", Value::List(list(row.s("alias_domain_exclude")).into()))
                .with("skip_replies", Value::Bool(bool_of(row.col("skip_replies")))),
        );
    }
}

fn write(c: &Change, _ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let d = &c.key;
    out.sql("DELETE FROM domain_wide_footer WHERE domain = ?", vec![t(d)]);
    if let (Action::Create | Action::Update, Some(r)) = (c.action, &c.desired) {
        out.sql(
            "INSERT INTO domain_wide_footer (domain, html, plain, mbox_exclude, alias_domain_exclude, skip_replies) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                t(d),
                t(r.text("html")),
                t(r.text("plain")),
                t(&php_json(&json!(r.list("mbox_exclude")))),
                t(&php_json(&json!(r.list("alias_domain_exclude")))),
                b(r.flag("skip_replies")),
            ],
        );
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let Some(d) = x.domain(r, "footer") else { return };
    let exclude = r.list("mbox_exclude").into_iter().chain(r.list("alias_domain_exclude")).map(loc).collect();
    d.footer = Some(loc(DomainFooter {
        html: text(r, "html").map(loc),
        plain: text(r, "plain").map(loc),
        exclude,
        skip_replies: some_if(r.flag("skip_replies"), true),
    }));
}

/// mailcow keeps an excluded address only if it is a mailbox or an alias, and an excluded domain
/// only if it is an alias domain; mailplane refuses the others, naming them.
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    for f in doc.domains.iter().filter_map(|d| d.footer.as_ref()) {
        for e in &f.exclude {
            let x = e.trim();
            let known = if x.contains('@') {
                names::normalize_address(x).is_ok_and(|(l, d)| {
                    let a = names::address(&l, &d).to_lowercase();
                    v.mailboxes.contains_key(&a) || v.aliases.contains_key(&a)
                })
            } else {
                normalize_domain(x).is_ok_and(|d| v.alias_domains.contains_key(&d))
            };
            if !known {
                v.error_help(
                    "unknown-reference",
                    file,
                    e.at,
                    format!("footer: `{}` is not a declared mailbox, alias or alias domain", names::printable(x)),
                    "exclude mailboxes or aliases by address and alias domains by name, each declared in this directory",
                );
            }
        }
    }
}
