//! Who gets a blind copy of the quota warnings sent to a domain's mailboxes (mailcow's `QW_BCC`
//! Redis hash, read by Dovecot's `quota_notify.py`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// Blind copies of the domain's quota warnings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaWarningBcc {
    /// The addresses that get the copies.
    pub recipients: Vec<Located<String>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}
