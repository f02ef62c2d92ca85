//! Access to mailcow's REST API (`api` rows: one read-write and one read-only key) and the
//! OAuth2 clients of its identity provider (`oauth_clients`), for apps that log users in with
//! their mailcow account.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Located, Secret};

/// One of mailcow's two API keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// `rw` (read-write) or `ro` (read-only); one key each.
    pub access: Located<ApiAccess>,
    /// `{env: NAME}` or `{file: path}`: letters, digits and `-` (mailcow drops any other character
    /// from the request header). mailcow stores it in clear; mailplane never shows it. Needed to
    /// create the key; an existing one may leave it out (then the live one stays, as `export`
    /// writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Located<Secret>>,
    /// The addresses and networks (`192.0.2.10`, `2001:db8::/48`) the key may be used from.
    /// Needed unless `skip_ip_check`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_from: Vec<Located<String>>,
    /// Accept the key from anywhere (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_ip_check: Option<bool>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiAccess {
    Rw,
    Ro,
}

impl ApiAccess {
    pub fn name(self) -> &'static str {
        match self {
            ApiAccess::Rw => "rw",
            ApiAccess::Ro => "ro",
        }
    }
}

/// An app that logs users in through mailcow (mailcow is its OAuth2 provider).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// The client's id, as configured in the app: letters, digits, `-`, `_` and `.`, at most 80
    /// (mailcow's UI can only make a random one).
    #[schemars(length(min = 1, max = 80))]
    pub client_id: Located<String>,
    /// `{env: NAME}` or `{file: path}`, at most 80 characters; stored in clear, never shown.
    /// Needed to create the client; an existing one may leave it out (as `export` writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Located<Secret>>,
    /// Where mailcow sends the user back to, e.g. `https://wiki.example.org/oauth/callback`.
    pub redirect_uri: Located<String>,
    /// Default `profile`, mailcow's only scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Located<String>>,
}
