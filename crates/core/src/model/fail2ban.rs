//! mailcow's Fail2ban (its netfilter container): when an address is banned, and the addresses
//! and networks that are never or always banned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// Unset options are netfilter's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fail2ban {
    /// Seconds of the first ban, 60 or more (default 1800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_time: Option<Located<u32>>,
    /// Each ban of the same address lasts twice as long as the one before (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_time_increment: Option<bool>,
    /// The longest ban in seconds, 60 or more (default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ban_time: Option<Located<u32>>,
    /// Failed logins before a ban, 1 or more (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<Located<u32>>,
    /// Seconds in which they count, 1 or more (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_window: Option<Located<u32>>,
    /// Ban the whole IPv4 network of this prefix length, 8 to 32 (default 32: the address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netban_ipv4: Option<Located<u32>>,
    /// Ban the whole IPv6 network of this prefix length, 8 to 128 (default 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netban_ipv6: Option<Located<u32>>,
    /// Leave the firewall rules to an external tool (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manage_external: Option<bool>,
    /// Never banned: addresses, networks or host names (netfilter resolves them). Exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<Located<String>>,
    /// Always banned: addresses or networks. Exactly these; never everything, nor mailcow's own
    /// network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Located<String>>,
    /// The log rules that ban (`F2B_REGEX`): `mailcow-defaults` follows netfilter's built-in list,
    /// also when an update of mailcow changes it; a list replaces it, in this order. Unset: left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<Located<F2bRegex>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum F2bRegex {
    Defaults(MailcowDefaults),
    /// Python regular expressions, each matched against every log line; the first capture group
    /// is the address to ban.
    Rules(Vec<Located<String>>),
}

/// netfilter's own list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MailcowDefaults {
    #[serde(rename = "mailcow-defaults")]
    MailcowDefaults,
}

/// By hand, not `untagged`: serde's buffering would lose each rule's place in the file.
impl<'de> Deserialize<'de> for F2bRegex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = F2bRegex;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`mailcow-defaults` or a list of rules")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<F2bRegex, E> {
                match v {
                    "mailcow-defaults" => Ok(F2bRegex::Defaults(MailcowDefaults::MailcowDefaults)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<F2bRegex, A::Error> {
                let mut rules = Vec::new();
                while let Some(rule) = seq.next_element()? {
                    rules.push(rule);
                }
                Ok(F2bRegex::Rules(rules))
            }
        }
        d.deserialize_any(Visit)
    }
}
