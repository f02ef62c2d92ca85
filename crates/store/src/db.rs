//! The SQL side of a target: mailcow's MariaDB (`mysql://…`) or the embedded SQLite file
//! (`sqlite://…`). Callers write portable SQL with `?` placeholders and read every column as
//! text, so planning code never depends on the driver's type mapping.
//!
//! Two rules hold for everything here:
//! - mailcow's tables are never altered; mailplane's bookkeeping lives in `mailplane_*` tables
//!   (`mailplane_tables.sql`), and `versions` is never written.
//! - no message ever carries a password: URLs are shown without theirs, and a failed statement
//!   is reported by position and SQL text, never with its arguments.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow, MySqlTypeInfo, MySqlValueRef};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteValueRef};
use sqlx::{AssertSqlSafe, Column, Connection, Decode, Executor, Row as _, Type, TypeInfo, ValueRef};

/// The embedded target's schema: mailcow's managed tables as SQLite, plus the default templates.
pub const SQLITE_SCHEMA: &str = include_str!("sqlite_schema.sql");
/// mailplane's own tables; the same text is valid on MariaDB/MySQL and SQLite.
pub const MAILPLANE_TABLES: &str = include_str!("mailplane_tables.sql");

/// Connections per pool: mailplane runs one statement stream at a time, plus the odd parallel read.
const POOL_SIZE: u32 = 4;

/// mailcow's MariaDB runs with the server default sql_mode (its my.cnf does not set one); MariaDB
/// 10.11's default, so that writes fail (strict) exactly where mailcow's own would.
const MAILCOW_SQL_MODE: &str = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION";
/// MySQL 8 removed NO_AUTO_CREATE_USER (it only ever affected GRANT).
const MAILCOW_SQL_MODE_MYSQL8: &str = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

/// Binds `&[Arg]` to a `sqlx::query` of either database.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args.iter() {
            q = match a {
                Arg::Null => q.bind(Option::<&str>::None),
                Arg::Int(i) => q.bind(*i),
                Arg::Text(s) => q.bind(s.as_str()),
            };
        }
        q
    }};
}

pub use crate::sql::{Arg, Dialect, Stmt, now_utc};

/// One result row: every column as text (NULL → None; integers as decimal text; datetimes as
/// `YYYY-MM-DD HH:MM:SS`; TINYINT(1) as "0"/"1"/…, never "true"/"false").
pub type Row = Vec<Option<String>>;

/// Why `execute_chunks` stopped: the database, or the source of the statements.
#[derive(Debug)]
pub enum ChunkError<E> {
    Db(DbError),
    Source(E),
}

/// Statements that were all made up front can only fail in the database.
impl From<ChunkError<std::convert::Infallible>> for DbError {
    fn from(e: ChunkError<std::convert::Infallible>) -> DbError {
        match e {
            ChunkError::Db(e) => e,
            ChunkError::Source(never) => match never {},
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported target `{0}`: use sqlite://path/to/mailplane.db (embedded) or mysql://user@host:port/database (mailcow's MariaDB)")]
    BadUrl(String),
    #[error("`{url}` names no database: append it, e.g. mysql://mailcow@127.0.0.1:13306/mailcow (DBNAME in mailcow.conf)")]
    NoDatabase { url: String },
    #[error("cannot open the SQLite database {path}: {message}")]
    SqliteOpen { path: String, message: String },
    /// apply writes the file and, while a transaction runs, a journal next to it.
    #[error(
        "cannot write the SQLite database {path}: {message} (apply needs the file and its directory {dir} to be writable by this user: make them writable, or point the target elsewhere)"
    )]
    SqliteWrite { path: String, dir: String, message: String },
    #[error("`{url}`: unknown parameter `{param}` (a sqlite:// target takes only `mode=rwc` (the default), `mode=rw` or `mode=ro`)")]
    SqliteParam { url: String, param: String },
    #[error("`{url}` is read-only (`mode=ro`): apply cannot write to it; drop `?mode=ro` to apply")]
    SqliteReadOnly { url: String },
    #[error("the SQLite database {path} does not exist, and `mode=rw` says not to create it: drop `?mode=rw` to create it")]
    SqliteMissing { path: String },
    #[error(
        "cannot connect to {url}: {message} (check host, port and user; the password comes from the URL, MAILPLANE_DATABASE_PASSWORD or database_password_file)"
    )]
    Connect { url: String, message: String },
    #[error(
        "database has no mailcow schema: {url} has no table `mailbox` (point the target at mailcow's database, DBNAME in mailcow.conf, and let mailcow initialise it first)"
    )]
    NoMailcowSchema { url: String },
    #[error("cannot create mailplane's own tables (mailplane_*) in {url}: {message} (the database user needs the CREATE privilege)")]
    Setup { url: String, message: String },
    #[error("query failed on {url}: {message}\n  query: {sql}")]
    Query { url: String, sql: String, message: String },
    /// `total`: the statements made when it failed (an apply makes them while it writes).
    #[error("statement {index} of {total} failed on {url}, nothing was changed (the whole batch was rolled back): {message}\n  statement: {sql}")]
    Statement { url: String, index: usize, total: usize, sql: String, message: String },
    #[error("transaction on {url} failed, nothing was changed: {message}")]
    Transaction { url: String, message: String },
}

#[derive(Clone)]
enum Pool {
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// A connection pool to one target. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// The target for messages: never with a password.
    label: String,
    /// Text that must never appear in a message (the password), if any.
    secrets: Vec<String>,
    /// A SQLite file opened for a read-only command, or the stand-in for a missing one:
    /// nothing can be written. (A MariaDB connection is never read-only.)
    read_only: bool,
    /// The SQLite file did not exist when the target was opened.
    absent: Option<Absent>,
    /// The SQLite file on disk, if any.
    file: Option<PathBuf>,
}

/// What a connection may do to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// `apply`: the SQLite file is opened for writing. Otherwise it is opened read-only, and one
    /// that does not exist yet reads as a new one would (mailcow's tables and its two Default
    /// templates, in memory): a read-only command creates nothing on disk.
    pub write: bool,
    /// Create what is missing: a SQLite file (when writing) and mailplane's own tables. Without
    /// it nothing is created anywhere, and a missing file to write is an error (the read-ahead
    /// while the directory is validated: bad input writes nothing).
    pub setup: bool,
}

impl Access {
    pub const WRITE: Access = Access { write: true, setup: true };
    pub const READ: Access = Access { write: false, setup: true };
}

