//! The JSON Schema of the desired-state files and of the settings file.

use crate::model::Document;
use crate::settings::SettingsFile;

/// Committed copies live in `schema/`; a test fails when they are stale.
pub const DOCUMENT_SCHEMA_FILE: &str = "schema/mailplane.schema.json";
pub const SETTINGS_SCHEMA_FILE: &str = "schema/settings.schema.json";

pub fn document_schema() -> String {
    pretty(schemars::schema_for!(Document))
}

pub fn settings_schema() -> String {
    pretty(schemars::schema_for!(SettingsFile))
}

fn pretty(schema: schemars::Schema) -> String {
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema is always JSON");
    s.push('\n');
    s
}
