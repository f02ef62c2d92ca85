//! A mailbox's own Sieve filters, run by Dovecot before (`prefilter`) or after (`postfilter`) the
//! user's scripts (mailcow's `sieve_filters` rows, read through the `sieve_before`/`sieve_after`
//! dict views).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// One Sieve filter of the mailbox it is declared in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SieveFilter {
    /// What it does; unique per mailbox and type (mailcow's `script_desc`).
    #[schemars(length(min = 1, max = 255))]
    pub description: Located<String>,
    /// `prefilter` (before the user's own scripts) or `postfilter` (after them).
    #[serde(rename = "type")]
    pub filter_type: Located<SieveFilterType>,
    /// The Sieve script, checked with `sievec` before anything is written.
    pub script: Located<String>,
    /// Default true. At most one filter of each type is active (Dovecot runs that one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SieveFilterType {
    Prefilter,
    Postfilter,
}

impl SieveFilterType {
    pub fn name(self) -> &'static str {
        match self {
            SieveFilterType::Prefilter => "prefilter",
            SieveFilterType::Postfilter => "postfilter",
        }
    }
}
