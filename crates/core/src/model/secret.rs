//! Secrets: values that know they are secret. Display and Debug never show them.

use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Where a secret comes from. In YAML: a literal string (a `{SCHEME}` hash for mailbox
/// passwords; a plaintext value is accepted with a warning), `{env: NAME}` or `{file: path}`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Secret {
    Literal(String),
    Env(String),
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{0}` is not set; export it before running mailplane")]
    EnvMissing(String),
    #[error("secret file: {0}")]
    File(#[from] crate::confined::ConfinedError),
    #[error("secret file `{0}` is not UTF-8 text")]
    NotText(String),
    /// Read before planning (`Revealed::resolve`), and failed then.
    #[error("{0}")]
    Unresolved(String),
}

/// Every secret reference a desired state names, read once, in a step of its own before any
/// record is built (`Revealed::resolve`). Record building, password verification and apply look
/// values up here: nothing after that step reads the environment or a file, and a secret that
/// changes meanwhile cannot make apply write another value than the plan compared. Literals are
/// not copied in: they are their own value.
/// The binary files (UI logos) are read in the same step, for the same reason.
#[derive(Clone, Default)]
pub struct Revealed {
    secrets: std::sync::Arc<std::collections::HashMap<Secret, Result<String, String>>>,
    files: std::sync::Arc<std::collections::HashMap<std::path::PathBuf, Result<Vec<u8>, String>>>,
}

impl Revealed {
    /// Reads each reference once; `dir` is the desired-state directory (`{file:}` is read from inside it).
    pub fn resolve<'a>(secrets: impl IntoIterator<Item = &'a Secret>, dir: &Path) -> Revealed {
        let mut map = std::collections::HashMap::new();
        for s in secrets.into_iter().filter(|s| !s.is_literal()) {
            map.entry(s.clone()).or_insert_with(|| s.reveal(dir).map_err(|e| e.to_string()));
        }
        Revealed { secrets: std::sync::Arc::new(map), files: Default::default() }
    }

    /// Reads each file once, from inside `dir`, at most `limit` bytes.
    pub fn with_files<'a>(mut self, files: impl IntoIterator<Item = &'a Path>, dir: &Path, limit: u64) -> Revealed {
        use crate::confined::{Scope, read};
        let mut map = std::collections::HashMap::new();
        for f in files {
            map.entry(f.to_path_buf()).or_insert_with(|| read(dir, f, Scope::Directory, limit).map_err(|e| e.to_string()));
        }
        self.files = std::sync::Arc::new(map);
        self
    }

    pub fn file(&self, path: &Path) -> Result<&[u8], String> {
        match self.files.get(path) {
            Some(Ok(bytes)) => Ok(bytes),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("{} was not read before planning", path.display())),
        }
    }

    pub fn get(&self, secret: &Secret) -> Result<String, SecretError> {
        match (secret, self.secrets.get(secret)) {
            (Secret::Literal(v), _) => Ok(v.clone()),
            (_, Some(Ok(v))) => Ok(v.clone()),
            (_, Some(Err(e))) => Err(SecretError::Unresolved(e.clone())),
            (_, None) => Err(SecretError::Unresolved(format!("{} was not read before planning", secret.describe()))),
        }
    }
}

impl fmt::Debug for Revealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Revealed({} secrets, {} files)", self.secrets.len(), self.files.len())
    }
}

impl Secret {
    /// The one way to the value. `{file: path}` is read from inside `dir` (the desired-state
    /// directory; relative paths start there), with trailing newlines trimmed.
    pub fn reveal(&self, dir: &Path) -> Result<String, SecretError> {
        use crate::confined::{MAX_SECRET_BYTES, Scope, read};
        match self {
            Secret::Literal(v) => Ok(v.clone()),
            Secret::Env(name) => std::env::var(name).map_err(|_| SecretError::EnvMissing(name.clone())),
            Secret::File(path) => {
                let bytes = read(dir, path, Scope::Secrets, MAX_SECRET_BYTES)?;
                let text = String::from_utf8(bytes).map_err(|_| SecretError::NotText(path.display().to_string()))?;
                Ok(text.trim_end_matches(['\n', '\r']).to_string())
            }
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, Secret::Literal(_))
    }

    /// A literal that is already a Dovecot `{SCHEME}` hash, stored verbatim.
    pub fn prehashed(&self) -> Option<&str> {
        match self {
            Secret::Literal(v) if crate::password::is_prehashed(v) => Some(v),
            _ => None,
        }
    }

    /// A short, non-secret description for diagnostics: `env:NAME`, `file:path`, `literal`.
    pub fn describe(&self) -> String {
        match self {
            Secret::Literal(_) => "a literal value".into(),
            Secret::Env(n) => format!("env:{n}"),
            Secret::File(p) => format!("file:{}", p.display()),
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Literal(_) => f.write_str("Secret(sensitive)"),
            other => write!(f, "Secret({})", other.describe()),
        }
    }
}

/// Writing a model back to YAML keeps references as references; literals are written
/// as they were read (they came from the user's own file or from `export --include-hashes`).
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Secret::Literal(v) => s.serialize_str(v),
            Secret::Env(n) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("env", n)?;
                m.end()
            }
            Secret::File(p) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("file", p)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a secret: a `{SCHEME}` hash, `{env: NAME}` or `{file: path}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::Literal(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
                let key: String = map.next_key()?.ok_or_else(|| de::Error::custom("expected `env` or `file`"))?;
                let value: String = map.next_value()?;
                let secret = match key.as_str() {
                    "env" if !value.is_empty() => Secret::Env(value),
                    "file" if !value.is_empty() => Secret::File(PathBuf::from(value)),
                    "env" | "file" => return Err(de::Error::custom(format!("`{key}` needs a non-empty value"))),
                    other => return Err(de::Error::unknown_field(other, &["env", "file"])),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!("a secret reference has exactly one key (`env` or `file`), found also `{extra}`")));
                }
                Ok(secret)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A secret: a literal (for mailbox passwords a `{SCHEME}` hash such as `{BLF-CRYPT}$2y$...`), `{env: NAME}` or `{file: path}`. Plaintext literals draw a warning.",
            "oneOf": [
                {"type": "string"},
                {"type": "object", "properties": {"env": {"type": "string", "minLength": 1}}, "required": ["env"], "additionalProperties": false},
                {"type": "object", "properties": {"file": {"type": "string", "minLength": 1}}, "required": ["file"], "additionalProperties": false}
            ]
        })
    }
}

#[cfg(test)]
mod revealed_tests {
    use super::*;

    #[test]
    fn references_are_read_once_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let file = Secret::File("pw".into());
        let missing = Secret::Env("MAILPLANE_TEST_UNSET_VARIABLE_42".into());
        let revealed = Revealed::resolve([&file, &missing, &Secret::Literal("{SSHA}x".into())], dir.path());
        std::fs::write(dir.path().join("pw"), "changed").unwrap();
        assert_eq!(revealed.get(&file).unwrap(), "s3cret", "read in the resolve step, not when used");
        assert!(revealed.get(&missing).unwrap_err().to_string().contains("MAILPLANE_TEST_UNSET_VARIABLE_42"));
        assert_eq!(revealed.get(&Secret::Literal("{SSHA}x".into())).unwrap(), "{SSHA}x");
        assert!(revealed.get(&Secret::Env("OTHER".into())).is_err(), "a reference not resolved is an error, not a read");
        assert_eq!(format!("{revealed:?}"), "Revealed(2 secrets, 0 files)");
    }
}
