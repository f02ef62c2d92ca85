//! A domain's resources: rooms, groups and things people book in SOGo's calendar (mailcow's
//! `mailbox` rows with a `kind`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// One resource of the domain it is declared in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Its name in SOGo, e.g. `Board Room 7`.
    #[schemars(length(min = 1, max = 255))]
    pub description: Located<String>,
    /// The part of its address before the `@` (default: the description's letters and digits,
    /// as mailcow makes it on add: `Board Room 7` is `BoardRoom7`). mailcow keeps it when the
    /// description changes; so does mailplane when it is declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_part: Option<Located<String>>,
    /// `location`, `group` or `thing`.
    pub kind: Located<ResourceKind>,
    /// How many bookings may overlap: 0 always accepts, -1 (the default) accepts any number
    /// but shows the resource busy, N accepts N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_bookings: Option<Located<i64>>,
    /// Default true; an inactive resource is not in SOGo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Location,
    Group,
    Thing,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 3] = [ResourceKind::Location, ResourceKind::Group, ResourceKind::Thing];
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Location => "location",
            ResourceKind::Group => "group",
            ResourceKind::Thing => "thing",
        }
    }
}
