//! Who may log in to mailcow's admin panel: administrators (`admin` rows with `superadmin`)
//! and domain administrators (`admin` rows without it, their `domain_admins` and `da_acl`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Located, PasswordPolicy, Secret};

/// An administrator of the whole server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Letters, digits, `_`, `.` and `-`; stored lowercased (mailcow's rule). Unique among
    /// administrators and domain administrators.
    #[schemars(length(min = 1, max = 255))]
    pub username: Located<String>,
    /// A `{SCHEME}` hash, `{env: NAME}` or `{file: path}` (hashed as `{BLF-CRYPT}` when written).
    /// Needed to create one; an `initial` one that exists may leave it out (as `export` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Secret>>,
    /// `initial` (default): set the password only when the administrator is created; `enforce`:
    /// keep it equal to the declared one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    /// Default true. mailplane never deactivates or deletes the last active administrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Make them set up two-factor authentication at the next login (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_tfa: Option<bool>,
    /// Make them change the password at the next login (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pw_update: Option<bool>,
}

/// An administrator of some domains, with what mailcow lets them do there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainAdmin {
    /// Like an administrator's: letters, digits, `_`, `.` and `-`, stored lowercased.
    #[schemars(length(min = 1, max = 255))]
    pub username: Located<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Secret>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    /// The domains they administer: at least one, each a domain on the server after the apply.
    #[schemars(length(min = 1))]
    pub domains: Vec<Located<String>>,
    /// Exactly what they may do (mailcow's `da_acl` flags; an unlisted flag is off). Default:
    /// mailcow's defaults, every flag but `pushover`, `extend_sender_acl`, `unlimited_quota`,
    /// `alias_domains` and `domain_desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<Located<DomainAdminAcl>>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_tfa: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pw_update: Option<bool>,
}

macro_rules! da_acl {
    ($($flag:ident = $default:literal),* $(,)?) => {
        /// A `da_acl` flag.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        #[allow(non_camel_case_types)]
        pub enum DomainAdminAcl { $($flag),* }

        impl DomainAdminAcl {
            /// Every flag, in `da_acl`'s column order.
            pub const ALL: &[DomainAdminAcl] = &[$(DomainAdminAcl::$flag),*];
            /// `da_acl`'s columns: the username, then every flag.
            pub const COLUMNS: &[&str] = &["username", $(stringify!($flag)),*];
            /// The column defaults, in the same order.
            pub const DEFAULTS: &[bool] = &[$($default),*];
            pub fn column(self) -> &'static str {
                match self { $(DomainAdminAcl::$flag => stringify!($flag)),* }
            }
        }
    };
}

da_acl!(
    syncjobs = true,
    quarantine = true,
    login_as = true,
    sogo_access = true,
    app_passwds = true,
    bcc_maps = true,
    pushover = false,
    filters = true,
    ratelimit = true,
    spam_policy = true,
    extend_sender_acl = false,
    unlimited_quota = false,
    protocol_access = true,
    smtp_ip_access = true,
    alias_domains = false,
    mailbox_relayhost = true,
    domain_relayhost = true,
    domain_desc = false,
);
