//! A fast path for the plain YAML that desired-state files are in practice: block mappings and
//! sequences, one-line scalars (plain, single- or double-quoted), one-line flow lists and
//! `{key: value}` mappings. serde-saphyr reads a 100,000-mailbox directory at ~18 MB/s, more
//! than the whole budget of a plan; this reads the common subset many times faster, with the
//! same values and spans.
//!
//! It is only ever an accelerator: it gives up (None) on anything outside the subset or in
//! doubt — anchors, tags, block scalars, multi-line scalars, empty values, duplicate keys,
//! typed-looking plain scalars asked for as text, any deserialization error — and the caller
//! parses the file with serde-saphyr, which stays the authority for every value it takes and
//! for every diagnostic. `tests/it/yaml_fast.rs` checks both agree.

#![deny(clippy::indexing_slicing, clippy::string_slice)]

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::model::Span;

/// The newtype name `Located` asks for when this deserializer is running.
pub const LOCATED: &str = "__mailplane_located";

/// serde-saphyr's `max_depth` (load/yaml.rs): deeper files go to it for its error.
const MAX_DEPTH: usize = 32;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static SPAN: RefCell<Option<Span>> = const { RefCell::new(None) };
}

/// Whether this thread is deserializing with the fast path (`Located` then uses `LOCATED`).
pub fn active() -> bool {
    ACTIVE.with(Cell::get)
}

/// The span of the value a `LOCATED` newtype wraps, set just before its visitor runs.
pub fn take_span() -> Option<Span> {
    SPAN.with(|s| s.borrow_mut().take())
}

/// `text` as `T`, or None when the fast path cannot be sure of the same result as serde-saphyr.
pub fn parse<T: DeserializeOwned>(text: &str) -> Option<T> {
    let root = Parser::new(text)?.document()?;
    ACTIVE.with(|a| a.set(true));
    let value = T::deserialize(&root);
    ACTIVE.with(|a| a.set(false));
    value.ok()
}

#[derive(Debug)]
enum Kind<'a> {
    Plain(&'a str),
    Quoted(Cow<'a, str>),
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
}

#[derive(Debug)]
struct Node<'a> {
    kind: Kind<'a>,
    span: Span,
}

/// Marks a failure; never shown (the caller falls back to serde-saphyr).
#[derive(Debug)]
struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("not in the fast subset")
    }
}
impl std::error::Error for GiveUp {}
impl de::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

struct Line<'a> {
    /// The line without its newline.
    text: &'a str,
    /// Byte offset of the line in the file.
    offset: usize,
    /// 1-based.
    number: u32,
    /// Leading spaces.
    indent: usize,
    /// Columns count characters: on other lines they are counted, not computed.
    ascii: bool,
}