/// A SQLite file that did not exist when the target was opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Absent {
    pub path: PathBuf,
    /// `<file>.lock` is there: an apply ran on this file before, so it was deleted or moved.
    pub applied_before: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dialect", &self.dialect()).field("target", &self.label).finish()
    }
}

impl Db {
    /// `sqlite://relative/or/absolute.db` (the parent directories and the file are created on
    /// first use; `sqlite::memory:` is a private in-memory database, for tests) or
    /// `mysql://user[:pass]@host:port/db` (`mariadb://` also works). `password` overrides the URL's.
    ///
    /// SQLite: the schema (`sqlite_schema.sql` + `mailplane_tables.sql`) is applied idempotently,
    /// foreign keys are enforced. MySQL: the database must already hold mailcow's schema; the
    /// session runs in UTC with mailcow's sql_mode; mailplane's own tables are created if missing.
    pub async fn connect(url: &str, password: Option<&str>) -> Result<Db, DbError> {
        Self::open(url, password, Access::WRITE).await
    }

    /// Connects as `access` allows; `connect` is `open` with `Access::WRITE`.
    pub async fn open(url: &str, password: Option<&str>, access: Access) -> Result<Db, DbError> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return connect_sqlite(url, rest, access).await;
        }
        if let Some(rest) = url.strip_prefix("mysql://").or_else(|| url.strip_prefix("mariadb://")) {
            return connect_mysql(&format!("mysql://{rest}"), password, access.setup).await;
        }
        Err(DbError::BadUrl(redact_url(url)))
    }

    /// Nothing can be written: a SQLite target opened by a read-only command.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The SQLite file that did not exist when the target was opened (`Access::WRITE` created it).
    pub fn absent(&self) -> Option<&Absent> {
        self.absent.as_ref()
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::MySql(_) => Dialect::MySql,
            Pool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The MariaDB pool, for session state that must outlive one query (the apply lock).
    pub fn mysql_pool(&self) -> Option<&MySqlPool> {
        match &self.pool {
            Pool::MySql(p) => Some(p),
            Pool::Sqlite(_) => None,
        }
    }

    /// The target as shown in messages (never with a password).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// One SELECT; every column as text. Rows are converted while they stream in, so the driver's
    /// rows are not all held at once.
    pub async fn query(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, DbError> {
        self.query_map(sql, args, |r| r.to_row()).await
    }

    /// `query` with each row turned into `T` as it arrives, from one text buffer reused for
    /// every row (observe keeps compact rows; 100,000s of small Strings cost more than the read).
    pub async fn query_map<T: Send + Unpin + 'static>(&self, sql: &str, args: &[Arg], convert: fn(TextRow<'_>) -> T) -> Result<Vec<T>, DbError> {
        let mut buf = RowBuf::default();
        let result = match &self.pool {
            Pool::MySql(pool) => {
                let mut kinds: Option<Vec<MyKind>> = None;
                bind_args!(sqlx::query::<MySql>(AssertSqlSafe(sql)), args)
                    .try_map(move |row: MySqlRow| mysql_row(&row, &mut kinds, &mut buf).map(|()| convert(buf.row())))
                    .fetch_all(pool)
                    .await
            }
            Pool::Sqlite(pool) => {
                bind_args!(sqlx::query::<Sqlite>(AssertSqlSafe(sql)), args)
                    .try_map(move |row: SqliteRow| sqlite_row(&row, &mut buf).map(|()| convert(buf.row())))
                    .fetch_all(pool)
                    .await
            }
        };
        result.map_err(|e| DbError::Query { url: self.label.clone(), sql: sql.to_string(), message: self.scrub(&e) })
    }

    /// Runs all statements in ONE transaction. On the first failure everything is rolled back and
    /// the error names the statement (index from 0, and its SQL; never its arguments).
    pub async fn execute_all(&self, stmts: &[Stmt]) -> Result<(), DbError> {
        if stmts.is_empty() {
            return Ok(());
        }
        let chunks = std::iter::once(Ok::<_, std::convert::Infallible>(stmts));
        self.execute_chunks(chunks).await.map(|_| ()).map_err(DbError::from)
    }

    /// `execute_all` for statements made chunk by chunk while the transaction runs, so that an
    /// apply never holds all of them at once. A chunk's error rolls back everything before it.
    /// Returns how many statements ran.
    pub async fn execute_chunks<C: AsRef<[Stmt]>, E>(&self, chunks: impl Iterator<Item = Result<C, E>>) -> Result<usize, ChunkError<E>> {
        let mut tx = self.begin().await.map_err(ChunkError::Db)?;
        tx.run(chunks).await?;
        tx.commit().await.map_err(ChunkError::Db)
    }

    /// Opens a transaction, for writers that have more to add between chunks (apply waits for
    /// its DKIM keys before the last ones). Dropped without `commit`, it is rolled back.
    pub async fn begin(&self) -> Result<Tx<'_>, DbError> {
        let inner = match &self.pool {
            Pool::MySql(pool) => pool.begin().await.map(TxInner::MySql),
            // IMMEDIATE: take the write lock up front, so that a concurrent writer makes us
            // wait (busy_timeout) instead of failing half-way with SQLITE_BUSY.
            Pool::Sqlite(pool) => pool.begin_with("BEGIN IMMEDIATE").await.map(TxInner::Sqlite),
        };
        Ok(Tx { db: self, inner: Some(inner.map_err(|e| self.tx_error(&e))?), done: 0 })
    }

    /// `execute_all` for a cache that a read-only command may keep up to date: on a SQLite file
    /// opened read-only, on a connection of its own that may write the file (never create it),
    /// and only if the file can be written; nothing is said if it cannot.
    pub async fn execute_cache(&self, stmts: &[Stmt]) -> Result<(), DbError> {
        let Some(file) = self.file.as_deref().filter(|_| self.read_only) else {
            return if self.read_only { Ok(()) } else { self.execute_all(stmts).await };
        };
        let options = SqliteConnectOptions::new().filename(file).foreign_keys(true).busy_timeout(Duration::from_secs(10));
        let write = async {
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
            let mut tx = conn.begin().await?;
            for stmt in stmts {
                tx.execute(bind_args!(sqlx::query::<Sqlite>(AssertSqlSafe(stmt.sql.as_str())), &stmt.args)).await?;
            }
            tx.commit().await?;
            conn.close().await
        };
        let _ = write.await;
        Ok(())
    }

    pub async fn close(self) {
        match self.pool {
            Pool::MySql(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }

    fn scrub(&self, e: &dyn std::fmt::Display) -> String {
        let message = scrub(&e.to_string(), &self.secrets);
        // SQLite only says "disk I/O error" or "attempt to write a readonly database" then.
        match self.file.as_deref().filter(|f| !f.exists()) {
            Some(f) => format!("{message} (the database file {} was deleted or moved while mailplane was using it)", f.display()),
            None => message,
        }
    }

    fn stmt_error(&self, index: usize, total: usize, stmt: &Stmt, e: &sqlx::Error) -> DbError {
        DbError::Statement { url: self.label.clone(), index, total, sql: stmt.sql.clone(), message: self.scrub(e) }
    }

    fn tx_error(&self, e: &sqlx::Error) -> DbError {
        DbError::Transaction { url: self.label.clone(), message: self.scrub(e) }
    }
}

/// An open transaction (`Db::begin`).
pub struct Tx<'a> {
    db: &'a Db,
    /// None once rolled back.
    inner: Option<TxInner>,
    /// Statements run so far, for the position in error messages.
    done: usize,
}

