//! A mailbox's Pushover notifications: a push message to the user's phone for new mail (mailcow's
//! `pushover` row, read by its `meta_exporter/pushover.php`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Located, Secret};

/// Pushover notifications for the mailbox they are declared in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pushover {
    /// The user key (30 letters and digits): `{env: NAME}` or `{file: path}`. mailcow stores it
    /// in clear; mailplane never shows it. Needed to create the settings; existing ones may leave
    /// it out (then the live one stays, as `export` writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Located<Secret>>,
    /// The application token (30 letters and digits), like `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Located<Secret>>,
    /// The notification's title (default `Mail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Located<String>>,
    /// Its text, with `{SUBJECT}` and `{SENDER}` (default: mailcow's "You've got mail").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Located<String>>,
    /// Notify only for mail from these addresses (default: from anyone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub senders: Vec<Located<String>>,
    /// Or from senders matching this PCRE, with its delimiters (`/@example\.org$/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders_regex: Option<Located<String>>,
    /// Send high-priority mail (`X-Priority: 1`) as high-priority notifications (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_x_prio: Option<bool>,
    /// Notify only for high-priority mail (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_x_prio: Option<bool>,
    /// Pushover's sound name (default `pushover`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<Located<String>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}
