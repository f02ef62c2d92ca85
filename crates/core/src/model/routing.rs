//! Relay hosts (sender-dependent transports) and transport maps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Located, Secret};

/// A smarthost that domains or mailboxes send their outgoing mail through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayHost {
    /// The name domains and mailboxes use in `relay_host:`. Only in YAML; mailcow identifies relay hosts by hostname.
    pub name: Located<String>,
    /// Postfix next hop: `host`, `host:port`, `[host]` or `[host]:port`, e.g. `[smtp.example.com]:587`.
    #[schemars(length(min = 1, max = 255))]
    pub hostname: Located<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub username: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Secret>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// Route mail for a destination through a next hop (Postfix `transport_maps`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transport {
    /// A domain, `.domain` (its subdomains), `*`, or an address; with `mx_based`, a regular expression matched against the MX host names.
    #[schemars(length(min = 1, max = 255))]
    pub destination: Located<String>,
    /// Next hop: `host`, `host:port`, `[host]` or `[host]:port` (port 1..65535), e.g. `[mx.partner.example]:25`; a bare IP address is written as `[ip]`.
    #[schemars(length(min = 1, max = 255))]
    pub nexthop: Located<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub username: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Secret>>,
    /// Match the destination's MX host names instead of the recipient domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mx_based: Option<bool>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// A mail server allowed to forward mail to this one without spam checks (mailcow's forwarding hosts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardingHost {
    /// An IP address, a CIDR network, or a host name (resolved to its addresses when planning).
    pub host: Located<String>,
    /// Still filter spam from this host (default true); `false` keeps spam it forwards (KEEP_SPAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_spam: Option<bool>,
    /// Addresses of a host name whose spam is treated the other way (mailcow sets `keep spam`
    /// per address): e.g. `filter_spam: true` with the one relay whose spam is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_spam_except: Vec<Located<String>>,
}
