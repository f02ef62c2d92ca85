//! Any valid model written as YAML loads back equal (Located compares values, not places).

use mailplane::load::yaml;
use mailplane::model::*;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,8}"
}
fn domain() -> impl Strategy<Value = String> {
    (name(), prop::sample::select(vec!["org", "net", "example"])).prop_map(|(a, b)| format!("{a}.{b}"))
}
fn loc<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Located<T>> {
    s.prop_map(Located::new)
}
fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size(0)), (1u64..4096).prop_map(Size::from_mib), (1u64..64).prop_map(|g| Size(g << 30))]
}
fn rate() -> impl Strategy<Value = RateLimit> {
    (1u32..10_000, prop::sample::select(vec![Frame::Second, Frame::Minute, Frame::Hour, Frame::Day]))
        .prop_map(|(messages, frame)| RateLimit { messages, frame })
}
fn secret() -> impl Strategy<Value = Secret> {
    prop_oneof![
        "[A-Z_]{1,10}".prop_map(Secret::Env),
        "[a-z/]{1,12}".prop_map(|p| Secret::File(p.into())),
        Just(Secret::Literal("{SSHA256}+i0Gw/xnUwA/FBTq1XC9Esu8f/dbSw4rhY3Lhcw+vtxjCzdW".into())),
    ]
}
fn protocols() -> impl Strategy<Value = Vec<Protocol>> {
    prop::sample::subsequence(Protocol::ALL.to_vec(), 0..=7)
}
fn acl() -> impl Strategy<Value = MailboxAcl> {
    prop::collection::vec(prop::option::of(any::<bool>()), 15).prop_map(|f| MailboxAcl::from_flags(&f))
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (
        (loc(name()), prop::option::of("[A-Za-z ]{1,20}"), prop::option::of(loc(secret())), prop::option::of(loc(size()))),
        (
            prop::option::of(prop::sample::select(vec![MailboxState::Active, MailboxState::NoLogin, MailboxState::Inactive])),
            prop::option::of(protocols()),
            prop::option::of(any::<bool>()),
            prop::option::of(loc(rate())),
            prop::option::of(acl()),
            prop::option::of(prop::sample::select(vec![PasswordPolicy::Initial, PasswordPolicy::Enforce])),
        ),
    )
        .prop_map(|((local_part, name, password, quota), (state, protocols, tls, rate_limit, acl, password_policy))| Mailbox {
            local_part,
            name: name.map(Located::new),
            template: None,
            password,
            password_policy,
            authsource: None,
            relay_host: None,
            recovery_email: None,
            sender_acl: vec![],
            external_sender_acl: vec![],
            spam_policy: Some(Box::new(Located::new(SpamPolicy { allow: vec![Located::new("*@partner.example".into())], deny: vec![] }))),
            app_passwords: vec![AppPassword {
                name: Located::new("iPhone <Mail> & \"more\"".into()),
                password: Some(Located::new(Secret::Env("APP".into()))),
                password_policy,
                protocols: Some(vec![Located::new(Protocol::Imap)]),
                active: tls,
            }],
            sieve_filters: vec![SieveFilter {
                description: Located::new("Sort: \"news\" #1".into()),
                filter_type: Located::new(SieveFilterType::Postfilter),
                script: Located::new("require [\"fileinto\"];\nif header :contains \"List-Id\" \"x\" {\n  fileinto \"INBOX/News\";\n}\n".into()),
                active: tls,
            }],
            sync_jobs: vec![SyncJob {
                host: Located::new("imap.old.example".into()),
                port: Some(Located::new(993)),
                encryption: Some(SyncEncryption::Ssl),
                user: Located::new("user: 'x'".into()),
                password: Some(Located::new(Secret::File("pw/#1".into()))),
                interval_minutes: None,
                subfolder: Some(Located::new("Imported/2026".into())),
                exclude: Some(Located::new("(?i)spam|^\\[Gmail\\]".into())),
                max_age_days: Some(Located::new(365)),
                max_bytes_per_second: None,
                timeout_remote: None,
                timeout_local: Some(Located::new(900)),
                delete_duplicates: tls,
                delete_from_source: Some(false),
                delete_missing: None,
                automap: None,
                skip_cross_duplicates: tls,
                subscribe_all: None,
                dry_run: tls,
                custom_params: Some(Located::new("--skipemptyfolders --maxsize=52428800".into())),
                active: tls,
            }],
            pushover: tls.map(|on| {
                Box::new(Located::new(Pushover {
                    key: Some(Located::new(Secret::Env("PO_KEY".into()))),
                    token: None,
                    title: Some(Located::new("Mail: 'x'".into())),
                    text: Some(Located::new("{SUBJECT} from {SENDER}".into())),
                    senders: vec![Located::new("boss@example.org".into())],
                    senders_regex: Some(Located::new("/@example\\.org$/".into())),
                    evaluate_x_prio: Some(on),
                    only_x_prio: None,
                    sound: None,
                    active: Some(on),
                }))
            }),
            custom_attributes: tls.map(|_| Box::new(Located::new([("department".to_string(), "R&D: \"core\"".to_string())].into_iter().collect()))),
            spam_score: tls.map(|_| Box::new(Located::new(SpamScore { low: Located::new(6.5), high: Located::new(12.0) }))),
            quota,
            state,
            protocols,
            tls_enforce_in: tls,
            tls_enforce_out: None,
            quarantine_notification: Some(QuarantineNotification::Daily),
            quarantine_category: None,
            force_password_update: None,
            force_tfa: tls,
            rate_limit,
            tags: None,
            tagged_mail_handler: Some(TaggedMailHandler::Subfolder),
            acl,
        })
}

