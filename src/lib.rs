//! mailplane: run a mailcow-style mail server from git.
//!
//! Data flows one way: `load` (YAML → desired state) → `observe` (live target → live state)
//! → `plan` (pure diff) → `render` / `apply`.

pub mod apply;
pub mod cli;
pub mod confined;
pub mod daemon;
pub mod dns;
pub mod docker;
pub mod export;
pub mod failpoint;
pub mod journal;
pub mod kinds;
pub mod ldap;
pub mod ldap_source;
pub mod load;
pub mod lock;
pub mod model;
pub mod observe;
pub mod oidc;
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
pub mod target;
pub mod timing;
pub mod verify;
