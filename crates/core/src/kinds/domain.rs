//! Domains and alias domains: `domain`, `tags_domain`, `alias_domain`; Redis DOMAIN_MAP and RL_VALUE.

use super::export::{Export, loc, rate, size, some_if, text};
use super::{Desired, KindSpec, Output, Resolver, WriteCtx, WriteError, b, bool_of, t};
use crate::change::{Action, Change};
use crate::live::{LiveData, Query};
use crate::load::validate::*;
use crate::model::names;
use crate::model::names::normalize_domain;
use crate::model::{AliasDomain, Domain, DomainLimits, Kind, Size, defaults};
use crate::model::{DomainSettings, Located, Secret};
use crate::record::{Record, Value};
use crate::sql::Arg;
use foldhash::HashSet;

const MIB: u64 = 1024 * 1024;

pub const DOMAINS: Query = Query {
    from: "domain",
    columns: &[
        "domain",
        "description",
        "aliases",
        "mailboxes",
        "defquota",
        "maxquota",
        "quota",
        "relayhost",
        "backupmx",
        "gal",
        "relay_all_recipients",
        "relay_unknown_only",
        "active",
    ],
    kept: false,
};
const TAGS_DOMAIN: Query = Query { from: "tags_domain", columns: &["domain", "tag_name"], kept: false };
const ALIAS_DOMAINS: Query = Query { from: "alias_domain", columns: &["alias_domain", "target_domain", "active"], kept: false };

