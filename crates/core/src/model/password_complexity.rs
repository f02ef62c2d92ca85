//! mailcow's password policy (the `PASSWD_POLICY` Redis hash): what every password set in its UI
//! must have, and what mailplane checks the plaintext passwords it hashes against.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// The rules a new password must meet. Unset fields are mailcow's seed: 6 characters, nothing else.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordComplexity {
    /// At least this many characters (bytes, as PHP's `strlen` counts), 3 or more (default 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<Located<u32>>,
    /// A letter (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chars: Option<bool>,
    /// A character that is not a letter or a digit (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_chars: Option<bool>,
    /// A lowercase and an uppercase letter (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowerupper: Option<bool>,
    /// A digit (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<bool>,
}