fn domain_strategy() -> impl Strategy<Value = Domain> {
    (loc(domain()), prop::collection::vec(mailbox(), 0..4), prop::option::of(loc(rate())), prop::option::of(loc(size())), prop::option::of(any::<bool>()))
        .prop_map(|(name, mailboxes, rate_limit, quota, active)| {
            let d = name.value.clone();
            Domain {
                name,
                description: Some(Located::new(format!("The {d} domain: \"quoted\", yes/no, #hash"))),
                template: None,
                relay_host: None,
                dkim_private_key: Some(Located::new(Secret::Env("DKIM".into()))),
                alias_domains: vec![AliasDomain {
                    name: Located::new(format!("alias-{d}")),
                    active,
                    rate_limit: None,
                    dkim_selector: Some("s1".into()),
                    dkim_key_size: None,
                }],
                aliases: vec![Alias {
                    address: Located::new(format!("info@{d}")),
                    goto: Located::new(vec![Located::new("discard".to_string())]),
                    public_comment: Some(Located::new("NO".into())),
                    private_comment: None,
                    sogo_visible: active,
                    internal: None,
                    sender_allowed: None,
                    active: None,
                }],
                mailboxes,
                resources: vec![Resource {
                    description: Located::new("Board Room #7: \"north\"".into()),
                    local_part: active.map(|_| Located::new("BoardRoom7".into())),
                    kind: Located::new(ResourceKind::Location),
                    multiple_bookings: Some(Located::new(-1)),
                    active,
                }],
                footer: Some(Located::new(DomainFooter {
                    html: Some(Located::new("<p class=\"f\">#1: yes/no</p>\n".into())),
                    plain: Some(Located::new("-- \n{d}: 'quoted', [x]".into())),
                    exclude: vec![Located::new(format!("info@{d}")), Located::new(format!("alias-{d}"))],
                    skip_replies: active,
                })),
                spam_policy: Some(Located::new(SpamPolicy { allow: vec![], deny: vec![Located::new(format!("*.{d}"))] })),
                quota_warning_bcc: Some(Located::new(QuotaWarningBcc { recipients: vec![Located::new(format!("postmaster@{d}"))], active })),
                mta_sts: Some(Located::new(MtaSts {
                    mode: MtaStsMode::Testing,
                    mx: Located::new(vec![Located::new(format!("mail.{d}")), Located::new("*.mx.example.net".into())]),
                    max_age: Some(Located::new(86400)),
                    version: None,
                    active,
                })),
                limits: Some(DomainLimits { domain_quota: quota, max_mailboxes: Some(Located::new(7)), ..Default::default() }),
                active,
                gal: None,
                backup_mx: None,
                relay_all_recipients: None,
                relay_unknown_only: None,
                rate_limit,
                tags: Some(vec!["on".into(), "1".into()]),
                dkim_selector: None,
                dkim_key_size: None,
            }
        })
}

fn document() -> impl Strategy<Value = Document> {
    (prop::collection::vec(domain_strategy(), 0..3), prop::option::of(loc(secret())), any::<bool>()).prop_map(|(domains, password, ldap)| Document {
        domains,
        relay_hosts: vec![RelayHost {
            name: Located::new("out".into()),
            hostname: Located::new("[smtp.example.net]:587".into()),
            username: Some("user:x".into()),
            password,
            active: Some(false),
        }],
        tls_policies: vec![TlsPolicy {
            destination: Located::new("gmail.com".into()),
            policy: TlsPolicyKind::DaneOnly,
            parameters: Some(Located::new("match=.google.com protocols=>=TLSv1.2".into())),
            active: None,
        }],
        bcc_maps: vec![BccMap { local_dest: Located::new("a.org".into()), bcc_dest: Located::new("b@c.org".into()), kind: BccType::Sender, active: None }],
        identity_provider: ldap.then(|| {
            Located::new(IdentityProvider::Ldap(LdapProvider {
                hosts: Located::new(vec![Located::new("ldap1".into())]),
                port: Some(Located::new(636)),
                use_ssl: Some(true),
                use_tls: None,
                ignore_ssl_errors: None,
                base_dn: Located::new("dc=x".into()),
                username_field: None,
                filter: Some(Located::new("(objectClass=*)".into())),
                attribute_field: Some("dept".into()),
                bind_dn: Located::new("cn=y".into()),
                bind_password: Some(Located::new(Secret::Env("LDAP".into()))),
                periodic_sync: Some(true),
                import_users: None,
                sync_interval: Some(Located::new(5)),
                login_provisioning: Some(false),
                mappings: vec![TemplateMapping { value: Located::new("IT".into()), template: Located::new("staff".into()) }],
                default_template: None,
            }))
        }),
        ..Default::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn any_valid_model_survives_yaml(doc in document()) {
        let text = yaml::to_string(&doc).unwrap();
        let back: Document = yaml::parse(&text, 0).map_err(|d| TestCaseError::fail(format!("{}\n{text}", d.message)))?;
        prop_assert_eq!(back, doc);
    }
}
