//! `mailplane watch`: the drift-detection daemon (issue 7). `schedule` decides when (pure),
//! `driver` runs cycles on that schedule, `state` holds metrics and status, `http` serves them,
//! `triggers` turns file changes and a git remote into events.

pub mod driver;
pub mod http;
pub mod schedule;
pub mod state;
pub mod triggers;
