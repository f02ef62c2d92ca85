//! The live state as planning sees it: the rows observe read (by column name) and the Redis
//! hashes. Pure data: reading it is `observe`'s job, in the store layer's terms.

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::model::Kind;

/// A live row kept for planning: one allocation per row, the column ends (u32, little-endian)
/// followed by every column's text. At 100,000 mailboxes and 200,000 aliases a
/// `Vec<Option<String>>` per row costs several times the data itself, and a second allocation
/// for the ends 30 MB.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveRow {
    data: Box<[u8]>,
    /// Bit i: column i is NULL. The queries in QUERIES have at most 16 columns.
    nulls: u64,
}

impl LiveRow {
    /// A row as the database layer hands it over: the columns' text joined, where each ends,
    /// and which are NULL (bit i: column i).
    pub(crate) fn from_parts(text: &str, ends: &[u32], nulls: u64) -> LiveRow {
        assert!(ends.len() <= 64, "a live row has at most 64 columns");
        let mut data = Vec::with_capacity(1 + 4 * ends.len() + text.len());
        data.push(ends.len() as u8);
        ends.iter().for_each(|e| data.extend_from_slice(&e.to_le_bytes()));
        data.extend_from_slice(text.as_bytes());
        LiveRow { data: data.into(), nulls }
    }

    pub(crate) fn col(&self, i: usize) -> Option<&str> {
        let columns = usize::from(*self.data.first()?);
        if i >= columns || self.nulls & (1 << i) != 0 {
            return None;
        }
        let end_of = |c: usize| u32::from_le_bytes(self.data[1 + 4 * c..5 + 4 * c].try_into().expect("4 bytes")) as usize;
        let start = if i == 0 { 0 } else { end_of(i - 1) };
        let text = &self.data[1 + 4 * columns..];
        // Column boundaries are where whole strings were joined: always valid UTF-8.
        std::str::from_utf8(&text[start..end_of(i)]).ok()
    }
}

/// The rows of one live query, read by column name.
#[derive(Clone, Debug, Default)]
pub struct Table {
    columns: &'static [&'static str],
    rows: Vec<LiveRow>,
}

impl Table {
    pub(crate) fn new(columns: &'static [&'static str], rows: Vec<LiveRow>) -> Table {
        Table { columns, rows }
    }
    pub fn iter(&self) -> Rows<'_> {
        Rows { rows: self.rows.iter(), columns: self.columns }
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    pub fn get(&self, i: usize) -> Option<Named<'_>> {
        self.rows.get(i).map(|row| Named { row, columns: self.columns })
    }
}

impl<'a> IntoIterator for &'a Table {
    type Item = Named<'a>;
    type IntoIter = Rows<'a>;
    fn into_iter(self) -> Rows<'a> {
        self.iter()
    }
}

pub struct Rows<'a> {
    rows: std::slice::Iter<'a, LiveRow>,
    columns: &'static [&'static str],
}

impl<'a> Iterator for Rows<'a> {
    type Item = Named<'a>;
    fn next(&mut self) -> Option<Named<'a>> {
        self.rows.next().map(|row| Named { row, columns: self.columns })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

/// A live row with its query's column names.
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    row: &'a LiveRow,
    columns: &'static [&'static str],
}

impl<'a> Named<'a> {
    /// The column's text; None for NULL. A name the query does not select is a bug, caught by
    /// every test that reads the kind (a debug assertion), and reads as NULL in release.
    pub fn col(&self, name: &str) -> Option<&'a str> {
        let i = self.columns.iter().position(|c| *c == name);
        debug_assert!(i.is_some(), "the live query does not select `{name}` (it selects {:?})", self.columns);
        self.row.col(i?)
    }
    pub fn s(&self, name: &str) -> &'a str {
        self.col(name).unwrap_or("")
    }
    pub fn i(&self, name: &str) -> i64 {
        self.s(name).parse().unwrap_or(0)
    }
    pub fn u(&self, name: &str) -> u64 {
        self.s(name).parse().unwrap_or(0)
    }
}

/// The hashes mailcow keeps for these kinds.
pub const KV_KEYS: [&str; 8] =
    ["DOMAIN_MAP", "RL_VALUE", "RCPT_WANTS_SUBJECT_TAG", "RCPT_WANTS_SUBFOLDER_TAG", "DKIM_SELECTORS", "DKIM_PUB_KEYS", "WHITELISTED_FWD_HOST", "KEEP_SPAM"];

