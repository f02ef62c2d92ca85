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

use crate::store::kv::{Kv, KvError};

/// The hashes mailcow keeps for these kinds.
pub const KV_KEYS: [&str; 8] =
    ["DOMAIN_MAP", "RL_VALUE", "RCPT_WANTS_SUBJECT_TAG", "RCPT_WANTS_SUBFOLDER_TAG", "DKIM_SELECTORS", "DKIM_PUB_KEYS", "WHITELISTED_FWD_HOST", "KEEP_SPAM"];

#[derive(Debug, Default)]
pub struct LiveData {
    pub domains: Vec<LiveRow>,
    pub tags_domain: Vec<LiveRow>,
    pub alias_domains: Vec<LiveRow>,
    pub mailboxes: Vec<LiveRow>,
    pub user_acl: Vec<LiveRow>,
    pub tags_mailbox: Vec<LiveRow>,
    pub sender_acl: Vec<LiveRow>,
    pub quota2: Vec<LiveRow>,
    pub quota2replica: Vec<LiveRow>,
    pub aliases: Vec<LiveRow>,
    pub bcc_maps: Vec<LiveRow>,
    pub recipient_maps: Vec<LiveRow>,
    pub tls_policies: Vec<LiveRow>,
    pub relayhosts: Vec<LiveRow>,
    pub transports: Vec<LiveRow>,
    pub templates: Vec<LiveRow>,
    pub identity_provider: Vec<LiveRow>,
    /// mailplane_inventory: (kind, key) of the objects mailplane created or adopted.
    pub inventory: Vec<LiveRow>,
    /// Resources (mailbox rows with `kind <> ''`): not managed yet, but they keep their domain.
    pub resources: Vec<LiveRow>,
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

impl RowExt for LiveRow {
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

/// The queries, in LiveData's field order.
const QUERIES: [&str; 19] = [
    "SELECT domain, description, aliases, mailboxes, defquota, maxquota, quota, relayhost, backupmx, gal, relay_all_recipients, relay_unknown_only, active FROM domain",
    "SELECT domain, tag_name FROM tags_domain",
    "SELECT alias_domain, target_domain, active FROM alias_domain",
    "SELECT username, name, quota, active, authsource, password, attributes, local_part, domain FROM mailbox WHERE kind = ''",
    "SELECT username, spam_alias, tls_policy, spam_score, spam_policy, delimiter_action, syncjobs, eas_reset, sogo_profile_reset, pushover, quarantine, quarantine_attachments, quarantine_notification, quarantine_category, app_passwds, pw_reset FROM user_acl",
    "SELECT username, tag_name FROM tags_mailbox",
    "SELECT logged_in_as, send_as, external FROM sender_acl",
    "SELECT username FROM quota2",
    "SELECT username FROM quota2replica",
    "SELECT id, address, goto, domain, public_comment, private_comment, sogo_visible, internal, sender_allowed, active FROM alias",
    "SELECT local_dest, bcc_dest, type, active FROM bcc_maps",
    "SELECT old_dest, new_dest, active FROM recipient_maps",
    "SELECT dest, policy, parameters, active FROM tls_policy_override",
    "SELECT id, hostname, username, password, active FROM relayhosts",
    "SELECT id, destination, nexthop, username, password, is_mx_based, active FROM transports",
    "SELECT id, template, type, attributes FROM templates",
    "SELECT `key`, value FROM identity_provider",
    "SELECT kind, obj_key FROM mailplane_inventory",
    "SELECT username, domain FROM mailbox WHERE kind <> ''",
];

pub async fn observe(db: &Db, kv: &Kv) -> Result<LiveData, ObserveError> {
    let mut results = Vec::with_capacity(QUERIES.len());
    for q in QUERIES {
        results.push(db.query_map(q, &[], |r| LiveRow::from(r)).await?);
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
        self.relayhosts.iter().find(|r| r.s(0) == id && id != "0").map(|r| r.s(1).to_string()).unwrap_or_default()
    }
    pub fn relay_ids(&self) -> std::collections::HashMap<String, i64> {
        self.relayhosts.iter().map(|r| (r.s(1).to_string(), r.i(0))).collect()
    }
    pub fn mailbox_attributes(&self, username: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let index = self.mailbox_rows.get_or_init(|| self.mailboxes.iter().enumerate().map(|(i, r)| (r.s(0).to_string(), i)).collect());
        index.get(username).and_then(|&i| serde_json::from_str(self.mailboxes[i].s(6)).ok())
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
        let build = || self.inventory.iter().filter_map(|r| crate::model::Kind::parse(r.s(0)).map(|k| (k, r.s(1).to_string()))).collect();
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
        assert_eq!(row.i(3), 1);
    }
}
