//! `export`: a live server → a desired-state directory that plans to no changes. This is how
//! an existing mailcow server is adopted. Each kind writes its records into the files here
//! (`KindSpec::export`), in `KINDS` order: a domain before what it holds.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Document, Domain, Located, Mailbox, RateLimit, Size};
use crate::record::Record;

/// What export writes: file name (relative) → document.
pub struct Exported {
    pub files: BTreeMap<String, Document>,
    pub skipped: Vec<String>,
}

/// The export under way.
pub struct Export<'a> {
    /// Each domain's file holds its alias domains, mailboxes and aliases.
    pub domains: BTreeMap<String, Domain>,
    /// Alias domain → its target: an alias of an alias domain goes to the target's file.
    pub alias_target: BTreeMap<String, String>,
    /// The other files (`routing.yaml`, `maps.yaml`, …).
    pub files: BTreeMap<&'static str, Document>,
    pub skipped: Vec<String>,
    /// username → stored password hash, given only with `--include-hashes`.
    pub hashes: Option<&'a HashMap<String, String>>,
    /// username → its place in its domain's `mailboxes`.
    pub mailboxes: HashMap<String, usize>,
    /// netfilter's built-in log rules (`LiveData::netfilter_rules`).
    pub netfilter_rules: Option<&'a [String]>,
}

impl Export<'_> {
    pub fn file(&mut self, name: &'static str) -> &mut Document {
        self.files.entry(name).or_default()
    }
    /// The exported domain a record keyed by its domain belongs to; `what` is skipped, and said
    /// so, when that domain is not on the server.
    pub fn domain(&mut self, r: &Record, what: &str) -> Option<&mut Domain> {
        if !self.domains.contains_key(&r.key) {
            self.skipped.push(format!("{what} of {} (not a domain on this server)", r.key));
        }
        self.domains.get_mut(&r.key)
    }
    /// Adds an exported mailbox to its domain's file.
    pub fn add_mailbox(&mut self, username: &str, domain: &str, m: Mailbox) {
        match self.domains.get_mut(domain) {
            Some(d) => {
                self.mailboxes.insert(username.to_string(), d.mailboxes.len());
                d.mailboxes.push(m);
            }
            None => self.skipped.push(format!("mailbox {username} (domain {domain} does not exist)")),
        }
    }
    /// The exported mailbox a record keyed by its address belongs to; `what` is skipped, and
    /// said so, when that mailbox is not on the server.
    pub fn mailbox(&mut self, username: &str, what: &str) -> Option<&mut Mailbox> {
        let found = self.mailboxes.get(username).copied().zip(self.domains.get_mut(crate::model::names::domain_of(username)));
        let m = found.and_then(|(i, d)| d.mailboxes.get_mut(i));
        if m.is_none() {
            self.skipped.push(format!("{what} of {username} (not a mailbox on this server)"));
        }
        m
    }
}

pub fn export(records: &[Record], hashes: Option<&HashMap<String, String>>, netfilter_rules: Option<&[String]>) -> Exported {
    let mut x = Export {
        domains: BTreeMap::new(),
        alias_target: BTreeMap::new(),
        files: BTreeMap::new(),
        skipped: Vec::new(),
        hashes,
        mailboxes: HashMap::new(),
        netfilter_rules,
    };
    for k in &super::KINDS {
        // mailcow's own objects (the `Default` templates) stay unmanaged: mailplane's built-in copy applies.
        for r in records.iter().filter(|r| r.kind == k.kind && !super::protected(r)) {
            (k.export)(&mut x, r);
        }
    }
    let mut files: BTreeMap<String, Document> =
        x.domains.into_iter().map(|(name, d)| (format!("domains/{name}.yaml"), Document { domains: vec![d], ..Default::default() })).collect();
    files.extend(x.files.into_iter().filter(|(_, doc)| *doc != Document::default()).map(|(name, doc)| (name.to_string(), doc)));
    Exported { files, skipped: x.skipped }
}

pub fn loc<T>(v: T) -> Located<T> {
    Located::new(v)
}
pub fn some_if<T>(cond: bool, v: T) -> Option<T> {
    cond.then_some(v)
}
pub fn text(r: &Record, f: &str) -> Option<String> {
    Some(r.text(f).to_string()).filter(|s| !s.is_empty())
}
pub fn size(r: &Record, f: &str) -> Size {
    Size(r.int(f) as u64)
}
pub fn rate(r: &Record, f: &str) -> Option<Located<RateLimit>> {
    RateLimit::parse_redis(r.text(f)).map(loc)
}
pub fn enum_from<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}
/// A stored `@domain` as written in YAML (`domain`).
pub fn address_or_domain(s: &str) -> String {
    s.strip_prefix('@').unwrap_or(s).to_string()
}
