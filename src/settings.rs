//! The tool's settings: `mailplane.yaml` at the root of the desired-state directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `mailplane.yaml`: where the live server is and how mailplane treats it. Connection
/// settings given as flags or environment variables take precedence.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// Database of the live server: `sqlite://state/mailplane.db` (default) or `mysql://user@host:port/db`.
    /// Keep passwords out of this file: use MAILPLANE_DATABASE_PASSWORD or `database_password_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::model::Located<String>>,
    /// File holding the database password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_password_file: Option<PathBuf>,
    /// mailcow's Redis, e.g. `redis://127.0.0.1:6379/0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// mailcow's memcached, `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memcached: Option<String>,
    /// The server's own name (MAILCOW_HOSTNAME); no domain may be called like it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailcow_hostname: Option<String>,
    /// Per kind, what happens to live objects no file declares: `off` (default: reported as
    /// unmanaged, never touched), `disable` (deactivated; mailboxes keep their mail) or `delete`.
    /// Only objects mailplane created or adopted are ever pruned. Example: `prune: {alias: delete}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prune: BTreeMap<crate::model::Kind, PruneMode>,
    /// Live objects whose key matches one of these globs are left out entirely, e.g. `*@legacy.example.org`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Refuse to apply when more than this share (%) of a kind's managed objects would change (default 30; only from 10 objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_change_percent: Option<u32>,
    /// Turn LDAP users into declared mailboxes (needs an LDAP identity_provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap_mailboxes: Option<crate::ldap_source::LdapMailboxes>,
}

pub use crate::plan::PruneMode;