pub const DOMAIN: KindSpec = KindSpec {
    kind: Kind::Domain,
    warn: super::no_check,
    queries: &[&DOMAINS, &TAGS_DOMAIN, &super::routing::RELAYHOSTS],
    hashes: &["DOMAIN_MAP", "RL_VALUE"],
    strings: &[],
    count: |d| d.domains.len(),
    desired: desired_domains,
    live: live_domains,
    write,
    export: |x, r| {
        x.domains.insert(r.key.clone(), domain(r));
    },
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: true,
    check: |f| check_limits(f.desired, f.live, f.changes),
    validate: |v, file, doc| doc.domains.iter().for_each(|d| check_domain(v, file, d)),
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

pub const ALIAS_DOMAIN: KindSpec = KindSpec {
    kind: Kind::AliasDomain,
    warn: super::no_check,
    queries: &[&ALIAS_DOMAINS],
    hashes: &["DOMAIN_MAP", "RL_VALUE"],
    strings: &[],
    count: |d| d.domains.iter().map(|d| d.alias_domains.len()).sum(),
    desired: desired_alias_domains,
    live: live_alias_domains,
    write,
    export: export_alias_domain,
    disabled: super::flag_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: super::no_rules,
    domain_of: |r| Some(r.text("target_domain")),
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn desired_domains(r: &mut Resolver, out: &mut Desired) {
    for doc in &r.docs {
        for d in &doc.domains {
            let Ok(name) = normalize_domain(&d.name) else { continue };
            // A declared `Default` template stands in for mailcow's built-in one.
            let tname = d.template.as_ref().map_or("Default", |t| t.as_str());
            let template = r.docs.iter().flat_map(|doc| doc.domain_templates.iter()).find(|x| x.name.value == tname);
            let s = d.settings().effective(template.map(|t| t.settings()).as_ref());
            let limits = s.limits.clone().unwrap_or_default();
            let size = |v: &Option<crate::model::Located<Size>>| Value::Size(v.as_ref().map(|x| x.value.mib() * MIB).unwrap_or(0));
            let mut tags = s.tags.clone().unwrap_or_default();
            tags.sort();
            tags.dedup();
            let rec = Record::new(Kind::Domain, &name)
                .with("description", Value::text(d.description.as_ref().map_or_else(|| name.clone(), |x| x.value.clone())))
                .with("max_aliases", Value::Int(limits.max_aliases.as_ref().map_or(0, |x| x.value as i64)))
                .with("max_mailboxes", Value::Int(limits.max_mailboxes.as_ref().map_or(0, |x| x.value as i64)))
                .with("default_mailbox_quota", size(&limits.default_mailbox_quota))
                .with("max_mailbox_quota", size(&limits.max_mailbox_quota))
                .with("domain_quota", size(&limits.domain_quota))
                .with("relay_host", Value::text(r.relay_hostname(&d.relay_host)))
                .with("backup_mx", Value::Bool(s.backup_mx.unwrap_or(false)))
                .with("relay_all_recipients", Value::Bool(s.relay_all_recipients.unwrap_or(false)))
                .with("relay_unknown_only", Value::Bool(s.relay_unknown_only.unwrap_or(false)))
                .with("gal", Value::Bool(s.gal.unwrap_or(true)))
                .with("active", Value::Bool(s.active.unwrap_or(true)))
                .with("tags", Value::List(tags.into()))
                .with("rate_limit", Value::text(s.rate_limit.as_ref().map(|r| r.redis_value()).unwrap_or_default()))
                .with("in_domain_map", Value::Bool(true));
            out.records.push(rec);
        }
    }
}

fn desired_alias_domains(r: &mut Resolver, out: &mut Desired) {
    for d in r.docs.iter().flat_map(|doc| doc.domains.iter()) {
        let Ok(name) = normalize_domain(&d.name) else { continue };
        for ad in &d.alias_domains {
            let Ok(adn) = normalize_domain(&ad.name) else { continue };
            out.records.push(
                Record::new(Kind::AliasDomain, adn)
                    .with("target_domain", Value::text(&name))
                    .with("active", Value::Bool(ad.active.unwrap_or(true)))
                    .with("rate_limit", Value::text(ad.rate_limit.as_ref().map(|r| r.redis_value()).unwrap_or_default()))
                    .with("in_domain_map", Value::Bool(true)),
            );
        }
    }
}

fn live_domains(l: &LiveData, out: &mut Vec<Record>) {
    let mut tags: foldhash::HashMap<&str, Vec<String>> = Default::default();
    for row in l.rows(&TAGS_DOMAIN) {
        tags.entry(row.s("domain")).or_default().push(row.s("tag_name").to_string());
    }
    for row in l.rows(&DOMAINS) {
        let name = row.s("domain");
        let mut tag_list = tags.remove(name).unwrap_or_default();
        tag_list.sort();
        let mib = |i| Value::Size(row.u(i) * MIB);
        out.push(
            Record::new(Kind::Domain, name)
                .with("description", Value::text(row.s("description")))
                .with("max_aliases", Value::Int(row.i("aliases")))
                .with("max_mailboxes", Value::Int(row.i("mailboxes")))
                .with("default_mailbox_quota", mib("defquota"))
                .with("max_mailbox_quota", mib("maxquota"))
                .with("domain_quota", mib("quota"))
                .with("relay_host", Value::text(super::routing::relay_hostname(l, row.s("relayhost"))))
                .with("backup_mx", Value::Bool(bool_of(row.col("backupmx"))))
                .with("relay_all_recipients", Value::Bool(bool_of(row.col("relay_all_recipients"))))
                .with("relay_unknown_only", Value::Bool(bool_of(row.col("relay_unknown_only"))))
                .with("gal", Value::Bool(bool_of(row.col("gal"))))
                .with("active", Value::Bool(bool_of(row.col("active"))))
                .with("tags", Value::List(tag_list.into()))
                .with("rate_limit", Value::text(l.rate_limit(name)))
                .with("in_domain_map", Value::Bool(l.kv_has("DOMAIN_MAP", name))),
        );
    }
}

fn live_alias_domains(l: &LiveData, out: &mut Vec<Record>) {
    for row in l.rows(&ALIAS_DOMAINS) {
        let name = row.s("alias_domain");
        out.push(
            Record::new(Kind::AliasDomain, name)
                .with("target_domain", Value::text(row.s("target_domain")))
                .with("active", Value::Bool(bool_of(row.col("active"))))
                .with("rate_limit", Value::text(l.rate_limit(name)))
                .with("in_domain_map", Value::Bool(l.kv_has("DOMAIN_MAP", name))),
        );
    }
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    if c.kind == Kind::AliasDomain {
        return write_alias_domain(c, out);
    }
    let d = &c.key;
    match c.action {
        Action::Create | Action::Update => {
            let r = c.desired.as_ref().expect("create/update has a desired record");
            let mib = |f| Arg::Int(r.int(f) / MIB as i64);
            let cols: Vec<Arg> = vec![
                t(r.text("description")),
                Arg::Int(r.int("max_aliases")),
                Arg::Int(r.int("max_mailboxes")),
                mib("default_mailbox_quota"),
                mib("max_mailbox_quota"),
                mib("domain_quota"),
                t(&ctx.relay_id(r.text("relay_host"))),
                b(r.flag("backup_mx")),
                b(r.flag("gal")),
                b(r.flag("relay_all_recipients")),
                b(r.flag("relay_unknown_only")),
                b(r.flag("active")),
            ];
            let mut args = cols;
            args.push(t(d));
            if c.action == Action::Create {
                // mailcow drops external send-as grants for a domain that becomes local.
                out.sql("DELETE FROM sender_acl WHERE external = 1 AND send_as LIKE ?", vec![t(&format!("%@{d}"))]);
                out.sql(
                    "INSERT INTO domain (description, aliases, mailboxes, defquota, maxquota, quota, relayhost, backupmx, gal, \
                     relay_all_recipients, relay_unknown_only, active, domain, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    {
                        args.push(t(&ctx.now));
                        args
                    },
                );
            } else {
                out.sql(
                    "UPDATE domain SET description = ?, aliases = ?, mailboxes = ?, defquota = ?, maxquota = ?, quota = ?, relayhost = ?, \
                     backupmx = ?, gal = ?, relay_all_recipients = ?, relay_unknown_only = ?, active = ?, modified = ? WHERE domain = ?",
                    {
                        let dom = args.pop().unwrap();
                        args.push(t(&ctx.now));
                        args.push(dom);
                        args
                    },
                );
                out.sql("DELETE FROM tags_domain WHERE domain = ?", vec![t(d)]);
                out.effects.insert(super::Effect::SogoRebuild);
            }
            for tag in r.list("tags") {
                out.sql("INSERT INTO tags_domain (tag_name, domain) VALUES (?, ?)", vec![t(&tag), t(d)]);
            }
            out.hset("DOMAIN_MAP", d, "1");
            out.rate_limit(d, r.text("rate_limit"));
        }
        Action::Delete => {
            let like = format!("%@{d}");
            for (sql, arg) in [
                ("DELETE FROM domain WHERE domain = ?", t(d)),
                ("DELETE FROM alias WHERE domain = ?", t(d)),
                ("DELETE FROM alias_domain WHERE target_domain = ?", t(d)),
                ("DELETE FROM mailbox WHERE domain = ?", t(d)),
                ("DELETE FROM sender_acl WHERE logged_in_as LIKE ?", t(&like)),
                ("DELETE FROM quota2 WHERE username LIKE ?", t(&like)),
                ("DELETE FROM quota2replica WHERE username LIKE ?", t(&like)),
                ("DELETE FROM pushover WHERE username LIKE ?", t(&like)),
                ("DELETE FROM spamalias WHERE address LIKE ?", t(&like)),
                ("DELETE FROM filterconf WHERE object = ?", t(d)),
                ("DELETE FROM bcc_maps WHERE local_dest = ?", t(d)),
                ("DELETE FROM tags_domain WHERE domain = ?", t(d)),
            ] {
                out.sql(sql, vec![arg]);
            }
            if ctx.dialect == crate::sql::Dialect::MySql {
                out.sql("DELETE FROM domain_admins WHERE domain = ?", vec![t(d)]);
            }
            out.sql("DELETE FROM mta_sts WHERE domain = ?", vec![t(d)]);
            out.hdel("DOMAIN_MAP", d);
            out.hdel("RL_VALUE", d);
            out.effects.insert(super::Effect::SogoRebuild);
        }
    }
    Ok(())
}

fn write_alias_domain(c: &Change, out: &mut Output) -> Result<(), WriteError> {
    let ad = &c.key;
    match c.action {
        Action::Create => {
            let r = c.desired.as_ref().expect("desired");
            out.sql(
                "INSERT INTO alias_domain (alias_domain, target_domain, active, created) VALUES (?, ?, ?, ?)",
                vec![t(ad), t(r.text("target_domain")), b(r.flag("active")), t(&crate::sql::now_utc())],
            );
            out.hset("DOMAIN_MAP", ad, "1");
            out.rate_limit(ad, r.text("rate_limit"));
        }
        Action::Update => {
            let r = c.desired.as_ref().expect("desired");
            out.sql(
                "UPDATE alias_domain SET target_domain = ?, active = ? WHERE alias_domain = ?",
                vec![t(r.text("target_domain")), b(r.flag("active")), t(ad)],
            );
            out.hset("DOMAIN_MAP", ad, "1");
            out.rate_limit(ad, r.text("rate_limit"));
        }
        Action::Delete => {
            out.sql("DELETE FROM alias_domain WHERE alias_domain = ?", vec![t(ad)]);
            out.sql("DELETE FROM alias WHERE domain = ?", vec![t(ad)]);
            out.sql("DELETE FROM spamalias WHERE address LIKE ?", vec![t(&format!("%@{ad}"))]);
            out.sql("DELETE FROM bcc_maps WHERE local_dest = ?", vec![t(ad)]);
            out.hdel("DOMAIN_MAP", ad);
            out.hdel("RL_VALUE", ad);
        }
    }
    out.effects.insert(super::Effect::SogoRebuild);
    Ok(())
}

/// mailcow refuses a mailbox or alias that overfills its domain, counting what is already on the
/// server. The same check over the state after this plan: (desired ∪ live kept) per touched domain.
fn check_limits<'a>(desired: &'a [Record], live: &'a [Record], changes: &'a [Change]) -> Vec<String> {
    use foldhash::{HashMap, HashMapExt, HashSet};
    // Limits are checked for the domains a change adds to or changes: none, nothing to count.
    if !changes.iter().any(|c| c.action != Action::Delete && matches!(c.kind, Kind::Domain | Kind::Mailbox | Kind::Alias)) {
        return Vec::new();
    }
    let deleted: HashSet<(Kind, &str)> = changes.iter().filter(|c| c.action == Action::Delete).map(|c| (c.kind, c.key.as_str())).collect();
    let declared: HashSet<(Kind, &str)> = desired.iter().map(|r| (r.kind, r.key.as_str())).collect();
    let after: Vec<&Record> =
        desired.iter().chain(live.iter().filter(|r| !declared.contains(&(r.kind, r.key.as_str())) && !deleted.contains(&(r.kind, r.key.as_str())))).collect();
    let target_of: HashMap<&str, &str> = after.iter().filter(|r| r.kind == Kind::AliasDomain).map(|r| (r.key.as_str(), r.text("target_domain"))).collect();
    let owner = |addr: &'a str| -> &'a str {
        let d = crate::model::names::domain_of(addr);
        target_of.get(d).copied().unwrap_or(d)
    };
    let touched: HashSet<&str> = changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .filter_map(|c| match c.kind {
            Kind::Domain => Some(c.key.as_str()),
            Kind::Mailbox | Kind::Alias => Some(owner(&c.key)),
            _ => None,
        })
        .collect();
    // One pass over everything, not one per domain: a 1 % change touches most domains.
    let mut members: HashMap<&str, (Vec<&Record>, i64)> = HashMap::new();
    for r in after.iter().filter(|r| matches!(r.kind, Kind::Mailbox | Kind::Alias)) {
        let d = owner(&r.key);
        if let Some((mailboxes, aliases)) = touched.contains(&d).then(|| members.entry(d).or_default()) {
            if r.kind == Kind::Mailbox { mailboxes.push(r) } else { *aliases += 1 }
        }
    }
    let mut problems = Vec::new();
    for d in after.iter().filter(|r| r.kind == Kind::Domain && touched.contains(r.key.as_str())) {
        let (mailboxes, aliases) = members.remove(d.key.as_str()).unwrap_or_default();
        let (max_n, max_a) = (d.int("max_mailboxes"), d.int("max_aliases"));
        let (max_q, total_q) = (d.int("max_mailbox_quota"), d.int("domain_quota"));
        let sum: i64 = mailboxes.iter().map(|m| m.int("quota")).sum();
        if mailboxes.len() as i64 > max_n {
            problems.push(format!("domain {}: {} mailboxes (counting the server's undeclared ones) exceed its limit of {max_n}", d.key, mailboxes.len()));
        }
        if aliases > max_a {
            problems.push(format!("domain {}: {aliases} aliases (counting the server's undeclared ones) exceed its limit of {max_a}", d.key));
        }
        for m in mailboxes.iter().filter(|m| max_q > 0 && m.int("quota") > max_q) {
            problems.push(format!("mailbox {}: quota {} exceeds the domain's maximum {}", m.key, Size(m.int("quota") as u64), Size(max_q as u64)));
        }
        if total_q > 0 && sum > total_q {
            problems.push(format!("domain {}: mailbox quotas add up to {}, more than the domain quota {}", d.key, Size(sum as u64), Size(total_q as u64)));
        }
    }
    problems
}

