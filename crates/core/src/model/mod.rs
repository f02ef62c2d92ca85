//! The desired state as written in YAML: typed, serialisable, with source spans. No I/O.

mod admin;
mod alias;
mod api;
mod app_password;
pub mod defaults;
pub mod dkim_key;
mod domain;
mod fail2ban;
mod footer;
mod idp;
mod located;
mod mailbox;
mod maps;
mod mta_sts;
pub mod names;
mod password_complexity;
mod pushover;
mod quota_warning;
mod resource;
mod routing;
mod secret;
mod server_settings;
mod services;
mod settings_macro;
mod settings_map;
mod sieve_filter;
mod spam;
mod sync_job;
mod units;

pub use admin::{Admin, DomainAdmin, DomainAdminAcl};
pub use alias::{Alias, SPECIAL_TARGETS};
pub use api::{ApiAccess, ApiKey, OAuthClient};
pub use app_password::AppPassword;
pub use domain::{AliasDomain, Domain, DomainLimits, DomainSettings, DomainTemplate};
pub use fail2ban::{F2bRegex, Fail2ban, MailcowDefaults};
pub use footer::DomainFooter;
pub use idp::{IdentityProvider, KeycloakProvider, LdapProvider, OidcProvider, TemplateMapping, template_for};
pub use located::{Located, Span};
pub use mailbox::{
    AuthSource, Mailbox, MailboxAcl, MailboxSettings, MailboxState, MailboxTemplate, PasswordPolicy, Protocol, QuarantineCategory, QuarantineNotification,
    TaggedMailHandler,
};
pub use maps::{BccMap, BccType, RecipientMap, TlsPolicy, TlsPolicyKind};
pub use mta_sts::{MTA_STS_MAX_AGE, MtaSts, MtaStsMode};
pub use password_complexity::PasswordComplexity;
pub use pushover::Pushover;
pub use quota_warning::QuotaWarningBcc;
pub use resource::{Resource, ResourceKind};
pub use routing::{ForwardingHost, RelayHost, Transport};
pub use secret::{Revealed, Secret, SecretError};
pub use server_settings::{AnnouncementType, AppLink, Cors, CorsMethod, PasswordResetMail, Quarantine, QuotaWarningMail, ReleaseFormat, Ui};
pub use services::{Content, DovecotFiles, FileName, Param, PostfixFiles, RSPAMD_PASSWORD_FILE, RspamdFiles, Services, is_rspamd_hash};
pub use settings_map::SettingsMap;
pub use sieve_filter::{SieveFilter, SieveFilterType};
pub use spam::{SpamPolicy, SpamScore};
pub use sync_job::{SyncEncryption, SyncJob};
pub use units::{Frame, RateLimit, Size};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One desired-state file. Any file may declare any kinds; the directory is their union.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Domains, each with its mailboxes, aliases and alias domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
    /// Aliases declared outside their domain's entry (full addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Alias>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc_maps: Vec<BccMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipient_maps: Vec<RecipientMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_policies: Vec<TlsPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relay_hosts: Vec<RelayHost>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<Transport>,
    /// Hosts allowed to forward mail here without spam checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarding_hosts: Vec<ForwardingHost>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_templates: Vec<DomainTemplate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mailbox_templates: Vec<MailboxTemplate>,
    /// The single identity provider (LDAP, Keycloak or generic OIDC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<Located<IdentityProvider>>,
    /// mailcow's password policy (`PASSWD_POLICY`), once per directory; mailplane checks the
    /// plaintext passwords it hashes against it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_complexity: Option<Located<PasswordComplexity>>,
    /// mailcow's quarantine settings (`Q_*`), once per directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<Located<Quarantine>>,
    /// The mail sent when a mailbox is nearly full (`QW_SENDER`, `QW_SUBJ`, `QW_HTML`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_warning_mail: Option<Located<QuotaWarningMail>>,
    /// The mail with a password-reset link (`PW_RESET_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reset_mail: Option<Located<PasswordResetMail>>,
    /// mailcow's Fail2ban options, allow/deny lists and log rules (`F2B_OPTIONS`, `F2B_WHITELIST`, `F2B_BLACKLIST`, `F2B_REGEX`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail2ban: Option<Located<Fail2ban>>,
    /// Rspamd settings maps (`settingsmap`), by description.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rspamd_settings_maps: Vec<SettingsMap>,
    /// The look of mailcow's web UI (names, texts, announcement, app links, IP check, login page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<Located<Ui>>,
    /// The CORS headers of mailcow's API (`CORS_SETTINGS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Located<Cors>>,
    /// Administrators of the whole server (mailcow's `admin` rows with `superadmin`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<Admin>,
    /// Administrators of some domains, with their rights (`admin`, `domain_admins`, `da_acl`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_admins: Vec<DomainAdmin>,
    /// mailcow's REST API keys (`api`): one `rw` and one `ro`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_keys: Vec<ApiKey>,
    /// Apps that log users in through mailcow (`oauth_clients`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oauth_clients: Vec<OAuthClient>,
    /// Configuration files of Postfix, Dovecot and Rspamd (mailcow's `data/conf`); needs
    /// `services_root` in mailplane.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Located<Services>>,
}

