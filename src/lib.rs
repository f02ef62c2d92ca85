//! mailplane: run a mailcow-style mail server from git.
//!
//! Data flows one way: `load` (YAML → desired state) → `observe` (live target → live state)
//! → `plan` (pure diff) → `render` / `apply`.

pub mod apply;
pub mod change;
pub mod cli;
pub mod confined;
pub mod daemon;
pub mod dns;
pub mod failpoint;
pub mod kinds;
pub mod ldap_source;
pub mod live;
pub mod load;
pub mod model;
pub mod observe;
pub mod outbox;
pub mod password;
pub mod plan;
pub mod planfile;
pub mod printer;
pub mod record;
pub mod render;
pub mod schema;
pub mod servicefiles;
pub mod settings;
pub mod sql;
pub mod store;
pub mod timing;
pub mod verify;