struct Parser<'a> {
    /// Significant lines only (not blank, not only a comment).
    lines: Vec<Line<'a>>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Option<Parser<'a>> {
        if text.contains("${") || !plain_characters(text) {
            return None;
        }
        let mut lines = Vec::new();
        let mut offset = 0;
        for (i, raw) in text.split('\n').enumerate() {
            let rest = raw.trim_start_matches(' ');
            let indent = raw.len() - rest.len();
            if !rest.is_empty() && !rest.starts_with('#') {
                if rest.starts_with("---") || rest.starts_with("...") || rest.starts_with('%') {
                    return None;
                }
                lines.push(Line { text: raw, offset, number: i as u32 + 1, indent, ascii: raw.is_ascii() });
            }
            offset += raw.len() + 1;
        }
        Some(Parser { lines, at: 0 })
    }

    fn document(mut self) -> Option<Node<'a>> {
        let first = self.lines.first()?;
        if first.indent != 0 {
            return None;
        }
        let node = self.block(0, 0, 1)?;
        (self.at == self.lines.len()).then_some(node)
    }

    fn span(line: &Line, col: usize, len: usize) -> Option<Span> {
        let column = if line.ascii { col } else { line.text.get(..col)?.chars().count() };
        Some(Span { line: line.number, column: column as u32 + 1, offset: (line.offset + col) as u32, len: len as u32 })
    }

    /// The block node starting on the current line at column `col` (a mapping or a sequence).
    fn block(&mut self, line: usize, col: usize, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let rest = self.lines.get(line)?.text.get(col..)?;
        if rest == "-" || rest.starts_with("- ") { self.sequence(col, depth) } else { self.mapping(line, col, depth) }
    }

    fn sequence(&mut self, col: usize, depth: usize) -> Option<Node<'a>> {
        let span = Self::span(self.lines.get(self.at)?, col, 0)?;
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.at) {
            let rest = line.text.get(col.min(line.text.len())..)?;
            if line.indent != col || !rest.starts_with("- ") {
                if line.indent > col || line.indent == col && rest == "-" {
                    return None;
                }
                break;
            }
            let after_dash = rest.get(2..)?;
            let item = after_dash.trim_start_matches(' ');
            let item_col = col + 2 + (after_dash.len() - item.len());
            let here = self.at;
            if key_end(item).is_some() && !item.starts_with(['{', '[', '"', '\'']) {
                items.push(self.mapping(here, item_col, depth + 1)?);
            } else if item.starts_with("- ") {
                return None;
            } else {
                items.push(self.inline(here, item_col)?);
                self.at += 1;
                self.no_continuation(col)?;
            }
        }
        Some(Node { kind: Kind::Seq(items), span })
    }

    /// A mapping whose first key is on line `first` at column `col`.
    fn mapping(&mut self, first: usize, col: usize, depth: usize) -> Option<Node<'a>> {
        let span = Self::span(self.lines.get(first)?, col, 0)?;
        let mut entries: Vec<(Node<'a>, Node<'a>)> = Vec::new();
        let mut seen = Keys::default();
        let mut line_no = first;
        loop {
            let line = self.lines.get(line_no)?;
            let text = line.text.get(col..)?;
            let end = key_end(text)?;
            let key = text.get(..end)?;
            if !plain_ok(key) || key == "<<" || !seen.insert(key) {
                return None;
            }
            let key_node = Node { kind: Kind::Plain(key), span: Self::span(line, col, key.len())? };
            let after = text.get(end + 1..)?.trim_start_matches(' ');
            let value = if after.is_empty() || after.starts_with('#') {
                // The value is the block below: deeper, or a sequence at this very column.
                self.at = line_no + 1;
                let next = self.lines.get(self.at)?;
                let next_rest = next.text.get(next.indent..)?;
                if next.indent > col || next.indent == col && next_rest.starts_with("- ") {
                    self.block(self.at, next.indent, depth + 1)?
                } else {
                    return None;
                }
            } else {
                let value_col = line.text.len() - after.len();
                let node = self.inline(line_no, value_col)?;
                self.at = line_no + 1;
                self.no_continuation(col)?;
                node
            };
            entries.push((key_node, value));
            match self.lines.get(self.at) {
                Some(next) if next.indent == col && next.text.get(col..).is_some_and(|t| !t.starts_with('-')) => line_no = self.at,
                Some(next) if next.indent > col => return None,
                _ => break,
            }
        }
        Some(Node { kind: Kind::Map(entries), span })
    }

    /// After a one-line value, nothing may continue it on deeper lines.
    fn no_continuation(&self, col: usize) -> Option<()> {
        match self.lines.get(self.at) {
            Some(next) if next.indent > col => None,
            _ => Some(()),
        }
    }

    /// A one-line value starting at `col` of line `line`: a scalar or a flow list.
    fn inline(&self, line: usize, col: usize) -> Option<Node<'a>> {
        let l = self.lines.get(line)?;
        let text = l.text.get(col..)?;
        if let Some(parts) = flow(text, '{', '}', col) {
            // `{env: NAME}`: plain keys, scalar values.
            let mut entries: Vec<(Node<'a>, Node<'a>)> = Vec::new();
            let mut seen = Keys::default();
            for (entry, at) in parts? {
                let (key, value) = entry.split_once(": ")?;
                if !plain_ok(key) || key.contains(['[', ']', '{', '}', ':', '"', '\'']) || !seen.insert(key) {
                    return None;
                }
                let value = value.trim_start_matches(' ');
                let value_at = at + entry.len() - value.len();
                let (node, used) = scalar(value, l, value_at, true)?;
                (used == value.len()).then_some(())?;
                entries.push((Node { kind: Kind::Plain(key), span: Self::span(l, at, key.len())? }, node));
            }
            return Some(Node { kind: Kind::Map(entries), span: Self::span(l, col, 1)? });
        }
        if let Some(parts) = flow(text, '[', ']', col) {
            let mut items = Vec::new();
            for (item, at) in parts? {
                let (node, used) = scalar(item, l, at, true)?;
                (used == item.len()).then_some(())?;
                items.push(node);
            }
            return Some(Node { kind: Kind::Seq(items), span: Self::span(l, col, 1)? });
        }
        let (node, used) = scalar(text, l, col, false)?;
        comment_only(text.get(used..)?)?;
        Some(node)
    }
}

