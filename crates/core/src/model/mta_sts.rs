//! A domain's MTA-STS policy (RFC 8461), served by mailcow at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` from its `mta_sts` row.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// The longest `max_age` mailcow accepts when a policy is added: one year, in seconds.
pub const MTA_STS_MAX_AGE: u32 = 31_536_000;

/// The MTA-STS policy of a domain. mailcow publishes it; the `mta-sts.<domain>` CNAME and the
/// `_mta-sts.<domain>` TXT record (`mailplane dns`) make senders find it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MtaSts {
    /// `enforce`: senders refuse to deliver without valid TLS to a listed MX; `testing`: they
    /// deliver and report; `none`: the policy is withdrawn.
    pub mode: MtaStsMode,
    /// The MX host names senders may deliver to; a leading `*.` matches one label.
    #[schemars(length(min = 1))]
    pub mx: Located<Vec<Located<String>>>,
    /// How long senders may cache the policy, in seconds (1 to 31536000; default 604800, a week).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31_536_000))]
    pub max_age: Option<Located<u32>>,
    /// The policy version: `STSv1`, the only one there is (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Located<String>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MtaStsMode {
    Enforce,
    Testing,
    None,
}

impl MtaStsMode {
    pub fn mailcow(self) -> &'static str {
        match self {
            MtaStsMode::Enforce => "enforce",
            MtaStsMode::Testing => "testing",
            MtaStsMode::None => "none",
        }
    }
    pub fn from_mailcow(s: &str) -> Option<MtaStsMode> {
        [MtaStsMode::Enforce, MtaStsMode::Testing, MtaStsMode::None].into_iter().find(|m| m.mailcow() == s)
    }
}
