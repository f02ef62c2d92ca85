//! The I/O adapters: everything mailplane reads from or writes to outside the desired-state
//! directory.
//!
//! - [`db`]: the SQL database (mailcow's MariaDB, or the embedded SQLite file); [`batch`] merges
//!   its statements.
//! - [`kv`]: the Redis hashes mailcow keeps beside it (a table on the embedded target).
//! - [`journal`], [`lock`]: mailplane's own tables: the apply journal and the apply lock.
//! - [`docker`]: the Docker engine (service restarts, reloads, maildir moves).
//! - [`ldap`], [`oidc`]: the identity providers.

pub mod batch;
pub mod db;
pub mod docker;
pub mod journal;
pub mod kv;
pub mod ldap;
pub mod lock;
pub mod oidc;

pub use db::{Arg, Db, DbError, Dialect, Row, Stmt, now_utc};

// The core's modules the adapters build on, at the paths they name them by.
use mailplane_core::{failpoint, model, sql, timing};
