//! Mailboxes and mailbox templates.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::settings_macro::settings_struct;
use super::{AppPassword, Located, Pushover, RateLimit, Secret, SieveFilter, Size, SpamPolicy, SpamScore, SyncJob};

/// Invokes `$m!(... common: MailboxSettings { ... })` with the settings every mailbox and
/// mailbox template can carry (mailcow's mailbox template attributes).
macro_rules! mailbox_common {
    ($m:ident ! ( $($args:tt)* )) => {
        $m! { $($args)* common: MailboxSettings {
            /// Mailbox quota, or `unlimited`. Default from the template (mailcow's Default: unlimited).
            quota: Located<Size>,
            /// `active`, `no-login` (refuses logins, still accepts mail) or `inactive`.
            state: MailboxState,
            /// The protocols this mailbox may use; every one not listed is switched off.
            protocols: Vec<Protocol>,
            /// Refuse incoming mail that did not arrive over TLS.
            tls_enforce_in: bool,
            /// Send outgoing mail only over TLS.
            tls_enforce_out: bool,
            /// How often quarantine notifications are sent.
            quarantine_notification: QuarantineNotification,
            /// Which quarantined messages are notified.
            quarantine_category: QuarantineCategory,
            /// The user must change the password at next login.
            force_password_update: bool,
            /// The user must set up two-factor authentication.
            force_tfa: bool,
            /// Outgoing messages allowed per time frame, e.g. `100/1h`.
            rate_limit: Located<RateLimit>,
            /// Tags (at most 25, each at most 255 characters; tags differing only in case are one tag to mailcow).
            #[schemars(length(max = 25), inner(length(min = 1, max = 255)))]
            tags: Vec<String>,
            /// What to do with `user+tag@` mail: `none`, `subject` or `subfolder`.
            tagged_mail_handler: TaggedMailHandler,
            /// Permissions of the mailbox user in mailcow's UI.
            acl: MailboxAcl,
        }}
    };
}

mailbox_common!(settings_struct!(@base
    /// Settings shared by a mailbox and its template; unset fields come from the template.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    MailboxSettings { }
));

mailbox_common!(settings_struct!(@object
    /// A mailbox of the domain it is declared in.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    Mailbox {
        /// The part before the `@`; stored lowercased, like mailcow.
        #[schemars(length(min = 1, max = 64))]
        pub local_part: Located<String>,
        /// Display name; at most 255 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 255))]
        pub name: Option<Located<String>>,
        /// Mailbox template whose settings fill the unset fields (default: mailcow's `Default`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub template: Option<Located<String>>,
        /// Password: a `{SCHEME}` hash, `{env: NAME}` or `{file: path}`. Not used with an external authsource.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password: Option<Located<Secret>>,
        /// `initial` (default): set the password only when the mailbox is created; `enforce`: keep it equal to the declared one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password_policy: Option<PasswordPolicy>,
        /// Who authenticates this mailbox: `mailcow` (default), `ldap`, `keycloak` or `generic-oidc`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub authsource: Option<Located<AuthSource>>,
        /// Name of a relay host (see `relay_hosts`) for this mailbox's outgoing mail.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub relay_host: Option<Located<String>>,
        /// Address for password recovery.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub recovery_email: Option<Located<String>>,
        /// Addresses (`sales@example.org`), domains (`@example.org`) or `*` this mailbox may send as, inside this server.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub sender_acl: Vec<Located<String>>,
        /// Addresses or domains outside this server this mailbox may send as (SOGo identities).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub external_sender_acl: Vec<Located<String>>,
        // The settings of the rest of the panel are boxed: most mailboxes have none, and inline
        // they made every mailbox of a 100,000-mailbox directory 700 bytes larger.
        /// Senders always let through or always rejected for this mailbox (`filterconf`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub spam_policy: Option<Box<Located<SpamPolicy>>>,
        /// The mailbox's spam thresholds (default: the server's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub spam_score: Option<Box<Located<SpamScore>>>,
        /// Passwords for one device or program each, limited to some protocols (`app_passwd`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub app_passwords: Vec<AppPassword>,
        /// The mailbox's own Sieve filters, before or after the user's scripts (`sieve_filters`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub sieve_filters: Vec<SieveFilter>,
        /// imapsync runs that copy mail from another server into this mailbox (`imapsync`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub sync_jobs: Vec<SyncJob>,
        /// Push notifications of new mail to the user's phone (`pushover`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pushover: Option<Box<Located<Pushover>>>,
        /// Values for the domain footer's placeholders (`{department}`), name → text; names
        /// without spaces (mailcow's `custom_attributes`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub custom_attributes: Option<Box<Located<indexmap::IndexMap<String, String>>>>,
    }
));