enum TxInner {
    MySql(sqlx::Transaction<'static, MySql>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx<'_> {
    /// Runs the chunks' statements in order. On the first failure, of a statement or of the
    /// source, everything is rolled back and the error names the statement (its index among all
    /// of this transaction's statements, and its SQL; never its arguments).
    pub async fn run<C: AsRef<[Stmt]>, E>(&mut self, chunks: impl Iterator<Item = Result<C, E>>) -> Result<usize, ChunkError<E>> {
        macro_rules! run {
            ($db:ty, $tx:expr) => {{
                let tx = $tx;
                'run: {
                    for chunk in chunks {
                        let chunk = match chunk {
                            Ok(c) => c,
                            Err(e) => break 'run Err(ChunkError::Source(e)),
                        };
                        let chunk = chunk.as_ref();
                        for (i, stmt) in chunk.iter().enumerate() {
                            let q = bind_args!(sqlx::query::<$db>(AssertSqlSafe(stmt.sql.as_str())), &stmt.args);
                            let started = std::time::Instant::now();
                            let result = tx.execute(q).await;
                            crate::timing::slow(&stmt.sql, started);
                            if let Err(e) = result {
                                break 'run Err(ChunkError::Db(self.db.stmt_error(self.done + i, self.done + chunk.len(), stmt, &e)));
                            }
                            crate::failpoint::failpoint("statement done");
                        }
                        self.done += chunk.len();
                    }
                    Ok(self.done)
                }
            }};
        }
        let result = match self.inner.as_mut() {
            Some(TxInner::MySql(tx)) => run!(MySql, &mut **tx),
            Some(TxInner::Sqlite(tx)) => run!(Sqlite, &mut **tx),
            None => Err(ChunkError::Db(DbError::Transaction { url: self.db.label.clone(), message: "already rolled back".into() })),
        };
        if result.is_err() {
            // Dropping the transaction would roll back too; do it now, explicitly.
            self.abort().await;
        }
        result
    }

    /// Commits; returns how many statements ran. With none, there is nothing to commit.
    pub async fn commit(mut self) -> Result<usize, DbError> {
        if self.done == 0 {
            self.abort().await;
            return Ok(0);
        }
        let committed = match self.inner.take() {
            Some(TxInner::MySql(tx)) => tx.commit().await,
            Some(TxInner::Sqlite(tx)) => tx.commit().await,
            None => return Err(DbError::Transaction { url: self.db.label.clone(), message: "already rolled back".into() }),
        };
        committed.map_err(|e| self.db.tx_error(&e))?;
        Ok(self.done)
    }

    pub async fn rollback(mut self) {
        self.abort().await;
    }

    async fn abort(&mut self) {
        match self.inner.take() {
            Some(TxInner::MySql(tx)) => drop(tx.rollback().await),
            Some(TxInner::Sqlite(tx)) => drop(tx.rollback().await),
            None => {}
        }
    }
}

// ------------------------------------------------------------------------------------- SQLite

/// A `sqlite:` URL: the file (`None`: `:memory:`), and whether `mode=` allows creating it or writing.
#[derive(Debug, PartialEq, Eq)]
struct SqliteUrl {
    file: Option<PathBuf>,
    create: bool,
    write: bool,
}

fn parse_sqlite(url: &str, rest: &str) -> Result<SqliteUrl, DbError> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut parsed = SqliteUrl { file: Some(PathBuf::from(path)), create: true, write: true };
    for param in query.split('&').filter(|p| !p.is_empty()) {
        match param {
            "mode=rwc" => {}
            "mode=rw" => parsed.create = false,
            "mode=ro" => (parsed.create, parsed.write) = (false, false),
            _ => return Err(DbError::SqliteParam { url: url.to_string(), param: param.to_string() }),
        }
    }
    match path {
        "" => Err(DbError::BadUrl(url.to_string())),
        ":memory:" => Ok(SqliteUrl { file: None, ..parsed }),
        _ => Ok(parsed),
    }
}

async fn connect_sqlite(url: &str, rest: &str, access: Access) -> Result<Db, DbError> {
    let parsed = parse_sqlite(url, rest)?;
    let options = SqliteConnectOptions::new()
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Callers read every value back as text anyway; no need to cache many statement plans.
        .statement_cache_capacity(200)
        // Rows cross from sqlx's SQLite thread in batches: with its default of 50, reading
        // 500,000 rows was 7 s of thread hand-offs (0.6 s now).
        .row_buffer_size(4096);
    let open_err = |path: &str, e: sqlx::Error| DbError::SqliteOpen { path: path.to_string(), message: e.to_string() };
    let mut absent = None;
    let pool = match &parsed.file {
        None => setup_sqlite(options.in_memory(true), true).await.map_err(|e| open_err(url, e))?,
        Some(file) => {
            let shown = file.display().to_string();
            if !file.exists() {
                absent = Some(Absent { path: file.clone(), applied_before: crate::lock::lock_file(file).exists() });
                if !parsed.create {
                    return Err(DbError::SqliteMissing { path: shown });
                }
            }
            match access {
                Access { write: true, .. } if !parsed.write => return Err(DbError::SqliteReadOnly { url: url.to_string() }),
                // Nothing on disk to read: what a new file would hold, in memory.
                Access { write: false, .. } if absent.is_some() => setup_sqlite(options.in_memory(true), true).await.map_err(|e| open_err(&shown, e))?,
                Access { write: false, .. } => {
                    pool_options(false).connect_with(options.filename(file).read_only(true)).await.map_err(|e| open_err(&shown, e))?
                }
                Access { write: true, setup: false } if absent.is_some() => {
                    return Err(DbError::SqliteOpen { path: shown, message: "the file does not exist (yet)".into() });
                }
                Access { write: true, setup: false } => pool_options(false).connect_with(options.filename(file)).await.map_err(|e| open_err(&shown, e))?,
                Access { write: true, setup: true } => {
                    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                    let write_err = |message: String| DbError::SqliteWrite { path: shown.clone(), dir: dir.display().to_string(), message };
                    std::fs::create_dir_all(dir).map_err(|e| write_err(e.to_string()))?;
                    setup_sqlite(options.filename(file).create_if_missing(true), false).await.map_err(|e| write_err(e.to_string()))?
                }
            }
        }
    };
    // The stand-in for a missing file is in memory.
    let file = parsed.file.filter(|_| access.write || absent.is_none());
    Ok(Db { pool: Pool::Sqlite(pool), label: url.to_string(), secrets: Vec::new(), read_only: !access.write, absent, file })
}

