//! `export`: a live server → a desired-state directory that plans to no changes. This is how
//! an existing mailcow server is adopted.

use std::collections::BTreeMap;

use crate::model::*;
use std::collections::HashMap;

use crate::record::Record;

fn loc<T>(v: T) -> Located<T> {
    Located::new(v)
}
fn some_if<T>(cond: bool, v: T) -> Option<T> {
    cond.then_some(v)
}
fn text(r: &Record, f: &str) -> Option<String> {
    Some(r.text(f).to_string()).filter(|s| !s.is_empty())
}
fn size(r: &Record, f: &str) -> Size {
    Size(r.int(f) as u64)
}
fn rate(r: &Record, f: &str) -> Option<Located<RateLimit>> {
    RateLimit::parse_redis(r.text(f)).map(loc)
}
fn unescape(s: &str) -> String {
    s.replace("\\:", ":")
}
fn enum_from<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}
fn address_or_domain(s: &str) -> String {
    s.strip_prefix('@').unwrap_or(s).to_string()
}

/// What export writes: file name (relative) → document.
pub struct Exported {
    pub files: BTreeMap<String, Document>,
    pub skipped: Vec<String>,
}

/// `hashes`: username → stored password hash, given only with `--include-hashes`.
pub fn export(records: &[Record], hashes: Option<&HashMap<String, String>>) -> Exported {
    let of = |k: Kind| records.iter().filter(move |r| r.kind == k);
    let mut skipped = Vec::new();
    let mut domains: BTreeMap<String, Domain> = of(Kind::Domain).map(|r| (r.key.clone(), domain(r))).collect();
    let mut alias_target: BTreeMap<String, String> = BTreeMap::new();
    for r in of(Kind::AliasDomain) {
        match domains.get_mut(r.text("target_domain")) {
            Some(d) => {
                alias_target.insert(r.key.clone(), r.text("target_domain").to_string());
                d.alias_domains.push(AliasDomain {
                    name: loc(r.key.clone()),
                    active: some_if(!r.flag("active"), false),
                    rate_limit: rate(r, "rate_limit"),
                    dkim_selector: None,
                    dkim_key_size: None,
                });
            }
            None => skipped.push(format!("alias domain {} (its target {} is not a domain)", r.key, r.text("target_domain"))),
        }
    }
    for r in of(Kind::Mailbox) {
        let (local, dom) = r.key.rsplit_once('@').unwrap_or((&r.key, ""));
        match domains.get_mut(dom) {
            Some(d) => d.mailboxes.push(mailbox(r, local, hashes.and_then(|h| h.get(&r.key)))),
            None => skipped.push(format!("mailbox {} (domain {dom} does not exist)", r.key)),
        }
    }
    for r in of(Kind::Alias) {
        let dom = names::domain_of(&r.key).to_string();
        let owner = alias_target.get(&dom).cloned().unwrap_or(dom);
        match domains.get_mut(&owner) {
            Some(d) => d.aliases.push(alias(r)),
            None => skipped.push(format!("alias {} (its domain is not on this server)", r.key)),
        }
    }
    // A key under another selector or size than mailcow's default is written out, so that the
    // export says what the server has (a domain that declares nothing keeps its key anyway).
    for r in of(Kind::DkimKey) {
        let (selector, bits) = (r.text("selector"), r.int("key_size") as u32);
        let size = (bits != 0 && bits != 2048).then_some(bits);
        if let Some(d) = domains.get_mut(&r.key) {
            d.dkim_selector = (selector != "dkim").then(|| loc(selector.to_string()));
            d.dkim_key_size = size.map(loc);
        } else if let Some(ad) = domains.values_mut().flat_map(|d| d.alias_domains.iter_mut()).find(|a| a.name.value == r.key) {
            ad.dkim_selector = Some(loc(selector.to_string()));
            ad.dkim_key_size = size.map(loc);
        }
    }
    let mut files = BTreeMap::new();
    for (name, d) in domains {
        files.insert(format!("domains/{name}.yaml"), Document { domains: vec![d], ..Default::default() });
    }
    let routing = Document {
        relay_hosts: of(Kind::RelayHost).map(relay_host).collect(),
        transports: of(Kind::Transport).map(transport).collect(),
        tls_policies: of(Kind::TlsPolicy).map(tls_policy).collect(),
        forwarding_hosts: forwarding_hosts(of(Kind::ForwardingHost)),
        ..Default::default()
    };
    let maps = Document {
        bcc_maps: of(Kind::BccMap).map(bcc).collect(),
        recipient_maps: of(Kind::RecipientMap)
            .map(|r| RecipientMap {
                old: loc(address_or_domain(&r.key)),
                new: loc(address_or_domain(r.text("new_dest"))),
                active: some_if(!r.flag("active"), false),
            })
            .collect(),
        ..Default::default()
    };
    // mailcow's own `Default` templates stay unmanaged: mailplane's built-in copy of them applies.
    let templates = Document {
        domain_templates: of(Kind::DomainTemplate).filter(|r| r.key != "Default").map(domain_template).collect(),
        mailbox_templates: of(Kind::MailboxTemplate).filter(|r| r.key != "Default").map(mailbox_template).collect(),
        ..Default::default()
    };
    let identity = Document { identity_provider: of(Kind::IdentityProvider).next().and_then(identity_provider).map(loc), ..Default::default() };
    for (name, doc) in [("routing.yaml", routing), ("maps.yaml", maps), ("templates.yaml", templates), ("identity.yaml", identity)] {
        if doc != Document::default() {
            files.insert(name.to_string(), doc);
        }
    }
    Exported { files, skipped }
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
    }
}

