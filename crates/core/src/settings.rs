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
    /// Database of the live server: `sqlite://path` or `mysql://user@host:port/db`; default
    /// `sqlite://state/mailplane.db` in the working directory. A relative SQLite path written
    /// here is taken from this file's directory. Keep passwords out of this file: use
    /// MAILPLANE_DATABASE_PASSWORD or `database_password_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::model::Located<String>>,
    /// File holding the database password (a relative path: from this file's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_password_file: Option<PathBuf>,
    /// Where apply keeps `password-cache.key` (a relative path: from this file's directory);
    /// MAILPLANE_STATE_DIR takes precedence; default `state` in the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
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
    pub ldap_mailboxes: Option<LdapMailboxes>,
    /// mailcow's `data/conf` (e.g. `/opt/mailcow-dockerized/data/conf`): where the files declared
    /// under `services:` live. Relative paths are taken from the desired-state directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services_root: Option<PathBuf>,
    /// How Postfix, Dovecot and Rspamd run: `docker` (default; mailcow's containers, found by
    /// their compose labels) or `standalone` (local checkers and the commands in `service_commands`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services_mode: Option<ServicesMode>,
    /// docker mode: the compose project of mailcow's containers (COMPOSE_PROJECT_NAME; default `mailcowdockerized`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_project: Option<String>,
    /// mailcow-dockerized's directory (e.g. `/opt/mailcow-dockerized`; a relative path is taken
    /// from the desired-state directory). Its `mailcow.conf` tells which API keys mailcow writes
    /// again at every start, so a plan does not fight over them; only those settings are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailcow_dir: Option<PathBuf>,
    /// standalone mode: the shell commands that restart or reload the services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_commands: Option<ServiceCommands>,
}

impl SettingsFile {
    /// How the services run, if the settings manage any (no `services_root` and no
    /// `services_mode`: none, e.g. a SQLite target on a laptop).
    pub fn services(&self) -> Option<ServicesMode> {
        (self.services_root.is_some() || self.services_mode.is_some()).then(|| self.services_mode.unwrap_or_default())
    }
    /// In docker mode, the compose project of mailcow's containers.
    pub fn docker_project(&self) -> Option<&str> {
        (self.services() == Some(ServicesMode::Docker)).then(|| self.compose_project.as_deref().unwrap_or(DEFAULT_PROJECT))
    }
}

/// mailcow's default COMPOSE_PROJECT_NAME.
pub const DEFAULT_PROJECT: &str = "mailcowdockerized";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServicesMode {
    /// mailcow's containers: checks run inside them (docker exec), restarts go through Docker.
    #[default]
    Docker,
    /// Services on this host: checks run the local postconf/doveconf/sievec/rspamadm.
    Standalone,
}

/// Shell commands (run with `sh -c`) that make a service pick up changed files. A command that
/// is needed but not given is an error at apply time, before anything is written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceCommands {
    /// After `postfix/extra.cf` changed, e.g. `systemctl restart postfix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postfix_restart: Option<String>,
    /// After a postfix lookup table changed, e.g. `postfix reload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postfix_reload: Option<String>,
    /// After `dovecot/extra.conf` or a global Sieve script changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dovecot_restart: Option<String>,
    /// After a file in `rspamd/local.d` or `rspamd/override.d` changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rspamd_restart: Option<String>,
    /// `apply --restart-sogo` after domains were added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sogo_restart: Option<String>,
}

/// What happens to a live object of a kind when no file declares it (`prune:` in mailplane.yaml).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PruneMode {
    /// Reported as unmanaged, never touched.
    #[default]
    Off,
    /// Deactivated instead of deleted (a mailbox keeps its mail and stops receiving).
    Disable,
    Delete,
}

/// `ldap_mailboxes:` in mailplane.yaml.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapMailboxes {
    /// Deactivate an LDAP mailbox after it was missing from LDAP in this many consecutive applies.
    /// Absent or 0: never deactivate (an LDAP outage or a bad filter can never disable everyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miss_threshold: Option<u32>,
    /// Seconds to wait for LDAP (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}
