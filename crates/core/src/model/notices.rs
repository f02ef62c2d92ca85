//! Server-wide settings mailcow keeps as Redis strings: the quarantine, and the mails it sends
//! about full mailboxes and password resets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// The quarantine: what Rspamd holds back instead of rejecting, and the digest users get
/// (mailcow's `Q_*` keys). Unset fields are mailcow's defaults, which keep it disabled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    /// Messages kept per mailbox; 0 (default) disables the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_size: Option<Located<u32>>,
    /// Largest message kept, in MiB; 0 (default) disables the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Located<u32>>,
    /// Messages scoring above this are rejected instead of kept (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_score: Option<Located<f64>>,
    /// Days a message is kept, 1 or more (default 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Located<u32>>,
    /// Domains whose mail is never quarantined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_domains: Vec<Located<String>>,
    /// How a released message reaches the user: `raw` (default) or `attachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_format: Option<ReleaseFormat>,
    /// The digest's sender address (default: none, then mailcow's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Located<String>>,
    /// An address that gets a copy of every digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bcc: Option<Located<String>>,
    /// Send every digest here instead of to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Located<String>>,
    /// The digest's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Located<String>>,
    /// The digest's HTML template (default: mailcow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Located<String>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseFormat {
    #[default]
    Raw,
    Attachment,
}

/// The mail Dovecot sends when a mailbox is nearly full (mailcow's `QW_SENDER`, `QW_SUBJ`,
/// `QW_HTML`; who gets a copy is each domain's `quota_warning_bcc`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaWarningMail {
    /// Its sender address (default: none, then mailcow's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Located<String>>,
    /// Its subject, with `{{percent}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Located<String>>,
    /// Its HTML template, with `{{username}}` and `{{percent}}` (default: mailcow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Located<String>>,
}

/// The mail with a password-reset link (mailcow's `PW_RESET_*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetMail {
    /// Its sender address (default: none, then mailcow's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Located<String>>,
    /// The plain-text template, with `{{username}}`, `{{link}}` and `{{token_lifetime}}`
    /// (mailcow's own when both templates are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Located<String>>,
    /// The HTML template, with the same placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Located<String>>,
}