/// Opens the pool and applies the schema (`sqlite_schema.sql`, `mailplane_tables.sql`, the kv
/// table) idempotently.
async fn setup_sqlite(options: SqliteConnectOptions, memory: bool) -> Result<SqlitePool, sqlx::Error> {
    let pool = pool_options(memory).connect_with(options).await?;
    // One transaction: two processes opening a new file at once cannot both seed the templates.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    tx.execute(sqlx::raw_sql(SQLITE_SCHEMA)).await?;
    tx.execute(sqlx::raw_sql(MAILPLANE_TABLES)).await?;
    tx.execute(sqlx::raw_sql(super::kv::KV_TABLE)).await?;
    tx.commit().await?;
    Ok(pool)
}

fn pool_options(memory: bool) -> SqlitePoolOptions {
    match memory {
        // Every connection to :memory: is its own database: keep exactly one, forever.
        true => SqlitePoolOptions::new().max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None),
        false => SqlitePoolOptions::new().max_connections(POOL_SIZE),
    }
}

fn sqlite_row(row: &SqliteRow, buf: &mut RowBuf) -> Result<(), sqlx::Error> {
    buf.clear();
    for i in 0..row.len() {
        let v = row.try_get_raw(i)?;
        let null = v.is_null();
        if !null {
            sqlite_text(v, &mut buf.text).map_err(|source| sqlx::Error::ColumnDecode { index: i.to_string(), source })?;
        }
        buf.end(i, null);
    }
    Ok(())
}

/// The value's own storage class decides (SQLite is dynamically typed).
fn sqlite_text(v: SqliteValueRef<'_>, out: &mut String) -> Result<(), sqlx::error::BoxDynError> {
    let ty = v.type_info();
    match ty.name() {
        "INTEGER" => write!(out, "{}", <i64 as Decode<Sqlite>>::decode(v)?)?,
        "REAL" => write!(out, "{}", <f64 as Decode<Sqlite>>::decode(v)?)?,
        _ => push_bytes(out, <&[u8] as Decode<Sqlite>>::decode(v)?),
    }
    Ok(())
}

// -------------------------------------------------------------------------------------- MySQL

async fn connect_mysql(url: &str, password: Option<&str>, setup: bool) -> Result<Db, DbError> {
    let shown = redact_url(url);
    let mut options = MySqlConnectOptions::from_str(url).map_err(|e| DbError::Connect { url: shown.clone(), message: e.to_string() })?;
    let mut secrets = url_passwords(url);
    if let Some(p) = password {
        options = options.password(p);
        secrets.push(p.to_string());
    }
    secrets.retain(|s| s.len() >= 4);
    let label = format!("mysql://{}@{}:{}/{}", options.get_username(), options.get_host(), options.get_port(), options.get_database().unwrap_or_default());
    if options.get_database().is_none_or(str::is_empty) {
        return Err(DbError::NoDatabase { url: shown });
    }
    // One plain connection first: a pool keeps retrying a refused connection until its acquire
    // timeout, while this fails at once with the real reason.
    match sqlx::MySqlConnection::connect_with(&options).await {
        Ok(conn) => {
            let _ = conn.close().await;
        }
        Err(e) => return Err(DbError::Connect { url: label, message: scrub(&e.to_string(), &secrets) }),
    }
    // sqlx would add PIPES_AS_CONCAT to sql_mode; mailcow's PHP (PDO) does not, and we set the
    // whole sql_mode ourselves after connecting. Times are exchanged as UTC.
    let options = options.pipes_as_concat(false).no_engine_substitution(false).timezone(Some("+00:00".to_string()));
    let pool = MySqlPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(15))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                let set = conn.execute(AssertSqlSafe(format!("SET SESSION sql_mode = '{MAILCOW_SQL_MODE}'"))).await;
                if set.is_err() {
                    conn.execute(AssertSqlSafe(format!("SET SESSION sql_mode = '{MAILCOW_SQL_MODE_MYSQL8}'"))).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| DbError::Connect { url: label.clone(), message: scrub(&e.to_string(), &secrets) })?;
    let db = Db { pool: Pool::MySql(pool.clone()), label, secrets, read_only: false, absent: None, file: None };
    let found = db.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'mailbox'", &[]).await?;
    if found.first().and_then(|r| r.first()).and_then(|c| c.as_deref()) != Some("1") {
        let url = db.label.clone();
        db.close().await;
        return Err(DbError::NoMailcowSchema { url });
    }
    if !setup {
        return Ok(db);
    }
    if let Err(e) = pool.execute(sqlx::raw_sql(MAILPLANE_TABLES)).await {
        let err = DbError::Setup { url: db.label.clone(), message: db.scrub(&e) };
        db.close().await;
        return Err(err);
    }
    Ok(db)
}

/// How a MySQL column's binary-protocol value becomes text; decided once per result column.
#[derive(Clone, Copy, Debug)]
enum MyKind {
    Int,
    UInt,
    Float,
    Double,
    DateTime,
    Date,
    Time,
    Bit,
    /// Everything sent as a byte string: (VAR)CHAR, TEXT/BLOB (JSON is LONGTEXT), ENUM, SET, DECIMAL.
    Bytes,
}

