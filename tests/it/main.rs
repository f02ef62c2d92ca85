//! The integration tests: one binary (linking a debug mailplane once, not 22 times), a module
//! per topic; `cargo test --test it -- contract::` runs one topic.

// A test's own report (seeds, counts, counterexamples) goes to its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

mod cli_plan;
mod contract;
mod crash;
mod db_layer;
mod dkim;
mod dns;
mod golden;
mod hostile;
mod idp;
mod idp_oidc;
mod journal_lock;
mod layers;
mod ldap_source;
mod passwords;
mod planfile;
mod postfix;
mod roundtrip;
mod scenarios;
mod servicefiles;
mod statements;
mod validate_cli;
mod validate_corpus;
mod watch;
mod yaml_fast;
