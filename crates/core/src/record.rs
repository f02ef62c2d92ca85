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

/// One object. Its values are kept encoded one after another in a single byte buffer, and its
/// field names are a list shared by every record of the same shape: at 100,000 mailboxes of 40
/// fields, one (name, Value) pair per field was 215 MB per side, the encoded form is a quarter
/// of that, and an unchanged record compares as one byte-string equality.
#[derive(Clone)]
pub struct Record {
    pub kind: Kind,
    pub key: String,
    /// The names are `shape[..len]`.
    shape: &'static [Field],
    len: u32,
    data: Vec<u8>,
}

/// The longest encoded record of each kind so far: new records reserve that many bytes, instead
/// of growing by doubling (at 100,000 mailboxes per side, that slack alone was 100s of MB).
static RECORD_BYTES: [AtomicUsize; Kind::ALL.len()] = [const { AtomicUsize::new(0) }; Kind::ALL.len()];

impl Record {
    pub fn new(kind: Kind, key: impl Into<String>) -> Record {
        Record { kind, key: key.into(), shape: shapes::hint(kind), len: 0, data: Vec::with_capacity(RECORD_BYTES[kind as usize].load(Ordering::Relaxed)) }
    }
    pub fn with(mut self, name: Field, value: Value) -> Record {
        self.push(name, value);
        self
    }
    pub fn push(&mut self, name: Field, value: Value) {
        let n = self.len as usize;
        if self.shape.get(n) != Some(&name) {
            self.shape = shapes::extend(self.kind, &self.shape[..n], name);
        }
        self.len += 1;
        let grown = self.data.capacity();
        encode(&value, &mut self.data);
        if self.data.capacity() != grown {
            RECORD_BYTES[self.kind as usize].fetch_max(self.data.len(), Ordering::Relaxed);
        }
    }
    /// Replaces the value of a field the record has; does nothing otherwise.
    pub fn set(&mut self, name: &str, value: Value) {
        if let Some(range) = self.range(name) {
            let mut bytes = Vec::new();
            encode(&value, &mut bytes);
            self.data.splice(range, bytes);
        }
    }

    pub fn names(&self) -> &'static [Field] {
        &self.shape[..self.len as usize]
    }
    /// Each field's name and its encoded value: equal bytes are equal values.
    pub fn encoded(&self) -> impl Iterator<Item = (Field, &[u8])> {
        let mut at = 0;
        self.names().iter().map(move |f| {
            let end = skip(&self.data, at);
            let bytes = &self.data[at..end];
            at = end;
            (*f, bytes)
        })
    }
    /// Whether both records have the same fields with the same values.
    pub fn same_fields(&self, other: &Record) -> bool {
        self.data == other.data && self.same_names(other)
    }
    /// Whether both records have the same field names in the same order: records of one shape
    /// share one list, so this is mostly a pointer comparison.
    pub fn same_names(&self, other: &Record) -> bool {
        std::ptr::eq(self.names(), other.names()) || self.names() == other.names()
    }
    pub fn fields(&self) -> impl Iterator<Item = (Field, Value)> {
        self.encoded().map(|(f, bytes)| (f, decode(bytes)))
    }
    pub fn field_count(&self) -> usize {
        self.len as usize
    }

    fn range(&self, name: &str) -> Option<std::ops::Range<usize>> {
        let i = self.names().iter().position(|n| *n == name)?;
        let start = (0..i).fold(0, |at, _| skip(&self.data, at));
        Some(start..skip(&self.data, start))
    }
    fn raw(&self, name: &str) -> Option<&[u8]> {
        self.range(name).map(|r| &self.data[r])
    }
    pub fn get(&self, name: &str) -> Option<Value> {
        self.raw(name).map(decode)
    }
    pub fn has(&self, name: &str) -> bool {
        self.names().contains(&name)
    }
    pub fn text(&self, name: &str) -> &str {
        match self.raw(name) {
            Some([TEXT, rest @ ..]) => {
                let (len, at) = varint(rest, 0);
                std::str::from_utf8(&rest[at..at + len]).unwrap_or("")
            }
            _ => "",
        }
    }
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.raw(name), Some([TRUE]))
    }
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(i)) => i,
            Some(Value::Size(s)) => s as i64,
            Some(Value::Bool(b)) => i64::from(b),
            _ => 0,
        }
    }
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(Value::List(l)) => l.into_vec(),
            _ => Vec::new(),
        }
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.kind == other.kind && self.key == other.key && self.same_fields(other)
    }
}
impl Eq for Record {}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record").field("kind", &self.kind).field("key", &self.key).field("fields", &self.fields().collect::<Vec<_>>()).finish()
    }
}

// The encoding: a tag byte, then for Int and Size 8 bytes little-endian, for Text a length
// (LEB128) and the bytes, for List a count and each item as a Text, for Secret a create-only
// byte and the token as a Text. One value has exactly one encoding, so bytes compare as values.
const FALSE: u8 = 0;
const TRUE: u8 = 1;
const INT: u8 = 2;
const SIZE: u8 = 3;
const TEXT: u8 = 4;
const LIST: u8 = 5;
const SECRET: u8 = 6;

fn put_len(n: usize, out: &mut Vec<u8>) {
    let mut n = n as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_text(t: &str, out: &mut Vec<u8>) {
    put_len(t.len(), out);
    out.extend_from_slice(t.as_bytes());
}

fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Bool(b) => out.push(if *b { TRUE } else { FALSE }),
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Size(s) => {
            out.push(SIZE);
            out.extend_from_slice(&s.to_le_bytes());
        }
        Value::Text(t) => {
            out.push(TEXT);
            put_text(t, out);
        }
        Value::List(items) => {
            out.push(LIST);
            put_len(items.len(), out);
            items.iter().for_each(|i| put_text(i, out));
        }
        Value::Secret(s) => {
            out.push(SECRET);
            out.push(u8::from(s.create_only));
            put_text(&s.token, out);
        }
    }
}

