//! Domains, their alias domains, and domain templates.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::settings_macro::settings_struct;
use super::{Alias, DomainFooter, Located, Mailbox, MtaSts, QuotaWarningBcc, RateLimit, Resource, Secret, Size, SpamPolicy};

/// Invokes `$m!(... common: DomainSettings { ... })` with what a domain and a domain template share.
macro_rules! domain_common {
    ($m:ident ! ( $($args:tt)* )) => {
        $m! { $($args)* common: DomainSettings {
            /// Limits on mailboxes, aliases and quotas.
            limits: DomainLimits,
            /// Whether the domain receives mail (default true).
            active: bool,
            /// Show the domain's users in the global address list (default true).
            gal: bool,
            /// Relay the domain as a backup MX instead of delivering locally.
            backup_mx: bool,
            /// Relay for all recipients (needs `backup_mx`).
            relay_all_recipients: bool,
            /// Relay only for recipients without a local mailbox (needs `relay_all_recipients`).
            relay_unknown_only: bool,
            /// Outgoing messages allowed per time frame for the whole domain, e.g. `1000/1h`.
            rate_limit: Located<RateLimit>,
            /// Tags (at most 25, each at most 255 characters; tags differing only in case are one tag to mailcow).
            #[schemars(length(max = 25), inner(length(min = 1, max = 255)))]
            tags: Vec<String>,
            /// DKIM selector used when mailcow creates the domain's key (default `dkim`): letters, digits, `.`, `_`, `-`.
            #[schemars(length(max = 255), pattern(r"^[A-Za-z0-9._-]+$"))]
            dkim_selector: Located<String>,
            /// DKIM key size in bits: 1024, 2048 (default), 3072 or 4096.
            #[schemars(extend("enum" = [1024, 2048, 3072, 4096]))]
            dkim_key_size: Located<u32>,
        }}
    };
}

domain_common!(settings_struct!(@base
    /// Settings shared by a domain and its template; unset fields come from the template.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    DomainSettings { }
));

domain_common!(settings_struct!(@object
    /// A mail domain with the mailboxes, aliases and alias domains that belong to it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    Domain {
        /// The domain name; stored lowercase and in its ASCII (punycode) form.
        pub name: Located<String>,
        /// Description shown in mailcow's UI (default: the domain name); at most 255 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 255))]
        pub description: Option<Located<String>>,
        /// Domain template whose settings fill the unset fields (default: mailcow's `Default`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub template: Option<Located<String>>,
        /// Name of a relay host (see `relay_hosts`) for the domain's outgoing mail.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub relay_host: Option<Located<String>>,
        /// Supply the DKIM private key (PEM) instead of generating one, e.g. to move a domain between servers without changing DNS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub dkim_private_key: Option<Located<Secret>>,
        /// Other domain names that deliver to this domain's mailboxes.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub alias_domains: Vec<AliasDomain>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub mailboxes: Vec<Mailbox>,
        /// Rooms, groups and things booked in SOGo's calendar.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub resources: Vec<Resource>,
        /// Aliases whose address is in this domain or one of its alias domains.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub aliases: Vec<Alias>,
        /// The domain's MTA-STS policy (`mta_sts` row).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mta_sts: Option<Located<MtaSts>>,
        /// The footer Rspamd adds to the domain's outgoing mail (`domain_wide_footer` row).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub footer: Option<Located<DomainFooter>>,
        /// Blind copies of the quota warnings sent to the domain's mailboxes (`QW_BCC`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub quota_warning_bcc: Option<Located<QuotaWarningBcc>>,
        /// Senders always let through or always rejected for the whole domain (`filterconf`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub spam_policy: Option<Located<SpamPolicy>>,
    }
));

domain_common!(settings_struct!(@object
    /// A domain template (mailcow's `templates` row of type `domain`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    DomainTemplate {
        /// Template name, referenced by domains.
        #[schemars(length(min = 1, max = 255))]
        pub name: Located<String>,
    }
));

/// Limits of a domain. Quotas are sizes (`10 GiB`); mailcow keeps them in MiB.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainLimits {
    /// Most mailboxes the domain may have (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 2147483647))]
    pub max_mailboxes: Option<Located<u32>>,
    /// Most aliases the domain may have, its alias domains included (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 2147483647))]
    pub max_aliases: Option<Located<u32>>,
    /// Quota a new mailbox gets when it declares none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mailbox_quota: Option<Located<Size>>,
    /// Largest quota one mailbox may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mailbox_quota: Option<Located<Size>>,
    /// Quota of the whole domain: the sum of its mailbox quotas may not exceed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_quota: Option<Located<Size>>,
}

impl DomainLimits {
    pub fn overlay(&self, base: &DomainLimits) -> DomainLimits {
        DomainLimits {
            max_mailboxes: self.max_mailboxes.clone().or_else(|| base.max_mailboxes.clone()),
            max_aliases: self.max_aliases.clone().or_else(|| base.max_aliases.clone()),
            default_mailbox_quota: self.default_mailbox_quota.clone().or_else(|| base.default_mailbox_quota.clone()),
            max_mailbox_quota: self.max_mailbox_quota.clone().or_else(|| base.max_mailbox_quota.clone()),
            domain_quota: self.domain_quota.clone().or_else(|| base.domain_quota.clone()),
        }
    }
}

/// Another domain name delivering to the enclosing domain (`<user>@alias` → `<user>@domain`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasDomain {
    pub name: Located<String>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Outgoing messages allowed per time frame, e.g. `100/1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Located<RateLimit>>,
    /// Give the alias domain a DKIM key of its own under this selector (mailcow does only when asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255), pattern(r"^[A-Za-z0-9._-]+$"))]
    pub dkim_selector: Option<Located<String>>,
    /// DKIM key size in bits: 1024, 2048 (default), 3072 or 4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [1024, 2048, 3072, 4096]))]
    pub dkim_key_size: Option<Located<u32>>,
}

impl DomainSettings {
    /// The effective settings: own over the template over mailcow's `Default`, limits merged field by field.
    pub fn effective(&self, template: Option<&DomainSettings>) -> DomainSettings {
        let base = super::defaults::domain_template();
        let t = template.cloned().unwrap_or_default();
        let limits = self.limits.clone().unwrap_or_default().overlay(&t.limits.clone().unwrap_or_default()).overlay(&base.limits.clone().unwrap_or_default());
        let mut s = self.clone().overlay(&t).overlay(&base);
        s.limits = Some(limits);
        s
    }
}
