//! A domain-wide footer, which Rspamd adds to the domain's outgoing mail (mailcow's
//! `domain_wide_footer` row, read by its `footer.php`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// The footer appended to mail sent from the domain's mailboxes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainFooter {
    /// The footer of HTML mail (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Located<String>>,
    /// The footer of plain-text mail (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain: Option<Located<String>>,
    /// Mail from these gets no footer: declared mailboxes or aliases (`bob@example.org`) and
    /// declared alias domains (`example.info`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Located<String>>,
    /// No footer on replies (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_replies: Option<bool>,
}