#[derive(Debug, Default)]
pub struct LiveData {
    pub domains: Table,
    pub tags_domain: Table,
    pub alias_domains: Table,
    pub mailboxes: Table,
    pub user_acl: Table,
    pub tags_mailbox: Table,
    pub sender_acl: Table,
    pub quota2: Table,
    pub quota2replica: Table,
    pub aliases: Table,
    pub bcc_maps: Table,
    pub recipient_maps: Table,
    pub tls_policies: Table,
    pub relayhosts: Table,
    pub transports: Table,
    pub templates: Table,
    pub identity_provider: Table,
    /// mailplane_inventory: (kind, key) of the objects mailplane created or adopted.
    pub inventory: Table,
    /// Resources (mailbox rows with `kind <> ''`): not managed yet, but they keep their domain.
    pub resources: Table,
    pub kv: HashMap<String, HashMap<String, String>>,
    /// Built on first use: per-object lookups during apply would otherwise scan every row.
    pub(crate) mailbox_rows: std::sync::OnceLock<HashMap<String, usize>>,
    pub(crate) owned: std::sync::OnceLock<crate::live::Owned>,
}

impl LiveData {
    pub fn kv_has(&self, key: &str, field: &str) -> bool {
        self.kv.get(key).is_some_and(|h| h.contains_key(field))
    }
    /// RL_VALUE normalised to `N / 1f`, or empty.
    pub fn rate_limit(&self, who: &str) -> String {
        self.kv.get("RL_VALUE").and_then(|h| h.get(who)).and_then(|v| crate::model::RateLimit::parse_redis(v)).map(|r| r.redis_value()).unwrap_or_default()
    }
    /// A relay host id (as mailcow stores it, text) → its hostname; "0" and unknown ids are none.
    pub fn relay_hostname(&self, id: &str) -> String {
        self.relayhosts.iter().find(|r| r.s("id") == id && id != "0").map(|r| r.s("hostname").to_string()).unwrap_or_default()
    }
    pub fn relay_ids(&self) -> std::collections::HashMap<String, i64> {
        self.relayhosts.iter().map(|r| (r.s("hostname").to_string(), r.i("id"))).collect()
    }
    pub fn mailbox_attributes(&self, username: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let index = self.mailbox_rows.get_or_init(|| self.mailboxes.iter().enumerate().map(|(i, r)| (r.s("username").to_string(), i)).collect());
        index.get(username).and_then(|&i| self.mailboxes.get(i)).and_then(|r| serde_json::from_str(r.s("attributes")).ok())
    }
    /// Once the live records are built, apply still reads only these rows (a mailbox's
    /// attributes and password hash, relay ids) and the
    /// inventory's keys; the rest is freed.
    pub fn trim(&mut self) {
        let owned = self.owned();
        *self = LiveData {
            mailboxes: std::mem::take(&mut self.mailboxes),
            relayhosts: std::mem::take(&mut self.relayhosts),
            transports: std::mem::take(&mut self.transports),
            resources: std::mem::take(&mut self.resources),
            owned: owned.into(),
            ..Default::default()
        };
    }
    pub fn owned(&self) -> crate::live::Owned {
        let build = || self.inventory.iter().filter_map(|r| crate::model::Kind::parse(r.s("kind")).map(|k| (k, r.s("obj_key").to_string()))).collect();
        self.owned.get_or_init(build).clone()
    }
}

/// The objects mailplane created or adopted (`mailplane_inventory`), looked up by borrowed key.
/// Shared, not copied: the plan's policy and the apply's inventory rows both use it.
#[derive(Clone, Debug, Default)]
pub struct Owned(std::sync::Arc<HashMap<Kind, HashSet<String>>>);

impl Owned {
    pub fn contains(&self, kind: Kind, key: &str) -> bool {
        self.0.get(&kind).is_some_and(|keys| keys.contains(key))
    }
}

impl FromIterator<(Kind, String)> for Owned {
    fn from_iter<I: IntoIterator<Item = (Kind, String)>>(iter: I) -> Owned {
        let mut owned: HashMap<Kind, HashSet<String>> = HashMap::new();
        for (kind, key) in iter {
            owned.entry(kind).or_default().insert(key);
        }
        Owned(std::sync::Arc::new(owned))
    }
}
