//! The fast YAML path against serde-saphyr: whatever the fast path takes, serde-saphyr must
//! take too and read as the same value with the same spans (issue 16 defect 7: the fast path
//! accepted control characters serde-saphyr refuses). Neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailplane_core::load::{fast, yaml};
use mailplane_core::model::Document;
use mailplane_core::settings::SettingsFile;

fn agree<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) {
    let slow = yaml::parse_with_saphyr::<T>(text, 0);
    let Some(fast) = fast::parse::<T>(text) else { return };
    match slow {
        Ok(slow) => assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "the fast path read another value"),
        Err(d) => panic!("the fast path took what serde-saphyr refuses: {}", d.message),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    agree::<Document>(text);
    agree::<SettingsFile>(text);
});
