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
