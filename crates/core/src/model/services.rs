//! Service configuration files (`services:`): what mailcow admins otherwise edit by hand under
//! `data/conf`. The model only says what each file should contain; src/servicefiles.rs maps it
//! to paths, checks it with the services' own tools and writes it.

use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// A file name inside one of the managed directories, with where it was written.
pub type FileName = Located<String>;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Services {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postfix: Option<PostfixFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dovecot: Option<DovecotFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rspamd: Option<RspamdFiles>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostfixFiles {
    /// Postfix parameters, written in this order as `name = value` to `postfix/extra.cf`
    /// (appended to main.cf when postfix-mailcow starts). `myhostname` is mailcow's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_cf: Option<IndexMap<FileName, Located<Param>>>,
    /// Lookup tables in `postfix/`: `custom_transport.pcre`, `custom_postscreen_whitelist.cidr`
    /// or any other `*.pcre` / `*.cidr` that main_cf refers to.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub files: IndexMap<FileName, Located<Content>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DovecotFiles {
    /// `dovecot/extra.conf`, included at the end of dovecot.conf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_conf: Option<Located<Content>>,
    /// `dovecot/global_sieve_before`: a Sieve script run before every user's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sieve_before: Option<Located<Content>>,
    /// `dovecot/global_sieve_after`: a Sieve script run after every user's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sieve_after: Option<Located<Content>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RspamdFiles {
    /// `rspamd/local.d/<name>` (`*.conf` or `*.inc`): merged with rspamd's defaults.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub local_d: IndexMap<FileName, Located<Content>>,
    /// `rspamd/override.d/<name>` (`*.conf` or `*.inc`): replaces rspamd's defaults.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub override_d: IndexMap<FileName, Located<Content>>,
    /// `rspamd/custom/<name>`: map files, which rspamd reloads by itself.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub maps: IndexMap<FileName, Located<Content>>,
    /// The password of Rspamd's web UI, as mailcow's "Rspamd UI" form sets it: a reference
    /// (`{env: NAME}`, `{file: path}`), hashed with `rspamadm pw` where rspamd runs, or a `$2$…`
    /// hash that `rspamadm pw -e` made; written to `override.d/worker-controller-password.inc`,
    /// then rspamd restarts. Unset: left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_password: Option<Located<super::Secret>>,
}

/// Where mailcow keeps the Rspamd UI password (relative to the services root).
pub const RSPAMD_PASSWORD_FILE: &str = "rspamd/override.d/worker-controller-password.inc";

/// A file's text, written inline or read from a file next to the YAML (`{file: path}`, relative
/// to the desired-state directory). Unlike secrets, the text is shown in plans and kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Content {
    Inline(String),
    File {
        /// Path of the file holding the text, relative to the desired-state directory.
        file: PathBuf,
    },
}

/// A postfix parameter value. YAML numbers and booleans are accepted and written as postfix
/// reads them (`10240000`, `yes`/`no`), so `message_size_limit: 10240000` needs no quotes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Param {
    Text(String),
    Number(i64),
    Flag(bool),
}

impl Param {
    pub fn as_postfix(&self) -> String {
        match self {
            Param::Text(t) => t.clone(),
            Param::Number(n) => n.to_string(),
            Param::Flag(b) => if *b { "yes" } else { "no" }.to_string(),
        }
    }
}

/// A hash as `rspamadm pw -e` prints it (catena: `$2$<salt>$<hash>`, lowercase base32), the only
/// form mailcow writes.
pub fn is_rspamd_hash(v: &str) -> bool {
    let mut parts = v.split('$');
    let valid = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    matches!((parts.next(), parts.next(), parts.next(), parts.next(), parts.next()), (Some(""), Some("2"), Some(salt), Some(hash), None) if valid(salt) && valid(hash))
}