fn my_kind(ti: &MySqlTypeInfo) -> MyKind {
    match ti.name() {
        // BIT(n) arrives big-endian; sqlx's integer decoders read little-endian.
        "BIT" => MyKind::Bit,
        // TINYINT(1) is reported as "BOOLEAN": decoded as an integer, since mailcow stores 2 in
        // `mailbox.active`.
        _ if <i64 as Type<MySql>>::compatible(ti) => MyKind::Int,
        _ if <u64 as Type<MySql>>::compatible(ti) => MyKind::UInt,
        "YEAR" => MyKind::UInt,
        "FLOAT" => MyKind::Float,
        "DOUBLE" => MyKind::Double,
        "DATETIME" | "TIMESTAMP" => MyKind::DateTime,
        "DATE" => MyKind::Date,
        "TIME" => MyKind::Time,
        _ => MyKind::Bytes,
    }
}

fn mysql_row(row: &MySqlRow, kinds: &mut Option<Vec<MyKind>>, buf: &mut RowBuf) -> Result<(), sqlx::Error> {
    let kinds = kinds.get_or_insert_with(|| row.columns().iter().map(|c| my_kind(c.type_info())).collect());
    buf.clear();
    for (i, kind) in kinds.iter().enumerate() {
        let v = row.try_get_raw(i)?;
        let null = v.is_null();
        if !null {
            mysql_text(v, *kind, &mut buf.text).map_err(|source| sqlx::Error::ColumnDecode { index: i.to_string(), source })?;
        }
        buf.end(i, null);
    }
    Ok(())
}

/// Appends one non-NULL value of a prepared statement's (binary protocol) result.
fn mysql_text(v: MySqlValueRef<'_>, kind: MyKind, out: &mut String) -> Result<(), sqlx::error::BoxDynError> {
    match kind {
        MyKind::Int => write!(out, "{}", <i64 as Decode<MySql>>::decode(v)?)?,
        MyKind::UInt => write!(out, "{}", <u64 as Decode<MySql>>::decode(v)?)?,
        MyKind::Float => write!(out, "{}", <f32 as Decode<MySql>>::decode(v)?)?,
        MyKind::Double => write!(out, "{}", <f64 as Decode<MySql>>::decode(v)?)?,
        MyKind::Bit => write!(out, "{}", <&[u8] as Decode<MySql>>::decode(v)?.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))?,
        MyKind::DateTime | MyKind::Date | MyKind::Time => out.push_str(&binary_time(<&[u8] as Decode<MySql>>::decode(v)?, kind)?),
        MyKind::Bytes => push_bytes(out, <&[u8] as Decode<MySql>>::decode(v)?),
    }
    Ok(())
}

/// MySQL's binary DATE/DATETIME/TIMESTAMP/TIME: a length byte, then the fields that are non-zero.
/// (sqlx decodes these only with its `time`/`chrono` features, which mailplane does not enable.)
fn binary_time(b: &[u8], kind: MyKind) -> Result<String, sqlx::error::BoxDynError> {
    let len = *b.first().ok_or("empty date/time value")? as usize;
    let b = b.get(1..1 + len).ok_or("truncated date/time value")?;
    let micros = |m: &[u8]| if m.len() == 4 { u32::from_le_bytes([m[0], m[1], m[2], m[3]]) } else { 0 };
    let frac = |us: u32| if us == 0 { String::new() } else { format!(".{us:06}") };
    if let MyKind::Time = kind {
        if len == 0 {
            return Ok("00:00:00".into());
        }
        if len < 8 {
            return Err(format!("TIME value of {len} bytes").into());
        }
        let neg = if b[0] == 1 { "-" } else { "" };
        let days = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
        let hours = days * 24 + u32::from(b[5]);
        return Ok(format!("{neg}{hours:02}:{:02}:{:02}{}", b[6], b[7], frac(micros(&b[8..]))));
    }
    let (year, month, day) = if len >= 4 { (u16::from_le_bytes([b[0], b[1]]), b[2], b[3]) } else { (0, 0, 0) };
    let date = format!("{year:04}-{month:02}-{day:02}");
    if let MyKind::Date = kind {
        return Ok(date);
    }
    let (h, m, s) = if len >= 7 { (b[4], b[5], b[6]) } else { (0, 0, 0) };
    let us = if len >= 11 { micros(&b[7..11]) } else { 0 };
    Ok(format!("{date} {h:02}:{m:02}:{s:02}{}", frac(us)))
}

// ------------------------------------------------------------------------------------ helpers

fn push_bytes(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

/// The reused buffer one result row is decoded into.
#[derive(Default)]
struct RowBuf {
    text: String,
    ends: Vec<u32>,
    /// Bit i % 64 of word i / 64: column i is NULL.
    nulls: Vec<u64>,
}

impl RowBuf {
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.nulls.clear();
    }
    /// Column `i` is complete (appended to `text`, or NULL).
    fn end(&mut self, i: usize, null: bool) {
        if i.is_multiple_of(64) {
            self.nulls.push(0);
        }
        if null {
            self.nulls[i / 64] |= 1 << (i % 64);
        }
        self.ends.push(self.text.len() as u32);
    }
    fn row(&self) -> TextRow<'_> {
        TextRow { text: &self.text, ends: &self.ends, nulls: &self.nulls }
    }
}

/// One result row as text, borrowed from the reader: column i is `text[ends[i-1]..ends[i]]`,
/// or NULL when bit i % 64 of `nulls[i / 64]` is set.
#[derive(Clone, Copy, Debug)]
pub struct TextRow<'a> {
    pub text: &'a str,
    pub ends: &'a [u32],
    pub nulls: &'a [u64],
}

impl<'a> TextRow<'a> {
    /// Column i's text; None when it is NULL or past the last column.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let end = *self.ends.get(i)? as usize;
        if self.nulls[i / 64] & (1 << (i % 64)) != 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.text[start..end])
    }
    pub fn to_row(self) -> Row {
        (0..self.ends.len()).map(|i| self.get(i).map(str::to_string)).collect()
    }
}

/// `scheme://user:secret@host…` → `scheme://user@host…`; anything else unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}@{}{tail}", &authority[at + 1..])
        }
        None => url.to_string(),
    }
}

