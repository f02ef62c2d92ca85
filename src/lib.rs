//! mailplane: run a mailcow-style mail server from git.
//!
//! Data flows one way: `load` (YAML → desired state) → `observe` (live target → live state)
//! → `plan` (pure diff) → `render` / `apply`.

pub mod apply;
pub mod cli;
pub mod daemon;
pub mod dns;
pub mod ldap_source;
pub mod observe;
pub mod outbox;
pub mod planfile;
pub mod printer;
pub mod servicefiles;
pub mod verify;

// The core crate's modules, at the paths the rest of mailplane (and its tests) name them by.
pub use mailplane_core::{change, confined, failpoint, kinds, live, load, model, password, plan, record, render, schema, settings, sql, timing};
/// The I/O adapters, a crate of their own (crates/store).
pub use mailplane_store as store;