/// A one-line flow collection at the start of `text` (column `col`): None when `text` does not
/// open one, Some(None) when it is not one line with only a comment after it, else its
/// comma-separated parts (trimmed) with their columns.
fn flow(text: &str, open: char, close: char, col: usize) -> Option<Option<Vec<(&str, usize)>>> {
    let inner = text.strip_prefix(open)?;
    let Some((body, _)) = inner.split_once(close).filter(|(_, after)| comment_only(after).is_some()) else { return Some(None) };
    if body.trim().is_empty() {
        return Some(Some(Vec::new()));
    }
    let mut at = col + 1;
    let parts = body
        .split(',')
        .map(|part| {
            let item = part.trim_matches(' ');
            let item_col = at + part.len() - part.trim_start_matches(' ').len();
            at += part.len() + 1;
            (item, item_col)
        })
        .collect();
    Some(Some(parts))
}

/// No character that YAML reads other than as text, or that looks like a space but is not one
/// (a copied non-breaking space in indentation): such files go to serde-saphyr for its diagnostic.
fn plain_characters(text: &str) -> bool {
    let ascii_ok = |b: u8| b >= 0x20 && b != 0x7f || b == b'\n';
    if text.is_ascii() {
        return text.bytes().all(ascii_ok);
    }
    text.chars().all(|c| {
        if c.is_ascii() {
            ascii_ok(c as u8)
        } else {
            !c.is_control() && !c.is_whitespace() && !matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{200b}'..='\u{200d}' | '\u{2060}')
        }
    })
}

/// The keys of one mapping, to refuse a duplicate: a scan while they are few, a set once they
/// are many (a 100,000-key mapping must not compare each key with all before it).
#[derive(Default)]
struct Keys<'a> {
    few: Vec<&'a str>,
    many: HashSet<&'a str>,
}

impl<'a> Keys<'a> {
    /// False when `key` is there already.
    fn insert(&mut self, key: &'a str) -> bool {
        if !self.many.is_empty() {
            return self.many.insert(key);
        }
        if self.few.contains(&key) {
            return false;
        }
        self.few.push(key);
        if self.few.len() == 16 {
            self.many = self.few.drain(..).collect();
        }
        true
    }
}

/// Where a `key:` ends (the colon), if the text starts with a plain key followed by `: ` or `:` at the end.
fn key_end(text: &str) -> Option<usize> {
    let (key, after) = text.split_once(':')?;
    (!key.is_empty() && !key.contains(['#', '"', '\'']) && (after.is_empty() || after.starts_with(' '))).then_some(key.len())
}

/// Nothing, or spaces and a comment.
fn comment_only(rest: &str) -> Option<()> {
    let trimmed = rest.trim_start_matches(' ');
    (trimmed.is_empty() || trimmed.starts_with('#') && trimmed.len() < rest.len()).then_some(())
}

/// A plain scalar that reads the same in any context: no indicator first, no `: ` or ` #`.
fn plain_ok(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' '])
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
}

/// The scalar at the start of `text` (column `col` of `line`) and the bytes it takes.
fn scalar<'a>(text: &'a str, line: &Line, col: usize, in_flow: bool) -> Option<(Node<'a>, usize)> {
    let (kind, used) = match text.as_bytes().first()? {
        b'"' => double_quoted(text)?,
        b'\'' => single_quoted(text)?,
        _ => {
            let plain = text.split_once(" #").map_or(text, |(before, _)| before).trim_end_matches(' ');
            if !plain_ok(plain) || in_flow && plain.contains([',', '[', ']', '{', '}', ':']) {
                return None;
            }
            (Kind::Plain(plain), plain.len())
        }
    };
    Some((Node { kind, span: Parser::span(line, col, used)? }, used))
}