/// The password in a URL, raw and percent-decoded (either form could end up in a message).
fn url_passwords(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else { return Vec::new() };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else { return Vec::new() };
    let Some((_, raw)) = authority[..at].split_once(':') else { return Vec::new() };
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        let hex = |c: Option<u8>| c.and_then(|c| (c as char).to_digit(16));
        if b == b'%' {
            let (hi, lo) = (it.next(), it.next());
            match (hex(hi), hex(lo)) {
                (Some(h), Some(l)) => bytes.push((h * 16 + l) as u8),
                _ => bytes.extend([Some(b), hi, lo].into_iter().flatten()),
            }
        } else {
            bytes.push(b);
        }
    }
    vec![raw.to_string(), String::from_utf8_lossy(&bytes).into_owned()]
}

fn scrub(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// A row read as text is a live row of the core as it is.
impl From<TextRow<'_>> for mailplane_core::live::LiveRow {
    fn from(row: TextRow<'_>) -> Self {
        mailplane_core::live::LiveRow::from_parts(row.text, row.ends, row.nulls.first().copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rows_keep_nulls_and_empty_text_apart_past_64_columns() {
        let mut buf = RowBuf::default();
        for round in 0..2 {
            buf.clear();
            for i in 0..70 {
                let null = i == 3 || i == 66;
                if !null && i % 2 == 0 {
                    write!(buf.text, "v{i}").unwrap();
                }
                buf.end(i, null);
            }
            let row = buf.row().to_row();
            assert_eq!(row.len(), 70, "round {round}");
            assert_eq!((row[2].as_deref(), row[3].as_deref(), row[5].as_deref()), (Some("v2"), None, Some("")));
            assert_eq!((row[66].as_deref(), row[68].as_deref(), row[69].as_deref()), (None, Some("v68"), Some("")));
        }
    }

    fn t(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }

    fn stmt(sql: &str, args: Vec<Arg>) -> Stmt {
        Stmt { sql: sql.to_string(), args }
    }

    async fn temp_db() -> (tempfile::TempDir, String, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/dir/mailplane.db", dir.path().display());
        let db = Db::connect(&url, None).await.unwrap();
        (dir, url, db)
    }

    #[tokio::test]
    async fn connect_creates_the_file_the_schema_and_seeds_templates_once() {
        let (dir, url, db) = temp_db().await;
        assert_eq!(db.dialect(), Dialect::Sqlite);
        assert!(dir.path().join("nested/dir/mailplane.db").exists());
        let tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", &[]).await.unwrap();
        let tables: Vec<&str> = tables.iter().map(|r| r[0].as_deref().unwrap()).collect();
        for want in [
            "_sogo_static_view",
            "alias",
            "alias_domain",
            "app_passwd",
            "bcc_maps",
            "domain",
            "filterconf",
            "identity_provider",
            "imapsync",
            "mailbox",
            "mailplane_meta",
            "mailplane_password_cache",
            "pushover",
            "quota2",
            "quota2replica",
            "recipient_maps",
            "relayhosts",
            "sender_acl",
            "sieve_filters",
            "spamalias",
            "tags_domain",
            "tags_mailbox",
            "templates",
            "tls_policy_override",
            "transports",
            "user_acl",
            "versions",
        ] {
            assert!(tables.contains(&want), "missing table {want}: {tables:?}");
        }
        db.close().await;
        // Connecting again re-applies the (idempotent) schema without seeding twice.
        let db = Db::connect(&url, None).await.unwrap();
        let rows = db.query("SELECT id, template, type, attributes, modified FROM templates ORDER BY id", &[]).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][..3], [Some("1".into()), Some("Default".into()), Some("domain".into())]);
        assert_eq!(rows[1][..3], [Some("2".into()), Some("Default".into()), Some("mailbox".into())]);
        assert_eq!(rows[0][4], None);
        let domain: serde_json::Value = serde_json::from_str(rows[0][3].as_deref().unwrap()).unwrap();
        assert_eq!(domain["def_quota_for_mbox"], 3221225472u64);
        assert!(rows[1][3].as_deref().unwrap().starts_with(r#"{"tags":[],"quota":0,"quarantine_notification":"hourly","#));
        // Existing templates are left alone (edited, or some deleted); like mailcow's init, only an
        // empty table gets the defaults.
        db.execute_all(&[stmt("DELETE FROM templates WHERE id = 2", vec![]), stmt("UPDATE templates SET template = 'Mine'", vec![])]).await.unwrap();
        db.close().await;
        let db = Db::connect(&url, None).await.unwrap();
        let rows = db.query("SELECT id, template FROM templates", &[]).await.unwrap();
        assert_eq!(rows, vec![vec![Some("1".into()), Some("Mine".into())]]);
        db.execute_all(&[stmt("DELETE FROM templates", vec![])]).await.unwrap();
        db.close().await;
        let db = Db::connect(&url, None).await.unwrap();
        assert_eq!(db.query("SELECT COUNT(*) FROM templates", &[]).await.unwrap(), vec![vec![Some("2".into())]]);
        db.close().await;
    }

    #[tokio::test]
    async fn defaults_types_and_text_decoding() {
        let (_dir, _url, db) = temp_db().await;
        db.execute_all(&[
            stmt("INSERT INTO domain (domain, description) VALUES (?, ?)", vec![t("example.org"), Arg::Null]),
            stmt(
                "INSERT INTO mailbox (username, password, local_part, domain, attributes, active, quota) VALUES (?, ?, ?, ?, ?, ?, ?)",
                vec![t("a@example.org"), t("{BLF-CRYPT}x"), t("a"), t("example.org"), t(r#"{"x":"1"}"#), Arg::Int(2), Arg::Int(10737418240)],
            ),
        ])
        .await
        .unwrap();
        let r = db
            .query("SELECT defquota, maxquota, relayhost, gal, description, created, modified FROM domain WHERE domain = ?", &[t("EXAMPLE.org")])
            .await
            .unwrap();
        assert_eq!(r.len(), 1, "domain keys compare case-insensitively, like utf8mb4_general_ci");
        let r = &r[0];
        assert_eq!(r[..5], [Some("3072".into()), Some("102400".into()), Some("0".into()), Some("1".into()), None]);
        let created = r[5].as_deref().unwrap();
        assert_eq!(created.len(), 19, "{created}");
        assert!(created[..10] <= now_utc()[..10], "created defaults to UTC now: {created}");
        assert_eq!(r[6], None);
        let m = db.query("SELECT active, quota, custom_attributes, authsource, mailbox_path_prefix, 1.5 FROM mailbox", &[]).await.unwrap();
        assert_eq!(
            m[0],
            vec![Some("2".into()), Some("10737418240".into()), Some("{}".into()), Some("mailcow".into()), Some("/var/vmail/".into()), Some("1.5".into())]
        );
        // ON UPDATE current_timestamp() is emulated; an UPDATE that changes nothing keeps NULL.
        db.execute_all(&[stmt("UPDATE mailbox SET quota = quota", vec![])]).await.unwrap();
        assert_eq!(db.query("SELECT modified FROM mailbox", &[]).await.unwrap()[0][0], None);
        db.execute_all(&[stmt("UPDATE mailbox SET active = 1", vec![])]).await.unwrap();
        assert!(db.query("SELECT modified FROM mailbox", &[]).await.unwrap()[0][0].is_some());
        // Foreign keys cascade; CHECKs mirror mailcow's enum and JSON constraints.
        db.execute_all(&[stmt("INSERT INTO user_acl (username) VALUES (?)", vec![t("a@example.org")])]).await.unwrap();
        db.execute_all(&[stmt("DELETE FROM mailbox", vec![])]).await.unwrap();
        assert_eq!(db.query("SELECT COUNT(*) FROM user_acl", &[]).await.unwrap()[0][0].as_deref(), Some("0"));
        assert!(db.execute_all(&[stmt("INSERT INTO user_acl (username) VALUES ('nobody')", vec![])]).await.is_err());
        let bad_enum = stmt("INSERT INTO tls_policy_override (dest, policy) VALUES ('x.org', 'bogus')", vec![]);
        assert!(db.execute_all(&[bad_enum]).await.is_err());
        let bad_json = stmt("INSERT INTO templates (template, type, attributes) VALUES ('t', 'domain', '{')", vec![]);
        assert!(db.execute_all(&[bad_json]).await.is_err());
        db.close().await;
    }

    #[tokio::test]
    async fn a_failing_statement_rolls_back_the_whole_batch() {
        let (_dir, _url, db) = temp_db().await;
        let batch = vec![
            stmt("INSERT INTO domain (domain) VALUES (?)", vec![t("one.org")]),
            stmt("INSERT INTO mailplane_meta (k, v) VALUES (?, ?)", vec![t("k"), t("v")]),
            stmt("INSERT INTO domain (domain) VALUES (?)", vec![t("one.org")]),
            stmt("INSERT INTO domain (domain) VALUES (?)", vec![t("two.org")]),
        ];
        let err = db.execute_all(&batch).await.unwrap_err();
        match &err {
            DbError::Statement { index, total, sql, .. } => {
                assert_eq!((*index, *total), (2, 4));
                assert_eq!(sql, "INSERT INTO domain (domain) VALUES (?)");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("rolled back"), "{err}");
        assert_eq!(db.query("SELECT COUNT(*) FROM domain", &[]).await.unwrap()[0][0].as_deref(), Some("0"));
        assert_eq!(db.query("SELECT COUNT(*) FROM mailplane_meta", &[]).await.unwrap()[0][0].as_deref(), Some("0"));
        // The pool is still usable and the same batch without the duplicate commits.
        let mut ok = batch.clone();
        ok.remove(2);
        db.execute_all(&ok).await.unwrap();
        let rows = db.query("SELECT domain FROM domain ORDER BY domain", &[]).await.unwrap();
        assert_eq!(rows, vec![vec![Some("one.org".into())], vec![Some("two.org".into())]]);
        db.close().await;
    }

    #[tokio::test]
    async fn chunks_run_in_one_transaction_and_a_failing_source_rolls_it_back() {
        let (_dir, _url, db) = temp_db().await;
        let insert = |d: &str| vec![stmt("INSERT INTO domain (domain) VALUES (?)", vec![t(d)])];
        let count = async |db: &Db| db.query("SELECT COUNT(*) FROM domain", &[]).await.unwrap()[0][0].clone();
        let failing = [Ok(insert("one.org")), Err("no secret"), Ok(insert("two.org"))];
        match db.execute_chunks(failing.into_iter()).await {
            Err(ChunkError::Source(e)) => assert_eq!(e, "no secret"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(count(&db).await.as_deref(), Some("0"), "the chunk before the error is rolled back");
        // A statement failing in a later chunk names its place among all statements so far.
        let chunks = [Ok::<_, ()>(insert("one.org")), Ok([insert("two.org"), insert("one.org")].concat())];
        match db.execute_chunks(chunks.into_iter()).await {
            Err(ChunkError::Db(DbError::Statement { index, total, .. })) => assert_eq!((index, total), (2, 3)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(count(&db).await.as_deref(), Some("0"));
        let chunks = [Ok::<_, ()>(insert("one.org")), Ok(insert("two.org"))];
        assert_eq!(db.execute_chunks(chunks.into_iter()).await.unwrap(), 2);
        assert_eq!(count(&db).await.as_deref(), Some("2"));
        db.close().await;
    }

    /// Issue 16.10/17.11: `?mode=` is an option, not part of the file name; read-only access
    /// creates nothing and reads a missing file as a new one would be.
    #[tokio::test]
    async fn sqlite_url_parameters_and_read_only_access() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state/m.db");
        let url = format!("sqlite://{}", file.display());
        let count = |db: Db, sql: &'static str| async move { db.query(sql, &[]).await.unwrap()[0][0].clone().unwrap() };

        let missing = Db::open(&url, None, Access::READ).await.unwrap();
        assert_eq!(missing.absent(), Some(&Absent { path: file.clone(), applied_before: false }));
        assert_eq!(count(missing.clone(), "SELECT COUNT(*) FROM templates").await, "2", "mailcow's two Default templates");
        assert_eq!(count(missing, "SELECT COUNT(*) FROM mailplane_kv").await, "0");
        assert!(!dir.path().join("state").exists(), "a read-only open creates nothing");
        let peek = Access { write: true, setup: false };
        assert!(matches!(Db::open(&url, None, peek).await, Err(DbError::SqliteOpen { .. })));
        assert!(matches!(Db::open(&format!("{url}?mode=rw"), None, Access::WRITE).await, Err(DbError::SqliteMissing { .. })));
        assert!(!dir.path().join("state").exists());

        let db = Db::connect(&url, None).await.unwrap();
        assert!(!db.read_only() && db.absent().is_some());
        db.execute_all(&[stmt("INSERT INTO mailplane_meta (k, v) VALUES ('a', 'b')", vec![])]).await.unwrap();
        db.close().await;
        for url in [format!("{url}?mode=ro"), url.clone()] {
            let ro = Db::open(&url, None, Access::READ).await.unwrap();
            assert!(ro.read_only() && ro.absent().is_none());
            assert_eq!(count(ro.clone(), "SELECT COUNT(*) FROM mailplane_meta").await, "1");
            assert!(ro.execute_all(&[stmt("DELETE FROM mailplane_meta", vec![])]).await.is_err(), "{url} is opened read-only");
            ro.close().await;
        }
        let e = Db::connect(&format!("{url}?mode=ro"), None).await.unwrap_err();
        assert!(e.to_string().contains("`mode=ro`") && e.to_string().contains("apply cannot write"), "{e}");
        let e = Db::open(&format!("{url}?mode=ro&cache=shared"), None, Access::READ).await.unwrap_err();
        assert!(e.to_string().contains("unknown parameter `cache=shared`"), "{e}");
        let names: Vec<String> = std::fs::read_dir(dir.path().join("state")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["m.db"], "no file named after the parameters");

        // A file that is gone but was applied to (its lock file is left) is reported as such.
        std::fs::remove_file(&file).unwrap();
        std::fs::write(crate::lock::lock_file(&file), "").unwrap();
        let gone = Db::open(&url, None, Access::READ).await.unwrap();
        assert!(gone.absent().unwrap().applied_before);
    }

    #[tokio::test]
    async fn a_transaction_run_in_parts_counts_all_its_statements_and_rolls_back_whole() {
        let (_dir, _url, db) = temp_db().await;
        let insert = |d: &str| [stmt("INSERT INTO domain (domain) VALUES (?)", vec![t(d)])];
        let count = async |db: &Db| db.query("SELECT COUNT(*) FROM domain", &[]).await.unwrap()[0][0].clone();
        let mut tx = db.begin().await.unwrap();
        tx.run([Ok::<_, ()>(insert("one.org")), Ok(insert("two.org"))].into_iter()).await.unwrap();
        match tx.run([Ok::<_, ()>(insert("one.org"))].into_iter()).await {
            Err(ChunkError::Db(DbError::Statement { index, total, .. })) => assert_eq!((index, total), (2, 3)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(tx.commit().await.is_err(), "a failed part rolled the whole transaction back");
        assert_eq!(count(&db).await.as_deref(), Some("0"));
        let mut tx = db.begin().await.unwrap();
        tx.run([Ok::<_, ()>(insert("one.org"))].into_iter()).await.unwrap();
        tx.rollback().await;
        assert_eq!(count(&db).await.as_deref(), Some("0"));
        let mut tx = db.begin().await.unwrap();
        tx.run([Ok::<_, ()>(insert("one.org"))].into_iter()).await.unwrap();
        tx.run([Ok::<_, ()>(insert("two.org"))].into_iter()).await.unwrap();
        assert_eq!(tx.commit().await.unwrap(), 2);
        assert_eq!(count(&db).await.as_deref(), Some("2"));
        db.close().await;
    }

    #[tokio::test]
    async fn memory_urls_and_many_rows() {
        let db = Db::connect("sqlite::memory:", None).await.unwrap();
        let n = 20_000;
        let stmts: Vec<Stmt> = (0..n)
            .map(|i| stmt("INSERT INTO quota2 (username, bytes, messages) VALUES (?, ?, ?)", vec![t(&format!("u{i}@x.org")), Arg::Int(i), Arg::Null]))
            .collect();
        // messages is NOT NULL: the very first statement fails.
        assert!(matches!(db.execute_all(&stmts).await, Err(DbError::Statement { index: 0, .. })));
        let stmts: Vec<Stmt> = stmts
            .into_iter()
            .map(|mut s| {
                s.args[2] = Arg::Int(0);
                s
            })
            .collect();
        db.execute_all(&stmts).await.unwrap();
        let rows = db.query("SELECT username, bytes, messages FROM quota2 ORDER BY bytes", &[]).await.unwrap();
        assert_eq!(rows.len(), n as usize);
        assert_eq!(rows[n as usize - 1], vec![Some(format!("u{}@x.org", n - 1)), Some((n - 1).to_string()), Some("0".into())]);
        db.close().await;
    }

    #[tokio::test]
    async fn bad_urls_say_what_to_do_and_hide_passwords() {
        let e = Db::connect("postgres://u:hunter22@h/db", None).await.unwrap_err();
        assert!(!e.to_string().contains("hunter22"), "{e}");
        assert!(e.to_string().contains("sqlite://"), "{e}");
        let e = Db::connect("mysql://u:hunter22@127.0.0.1:1", None).await.unwrap_err();
        assert!(matches!(e, DbError::NoDatabase { .. }), "{e}");
        assert!(!e.to_string().contains("hunter22"), "{e}");
        let e = Db::connect("mysql://u:hunter22@127.0.0.1:1/mailcow", Some("sekrit99")).await.unwrap_err();
        assert!(matches!(e, DbError::Connect { .. }), "{e}");
        let msg = e.to_string();
        assert!(!msg.contains("hunter22") && !msg.contains("sekrit99"), "{msg}");
        assert_eq!(redact_url("mysql://root:p@ss@h:3306/x"), "mysql://root@h:3306/x");
        assert_eq!(redact_url("mysql://root@h/x"), "mysql://root@h/x");
    }

    #[test]
    fn binary_times_format_like_mysql_text() {
        assert_eq!(binary_time(&[7, 0xea, 0x07, 11, 24, 8, 40, 21], MyKind::DateTime).unwrap(), "2026-11-24 08:40:21");
        assert_eq!(binary_time(&[4, 0xea, 0x07, 1, 2], MyKind::DateTime).unwrap(), "2026-01-02 00:00:00");
        assert_eq!(binary_time(&[11, 0xea, 0x07, 1, 2, 3, 4, 5, 0x40, 0xe2, 0x01, 0], MyKind::DateTime).unwrap(), "2026-01-02 03:04:05.123456");
        assert_eq!(binary_time(&[4, 0xea, 0x07, 1, 2], MyKind::Date).unwrap(), "2026-01-02");
        assert_eq!(binary_time(&[8, 1, 1, 0, 0, 0, 2, 3, 4], MyKind::Time).unwrap(), "-26:03:04");
        assert!(binary_time(&[7, 0xea], MyKind::DateTime).is_err());
        let now = now_utc();
        assert_eq!(now.len(), 19);
        assert_eq!(&now[10..11], " ");
    }
}
