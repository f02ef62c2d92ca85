//! The one shape both sides are reduced to: `Record { kind, key, fields }`, values already
//! in mailcow's meaning. Diff, ordering and rendering are written once against it.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::{Kind, Size};

/// A field value. Secrets are never held here: only a token that says whether two sides agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum Value {
    Bool(bool),
    Int(i64),
    /// Bytes; shown with a unit.
    Size(u64),
    // Boxed: a Value is 24 bytes instead of 32, and a 100,000-mailbox server holds millions.
    Text(Box<str>),
    List(Box<[String]>),
    Secret(Box<SecretToken>),
}

/// Stands for a secret. Two tokens are equal when the secret is known to match; the text
/// is a one-way digest of a stored hash or a marker, never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretToken {
    pub token: String,
    /// `initial` mailbox passwords are written on create only and never compared afterwards.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_only: bool,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Size(s) => write!(f, "{}", Size(*s)),
            Value::Text(t) => write!(f, "{t:?}"),
            Value::List(l) => write!(f, "[{}]", l.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")),
            Value::Secret(_) => f.write_str("(sensitive)"),
        }
    }
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into().into_boxed_str())
    }
    /// Whether the live value satisfies the desired one.
    pub fn satisfies(&self, live: &Value) -> bool {
        match (self, live) {
            (Value::Secret(d), Value::Secret(_)) if d.create_only => true,
            _ => self == live,
        }
    }
}

pub type Field = &'static str;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    pub kind: Kind,
    pub key: String,
    /// The same fields in the same order on both sides, so a diff is a zip.
    pub fields: Vec<(Field, Value)>,
}

/// How many fields a record of each kind has had at most: new records reserve exactly that,
/// instead of growing by doubling (a mailbox has 40 fields; doubling would reserve 64, and at
/// 100,000 mailboxes on both sides that slack alone is 200 MB).
static FIELD_COUNT: [AtomicUsize; Kind::ALL.len()] = [const { AtomicUsize::new(0) }; Kind::ALL.len()];

impl Record {
    pub fn new(kind: Kind, key: impl Into<String>) -> Record {
        Record { kind, key: key.into(), fields: Vec::with_capacity(FIELD_COUNT[kind as usize].load(Ordering::Relaxed)) }
    }
    pub fn with(mut self, name: Field, value: Value) -> Record {
        self.push(name, value);
        self
    }
    pub fn push(&mut self, name: Field, value: Value) {
        self.fields.push((name, value));
        FIELD_COUNT[self.kind as usize].fetch_max(self.fields.len(), Ordering::Relaxed);
    }
    /// `base` with this record's fields put over it.
    pub fn merged_into(self, base: &Record) -> Record {
        let mut out = base.clone();
        for (f, v) in self.fields {
            if let Some(slot) = out.fields.iter_mut().find(|(n, _)| *n == f) {
                slot.1 = v;
            }
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    pub fn text(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Value::Text(t)) => t,
            _ => "",
        }
    }
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(i)) => *i,
            Some(Value::Size(s)) => *s as i64,
            Some(Value::Bool(b)) => i64::from(*b),
            _ => 0,
        }
    }
    pub fn list(&self, name: &str) -> &[String] {
        match self.get(name) {
            Some(Value::List(l)) => l,
            _ => &[],
        }
    }
}