fn single_quoted(text: &str) -> Option<(Kind<'_>, usize)> {
    let body = text.strip_prefix('\'')?;
    let mut out: Option<String> = None;
    let mut rest = body;
    loop {
        let (part, after) = rest.split_once('\'')?;
        if let Some(after_pair) = after.strip_prefix('\'') {
            let s = out.get_or_insert_with(String::new);
            s.push_str(part);
            s.push('\'');
            rest = after_pair;
            continue;
        }
        let used = text.len() - after.len();
        let value = match out {
            Some(mut s) => {
                s.push_str(part);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(part),
        };
        return Some((Kind::Quoted(value), used));
    }
}

fn double_quoted(text: &str) -> Option<(Kind<'_>, usize)> {
    let body = text.strip_prefix('"')?;
    let close = body.find(['"', '\\'])?;
    let (head, tail) = body.split_at_checked(close)?;
    if tail.starts_with('"') {
        return Some((Kind::Quoted(Cow::Borrowed(head)), close + 2));
    }
    let mut out = String::from(head);
    let mut chars = tail.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((Kind::Quoted(Cow::Owned(out)), close + i + 2)),
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(match e {
                    '\\' => '\\',
                    '"' => '"',
                    '/' => '/',
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    _ => return None,
                });
            }
            c => out.push(c),
        }
    }
    None
}

/// What a plain scalar means, as far as the fast path is sure.
enum Plain {
    Text,
    Unsigned(u64),
    Bool(bool),
    /// Null, a float, a YAML 1.1 word, a number in another base…: serde-saphyr decides.
    Unsure,
}

fn classify(s: &str) -> Plain {
    match s {
        "true" => return Plain::Bool(true),
        "false" => return Plain::Bool(false),
        _ => {}
    }
    const WORDS: [&str; 16] = ["null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "+.inf", "-.inf", ".nan", "+.nan", "-.nan"];
    if WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return Plain::Unsure;
    }
    let Some(&first) = s.as_bytes().first() else { return Plain::Unsure };
    if first.is_ascii_digit() || b"+-.".contains(&first) {
        if s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || first != b'0') {
            return s.parse().map_or(Plain::Unsure, Plain::Unsigned);
        }
        // Only digits, signs, one dot, exponents and base letters can make a number
        // (`192.0.2.1` is text).
        let numberish = s.bytes().all(|b| b.is_ascii_hexdigit() || b"+-._xXoO".contains(&b)) && s.matches('.').count() <= 1;
        return if numberish { Plain::Unsure } else { Plain::Text };
    }
    Plain::Text
}

impl<'a> Node<'a> {
    /// The text of a scalar that is surely a string.
    fn text(&self) -> Result<&str, GiveUp> {
        match &self.kind {
            Kind::Quoted(s) => Ok(s),
            Kind::Plain(s) if matches!(classify(s), Plain::Text) => Ok(s),
            _ => Err(GiveUp),
        }
    }
    fn unsigned(&self) -> Result<u64, GiveUp> {
        match &self.kind {
            Kind::Plain(s) => match classify(s) {
                Plain::Unsigned(n) => Ok(n),
                _ => Err(GiveUp),
            },
            _ => Err(GiveUp),
        }
    }
}

macro_rules! unsigned {
    ($($method:ident => $visit:ident as $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
            let n = <$ty>::try_from(self.unsigned()?).map_err(|_| GiveUp)?;
            visitor.$visit(n)
        }
    )*};
}

