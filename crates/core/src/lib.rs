//! mailplane's core: the desired state (`model`, `load`), records, the kinds, the planner and
//! the renderer. Pure: no I/O crate is a dependency of this crate, so planning cannot do I/O;
//! the only reads are of the desired-state directory itself (`load`, through `confined`).

pub mod change;
pub mod confined;
pub mod failpoint;
pub mod kinds;
pub mod live;
pub mod load;
pub mod model;
pub mod password;
pub mod plan;
pub mod record;
pub mod render;
pub mod schema;
pub mod settings;
pub mod sql;
pub mod timing;
