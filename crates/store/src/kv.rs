//! The Redis side of mailcow (DOMAIN_MAP, RL_VALUE, …). On the embedded SQLite target there is
//! no Redis: the same hashes live in the `mailplane_kv` table, so every kind round-trips.

use foldhash::HashMap;

use super::db::{Arg, Db, DbError, Stmt};

pub enum Kv {
    Redis(redis::aio::MultiplexedConnection),
    Table(Db),
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Db(#[from] DbError),
}

/// Created with the rest of the SQLite schema (`Db::connect`).
pub(crate) const KV_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS mailplane_kv (k VARCHAR(64) NOT NULL, f VARCHAR(255) NOT NULL, v TEXT NOT NULL, PRIMARY KEY (k, f))";

impl Kv {
    pub async fn redis(url: &str) -> Result<Kv, KvError> {
        let client = redis::Client::open(url)?;
        // The client's default of 500 ms is too short for one atomic pipeline of a big apply
        // (300,000 HSETs for 100,000 mailboxes) or HGETALL of a big hash.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(10)))
            .set_response_timeout(Some(std::time::Duration::from_secs(300)));
        Ok(Kv::Redis(client.get_multiplexed_async_connection_with_config(&config).await?))
    }

    /// The `mailplane_kv` table of a SQLite target.
    pub fn table(db: Db) -> Kv {
        Kv::Table(db)
    }

    pub async fn hgetall(&self, key: &str) -> Result<HashMap<String, String>, KvError> {
        match self {
            Kv::Redis(c) => {
                let mut c = c.clone();
                Ok(redis::cmd("HGETALL").arg(key).query_async(&mut c).await?)
            }
            Kv::Table(db) => {
                let rows = db.query("SELECT f, v FROM mailplane_kv WHERE k = ?", &[Arg::Text(key.into())]).await?;
                Ok(rows.into_iter().map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default())).collect())
            }
        }
    }

    /// The values of Redis strings (MGET), in `keys`' order; on SQLite, field `""` of each key.
    pub async fn get_strings(&self, keys: &[&str]) -> Result<Vec<Option<String>>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Kv::Redis(c) => {
                let mut c = c.clone();
                Ok(redis::cmd("MGET").arg(keys).query_async(&mut c).await?)
            }
            Kv::Table(db) => {
                let mut out = Vec::with_capacity(keys.len());
                for k in keys {
                    let rows = db.query("SELECT v FROM mailplane_kv WHERE k = ? AND f = ''", &[Arg::Text((*k).into())]).await?;
                    out.push(rows.into_iter().next().and_then(|r| r[0].clone()));
                }
                Ok(out)
            }
        }
    }

    /// Applies HSET/HDEL operations: `(key, field, Some(value))` sets, `None` deletes; field `""`
    /// is a Redis string (SET, DEL).
    pub async fn apply(&self, ops: &[(&str, &str, Option<&str>)]) -> Result<(), KvError> {
        match self {
            Kv::Redis(c) => {
                let mut c = c.clone();
                let mut pipe = redis::pipe();
                pipe.atomic();
                // Neighbouring writes to one hash become one HSET (or HDEL) of up to 1,000
                // fields, in the same order: 300,000 one-field commands cost 10s of MB more.
                for group in ops.chunk_by(|a, b| a.0 == b.0 && a.2.is_some() == b.2.is_some() && !a.1.is_empty() && !b.1.is_empty()) {
                    if let [(key, "", value)] = group {
                        match value {
                            Some(v) => pipe.cmd("SET").arg(*key).arg(*v).ignore(),
                            None => pipe.cmd("DEL").arg(*key).ignore(),
                        };
                        continue;
                    }
                    for part in group.chunks(1_000) {
                        let (key, _, value) = part[0];
                        pipe.cmd(if value.is_some() { "HSET" } else { "HDEL" }).arg(key);
                        for (_, field, value) in part {
                            pipe.arg(*field);
                            if let Some(v) = value {
                                pipe.arg(*v);
                            }
                        }
                        pipe.ignore();
                    }
                }
                pipe.query_async::<()>(&mut c).await?;
                Ok(())
            }
            Kv::Table(db) => {
                db.execute_chunks(table_statements(ops).map(Ok::<_, std::convert::Infallible>)).await.map_err(DbError::from)?;
                Ok(())
            }
        }
    }
}

/// The `mailplane_kv` statements for HSET/HDEL operations (as `Kv::apply` takes them), a chunk
/// at a time: an apply runs them inside its own transaction.
pub fn table_statements<'a>(ops: &'a [(&'a str, &'a str, Option<&'a str>)]) -> impl Iterator<Item = Vec<Stmt>> + 'a {
    // A Redis hash never holds a field twice: deletes first, then batched upserts.
    let arg = |s: &str| Arg::Text(s.to_string());
    let (sets, dels): (Vec<_>, Vec<_>) = ops.iter().partition(|(_, _, v)| v.is_some());
    let mut by_key: std::collections::BTreeMap<&str, Vec<Arg>> = Default::default();
    for (k, f, _) in dels {
        by_key.entry(k).or_default().push(arg(f));
    }
    let mut stmts = Vec::new();
    for (k, fields) in by_key {
        for chunk in fields.chunks(10_000) {
            let sql = format!("DELETE FROM mailplane_kv WHERE k = ? AND f IN ({})", vec!["?"; chunk.len()].join(", "));
            stmts.push(Stmt { sql, args: std::iter::once(arg(k)).chain(chunk.iter().cloned()).collect() });
        }
    }
    // The upserts are made 10,000 at a time while the transaction runs: at 100,000 mailboxes all
    // 300,000 at once were 100 MB.
    let upserts = (0..sets.len().div_ceil(10_000)).map(move |i| {
        let rows = sets[i * 10_000..sets.len().min((i + 1) * 10_000)].iter().map(|(k, f, v)| {
            vec![Stmt { sql: "INSERT OR REPLACE INTO mailplane_kv (k, f, v) VALUES (?, ?, ?)".into(), args: vec![arg(k), arg(f), arg(v.unwrap_or(""))] }]
        });
        super::batch::batch(rows.collect())
    });
    std::iter::once(stmts).chain(upserts)
}
