//! `mailplane watch`: the drift-detection daemon (issue 7). Work in progress: only the
//! scheduling logic exists so far; the loop, HTTP listener and metrics are still to come.

pub mod schedule;
