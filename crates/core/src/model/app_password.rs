//! A mailbox's app passwords: extra passwords for one device or program each, limited to some
//! protocols (mailcow's `app_passwd` rows, checked by Dovecot and Postfix at login).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Located, PasswordPolicy, Protocol, Secret};

/// One app password of the mailbox it is declared in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPassword {
    /// Its name, unique in the mailbox (mailcow stores it HTML-escaped: `iPhone <Mail>` is
    /// `iPhone &lt;Mail&gt;`, which is how the plan names it).
    #[schemars(length(min = 1, max = 255))]
    pub name: Located<String>,
    /// A `{SCHEME}` hash, `{env: NAME}` or `{file: path}` (hashed as `{BLF-CRYPT}` when written).
    /// Needed to create it; an `initial` one that exists may leave it out (as `export` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Secret>>,
    /// `initial` (default): set the password only when the app password is created; `enforce`:
    /// keep it equal to the declared one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    /// The protocols it may log in with: `imap`, `pop3`, `smtp`, `sieve`, `eas`, `dav` (default:
    /// all six, as mailcow's form preselects them). The mailbox must allow a protocol too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<Located<Protocol>>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}
