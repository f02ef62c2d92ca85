//! `load::fast` against serde-saphyr: whenever the fast path takes a file, it must give exactly
//! what serde-saphyr gives (values and spans); otherwise it must give up. Checked on every YAML
//! file of the project, a generated data set, and many small mutations of them.

use std::path::{Path, PathBuf};

use mailplane::load::{fast, yaml};
use mailplane::model::Document;
use mailplane::settings::SettingsFile;

/// Whether the fast path took `text`; panics when it took it and disagrees with serde-saphyr.
fn agrees(name: &str, text: &str) -> bool {
    fn check<T: serde::de::DeserializeOwned + std::fmt::Debug>(name: &str, text: &str) -> bool {
        let Some(fast) = fast::parse::<T>(text) else { return false };
        match yaml::parse_with_saphyr::<T>(text, 0) {
            Ok(slow) => {
                let (fast, slow) = (format!("{fast:#?}"), format!("{slow:#?}"));
                if fast != slow {
                    let (f, s): (Vec<&str>, Vec<&str>) = (fast.lines().collect(), slow.lines().collect());
                    let at = f.iter().zip(&s).position(|(a, b)| a != b).unwrap_or(f.len().min(s.len()));
                    let around = |v: &[&str]| v[at.saturating_sub(12)..(at + 3).min(v.len())].join("\n");
                    let excerpt: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
                    panic!("{name}: the fast path read another value.\nfast:\n{}\nserde-saphyr:\n{}\ntext:\n{excerpt}", around(&f), around(&s));
                }
            }
            Err(d) => panic!("{name}: the fast path took what serde-saphyr refuses ({}):\n{text}", d.message),
        }
        true
    }
    match name {
        // The README's examples are either.
        n if n.starts_with("README") => check::<Document>(name, text) || check::<SettingsFile>(name, text),
        n if n.ends_with("mailplane.yaml") => check::<SettingsFile>(name, text),
        _ => check::<Document>(name, text),
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_mailplane"))
        .args(["generate", "--size", "S", "--change", "10"])
        .arg(generated.path())
        .output()
        .unwrap();
    assert!(status.status.success());
    let mut files = Vec::new();
    for dir in [root.join("examples"), root.join("tests/fixtures"), generated.path().to_path_buf()] {
        yaml_files(&dir, &mut files);
    }
    files.sort();
    // Ten domain files of the generated set are enough.
    files.retain(|f| !f.to_string_lossy().contains("/domains/d00") || f.to_string_lossy().ends_with("d0001.yaml"));
    let mut corpus: Vec<(String, String)> = files.into_iter().map(|f| (f.display().to_string(), std::fs::read_to_string(&f).unwrap())).collect();
    // The README's examples: what admins copy from.
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        corpus.push((format!("README.md yaml block {}", i + 1), block.split("```").next().unwrap().to_string()));
    }
    corpus
}

#[test]
fn the_fast_path_reads_the_project_files_as_serde_saphyr_does() {
    let corpus = corpus();
    let taken: Vec<&str> = corpus.iter().filter(|(name, text)| agrees(name, text)).map(|(n, _)| n.as_str()).collect();
    // It must actually be used: the examples and the generated set are plain YAML.
    for must in ["quickstart/domains/example.org.yaml", "quickstart/mailplane.yaml", "d0001.yaml", "maps.yaml", "routing.yaml"] {
        assert!(taken.iter().any(|n| n.ends_with(must)), "the fast path gave up on {must}; it took {taken:#?}");
    }
    let files = corpus.iter().filter(|(n, _)| !n.starts_with("README")).count();
    let files_taken = taken.iter().filter(|n| !n.starts_with("README")).count();
    assert!(files_taken * 2 > files, "only {files_taken} of {files} files");
    eprintln!("taken: {taken:#?}");
}

/// Single-line edits that change YAML's meaning in small ways, each tried on every line.
const EDITS: &[fn(&str) -> String] = &[
    |l| format!("{l} # note"),
    |l| format!("{l}#x"),
    |l| format!(" {l}"),
    |l| l.strip_prefix("  ").map_or_else(|| l.to_string(), str::to_string),
    |l| format!("{l}: x"),
    |l| format!("{l}\n"),
    |l| format!("{l} "),
    |l| l.replacen(": ", ":  ", 1),
    |l| l.replacen(": ", ": \"", 1),
    |l| l.replacen(": ", ": '", 1) + "'",
    |l| l.replacen(": ", ": \"", 1) + "\"",
    |l| l.replacen(": ", ": \"a\\", 1) + "\"",
    |l| l.replacen(": ", ": [", 1) + "]",
    |l| l.replacen(": ", ": [", 1) + ", ]",
    |l| l.replacen(": ", ": {", 1) + "}",
    |l| l.replacen(": ", ":\n", 1),
    |l| l.replacen(": ", ": &a ", 1),
    |l| l.replacen(": ", ": !!str ", 1),
    |l| l.replacen(": ", ": |\n  ", 1),
    |l| l.replacen("- ", "-  ", 1),
    |l| l.replacen("- ", "-\n  ", 1),
    |l| l.replacen("- ", "", 1),
    |l| l.replacen("ldap:", "keycloak:", 1),
    |l| format!("{l}\n{l}"),
    |l| format!("{l}\n---"),
    |l| format!("{l}\n\t"),
    |_| String::new(),
];

/// The same line with its value replaced (`key` + one of these), tried on every line too.
const VALUES: &[&str] = &[
    ":",
    ": 007",
    ": 12",
    ": -3",
    ": 1.5",
    ": 1e3",
    ": 0x1F",
    ": yes",
    ": True",
    ": true",
    ": ~",
    ": null",
    ": ''",
    ": \"\"",
    ": a: b",
    ": 2 GiB",
    ": 10/1h",
    ": 192.0.2.1",
    ": 1.2",
    ": {env: X}",
    ": {file: a, env: b}",
    ": {a: 1, a: 2}",
    ": {a: [b]}",
    ": café # é",
    ": .sub.example",
    ": .5",
    ": .Inf",
    ": -.inf",
    ": {ldap: {hosts: [a]}}",
    ": 'it''s'",
    ": \"tab\\there \\u00e9\"",
    ": é",
    ": []",
    ": [a, 'b', \"c\"]",
    ": [a: b]",
    ": x\n  y",
    ": ${HOME}",
];

#[test]
fn mutated_files_are_read_alike_or_left_to_serde_saphyr() {
    let (mut tried, mut taken) = (0, 0);
    for (name, text) in corpus() {
        if !agrees(&name, &text) || text.len() > 20_000 {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let key = lines[i].split(": ").next().unwrap_or(lines[i]);
            let edits = EDITS.iter().map(|edit| edit(lines[i])).chain(VALUES.iter().map(|v| format!("{key}{v}")));
            for new in edits {
                let mut changed = lines.clone();
                changed[i] = &new;
                tried += 1;
                taken += usize::from(agrees(&format!("{name} line {}", i + 1), &changed.join("\n")));
            }
        }
    }
    // Most edits make a file invalid (an unknown field, a wrong type): those are serde-saphyr's.
    eprintln!("{taken} of {tried} variants taken by the fast path");
    assert!(tried > 10_000 && taken > tried / 8, "{taken} of {tried} variants taken");
}
