//! The whole directory loader on untrusted bytes: walk, decoding, YAML, validation, secret
//! masking and diagnostics. The input is a desired-state file; after a `\0\0`, the rest is the
//! directory's mailplane.yaml. Nothing may panic, and every diagnostic renders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let (objects, settings) = match data.windows(2).position(|w| w == b"\0\0") {
        Some(at) => (&data[..at], Some(&data[at + 2..])),
        None => (data, None),
    };
    std::fs::write(dir.path().join("objects.yaml"), objects).unwrap();
    if let Some(settings) = settings {
        std::fs::write(dir.path().join("mailplane.yaml"), settings).unwrap();
    }
    if let Ok(loaded) = mailplane_core::kinds::load_dir(dir.path()) {
        for d in &loaded.diagnostics {
            let _ = d.render(&loaded.sources, false);
        }
    }
});