fn mailbox(r: &Record, local: &str, hash: Option<&String>) -> Mailbox {
    use crate::kinds::mailbox::ACL_FIELDS;
    let def = defaults::mailbox_template();
    let def_acl = def.acl.clone().unwrap_or_default().flags();
    let acl_flags: Vec<Option<bool>> = ACL_FIELDS.iter().zip(def_acl).map(|(f, d)| some_if(Some(r.flag(f)) != d, r.flag(f))).collect();
    let acl = MailboxAcl::from_flags(&acl_flags);
    let protocols: Vec<Protocol> = Protocol::ALL.into_iter().filter(|p| r.flag(p.attribute())).collect();
    let authsource: AuthSource = enum_from(r.text("authsource")).unwrap_or_default();
    let tags = r.list("tags").to_vec();
    let state: MailboxState = enum_from(r.text("state")).unwrap_or(MailboxState::Active);
    Mailbox {
        local_part: loc(local.to_string()),
        name: text(r, "name").map(loc),
        template: None,
        password: hash.filter(|h| authsource == AuthSource::Mailcow && !h.is_empty()).map(|h| loc(Secret::Literal(h.clone()))),
        password_policy: None,
        authsource: some_if(authsource != AuthSource::Mailcow, loc(authsource)),
        relay_host: text(r, "relay_host").map(loc),
        recovery_email: text(r, "recovery_email").map(loc),
        sender_acl: r.list("sender_acl").iter().cloned().map(loc).collect(),
        external_sender_acl: r.list("external_sender_acl").iter().cloned().map(loc).collect(),
        quota: some_if(r.int("quota") != 0, loc(size(r, "quota"))),
        state: some_if(state != MailboxState::Active, state),
        protocols: some_if(protocols.len() != Protocol::ALL.len(), protocols),
        tls_enforce_in: some_if(r.flag("tls_enforce_in"), true),
        tls_enforce_out: some_if(r.flag("tls_enforce_out"), true),
        quarantine_notification: enum_from(r.text("quarantine_notification")).filter(|q| Some(*q) != def.quarantine_notification),
        quarantine_category: enum_from(r.text("quarantine_category")).filter(|q| Some(*q) != def.quarantine_category),
        force_password_update: some_if(r.flag("force_password_update"), true),
        force_tfa: some_if(r.flag("force_tfa"), true),
        rate_limit: rate(r, "rate_limit"),
        tags: some_if(!tags.is_empty(), tags),
        tagged_mail_handler: enum_from(r.text("tagged_mail_handler")).filter(|h| *h != TaggedMailHandler::None),
        acl: some_if(acl != MailboxAcl::default(), acl),
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

fn relay_host(r: &Record) -> RelayHost {
    RelayHost {
        name: loc(r.key.clone()),
        hostname: loc(r.key.clone()),
        username: text(r, "username").map(|u| loc(unescape(&u))),
        password: None,
        active: some_if(!r.flag("active"), false),
    }
}

fn transport(r: &Record) -> Transport {
    Transport {
        destination: loc(r.key.clone()),
        nexthop: loc(r.text("nexthop").to_string()),
        username: text(r, "username").map(|u| loc(unescape(&u))),
        password: None,
        mx_based: some_if(r.flag("mx_based"), true),
        active: some_if(!r.flag("active"), false),
    }
}

fn tls_policy(r: &Record) -> TlsPolicy {
    TlsPolicy {
        destination: loc(r.key.clone()),
        policy: TlsPolicyKind::from_mailcow(r.text("policy")).unwrap_or(TlsPolicyKind::May),
        parameters: text(r, "parameters").map(loc),
        active: some_if(!r.flag("active"), false),
    }
}

/// One entry per source as entered: a host name stands for all the addresses it resolved to.
fn forwarding_hosts<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<ForwardingHost> {
    let mut seen = std::collections::BTreeMap::new();
    for r in records {
        seen.entry(r.text("source").to_string()).or_insert(r.flag("filter_spam"));
    }
    seen.into_iter().map(|(host, filter)| ForwardingHost { host: loc(host), filter_spam: some_if(!filter, false) }).collect()
}

fn bcc(r: &Record) -> BccMap {
    let (local, kind) = r.key.rsplit_once(' ').unwrap_or((&r.key, "rcpt"));
    BccMap {
        local_dest: loc(address_or_domain(local)),
        bcc_dest: loc(r.text("bcc_dest").to_string()),
        kind: if kind == "sender" { BccType::Sender } else { BccType::Recipient },
        active: some_if(!r.flag("active"), false),
    }
}

fn template_rate(r: &Record) -> Option<Located<RateLimit>> {
    let frame = r.text("rl_frame").chars().next().and_then(Frame::from_letter)?;
    let messages: u32 = r.text("rl_value").parse().ok().filter(|n| *n > 0)?;
    Some(loc(RateLimit { messages, frame }))
}

fn int_flag(r: &Record, f: &str) -> Option<bool> {
    Some(r.int(f) != 0)
}

fn domain_template(r: &Record) -> DomainTemplate {
    DomainTemplate {
        name: loc(r.key.clone()),
        limits: Some(DomainLimits {
            max_mailboxes: Some(loc(r.int("max_num_mboxes_for_domain") as u32)),
            max_aliases: Some(loc(r.int("max_num_aliases_for_domain") as u32)),
            default_mailbox_quota: Some(loc(Size(r.int("def_quota_for_mbox") as u64))),
            max_mailbox_quota: Some(loc(Size(r.int("max_quota_for_mbox") as u64))),
            domain_quota: Some(loc(Size(r.int("max_quota_for_domain") as u64))),
        }),
        active: int_flag(r, "active"),
        gal: int_flag(r, "gal"),
        backup_mx: int_flag(r, "backupmx"),
        relay_all_recipients: int_flag(r, "relay_all_recipients"),
        relay_unknown_only: int_flag(r, "relay_unknown_only"),
        rate_limit: template_rate(r),
        tags: Some(r.list("tags").to_vec()),
        dkim_selector: Some(loc(r.text("dkim_selector").to_string())),
        dkim_key_size: Some(loc(r.int("key_size") as u32)),
    }
}

fn mailbox_template(r: &Record) -> MailboxTemplate {
    let protocols: Vec<Protocol> = Protocol::ALL.into_iter().filter(|p| r.int(p.attribute()) != 0).collect();
    let acl = MailboxAcl::from_flags(&crate::kinds::mailbox::ACL_FIELDS.iter().map(|f| int_flag(r, f)).collect::<Vec<_>>());
    MailboxTemplate {
        name: loc(r.key.clone()),
        quota: Some(loc(Size(r.int("quota") as u64))),
        state: Some(MailboxState::from_mailcow(r.int("active"))),
        protocols: Some(protocols),
        tls_enforce_in: int_flag(r, "tls_enforce_in"),
        tls_enforce_out: int_flag(r, "tls_enforce_out"),
        quarantine_notification: enum_from(r.text("quarantine_notification")),
        quarantine_category: enum_from(r.text("quarantine_category")),
        force_password_update: int_flag(r, "force_pw_update"),
        force_tfa: int_flag(r, "force_tfa"),
        rate_limit: template_rate(r),
        tags: Some(r.list("tags").to_vec()),
        tagged_mail_handler: enum_from(r.text("tagged_mail_handler")),
        acl: Some(acl),
    }
}

fn identity_provider(r: &Record) -> Option<IdentityProvider> {
    let s = |k: &str| loc(r.text(k).to_string());
    let b = |k: &str| some_if(r.text(k) == "1", true);
    let list = |k: &str| serde_json::from_str::<Vec<String>>(r.text(k)).unwrap_or_default();
    let mappings: Vec<TemplateMapping> =
        list("mappers").into_iter().zip(list("templates")).map(|(v, t)| TemplateMapping { value: loc(v), template: loc(t) }).collect();
    let interval = || r.text("sync_interval").parse().ok().filter(|n| *n != 15).map(loc);
    let default_template = text(r, "default_template").map(loc);
    Some(match r.text("authsource") {
        "ldap" => IdentityProvider::Ldap(LdapProvider {
            hosts: loc(r.text("host").split(',').filter(|h| !h.is_empty()).map(|h| loc(h.to_string())).collect()),
            port: r.text("port").parse().ok().filter(|p| *p != 389).map(loc),
            use_ssl: b("use_ssl"),
            use_tls: b("use_tls"),
            ignore_ssl_errors: b("ignore_ssl_error"),
            base_dn: s("basedn"),
            username_field: text(r, "username_field").filter(|u| u != "mail"),
            filter: text(r, "filter").map(loc),
            attribute_field: text(r, "attribute_field"),
            bind_dn: s("binddn"),
            bind_password: None,
            periodic_sync: b("periodic_sync"),
            import_users: b("import_users"),
            sync_interval: interval(),
            login_provisioning: b("login_provisioning"),
            mappings,
            default_template,
        }),
        "keycloak" => IdentityProvider::Keycloak(KeycloakProvider {
            server_url: s("server_url"),
            realm: s("realm"),
            client_id: s("client_id"),
            client_secret: None,
            redirect_url: s("redirect_url"),
            redirect_url_extra: list("redirect_url_extra").into_iter().map(loc).collect(),
            version: s("version"),
            mailpassword_flow: b("mailpassword_flow"),
            periodic_sync: b("periodic_sync"),
            import_users: b("import_users"),
            sync_interval: interval(),
            ignore_ssl_errors: b("ignore_ssl_error"),
            login_provisioning: b("login_provisioning"),
            mappings,
            default_template,
        }),
        "generic-oidc" => IdentityProvider::GenericOidc(OidcProvider {
            authorize_url: s("authorize_url"),
            token_url: s("token_url"),
            userinfo_url: s("userinfo_url"),
            client_id: s("client_id"),
            client_secret: None,
            redirect_url: s("redirect_url"),
            redirect_url_extra: list("redirect_url_extra").into_iter().map(loc).collect(),
            client_scopes: text(r, "client_scopes"),
            ignore_ssl_errors: b("ignore_ssl_error"),
            login_provisioning: b("login_provisioning"),
            mappings,
            default_template,
        }),
        _ => return None,
    })
}