fn domain(r: &Record) -> Domain {
    let d = defaults::domain_template();
    let dl = d.limits.clone().unwrap_or_default();
    let lim = DomainLimits {
        max_mailboxes: some_if(Some(r.int("max_mailboxes") as u32) != dl.max_mailboxes.as_ref().map(|x| x.value), loc(r.int("max_mailboxes") as u32)),
        max_aliases: some_if(Some(r.int("max_aliases") as u32) != dl.max_aliases.as_ref().map(|x| x.value), loc(r.int("max_aliases") as u32)),
        default_mailbox_quota: Some(loc(size(r, "default_mailbox_quota"))),
        max_mailbox_quota: Some(loc(size(r, "max_mailbox_quota"))),
        domain_quota: Some(loc(size(r, "domain_quota"))),
    };
    let tags = r.list("tags").to_vec();
    Domain {
        name: loc(r.key.clone()),
        description: text(r, "description").filter(|x| *x != r.key).map(loc),
        template: None,
        relay_host: text(r, "relay_host").map(loc),
        dkim_private_key: None,
        alias_domains: vec![],
        mailboxes: vec![],
        aliases: vec![],
        limits: Some(lim),
        active: some_if(!r.flag("active"), false),
        gal: some_if(!r.flag("gal"), false),
        backup_mx: some_if(r.flag("backup_mx"), true),
        relay_all_recipients: some_if(r.flag("relay_all_recipients"), true),
        relay_unknown_only: some_if(r.flag("relay_unknown_only"), true),
        rate_limit: rate(r, "rate_limit"),
        tags: some_if(!tags.is_empty(), tags),
        dkim_selector: None,
        dkim_key_size: None,
        mta_sts: None,
        footer: None,
        quota_warning_bcc: None,
        spam_policy: None,
        resources: Vec::new(),
    }
}

