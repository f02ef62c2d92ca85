//! A mailbox's sync jobs: imapsync runs that copy mail from another IMAP server into the mailbox
//! every few minutes (mailcow's `imapsync` rows, picked up by Dovecot's `imapsync_runner.pl`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Located, Secret};

/// One sync job of the mailbox it is declared in; the defaults are mailcow's form's, except
/// `dry_run`. Keyed by the mailbox, `host` and `user`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncJob {
    /// The server to copy from (stored lowercased).
    pub host: Located<String>,
    /// Default 143.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Located<u32>>,
    /// `tls` (STARTTLS, the default), `ssl` or `plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<SyncEncryption>,
    /// The login on that server.
    pub user: Located<String>,
    /// Its password: `{env: NAME}` or `{file: path}`. mailcow stores it in clear (imapsync needs
    /// it); mailplane never shows it. Needed to create the job; an existing one may leave it out
    /// (its password is then left as it is, as `export` writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Secret>>,
    /// Minutes between runs, 1 to 43800 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_minutes: Option<Located<u32>>,
    /// The folder of the mailbox the mail goes to (default: the mailbox's own folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subfolder: Option<Located<String>>,
    /// Folders not copied, a regular expression (default `(?i)spam|(?i)junk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Located<String>>,
    /// Copy only messages younger than this many days, 1 to 32000 (default 0: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<Located<u32>>,
    /// At most this many bytes per second, 1 to 125000000 (default 0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_second: Option<Located<u32>>,
    /// Seconds imapsync waits for the remote server, 1 to 32000 (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_remote: Option<Located<u32>>,
    /// Seconds imapsync waits for this server, 1 to 32000 (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_local: Option<Located<u32>>,
    /// Delete duplicates in the mailbox (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_duplicates: Option<bool>,
    /// Delete the messages from the remote server once copied (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_from_source: Option<bool>,
    /// Delete messages in the mailbox that are not on the remote server (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_missing: Option<bool>,
    /// Map the remote server's special folders (Sent, Trash, …) onto this one's (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automap: Option<bool>,
    /// Skip messages found in several remote folders after the first (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_cross_duplicates: Option<bool>,
    /// Subscribe to every copied folder (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_all: Option<bool>,
    /// Only show what would be copied (default false; mailcow's form preselects it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// More imapsync options, from mailcow's list, each `--option` or `--option=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_params: Option<Located<String>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncEncryption {
    #[default]
    Tls,
    Ssl,
    Plain,
}

impl SyncEncryption {
    pub const ALL: [SyncEncryption; 3] = [SyncEncryption::Tls, SyncEncryption::Ssl, SyncEncryption::Plain];
    /// mailcow's `enc1`.
    pub fn mailcow(self) -> &'static str {
        match self {
            SyncEncryption::Tls => "TLS",
            SyncEncryption::Ssl => "SSL",
            SyncEncryption::Plain => "PLAIN",
        }
    }
}
