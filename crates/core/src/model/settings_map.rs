//! Rspamd settings maps: rules that change how Rspamd treats some mail (mailcow's `settingsmap`
//! rows, which its `settings.php` map hands to Rspamd).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// One settings map, named by its description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsMap {
    /// What it is for; unique (at most 255 characters).
    #[schemars(length(min = 1, max = 255))]
    pub description: Located<String>,
    /// The body of one Rspamd settings rule in UCL (`priority`, `from`/`rcpt`/`ip`, `apply`),
    /// checked with the real `rspamadm configtest` before anything is written. Stored trimmed.
    pub content: Located<String>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}
