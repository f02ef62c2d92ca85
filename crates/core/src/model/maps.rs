//! BCC maps, recipient maps and TLS policy maps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// Send a blind copy of mail from or to a local address or domain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BccMap {
    /// A local address (`alice@example.org`) or a local domain (`example.org`).
    pub local_dest: Located<String>,
    /// Where the copies go.
    pub bcc_dest: Located<String>,
    /// Copy mail sent by (`sender`) or to (`recipient`) the local destination.
    #[serde(rename = "type")]
    pub kind: BccType,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BccType {
    Sender,
    Recipient,
}

impl BccType {
    pub fn mailcow(self) -> &'static str {
        match self {
            BccType::Sender => "sender",
            BccType::Recipient => "rcpt",
        }
    }
}

/// Rewrite the envelope recipient `old` to `new` (addresses or domains).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientMap {
    pub old: Located<String>,
    pub new: Located<String>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// Postfix TLS policy for mail to a destination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsPolicy {
    /// A domain (`gmail.com`) or a next hop (`[mx.example.net]:25`).
    pub destination: Located<String>,
    pub policy: TlsPolicyKind,
    /// Space-separated `name=value` pairs, e.g. `match=.google.com protocols=>=TLSv1.2`; at most 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub parameters: Option<Located<String>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsPolicyKind {
    None,
    May,
    Encrypt,
    Dane,
    DaneOnly,
    Fingerprint,
    Verify,
    Secure,
}

impl TlsPolicyKind {
    pub const ALL: [TlsPolicyKind; 8] = [
        TlsPolicyKind::None,
        TlsPolicyKind::May,
        TlsPolicyKind::Encrypt,
        TlsPolicyKind::Dane,
        TlsPolicyKind::DaneOnly,
        TlsPolicyKind::Fingerprint,
        TlsPolicyKind::Verify,
        TlsPolicyKind::Secure,
    ];
    pub fn mailcow(self) -> &'static str {
        match self {
            TlsPolicyKind::None => "none",
            TlsPolicyKind::May => "may",
            TlsPolicyKind::Encrypt => "encrypt",
            TlsPolicyKind::Dane => "dane",
            TlsPolicyKind::DaneOnly => "dane-only",
            TlsPolicyKind::Fingerprint => "fingerprint",
            TlsPolicyKind::Verify => "verify",
            TlsPolicyKind::Secure => "secure",
        }
    }
    pub fn from_mailcow(s: &str) -> Option<TlsPolicyKind> {
        Self::ALL.into_iter().find(|k| k.mailcow() == s)
    }
}
