//! Aliases (`alias` rows other than mailbox self-aliases), with mailcow's `sender_acl` upkeep.

use super::export::{Export, loc, some_if, text};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, opt_text, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::*;
use crate::model::names;
use crate::model::names::normalize_address;
use crate::model::{Alias, Kind, SPECIAL_TARGETS};
use crate::record::{Record, Value};
use foldhash::HashSet;

pub const ALIASES: Query = Query {
    from: "alias",
    columns: &["id", "address", "goto", "domain", "public_comment", "private_comment", "sogo_visible", "internal", "sender_allowed", "active"],
    kept: false,
};

pub const ALIAS: KindSpec = KindSpec {
    kind: Kind::Alias,
    warn: super::no_check,
    queries: &[&ALIASES],
    hashes: &[],
    strings: &[],
    count: |d| d.aliases.len() + d.domains.iter().map(|d| d.aliases.len()).sum::<usize>(),
    desired,
    live,
    write,
    export,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: |v, file, doc| doc.aliases.iter().for_each(|a| check_alias(v, file, a, None)),
    domain_of: |r| Some(crate::model::names::domain_of(&r.key)),
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

/// `@domain` or `local@domain` with the domain normalised; the local part kept as written.
/// The stored form of a validated address or `@domain` (the text itself if it is neither).
fn stored(a: &str) -> String {
    names::normalize_address_or_domain(a).unwrap_or_else(|_| a.trim().to_string())
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for doc in &r.docs {
        let nested = doc.domains.iter().flat_map(|d| d.aliases.iter());
        for a in doc.aliases.iter().chain(nested) {
            let address = stored(&a.address);
            let mut goto: Vec<String> = Vec::new();
            for g in a.goto.iter() {
                let g = g.trim();
                let target = SPECIAL_TARGETS.iter().find(|(s, _)| *s == g).map(|(_, stored)| stored.to_string()).unwrap_or_else(|| stored(g));
                if !goto.contains(&target) {
                    goto.push(target);
                }
            }
            out.records.push(
                Record::new(Kind::Alias, address)
                    .with("goto", Value::text(goto.join(",")))
                    .with("public_comment", Value::text(a.public_comment.as_ref().map(|c| c.value.clone()).unwrap_or_default()))
                    .with("private_comment", Value::text(a.private_comment.as_ref().map(|c| c.value.clone()).unwrap_or_default()))
                    .with("sogo_visible", Value::Bool(a.sogo_visible.unwrap_or(true)))
                    .with("internal", Value::Bool(a.internal.unwrap_or(false)))
                    .with("sender_allowed", Value::Bool(a.sender_allowed.unwrap_or(true)))
                    .with("active", Value::Bool(a.active.unwrap_or(true))),
            );
        }
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&ALIASES) {
        if row.s("address") == row.s("goto") {
            continue; // a mailbox's self-alias belongs to the mailbox
        }
        out.push(
            Record::new(Kind::Alias, row.s("address"))
                .with("goto", Value::text(row.s("goto")))
                .with("public_comment", Value::text(row.s("public_comment")))
                .with("private_comment", Value::text(row.s("private_comment")))
                .with("sogo_visible", Value::Bool(bool_of(row.col("sogo_visible"))))
                .with("internal", Value::Bool(bool_of(row.col("internal"))))
                .with("sender_allowed", Value::Bool(bool_of(row.col("sender_allowed"))))
                .with("active", Value::Bool(row.i("active") != 0)),
        );
    }
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let a = c.key.as_str();
    match c.action {
        Action::Create | Action::Update => {
            let r = c.desired.as_ref().expect("desired");
            let domain = names::domain_of(a);
            let args = vec![
                t(r.text("goto")),
                opt_text(r.text("public_comment")),
                opt_text(r.text("private_comment")),
                b(r.flag("sogo_visible")),
                b(r.flag("internal")),
                b(r.flag("sender_allowed")),
                b(r.flag("active")),
            ];
            if c.action == Action::Create {
                let mut args = args;
                args.extend([t(domain), t(&ctx.now), t(a)]);
                out.sql(
                    "INSERT INTO alias (goto, public_comment, private_comment, sogo_visible, internal, sender_allowed, active, domain, created, address) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    args,
                );
            } else {
                let mut args = args;
                args.extend([t(&ctx.now), t(a)]);
                out.sql(
                    "UPDATE alias SET goto = ?, public_comment = ?, private_comment = ?, sogo_visible = ?, internal = ?, sender_allowed = ?, active = ?, modified = ? \
                     WHERE address = ?",
                    args,
                );
                // mailcow also drops the explicit send-as rows (sender_acl) the alias now
                // grants its targets. Those rows belong to the targets: a declared mailbox's
                // sender_acl is planned by the mailbox itself, an undeclared one is left alone,
                // so the plan says everything that changes (a redundant row grants nothing more).
            }
        }
        Action::Delete => {
            // Send-as rights to it belong to the mailboxes: declared ones keep what they declare,
            // others block the plan (plan::unlisted_removals), where mailcow deletes them.
            out.sql("DELETE FROM alias WHERE address = ?", vec![t(a)]);
        }
    }
    // The users whose SOGo alias list may change: the targets before and after.
    for r in [&c.live, &c.desired].into_iter().flatten() {
        for g in r.text("goto").split(',').filter(|g| g.contains('@')) {
            out.effects.insert(super::Effect::SogoRefresh(g.to_string()));
        }
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let dom = names::domain_of(&r.key).to_string();
    let owner = x.alias_target.get(&dom).cloned().unwrap_or(dom);
    match x.domains.get_mut(&owner) {
        Some(d) => d.aliases.push(alias(r)),
        None => x.skipped.push(format!("alias {} (its domain is not on this server)", r.key)),
    }
}

fn alias(r: &Record) -> Alias {
    let goto = r
        .text("goto")
        .split(',')
        .filter(|g| !g.is_empty())
        .map(|g| SPECIAL_TARGETS.iter().find(|(_, stored)| *stored == g).map_or(g.to_string(), |(name, _)| name.to_string()))
        .map(loc)
        .collect();
    Alias {
        address: loc(r.key.clone()),
        goto: loc(goto),
        public_comment: text(r, "public_comment").map(loc),
        private_comment: text(r, "private_comment").map(loc),
        sogo_visible: some_if(!r.flag("sogo_visible"), false),
        internal: some_if(r.flag("internal"), true),
        sender_allowed: some_if(!r.flag("sender_allowed"), false),
        active: some_if(!r.flag("active"), false),
    }
}

pub(crate) fn check_alias(val: &mut Validator, file: usize, a: &Alias, in_domain: Option<(&str, &HashSet<String>)>) {
    let Some(addr) = val.alias_address(file, &a.address) else { return };
    if !matches!(val.aliases.get(fold(&addr).as_ref()), Some((f, x)) if *f == file && std::ptr::eq(*x, a)) {
        return;
    }
    let domain = names::domain_of(&addr).to_string();
    match in_domain {
        Some((owner, local)) if !local.contains(&domain) => {
            val.error_help(
                "alias-domain-mismatch",
                file,
                a.address.at,
                format!("alias `{addr}` is declared under domain `{owner}` but its address is not in it or its alias domains"),
                "move it to the domain it belongs to, or to the top-level `aliases:`",
            );
        }
        None if !val.is_local_domain(&domain) => {
            val.error_help(
                "unknown-reference",
                file,
                a.address.at,
                format!("alias `{addr}`: `{domain}` is not a declared domain or alias domain"),
                "declare the domain, or fix the address",
            );
        }
        _ => {}
    }
    if let Some(target) = val.alias_domains.get(&domain) {
        let local = addr.split('@').next().unwrap_or("").to_lowercase();
        if !local.is_empty() && val.mailboxes.contains_key(&names::address(&local, target)) {
            val.error(
                "address-taken",
                file,
                a.address.at,
                format!("alias `{addr}` would hide mailbox `{local}@{target}`, which alias domain `{domain}` already delivers"),
            );
        }
    }
    if a.goto.is_empty() {
        val.error_help("empty-goto", file, a.goto.at, format!("alias `{addr}` has no targets"), "list at least one address, or `discard`");
    }
    let special = a.goto.iter().filter(|g| SPECIAL_TARGETS.iter().any(|(s, _)| *s == g.trim())).count();
    if special > 0 && a.goto.len() > 1 {
        val.error_help(
            "goto-special",
            file,
            a.goto.at,
            format!("alias `{addr}`: discard / learn-as-spam / learn-as-ham must be the only target"),
            "remove the other targets or the special one",
        );
    }
    for g in a.goto.iter() {
        let t = g.trim();
        if SPECIAL_TARGETS.iter().any(|(s, _)| *s == t) {
            continue;
        }
        match normalize_address(t) {
            Ok((l, d)) if names::address(&l, &d) == addr => {
                val.error("alias-self", file, g.at, format!("alias `{addr}` points at itself"));
            }
            Ok(_) => {}
            Err(e) => val.error_help(
                "invalid-address",
                file,
                g.at,
                format!("alias `{addr}`: {e}"),
                "targets are addresses, or one of discard, learn-as-spam, learn-as-ham",
            ),
        }
    }
    for c in [&a.public_comment, &a.private_comment].into_iter().flatten() {
        if c.chars().count() > COMMENT_LIMIT {
            val.error("comment-too-long", file, c.at, format!("alias `{addr}`: comments are limited to {COMMENT_LIMIT} characters"));
        }
    }
}