fn export_alias_domain(x: &mut Export, r: &Record) {
    match x.domains.get_mut(r.text("target_domain")) {
        Some(d) => {
            x.alias_target.insert(r.key.clone(), r.text("target_domain").to_string());
            d.alias_domains.push(AliasDomain {
                name: loc(r.key.clone()),
                active: some_if(!r.flag("active"), false),
                rate_limit: rate(r, "rate_limit"),
                dkim_selector: None,
                dkim_key_size: None,
            });
        }
        None => x.skipped.push(format!("alias domain {} (its target {} is not a domain)", r.key, r.text("target_domain"))),
    }
}

pub(crate) fn check_domain(val: &mut Validator, file: usize, d: &Domain) {
    let Ok(name) = normalize_domain(&d.name) else { return };
    if val.domains.get(&name).map(|(f, x)| (*f, std::ptr::eq(*x, d))) != Some((file, true)) {
        return; // a duplicate, already reported
    }
    if let Some(host) = val.l.settings.as_ref().and_then(|(_, s)| s.mailcow_hostname.as_deref())
        && normalize_domain(host).ok().as_deref() == Some(name.as_str())
    {
        val.error("domain-is-hostname", file, d.name.at, format!("`{name}` is the server's own hostname and cannot be a mail domain"));
    }
    let s = domain_settings(val, file, d);
    val.check_tags(file, d.name.at, d.tags.as_deref());
    if let Some(desc) = &d.description {
        val.check_text(file, desc, &format!("domain `{name}`: the description"), TEXT_LIMIT);
    }
    val.check_limits(file, d.limits.as_ref());
    val.check_dkim(file, d.dkim_selector.as_ref(), d.dkim_key_size.as_ref());
    for ad in &d.alias_domains {
        val.check_dkim(file, ad.dkim_selector.as_ref(), ad.dkim_key_size.as_ref());
    }
    if let Some(k) = &d.dkim_private_key {
        check_dkim_key(val, file, k, &name);
    }
    if let Some(r) = &d.relay_host {
        val.relay_host_exists(file, r);
    }
    let own = d.limits.clone().unwrap_or_default();
    let lim = s.limits.clone().unwrap_or_default();
    let at_own = |f: &Option<Located<Size>>| f.as_ref().map(|x| x.at).unwrap_or(d.name.at);
    let def = lim.default_mailbox_quota.as_ref().map(|x| x.value).unwrap_or_default();
    let max = lim.max_mailbox_quota.as_ref().map(|x| x.value).unwrap_or_default();
    let total = lim.domain_quota.as_ref().map(|x| x.value).unwrap_or_default();
    if def.is_unlimited() {
        val.error("quota-order", file, at_own(&own.default_mailbox_quota), format!("domain `{name}`: the default mailbox quota cannot be unlimited"));
    }
    if max.is_unlimited() {
        val.error("quota-order", file, at_own(&own.max_mailbox_quota), format!("domain `{name}`: the maximum mailbox quota cannot be unlimited"));
    }
    if total.is_unlimited() {
        val.error("quota-order", file, at_own(&own.domain_quota), format!("domain `{name}`: the domain quota cannot be unlimited"));
    }
    if def > max && !max.is_unlimited() {
        val.error_help(
            "quota-order",
            file,
            at_own(&own.default_mailbox_quota),
            format!("domain `{name}`: default mailbox quota {def} exceeds the maximum mailbox quota {max}"),
            "the default must be at most the maximum, which must be at most the domain quota",
        );
    }
    if max > total && !total.is_unlimited() {
        val.error_help(
            "quota-order",
            file,
            at_own(&own.max_mailbox_quota),
            format!("domain `{name}`: maximum mailbox quota {max} exceeds the domain quota {total}"),
            "the default must be at most the maximum, which must be at most the domain quota",
        );
    }
    let backup = s.backup_mx.unwrap_or(false);
    let all = s.relay_all_recipients.unwrap_or(false);
    if all && !backup {
        val.error_help("relay-flags", file, d.name.at, format!("domain `{name}`: relay_all_recipients needs backup_mx"), "set `backup_mx: true` as well");
    }
    if s.relay_unknown_only.unwrap_or(false) && !all {
        val.error_help(
            "relay-flags",
            file,
            d.name.at,
            format!("domain `{name}`: relay_unknown_only needs relay_all_recipients"),
            "set `backup_mx: true` and `relay_all_recipients: true` as well",
        );
    }
    for ad in &d.alias_domains {
        if let Ok(adn) = normalize_domain(&ad.name) {
            if adn == name {
                val.error("alias-domain", file, ad.name.at, format!("alias domain `{adn}` cannot point at itself"));
            }
            if backup {
                val.error("alias-domain", file, ad.name.at, format!("`{name}` is a backup MX (relay) domain and cannot have alias domains"));
            }
        }
    }

    let mut quota_sum = Size(0);
    let mut counted = 0u32;
    let mut longest_local = 0;
    for m in &d.mailboxes {
        let lp = m.local_part.trim().to_lowercase();
        let addr = names::address(&lp, &name);
        if !matches!(val.mailboxes.get(&addr), Some((f, x, _)) if *f == file && std::ptr::eq(*x, m)) {
            continue;
        }
        counted += 1;
        longest_local = longest_local.max(lp.len());
        let q = super::mailbox::check_mailbox(val, file, m, &addr, max);
        quota_sum = Size(quota_sum.0.saturating_add(q.0));
    }
    if let Some(maxn) = lim.max_mailboxes.as_ref().map(|x| x.value)
        && counted > maxn
    {
        let at = own.max_mailboxes.as_ref().map(|x| x.at).unwrap_or(d.name.at);
        val.error_help(
            "limit-exceeded",
            file,
            at,
            format!("domain `{name}` declares {counted} mailboxes but allows at most {maxn}"),
            "raise `limits.max_mailboxes` or remove mailboxes",
        );
    }
    if !total.is_unlimited() && quota_sum > total {
        val.error_help(
            "quota-exceeded",
            file,
            at_own(&own.domain_quota),
            format!("domain `{name}`: its mailboxes' quotas add up to {quota_sum}, more than the domain quota {total}"),
            "raise `limits.domain_quota` or lower mailbox quotas",
        );
    }
    let local: HashSet<String> = std::iter::once(name.clone()).chain(val.alias_domains_of.get(&name).into_iter().flatten().cloned()).collect();
    let listed = local.iter().filter(|x| **x != name).map(|ad| longest_local + 2 + ad.len()).sum::<usize>().saturating_sub(1);
    if longest_local > 0 && listed > SOGO_LIST_LIMIT {
        val.error_help("text-too-long", file, d.name.at,
            format!("domain `{name}`: a mailbox's addresses in its {} alias domains add up to {listed} characters; mailcow's SOGo view keeps at most {SOGO_LIST_LIMIT}", local.len() - 1),
            "use fewer or shorter alias domains (or shorter local parts)");
    }
    for a in &d.aliases {
        super::alias::check_alias(val, file, a, Some((&name, &local)));
    }
    if let Some(maxa) = lim.max_aliases.as_ref().map(|x| x.value) {
        let n = val.aliases_per_domain.get(&name).copied().unwrap_or(0);
        if n > maxa {
            let at = own.max_aliases.as_ref().map(|x| x.at).unwrap_or(d.name.at);
            val.error_help(
                "limit-exceeded",
                file,
                at,
                format!("domain `{name}` has {n} aliases (its alias domains included) but allows at most {maxa}"),
                "raise `limits.max_aliases` or remove aliases",
            );
        }
    }
}

pub(crate) fn domain_settings(val: &mut Validator, file: usize, d: &Domain) -> DomainSettings {
    let name = d.template.as_ref().map_or("Default", |t| t.as_str());
    if let Some(t) = &d.template {
        val.template_exists(file, t, true);
    }
    d.settings().effective(val.domain_templates.get(name).map(|t| t.settings()).as_ref())
}

/// A DKIM key written in the file is checked now; references are read when planning.
pub(crate) fn check_dkim_key(val: &mut Validator, file: usize, k: &Located<Secret>, domain: &str) {
    if let Secret::Literal(pem) = &k.value
        && let Err(e) = crate::model::dkim_key::public_b64(pem)
    {
        val.error_help(
            "invalid-dkim",
            file,
            k.at,
            format!("domain `{domain}`: {e}"),
            "supply an RSA private key in PEM, `BEGIN PRIVATE KEY` (PKCS#8) or `BEGIN RSA PRIVATE KEY` (PKCS#1)",
        );
    }
}
