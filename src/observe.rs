//! `observe`: the live target → raw rows, one set-based query per table, plus the Redis hashes.

use crate::live::{LiveData, LiveRow, Table};
use crate::store::db::{Db, DbError, Row};
use crate::store::kv::{Kv, KvError};

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

/// Runs each query the kinds declare once (and the inventory), and reads their Redis hashes.
pub async fn observe(db: &Db, kv: &Kv) -> Result<LiveData, ObserveError> {
    let mut live = LiveData::default();
    for q in crate::kinds::queries() {
        let rows = match db.query_map(&q.sql(), &[], |r| LiveRow::from(r)).await {
            // An embedded file written before mailplane managed this table, opened read-only:
            // it holds none of it (the next apply adds the table).
            Err(DbError::Query { message, .. }) if db.read_only() && message.contains("no such table") => Vec::new(),
            rows => rows?,
        };
        live.tables.push(Table::new(q, rows));
    }
    for key in crate::kinds::hashes() {
        live.kv.insert(key.to_string(), kv.hgetall(key).await?);
    }
    // A string as a hash of one field, `""` (how `mailplane_kv` keeps it too).
    for (key, value) in crate::kinds::strings().into_iter().zip(kv.get_strings(&crate::kinds::strings()).await?) {
        live.kv.insert(key.to_string(), value.into_iter().map(|v| (String::new(), v)).collect());
    }
    Ok(live)
}

/// In docker mode, the built-in log rules of the netfilter container that runs, read from its
/// code: they change with mailcow's updates, and `fail2ban: {regex: mailcow-defaults}` follows
/// them. Only when the server keeps a list to compare with them; anything unreadable leaves the
/// ones mailplane knows (a plan would then show a reset that netfilter undoes: visible, harmless).
pub async fn netfilter_rules(settings: &crate::settings::SettingsFile, live: &mut LiveData) {
    if live.string("F2B_REGEX").is_none() {
        return;
    }
    let Some(project) = settings.docker_project() else { return };
    let Ok(mailcow) = crate::store::docker::Mailcow::connect(project).await else { return };
    if let Ok(out) = mailcow.exec("netfilter", &["cat", "/app/main.py"]).await
        && out.code == 0
    {
        live.netfilter_rules = crate::kinds::fail2ban::builtin_rules(&out.stdout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::TextRow;

    #[test]
    fn live_rows_keep_nulls_and_empty_text_apart() {
        // alice@x.org, NULL, '', 1, NULL
        let row = LiveRow::from(TextRow { text: "alice@x.org1", ends: &[11, 11, 11, 12, 12], nulls: &[0b10010] });
        let cols: Vec<Option<&str>> = (0..6).map(|i| row.col(i)).collect();
        assert_eq!(cols, [Some("alice@x.org"), None, Some(""), Some("1"), None, None]);
        let query = crate::live::Query { from: "t", columns: &["address", "goto", "comment", "active", "x"], kept: false };
        let table = Table::new(&query, vec![row.clone()]);
        let named = table.get(0).unwrap();
        assert_eq!((named.s("address"), named.col("goto"), named.s("comment"), named.i("active")), ("alice@x.org", None, "", 1));
    }
}