mailbox_common!(settings_struct!(@object
    /// A mailbox template (mailcow's `templates` row of type `mailbox`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    MailboxTemplate {
        /// Template name, referenced by mailboxes and identity-provider mappings.
        #[schemars(length(min = 1, max = 255))]
        pub name: Located<String>,
    }
));

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MailboxState {
    Active,
    /// Logins are refused, mail is still accepted (mailcow's active=2).
    NoLogin,
    Inactive,
}

impl MailboxState {
    pub fn mailcow(self) -> i64 {
        match self {
            MailboxState::Active => 1,
            MailboxState::NoLogin => 2,
            MailboxState::Inactive => 0,
        }
    }
    pub fn from_mailcow(v: i64) -> MailboxState {
        match v {
            1 => MailboxState::Active,
            2 => MailboxState::NoLogin,
            _ => MailboxState::Inactive,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Imap,
    Pop3,
    Smtp,
    Sieve,
    Eas,
    Dav,
    Sogo,
}

impl Protocol {
    pub const ALL: [Protocol; 7] = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp, Protocol::Sieve, Protocol::Eas, Protocol::Dav, Protocol::Sogo];
    /// The key in `mailbox.attributes`.
    pub fn attribute(self) -> &'static str {
        match self {
            Protocol::Imap => "imap_access",
            Protocol::Pop3 => "pop3_access",
            Protocol::Smtp => "smtp_access",
            Protocol::Sieve => "sieve_access",
            Protocol::Eas => "eas_access",
            Protocol::Dav => "dav_access",
            Protocol::Sogo => "sogo_access",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuarantineNotification {
    Never,
    Hourly,
    Daily,
    Weekly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineCategory {
    AddHeader,
    Reject,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaggedMailHandler {
    None,
    Subject,
    Subfolder,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PasswordPolicy {
    /// Set the password when the mailbox is created; never revert the user's own changes.
    #[default]
    Initial,
    /// Keep the stored password equal to the declared one.
    Enforce,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthSource {
    #[default]
    Mailcow,
    Ldap,
    Keycloak,
    GenericOidc,
}

impl AuthSource {
    pub fn mailcow(self) -> &'static str {
        match self {
            AuthSource::Mailcow => "mailcow",
            AuthSource::Ldap => "ldap",
            AuthSource::Keycloak => "keycloak",
            AuthSource::GenericOidc => "generic-oidc",
        }
    }
}

macro_rules! acl_flags {
    ($($flag:ident = $default:expr),* $(,)?) => {
        /// mailcow's `user_acl` flags; unset flags come from the template.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct MailboxAcl {
            $( #[serde(default, skip_serializing_if = "Option::is_none")] pub $flag: Option<bool>, )*
        }
        impl MailboxAcl {
            /// Column names of `user_acl`, in mailcow's order.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($flag)),*];
            /// The `user_acl` column defaults.
            pub const COLUMN_DEFAULTS: &'static [bool] = &[$($default),*];
            /// Flags in column order; unset ones are None.
            pub fn flags(&self) -> Vec<Option<bool>> {
                vec![$(self.$flag),*]
            }
            pub fn from_flags(flags: &[Option<bool>]) -> MailboxAcl {
                let mut it = flags.iter().copied();
                MailboxAcl { $( $flag: it.next().flatten(), )* }
            }
            pub fn overlay(&self, base: &MailboxAcl) -> MailboxAcl {
                MailboxAcl { $( $flag: self.$flag.or(base.$flag), )* }
            }
        }
    };
}

acl_flags!(
    spam_alias = true,
    tls_policy = true,
    spam_score = true,
    spam_policy = true,
    delimiter_action = true,
    syncjobs = false,
    eas_reset = true,
    sogo_profile_reset = false,
    pushover = true,
    quarantine = true,
    quarantine_attachments = true,
    quarantine_notification = true,
    quarantine_category = true,
    app_passwds = true,
    pw_reset = true,
);

impl MailboxSettings {
    /// The effective settings: own over the template over mailcow's `Default`, ACL flags merged one by one.
    pub fn effective(&self, template: Option<&MailboxSettings>) -> MailboxSettings {
        let base = super::defaults::mailbox_template();
        let t = template.cloned().unwrap_or_default();
        let acl = self.acl.clone().unwrap_or_default().overlay(&t.acl.clone().unwrap_or_default()).overlay(&base.acl.clone().unwrap_or_default());
        let mut s = self.clone().overlay(&t).overlay(&base);
        s.acl = Some(acl);
        s
    }
}

#[cfg(test)]
mod tests {
    /// A 100,000-mailbox directory holds 100,000 of these while it is validated: the rarely used
    /// settings stay boxed (inline they cost 500 bytes each, 50 MB at that scale).
    #[test]
    fn a_mailbox_stays_small() {
        assert!(std::mem::size_of::<super::Mailbox>() <= 560, "{} bytes", std::mem::size_of::<super::Mailbox>());
    }
}