macro_rules! give_up {
    ($($method:ident($($arg:ty),*)),*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $arg,)* _: V) -> Result<V::Value, GiveUp> {
            Err(GiveUp)
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for &'de Node<'a> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match &self.kind {
            Kind::Quoted(s) => visitor.visit_str(s),
            Kind::Plain(s) => match classify(s) {
                Plain::Text => visitor.visit_str(s),
                Plain::Unsigned(n) => visitor.visit_u64(n),
                Plain::Bool(b) => visitor.visit_bool(b),
                Plain::Unsure => Err(GiveUp),
            },
            Kind::Seq(items) => visitor.visit_seq(Items(items.iter())),
            Kind::Map(entries) => visitor.visit_map(Entries { iter: entries.iter(), value: None }),
        }
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match &self.kind {
            Kind::Plain(s) => match classify(s) {
                Plain::Bool(b) => visitor.visit_bool(b),
                _ => Err(GiveUp),
            },
            _ => Err(GiveUp),
        }
    }
    unsigned!(deserialize_u8 => visit_u8 as u8, deserialize_u16 => visit_u16 as u16, deserialize_u32 => visit_u32 as u32,
        deserialize_u64 => visit_u64 as u64, deserialize_i8 => visit_i8 as i8, deserialize_i16 => visit_i16 as i16,
        deserialize_i32 => visit_i32 as i32, deserialize_i64 => visit_i64 as i64);
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        visitor.visit_str(self.text()?)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        visitor.visit_str(self.text()?)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        visitor.visit_str(self.text()?)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        // Null-like scalars are left to serde-saphyr (classify says Unsure, text() gives up).
        match &self.kind {
            Kind::Plain(s) if matches!(classify(s), Plain::Unsure) => Err(GiveUp),
            _ => visitor.visit_some(self),
        }
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, GiveUp> {
        if name == LOCATED {
            SPAN.with(|s| *s.borrow_mut() = Some(self.span));
        }
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match &self.kind {
            Kind::Seq(items) => visitor.visit_seq(Items(items.iter())),
            _ => Err(GiveUp),
        }
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match &self.kind {
            Kind::Map(entries) => visitor.visit_map(Entries { iter: entries.iter(), value: None }),
            _ => Err(GiveUp),
        }
    }
    fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, _: &'static [&'static str], visitor: V) -> Result<V::Value, GiveUp> {
        self.deserialize_map(visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(self, _: &'static str, _: &'static [&'static str], visitor: V) -> Result<V::Value, GiveUp> {
        match &self.kind {
            // `ldap: {…}`: the variant and its content.
            Kind::Map(entries) => match entries.as_slice() {
                [only] => visitor.visit_enum(Variant(only)),
                _ => Err(GiveUp),
            },
            _ => visitor.visit_enum(self.text()?.into_deserializer()),
        }
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        visitor.visit_unit()
    }
    // Floats, characters, bytes, units and tuples never occur in desired-state files.
    give_up!(
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_unit(),
        deserialize_unit_struct(&'static str),
        deserialize_tuple(usize),
        deserialize_tuple_struct(&'static str, usize)
    );
}

struct Variant<'de, 'a>(&'de (Node<'a>, Node<'a>));

impl<'de, 'a> de::EnumAccess<'de> for Variant<'de, 'a> {
    type Error = GiveUp;
    type Variant = &'de Node<'a>;
    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, &'de Node<'a>), GiveUp> {
        Ok((seed.deserialize(&self.0.0)?, &self.0.1))
    }
}

impl<'de, 'a> de::VariantAccess<'de> for &'de Node<'a> {
    type Error = GiveUp;
    fn unit_variant(self) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, GiveUp> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, GiveUp> {
        Err(GiveUp)
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value, GiveUp> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

struct Items<'de, 'a>(std::slice::Iter<'de, Node<'a>>);

impl<'de, 'a> SeqAccess<'de> for Items<'de, 'a> {
    type Error = GiveUp;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, GiveUp> {
        self.0.next().map(|n| seed.deserialize(n)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'de, 'a> {
    iter: std::slice::Iter<'de, (Node<'a>, Node<'a>)>,
    value: Option<&'de Node<'a>>,
}

impl<'de, 'a> MapAccess<'de> for Entries<'de, 'a> {
    type Error = GiveUp;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, GiveUp> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GiveUp> {
        seed.deserialize(self.value.take().ok_or(GiveUp)?)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_are_text_only_when_no_yaml_type_could_claim_them() {
        let kind = |s: &str| match classify(s) {
            Plain::Text => "text".to_string(),
            Plain::Unsigned(n) => format!("u{n}"),
            Plain::Bool(b) => format!("{b}"),
            Plain::Unsure => "unsure".to_string(),
        };
        for (s, want) in [
            ("true", "true"),
            ("0", "u0"),
            ("12", "u12"),
            ("abc", "text"),
            ("1 GiB", "text"),
            ("10/1h", "text"),
            ("192.0.2.1", "text"),
            (".sub.example", "text"),
            ("-z", "text"),
            ("-x", "unsure"),
            ("007", "unsure"),
            ("1.5", "unsure"),
            (".5", "unsure"),
            ("-3", "unsure"),
            ("+4", "unsure"),
            ("1e3", "unsure"),
            ("0x1F", "unsure"),
            ("1_000", "unsure"),
            ("-.inf", "unsure"),
            (".NaN", "unsure"),
            ("yes", "unsure"),
            ("Null", "unsure"),
            ("~", "unsure"),
            ("True", "unsure"),
            ("99999999999999999999999", "unsure"),
        ] {
            assert_eq!(kind(s), want, "{s}");
        }
    }
}
