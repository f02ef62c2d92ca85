//! `observe`: the live target → raw rows, one set-based query per table, plus the Redis hashes.

use foldhash::{HashMap, HashMapExt};

use crate::store::db::{Db, DbError, Row, TextRow};

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

impl From<TextRow<'_>> for LiveRow {
    fn from(row: TextRow<'_>) -> LiveRow {
        assert!(row.ends.len() <= 64, "a live row has at most 64 columns");
        let mut data = Vec::with_capacity(1 + 4 * row.ends.len() + row.text.len());
        data.push(row.ends.len() as u8);
        row.ends.iter().for_each(|e| data.extend_from_slice(&e.to_le_bytes()));
        data.extend_from_slice(row.text.as_bytes());
        LiveRow { data: data.into(), nulls: row.nulls.first().copied().unwrap_or(0) }
    }
}

/// The rows of one live query, read by column name.
#[derive(Clone, Debug, Default)]
pub struct Table {
    columns: &'static [&'static str],
    rows: Vec<LiveRow>,
}

impl Table {
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

use crate::store::kv::{Kv, KvError};

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
    mailbox_rows: std::sync::OnceLock<HashMap<String, usize>>,
    owned: std::sync::OnceLock<crate::plan::Owned>,
}

/// Column access by position; every column arrives as text.
pub trait RowExt {
    fn col(&self, i: usize) -> Option<&str>;
    fn s(&self, i: usize) -> &str {
        self.col(i).unwrap_or("")
    }
    fn i(&self, i: usize) -> i64 {
        self.s(i).parse().unwrap_or(0)
    }
    fn u(&self, i: usize) -> u64 {
        self.s(i).parse().unwrap_or(0)
    }
}

impl RowExt for Row {
    fn col(&self, i: usize) -> Option<&str> {
        self.as_slice().get(i).and_then(|c| c.as_deref())
    }
}

impl LiveRow {
    fn col(&self, i: usize) -> Option<&str> {
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

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("reading the database: {0}")]
    Db(#[from] DbError),
    #[error("reading Redis: {0}")]
    Kv(#[from] KvError),
}

/// One live query: a table's named columns. The SQL is made from the names, so what the kinds
/// read by name is what was selected.
pub struct Query {
    pub from: &'static str,
    pub columns: &'static [&'static str],
}

impl Query {
    fn sql(&self) -> String {
        let columns: Vec<String> = self.columns.iter().map(|c| format!("`{c}`")).collect();
        format!("SELECT {} FROM {}", columns.join(", "), self.from)
    }
}

/// The queries, in LiveData's field order.
const QUERIES: [Query; 19] = [
    Query {
        from: "domain",
        columns: &[
            "domain",
            "description",
            "aliases",
            "mailboxes",
            "defquota",
            "maxquota",
            "quota",
            "relayhost",
            "backupmx",
            "gal",
            "relay_all_recipients",
            "relay_unknown_only",
            "active",
        ],
    },
    Query { from: "tags_domain", columns: &["domain", "tag_name"] },
    Query { from: "alias_domain", columns: &["alias_domain", "target_domain", "active"] },
    Query {
        from: "mailbox WHERE kind = ''",
        columns: &["username", "name", "quota", "active", "authsource", "password", "attributes", "local_part", "domain"],
    },
    Query { from: "user_acl", columns: USER_ACL_COLUMNS },
    Query { from: "tags_mailbox", columns: &["username", "tag_name"] },
    Query { from: "sender_acl", columns: &["logged_in_as", "send_as", "external"] },
    Query { from: "quota2", columns: &["username"] },
    Query { from: "quota2replica", columns: &["username"] },
    Query {
        from: "alias",
        columns: &["id", "address", "goto", "domain", "public_comment", "private_comment", "sogo_visible", "internal", "sender_allowed", "active"],
    },
    Query { from: "bcc_maps", columns: &["local_dest", "bcc_dest", "type", "active"] },
    Query { from: "recipient_maps", columns: &["old_dest", "new_dest", "active"] },
    Query { from: "tls_policy_override", columns: &["dest", "policy", "parameters", "active"] },
    Query { from: "relayhosts", columns: &["id", "hostname", "username", "password", "active"] },
    Query { from: "transports", columns: &["id", "destination", "nexthop", "username", "password", "is_mx_based", "active"] },
    Query { from: "templates", columns: &["id", "template", "type", "attributes"] },
    Query { from: "identity_provider", columns: &["key", "value"] },
    Query { from: "mailplane_inventory", columns: &["kind", "obj_key"] },
    Query { from: "mailbox WHERE kind <> ''", columns: &["username", "domain"] },
];

/// `user_acl`: the username, then the flags in `MailboxAcl::COLUMNS` order.
const USER_ACL_COLUMNS: &[&str] = &{
    const N: usize = 1 + crate::model::MailboxAcl::COLUMNS.len();
    let mut all = ["username"; N];
    let mut i = 1;
    while i < N {
        all[i] = crate::model::MailboxAcl::COLUMNS[i - 1];
        i += 1;
    }
    all
};

pub async fn observe(db: &Db, kv: &Kv) -> Result<LiveData, ObserveError> {
    let mut results = Vec::with_capacity(QUERIES.len());
    for q in &QUERIES {
        let rows = db.query_map(&q.sql(), &[], |r| LiveRow::from(r)).await?;
        results.push(Table { columns: q.columns, rows });
    }
    let mut it = results.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let mut live = LiveData {
        domains: next(),
        tags_domain: next(),
        alias_domains: next(),
        mailboxes: next(),
        user_acl: next(),
        tags_mailbox: next(),
        sender_acl: next(),
        quota2: next(),
        quota2replica: next(),
        aliases: next(),
        bcc_maps: next(),
        recipient_maps: next(),
        tls_policies: next(),
        relayhosts: next(),
        transports: next(),
        templates: next(),
        identity_provider: next(),
        inventory: next(),
        resources: next(),
        kv: HashMap::new(),
        ..Default::default()
    };
    for key in KV_KEYS {
        live.kv.insert(key.to_string(), kv.hgetall(key).await?);
    }
    Ok(live)
}

impl LiveData {
    pub fn kv_has(&self, key: &str, field: &str) -> bool {
        self.kv.get(key).is_some_and(|h| h.contains_key(field))
    }
    /// RL_VALUE normalised to `N / 1f`, or empty.
    pub fn rate_limit(&self, who: &str) -> String {
        self.kv.get("RL_VALUE").and_then(|h| h.get(who)).map(|v| crate::kinds::domain::normalise_rate_limit(v)).unwrap_or_default()
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
    pub fn owned(&self) -> crate::plan::Owned {
        let build = || self.inventory.iter().filter_map(|r| crate::model::Kind::parse(r.s("kind")).map(|k| (k, r.s("obj_key").to_string()))).collect();
        self.owned.get_or_init(build).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_rows_keep_nulls_and_empty_text_apart() {
        // alice@x.org, NULL, '', 1, NULL
        let row = LiveRow::from(TextRow { text: "alice@x.org1", ends: &[11, 11, 11, 12, 12], nulls: &[0b10010] });
        let cols: Vec<Option<&str>> = (0..6).map(|i| row.col(i)).collect();
        assert_eq!(cols, [Some("alice@x.org"), None, Some(""), Some("1"), None, None]);
        let named = Named { row: &row, columns: &["address", "goto", "comment", "active", "x"] };
        assert_eq!((named.s("address"), named.col("goto"), named.i("active")), ("alice@x.org", None, 1));
    }
}
