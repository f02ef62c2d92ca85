//! mailplane: run a mailcow-style mail server from git.
//!
//! Data flows one way: `load` (YAML → desired state) → `observe` (live target → live state)
//! → `plan` (pure diff) → `render` / `apply`.

pub mod cli;
pub mod load;
pub mod model;
pub mod password;
pub mod printer;
pub mod schema;
pub mod settings;
