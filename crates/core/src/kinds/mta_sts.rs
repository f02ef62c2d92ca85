//! MTA-STS policies (`mta_sts`, one row per domain), as mailcow's `mailbox('add'|'edit',
//! 'mta_sts')` writes them: version lowercase, `mx` the list joined with `,` (whitespace removed,
//! as written otherwise), `max_age` as text, and an `id` (`YmdHis`) that changes only when the
//! policy does, since senders refetch the policy when the `_mta-sts` TXT record's id changes.

use super::export::{Export, loc, some_if};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::{TEXT_LIMIT, Validator};
use crate::model::names::{self, normalize_domain};
use crate::model::{Document, Kind, MTA_STS_MAX_AGE, MtaSts, MtaStsMode};
use crate::record::{Record, Value};

const MTA_STS_ROWS: Query = Query { from: "mta_sts", columns: &["id", "domain", "version", "mode", "mx", "max_age", "active"], kept: false };

/// The default `max_age`: a week, as RFC 8461 suggests (weeks or more) and mailcow's examples use.
const DEFAULT_MAX_AGE: u32 = 604_800;

pub const MTA_STS: KindSpec = KindSpec {
    kind: Kind::MtaSts,
    warn: super::no_check,
    queries: &[&MTA_STS_ROWS],
    hashes: &[],
    strings: &[],
    count: |d| d.domains.iter().filter(|d| d.mta_sts.is_some()).count(),
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

/// The policy fields whose change gives the policy a new id (mailcow's edit compares these).
const POLICY_FIELDS: [&str; 4] = ["version", "mode", "mx", "max_age"];

fn mx_list(p: &MtaSts) -> String {
    p.mx.iter().map(|m| m.split_whitespace().collect::<String>()).collect::<Vec<_>>().join(",")
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for d in r.docs.iter().flat_map(|doc| doc.domains.iter()) {
        let (Some(p), Ok(name)) = (&d.mta_sts, normalize_domain(&d.name)) else { continue };
        out.records.push(
            Record::new(Kind::MtaSts, name)
                .with("version", Value::text(p.version.as_ref().map_or("stsv1".to_string(), |v| v.to_lowercase())))
                .with("mode", Value::text(p.mode.mailcow()))
                .with("mx", Value::text(mx_list(p)))
                .with("max_age", Value::text(p.max_age.as_ref().map_or(DEFAULT_MAX_AGE, |a| a.value).to_string()))
                .with("active", Value::Bool(p.active.unwrap_or(true))),
        );
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&MTA_STS_ROWS) {
        out.push(
            Record::new(Kind::MtaSts, row.s("domain"))
                .with("version", Value::text(row.s("version")))
                .with("mode", Value::text(row.s("mode")))
                .with("mx", Value::text(row.s("mx")))
                .with("max_age", Value::text(row.s("max_age")))
                .with("active", Value::Bool(bool_of(row.col("active"))))
                // Not declared, so never compared: kept for the TXT record and for edits that
                // leave the policy as it is.
                .with("id", Value::text(row.s("id"))),
        );
    }
}

/// mailcow's `date('YmdHis')`.
fn new_id(now: &str) -> String {
    now.chars().filter(char::is_ascii_digit).collect()
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let d = &c.key;
    match (c.action, &c.desired) {
        (Action::Create, Some(r)) => out.sql(
            "INSERT INTO mta_sts (id, domain, version, mode, mx, max_age, active) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![t(&new_id(&ctx.now)), t(d), t(r.text("version")), t(r.text("mode")), t(r.text("mx")), t(r.text("max_age")), b(r.flag("active"))],
        ),
        (Action::Update, Some(r)) => {
            let changed = c.fields.iter().any(|f| POLICY_FIELDS.contains(&f.field));
            let id = match &c.live {
                Some(l) if !changed => l.text("id").to_string(),
                _ => new_id(&ctx.now),
            };
            out.sql(
                "UPDATE mta_sts SET id = ?, version = ?, mode = ?, mx = ?, max_age = ?, active = ? WHERE domain = ?",
                vec![t(&id), t(r.text("version")), t(r.text("mode")), t(r.text("mx")), t(r.text("max_age")), b(r.flag("active")), t(d)],
            );
        }
        _ => out.sql("DELETE FROM mta_sts WHERE domain = ?", vec![t(d)]),
    }
    Ok(())
}

fn export(x: &mut Export, r: &Record) {
    let Some(d) = x.domain(r, "MTA-STS policy") else { return };
    let max_age: u32 = r.text("max_age").parse().unwrap_or(DEFAULT_MAX_AGE);
    d.mta_sts = Some(loc(MtaSts {
        mode: MtaStsMode::from_mailcow(r.text("mode")).unwrap_or(MtaStsMode::None),
        mx: loc(r.text("mx").split(',').filter(|m| !m.is_empty()).map(|m| loc(m.to_string())).collect()),
        max_age: some_if(max_age != DEFAULT_MAX_AGE, loc(max_age)),
        version: None,
        active: some_if(!r.flag("active"), false),
    }));
}

/// mailcow's rules for the policy (`mailbox('add', 'mta_sts')`).
fn validate(v: &mut Validator, file: usize, doc: &Document) {
    for d in &doc.domains {
        let Some(p) = &d.mta_sts else { continue };
        if let Some(version) = p.version.as_ref().filter(|x| !x.eq_ignore_ascii_case("stsv1")) {
            v.error_help("mta-sts", file, version.at, format!("`{}` is not an MTA-STS version", names::printable(version)), "write `STSv1`, or leave it out");
        }
        if let Some(age) = p.max_age.as_ref().filter(|a| a.value < 1 || a.value > MTA_STS_MAX_AGE) {
            v.error_help(
                "mta-sts",
                file,
                age.at,
                format!("max_age {} is out of range", age.value),
                format!("give seconds from 1 to {MTA_STS_MAX_AGE} (a year)"),
            );
        }
        if p.mx.is_empty() {
            v.error_help(
                "mta-sts",
                file,
                p.mx.at,
                "the MTA-STS policy lists no MX host",
                "list the host names senders may deliver to, e.g. `mail.example.org`",
            );
        }
        for m in p.mx.iter() {
            let host = m.trim().to_ascii_lowercase();
            let plain = host.strip_prefix("*.").unwrap_or(&host);
            if plain.contains('*') || normalize_domain(plain).is_err() || m.trim().chars().any(char::is_whitespace) {
                v.error_help(
                    "mta-sts",
                    file,
                    m.at,
                    format!("`{}` is not an MX host name", names::printable(m)),
                    "write a host name, or `*.` and a domain for any host one level below it",
                );
            }
        }
        let stored = mx_list(p);
        if stored.chars().count() > TEXT_LIMIT {
            v.error_help(
                "text-too-long",
                file,
                p.mx.at,
                format!("the MX hosts add up to {} characters; mailcow stores at most {TEXT_LIMIT}", stored.chars().count()),
                "list fewer hosts, or use `*.` patterns",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Located;

    #[test]
    fn the_id_is_mailcows_timestamp() {
        assert_eq!(new_id("2026-12-03 19:15:37"), "20261203191537");
    }

    #[test]
    fn mx_hosts_are_joined_without_whitespace() {
        let p = MtaSts {
            mode: MtaStsMode::Enforce,
            mx: Located::new(vec![Located::new("mail.example.org".into()), Located::new(" *.mx.example.org ".into())]),
            max_age: None,
            version: None,
            active: None,
        };
        assert_eq!(mx_list(&p), "mail.example.org,*.mx.example.org");
    }
}
