//! Aliases.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// An alias: mail to `address` goes to every target in `goto`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    /// The full address (`info@example.org`), or `@example.org` for a catch-all.
    pub address: Located<String>,
    /// Target addresses, or one of the special targets `discard`, `learn-as-spam`, `learn-as-ham`.
    pub goto: Located<Vec<Located<String>>>,
    /// Comment shown to users (at most 160 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 160))]
    pub public_comment: Option<Located<String>>,
    /// Comment shown to admins only (at most 160 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 160))]
    pub private_comment: Option<Located<String>>,
    /// Show the alias in SOGo (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sogo_visible: Option<bool>,
    /// Accept mail only from senders of this server (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
    /// Targets may send as this address (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_allowed: Option<bool>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// The special goto targets and the addresses mailcow stores for them.
pub const SPECIAL_TARGETS: [(&str, &str); 3] = [("discard", "null@localhost"), ("learn-as-spam", "spam@localhost"), ("learn-as-ham", "ham@localhost")];
