//! Targets: where the live state is read from and written to.
//!
//! - [`db`]: the SQL database (mailcow's MariaDB, or the embedded SQLite file).
//! - [`kv`]: the Redis hashes mailcow keeps beside it (a table on the embedded target).

pub mod batch;
pub mod db;
pub mod kv;

pub use db::{Arg, Db, DbError, Dialect, Row, Stmt, now_utc};