impl Document {
    /// Every secret the document declares, with what it belongs to (for diagnostics).
    /// The binary files the records are made of (the UI logos), read in the resolve step.
    pub fn images(&self) -> Vec<&std::path::Path> {
        let ui = self.ui.iter().flat_map(|u| [&u.logo, &u.logo_dark]).flatten();
        ui.filter_map(|c| match &c.value {
            services::Content::File { file } => Some(file.as_path()),
            services::Content::Inline(_) => None,
        })
        .collect()
    }

    pub fn secrets(&self) -> Vec<(String, &Located<Secret>)> {
        let mut out = Vec::new();
        for d in &self.domains {
            if let Some(k) = &d.dkim_private_key {
                out.push((format!("domain `{}`: dkim_private_key", d.name.value), k));
            }
            for m in &d.mailboxes {
                if let Some(p) = &m.password {
                    out.push((format!("mailbox `{}@{}`: password", m.local_part.value, d.name.value), p));
                }
                for (a, p) in m.app_passwords.iter().filter_map(|a| Some((a, a.password.as_ref()?))) {
                    out.push((format!("app password `{}` of `{}@{}`", a.name.value, m.local_part.value, d.name.value), p));
                }
                if let Some(p) = &m.pushover {
                    for (what, s) in [("key", &p.key), ("token", &p.token)] {
                        out.extend(s.as_ref().map(|s| (format!("the Pushover {what} of `{}@{}`", m.local_part.value, d.name.value), s)));
                    }
                }
                for (j, p) in m.sync_jobs.iter().filter_map(|j| Some((j, j.password.as_ref()?))) {
                    out.push((format!("sync job `{}@{}` of `{}@{}`", j.user.value, j.host.value, m.local_part.value, d.name.value), p));
                }
            }
        }
        for r in &self.relay_hosts {
            out.extend(r.password.as_ref().map(|p| (format!("relay host `{}`: password", r.name.value), p)));
        }
        if let Some(p) = self.services.as_ref().and_then(|s| s.rspamd.as_ref()?.ui_password.as_ref()) {
            out.push(("the Rspamd UI password".into(), p));
        }
        for t in &self.transports {
            out.extend(t.password.as_ref().map(|p| (format!("transport `{}`: password", t.destination.value), p)));
        }
        let admins = self.admins.iter().map(|a| ("administrator", &a.username, &a.password));
        let domain_admins = self.domain_admins.iter().map(|a| ("domain administrator", &a.username, &a.password));
        for (what, username, password) in admins.chain(domain_admins) {
            out.extend(password.as_ref().map(|p| (format!("{what} `{}`: password", username.value), p)));
        }
        for a in &self.api_keys {
            out.extend(a.key.as_ref().map(|k| (format!("the `{}` API key", a.access.name()), k)));
        }
        for c in &self.oauth_clients {
            out.extend(c.secret.as_ref().map(|s| (format!("OAuth2 client `{}`: secret", c.client_id.value), s)));
        }
        if let Some(idp) = &self.identity_provider {
            out.extend(idp.value.secret().map(|s| ("the identity provider's secret".to_string(), s)));
        }
        out
    }
}

