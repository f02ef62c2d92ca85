//! The layers, checked from the source: the core (the model, loading and validating, records,
//! the live state as data, the kinds, the planner and the renderer) reaches no I/O adapter and
//! no I/O crate, and no two top-level modules import each other, directly or around a circle,
//! except the pairs listed here. A module's imports are the `crate::<module>` paths in its files
//! (tests left out).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const CORE: [&str; 9] = ["model", "load", "record", "change", "live", "sql", "kinds", "plan", "render"];
/// What the core must not reach: the adapters and what runs them.
const IO_MODULES: [&str; 8] = ["store", "observe", "servicefiles", "apply", "outbox", "cli", "daemon", "ldap_source"];
const IO_CRATES: [&str; 7] = ["sqlx", "tokio", "ldap3", "bollard", "redis", "reqwest", "hickory_resolver"];
/// Known circles between I/O modules: apply writes the outbox, the outbox finishes applies.
const ALLOWED_CIRCLES: [[&str; 2]; 1] = [["apply", "outbox"]];

struct Graph {
    imports: BTreeMap<String, BTreeSet<String>>,
    crates: BTreeMap<String, BTreeSet<String>>,
}

fn read(dir: &Path, top: Option<&str>, g: &mut Graph) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = top.map_or(name.clone(), str::to_string);
        // The store crate names its own modules `crate::db`: they are the store.
        let own = |used: &str| top == Some("store") && ["batch", "db", "docker", "journal", "kv", "ldap", "lock", "oidc"].contains(&used);
        if path.is_dir() {
            read(&path, Some(&module), g);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || matches!(module.as_str(), "lib" | "main") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        for (i, _) in text.match_indices("crate::") {
            let used: String = text[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if used != module && !used.is_empty() && !own(&used) {
                g.imports.entry(module.clone()).or_default().insert(used);
            }
        }
        for c in IO_CRATES {
            if text.contains(&format!("{c}::")) {
                g.crates.entry(module.clone()).or_default().insert(c.to_string());
            }
        }
    }
}

fn reach(g: &Graph, from: &str) -> BTreeSet<String> {
    let (mut seen, mut todo) = (BTreeSet::new(), vec![from.to_string()]);
    while let Some(m) = todo.pop() {
        for next in g.imports.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn the_core_reaches_no_io_and_modules_form_no_circle() {
    let mut g = Graph { imports: BTreeMap::new(), crates: BTreeMap::new() };
    // The core crate's modules and the rest of mailplane, one graph: the crate boundary already
    // keeps the core from naming the rest, this also finds circles inside either.
    for (src, top) in [("crates/core/src", None), ("src", None), ("crates/store/src", Some("store"))] {
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(src), top, &mut g);
    }
    assert!(g.imports.len() >= 15, "the source was not read: {:?}", g.imports.keys());
    for core in CORE {
        let reached = reach(&g, core);
        let io: Vec<&String> = reached.iter().filter(|m| IO_MODULES.contains(&m.as_str())).collect();
        assert!(io.is_empty(), "core module `{core}` reaches the I/O modules {io:?} (through {reached:?})");
        let crates: BTreeSet<&String> = reached.iter().chain([&core.to_string()]).flat_map(|m| g.crates.get(m).into_iter().flatten()).collect();
        assert!(crates.is_empty(), "core module `{core}` reaches the I/O crates {crates:?}");
    }
    let mut circles = Vec::new();
    for m in g.imports.keys() {
        for other in reach(&g, m).into_iter().filter(|o| o > m && reach(&g, o).contains(m)) {
            if !ALLOWED_CIRCLES.iter().any(|[a, b]| (a, b) == (&m.as_str(), &other.as_str()) || (b, a) == (&m.as_str(), &other.as_str())) {
                circles.push(format!("{m} <-> {other}"));
            }
        }
    }
    assert!(circles.is_empty(), "modules that import each other, directly or around a circle: {circles:?}");
}
