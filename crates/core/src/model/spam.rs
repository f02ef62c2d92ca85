//! Spam filter settings of a domain or a mailbox: mailcow's allow and deny lists and a mailbox's
//! spam thresholds (`filterconf` rows, read by Rspamd through mailcow's `settings.php`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// Senders whose mail is always let through or always rejected. The lists are exact: an entry
/// taken out here is taken out of mailcow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpamPolicy {
    /// Senders never treated as spam (mailcow's allow list, `whitelist_from`): addresses or
    /// domains, `*` standing for any characters (`*@partner.example`). Matched on the envelope
    /// and the header sender; stored lowercased, at most 100 characters of `A-Z a-z 0-9 @ _ . * -`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<Located<String>>,
    /// Senders always rejected (mailcow's deny list, `blacklist_from`), written like `allow`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Located<String>>,
}

/// A mailbox's own spam thresholds, instead of the server's (Rspamd's actions for its mail).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpamScore {
    /// From this score on, mail is marked as spam and goes to Junk (greylisting starts one below).
    pub low: Located<f64>,
    /// From this score on, mail is rejected. Equal to `low`, mailcow makes it `low` + 0.1.
    pub high: Located<f64>,
}