/// The object kinds, in the order parents come before children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    DomainTemplate,
    MailboxTemplate,
    RelayHost,
    Domain,
    AliasDomain,
    DkimKey,
    MtaSts,
    DomainFooter,
    QuotaWarningBcc,
    Mailbox,
    Resource,
    SpamPolicy,
    SpamScore,
    AppPassword,
    SieveFilter,
    SyncJob,
    Pushover,
    CustomAttributes,
    Alias,
    BccMap,
    RecipientMap,
    TlsPolicy,
    Transport,
    ForwardingHost,
    IdentityProvider,
    PasswordComplexity,
    Admin,
    DomainAdmin,
    ApiKey,
    #[serde(rename = "oauth_client")]
    OAuthClient,
    Quarantine,
    QuotaWarningMail,
    PasswordResetMail,
    Fail2ban,
    SettingsMap,
    Ui,
    Cors,
}

impl Kind {
    pub const ALL: [Kind; 37] = [
        Kind::DomainTemplate,
        Kind::MailboxTemplate,
        Kind::RelayHost,
        Kind::Domain,
        Kind::AliasDomain,
        Kind::DkimKey,
        Kind::MtaSts,
        Kind::DomainFooter,
        Kind::QuotaWarningBcc,
        Kind::Mailbox,
        Kind::Resource,
        Kind::SpamPolicy,
        Kind::SpamScore,
        Kind::AppPassword,
        Kind::SieveFilter,
        Kind::SyncJob,
        Kind::Pushover,
        Kind::CustomAttributes,
        Kind::Alias,
        Kind::BccMap,
        Kind::RecipientMap,
        Kind::TlsPolicy,
        Kind::Transport,
        Kind::ForwardingHost,
        Kind::IdentityProvider,
        Kind::PasswordComplexity,
        Kind::Admin,
        Kind::DomainAdmin,
        Kind::ApiKey,
        Kind::OAuthClient,
        Kind::Quarantine,
        Kind::QuotaWarningMail,
        Kind::PasswordResetMail,
        Kind::Fail2ban,
        Kind::SettingsMap,
        Kind::Ui,
        Kind::Cors,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Kind::DomainTemplate => "domain_template",
            Kind::MailboxTemplate => "mailbox_template",
            Kind::RelayHost => "relay_host",
            Kind::Domain => "domain",
            Kind::AliasDomain => "alias_domain",
            Kind::DkimKey => "dkim_key",
            Kind::MtaSts => "mta_sts",
            Kind::DomainFooter => "domain_footer",
            Kind::QuotaWarningBcc => "quota_warning_bcc",
            Kind::Mailbox => "mailbox",
            Kind::Resource => "resource",
            Kind::SpamPolicy => "spam_policy",
            Kind::SpamScore => "spam_score",
            Kind::AppPassword => "app_password",
            Kind::SieveFilter => "sieve_filter",
            Kind::SyncJob => "sync_job",
            Kind::Pushover => "pushover",
            Kind::CustomAttributes => "custom_attributes",
            Kind::Alias => "alias",
            Kind::BccMap => "bcc_map",
            Kind::RecipientMap => "recipient_map",
            Kind::TlsPolicy => "tls_policy",
            Kind::Transport => "transport",
            Kind::ForwardingHost => "forwarding_host",
            Kind::IdentityProvider => "identity_provider",
            Kind::PasswordComplexity => "password_complexity",
            Kind::Admin => "admin",
            Kind::DomainAdmin => "domain_admin",
            Kind::ApiKey => "api_key",
            Kind::OAuthClient => "oauth_client",
            Kind::Quarantine => "quarantine",
            Kind::QuotaWarningMail => "quota_warning_mail",
            Kind::PasswordResetMail => "password_reset_mail",
            Kind::Fail2ban => "fail2ban",
            Kind::SettingsMap => "settings_map",
            Kind::Ui => "ui",
            Kind::Cors => "cors",
        }
    }
    pub fn plural(self) -> &'static str {
        match self {
            Kind::DomainTemplate => "domain templates",
            Kind::MailboxTemplate => "mailbox templates",
            Kind::RelayHost => "relay hosts",
            Kind::Domain => "domains",
            Kind::AliasDomain => "alias domains",
            Kind::DkimKey => "DKIM keys",
            Kind::MtaSts => "MTA-STS policies",
            Kind::DomainFooter => "domain footers",
            Kind::QuotaWarningBcc => "quota-warning BCCs",
            Kind::Mailbox => "mailboxes",
            Kind::Resource => "resources",
            Kind::SpamPolicy => "spam policies",
            Kind::SpamScore => "spam scores",
            Kind::AppPassword => "app passwords",
            Kind::SieveFilter => "Sieve filters",
            Kind::SyncJob => "sync jobs",
            Kind::Pushover => "Pushover settings",
            Kind::CustomAttributes => "mailboxes' custom attributes",
            Kind::Alias => "aliases",
            Kind::BccMap => "BCC maps",
            Kind::RecipientMap => "recipient maps",
            Kind::TlsPolicy => "TLS policies",
            Kind::Transport => "transports",
            Kind::ForwardingHost => "forwarding hosts",
            Kind::IdentityProvider => "identity providers",
            Kind::PasswordComplexity => "password policies",
            Kind::Admin => "administrators",
            Kind::DomainAdmin => "domain administrators",
            Kind::ApiKey => "API keys",
            Kind::OAuthClient => "OAuth2 clients",
            Kind::Quarantine => "quarantine settings",
            Kind::QuotaWarningMail => "quota-warning mails",
            Kind::PasswordResetMail => "password-reset mails",
            Kind::Fail2ban => "Fail2ban settings",
            Kind::SettingsMap => "Rspamd settings maps",
            Kind::Ui => "UI customisations",
            Kind::Cors => "CORS settings",
        }
    }
    /// One of it, as prose (`validate`'s counts).
    pub fn singular(self) -> &'static str {
        match self {
            Kind::DomainTemplate => "domain template",
            Kind::MailboxTemplate => "mailbox template",
            Kind::RelayHost => "relay host",
            Kind::Domain => "domain",
            Kind::AliasDomain => "alias domain",
            Kind::DkimKey => "DKIM key",
            Kind::MtaSts => "MTA-STS policy",
            Kind::DomainFooter => "domain footer",
            Kind::QuotaWarningBcc => "quota-warning BCC",
            Kind::Mailbox => "mailbox",
            Kind::Resource => "resource",
            Kind::SpamPolicy => "spam policy",
            Kind::SpamScore => "spam score",
            Kind::AppPassword => "app password",
            Kind::SieveFilter => "Sieve filter",
            Kind::SyncJob => "sync job",
            Kind::Pushover => "Pushover settings",
            Kind::CustomAttributes => "mailbox's custom attributes",
            Kind::Alias => "alias",
            Kind::BccMap => "BCC map",
            Kind::RecipientMap => "recipient map",
            Kind::TlsPolicy => "TLS policy",
            Kind::Transport => "transport",
            Kind::ForwardingHost => "forwarding host",
            Kind::IdentityProvider => "identity provider",
            Kind::PasswordComplexity => "password policy",
            Kind::Admin => "administrator",
            Kind::DomainAdmin => "domain administrator",
            Kind::ApiKey => "API key",
            Kind::OAuthClient => "OAuth2 client",
            Kind::Quarantine => "quarantine settings",
            Kind::QuotaWarningMail => "quota-warning mail",
            Kind::PasswordResetMail => "password-reset mail",
            Kind::Fail2ban => "Fail2ban settings",
            Kind::SettingsMap => "Rspamd settings map",
            Kind::Ui => "UI customisation",
            Kind::Cors => "CORS settings",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