/// A LEB128 number at `at`, and where the bytes after it start.
fn varint(data: &[u8], mut at: usize) -> (usize, usize) {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = data[at];
        at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (n, at);
        }
        shift += 7;
    }
}

/// Where the text starting at `at` ends.
fn skip_text(data: &[u8], at: usize) -> usize {
    let (len, at) = varint(data, at);
    at + len
}

/// Where the value starting at `at` ends.
fn skip(data: &[u8], at: usize) -> usize {
    match data[at] {
        FALSE | TRUE => at + 1,
        INT | SIZE => at + 9,
        TEXT => skip_text(data, at + 1),
        LIST => {
            let (count, at) = varint(data, at + 1);
            (0..count).fold(at, |at, _| skip_text(data, at))
        }
        _ => skip_text(data, at + 2),
    }
}

fn text_at(data: &[u8], at: usize) -> (String, usize) {
    let end = skip_text(data, at);
    let (_, start) = varint(data, at);
    (String::from_utf8_lossy(&data[start..end]).into_owned(), end)
}

/// The value of one field's bytes (from `encoded`).
pub fn decode(bytes: &[u8]) -> Value {
    let number = || <[u8; 8]>::try_from(&bytes[1..9]).expect("8 bytes");
    match bytes[0] {
        FALSE => Value::Bool(false),
        TRUE => Value::Bool(true),
        INT => Value::Int(i64::from_le_bytes(number())),
        SIZE => Value::Size(u64::from_le_bytes(number())),
        TEXT => Value::Text(text_at(bytes, 1).0.into_boxed_str()),
        LIST => {
            let (count, mut at) = varint(bytes, 1);
            let items = (0..count)
                .map(|_| {
                    let (item, next) = text_at(bytes, at);
                    at = next;
                    item
                })
                .collect();
            Value::List(items)
        }
        _ => Value::Secret(Box::new(SecretToken { create_only: bytes[1] == 1, token: text_at(bytes, 2).0 })),
    }
}

/// The shared name lists. A record's names are a prefix of one interned, never freed list; a
/// record of the usual shape for its kind only compares names while it is built.
mod shapes {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};

    use super::Field;
    use crate::model::Kind;

    type NextKey = (usize, usize, usize, usize);

    static INTERNED: LazyLock<Mutex<HashMap<Vec<Field>, &'static [Field]>>> = LazyLock::new(Default::default);

    thread_local! {
        static HINT: [Cell<&'static [Field]>; Kind::ALL.len()] = const { [const { Cell::new(&[]) }; Kind::ALL.len()] };
        /// (list, prefix length, name) → the interned list of that prefix plus the name.
        static NEXT: RefCell<HashMap<NextKey, &'static [Field]>> = RefCell::new(HashMap::new());
    }

    /// The names the last record of this kind built on this thread had: the next one most
    /// likely has the same.
    pub fn hint(kind: Kind) -> &'static [Field] {
        HINT.with(|h| h[kind as usize].get())
    }

    /// The interned list `prefix` + `name`; `prefix` is a prefix of an interned list.
    pub fn extend(kind: Kind, prefix: &'static [Field], name: Field) -> &'static [Field] {
        let id = (prefix.as_ptr() as usize, prefix.len(), name.as_ptr() as usize, name.len());
        let list = NEXT.with(|next| {
            *next.borrow_mut().entry(id).or_insert_with(|| {
                let mut names = prefix.to_vec();
                names.push(name);
                let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
                *interned.entry(names).or_insert_with_key(|names| Box::leak(names.clone().into_boxed_slice()))
            })
        });
        HINT.with(|h| h[kind as usize].set(list));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_written_and_shapes_are_shared() {
        let values = [
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(-5),
            Value::Size(1 << 40),
            Value::text(""),
            Value::text("x".repeat(300)),
            Value::List(Box::new([])),
            Value::List(vec!["a".to_string(), "é".repeat(100)].into()),
            Value::Secret(Box::new(SecretToken { token: "t".into(), create_only: true })),
        ];
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        let build = |key: &str| names.iter().zip(&values).fold(Record::new(Kind::Domain, key), |r, (n, v)| r.with(n, v.clone()));
        let (one, two) = (build("one"), build("two"));
        assert_eq!(one.fields().map(|(_, v)| v).collect::<Vec<_>>(), values);
        assert_eq!(one.names(), names);
        assert!(std::ptr::eq(one.names(), two.names()), "the same shape is one list");
        assert!(one.same_fields(&two));
        assert_eq!((one.text("f"), one.flag("b"), one.int("c"), one.int("d"), one.list("h").len()), (&*"x".repeat(300), true, -5, 1 << 40, 2));

        // A record that leaves the usual shape gets its own names, and the next follows again.
        let other = Record::new(Kind::Domain, "x").with("a", Value::Bool(true)).with("z", Value::Int(1));
        assert_eq!(other.names(), ["a", "z"]);
        assert_eq!(build("three").names(), names);

        let mut changed = one.clone();
        changed.set("f", Value::text("short"));
        changed.set("missing", Value::Int(1));
        assert_eq!(changed.get("f"), Some(Value::text("short")));
        assert_eq!(changed.get("i"), one.get("i"));
        assert!(!changed.same_fields(&one));
        assert_eq!(changed.encoded().filter(|(f, b)| one.raw(f) != Some(b)).map(|(f, _)| f).collect::<Vec<_>>(), ["f"]);
    }
}
