//! `observe`: the live target → raw rows, one set-based query per table, plus the Redis hashes.

use foldhash::{HashMap, HashMapExt};

use crate::live::{KV_KEYS, LiveData, LiveRow, Table};
use crate::store::db::{Db, DbError, Row, TextRow};
use crate::store::kv::{Kv, KvError};

impl From<TextRow<'_>> for LiveRow {
    fn from(row: TextRow<'_>) -> LiveRow {
        LiveRow::from_parts(row.text, row.ends, row.nulls.first().copied().unwrap_or(0))
    }
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
        results.push(Table::new(q.columns, rows));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_rows_keep_nulls_and_empty_text_apart() {
        // alice@x.org, NULL, '', 1, NULL
        let row = LiveRow::from(TextRow { text: "alice@x.org1", ends: &[11, 11, 11, 12, 12], nulls: &[0b10010] });
        let cols: Vec<Option<&str>> = (0..6).map(|i| row.col(i)).collect();
        assert_eq!(cols, [Some("alice@x.org"), None, Some(""), Some("1"), None, None]);
        let table = Table::new(&["address", "goto", "comment", "active", "x"], vec![row.clone()]);
        let named = table.get(0).unwrap();
        assert_eq!((named.s("address"), named.col("goto"), named.s("comment"), named.i("active")), ("alice@x.org", None, "", 1));
    }
}
