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
        // The examples of README and docs/ are either.
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
    let status =
        std::process::Command::new(env!("CARGO_BIN_EXE_mailplane")).args(["generate", "--size", "S", "--change", "10"]).arg(generated.path()).output().unwrap();
    assert!(status.status.success());
    let mut files = Vec::new();
    for dir in [root.join("examples"), root.join("tests/fixtures"), generated.path().to_path_buf()] {
        yaml_files(&dir, &mut files);
    }
    files.sort();
    // Ten domain files of the generated set are enough.
    files.retain(|f| !f.to_string_lossy().contains("/domains/d00") || f.to_string_lossy().ends_with("d0001.yaml"));
    let mut corpus: Vec<(String, String)> = files.into_iter().map(|f| (f.display().to_string(), std::fs::read_to_string(&f).unwrap())).collect();
    // The examples of README and docs/: what admins copy from.
    let mut docs = vec![root.join("README.md")];
    docs.extend(std::fs::read_dir(root.join("docs")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "md")));
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(root).unwrap().display().to_string();
        for (i, block) in text.split("```yaml\n").skip(1).enumerate() {
            corpus.push((format!("README {name} yaml block {}", i + 1), block.split("```").next().unwrap().to_string()));
        }
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

/// A small valid file that the fast path takes, for the edits below.
const DOMAIN: &str = "domains:\n  - name: example.org\n    description: Example Org\n    tags: [a, 'b']\n    mailboxes:\n      - local_part: alice\n        name: \"Alice\"\n        quota: 4 GiB\n";

/// Characters that look like (or sit where) a space would, several bytes long in UTF-8.
const MULTIBYTE: [char; 8] = ['\u{a0}', '\u{2003}', '\u{3000}', '\u{2007}', '\u{200b}', '\u{2028}', 'é', '\u{1f600}'];

/// Every place of interest on `line`: each leading space replaced by `c`, and `c` put before
/// and after the indentation, before and after the colon, after `- ` and at the end.
fn placements(line: &str, c: char) -> Vec<String> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let mut out: Vec<String> = (0..indent).map(|j| format!("{}{c}{}", &line[..j], &line[j + 1..])).collect();
    let mut cuts = vec![0, indent, line.len()];
    cuts.extend(line.find(':').into_iter().flat_map(|i| [i, i + 1, i + 2]));
    cuts.extend(line.find("- ").map(|i| i + 2));
    for at in cuts.into_iter().filter(|&at| at <= line.len()) {
        out.push(format!("{}{c}{}", &line[..at], &line[at..]));
    }
    out
}

/// Every line of DOMAIN changed by `edit` in each of its `placements`.
fn variants(c: char) -> Vec<String> {
    let lines: Vec<&str> = DOMAIN.lines().collect();
    let mut out = Vec::new();
    for i in 0..lines.len() {
        for new in placements(lines[i], c) {
            let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            changed[i] = new;
            out.push(changed.join("\n") + "\n");
        }
    }
    out
}

#[test]
fn multibyte_characters_in_indentation_and_keys_are_read_alike_without_a_panic() {
    assert!(agrees("DOMAIN", DOMAIN), "the fast path must take the unedited file");
    for c in MULTIBYTE {
        for text in variants(c) {
            agrees(&format!("{:?} in {text:?}", c), &text);
        }
    }
}

#[test]
fn a_non_breaking_space_in_indentation_is_a_diagnostic_of_the_directory_loader() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.yaml"), "domains:\n  - name: example.org\n \u{a0}  description: x\n").unwrap();
    let loaded = mailplane::kinds::load_dir(dir.path()).unwrap();
    let error = loaded.diagnostics.iter().find(|d| d.is_error()).expect("an error for the NBSP");
    assert_eq!(error.span.line, 3, "{error:?}");
}

#[test]
fn control_characters_and_byte_order_marks_are_left_to_serde_saphyr() {
    let unprintable = (0..0x20u32).filter(|c| ![0x09, 0x0a, 0x0d].contains(c)).chain([0x7f]).chain(0x80..=0x9f).chain([0xfeff, 0xfffe, 0xffff]);
    for c in unprintable.map(|c| char::from_u32(c).unwrap()) {
        for text in [DOMAIN.replace("Org", &format!("O{c}rg")), DOMAIN.replace("alice", &format!("al{c}ice")), format!("{DOMAIN}# {c}\n")] {
            agrees(&format!("{c:?}"), &text);
            assert!(fast::parse::<Document>(&text).is_none(), "the fast path took {c:?}");
        }
    }
}

/// Many keys in one mapping: the duplicate check must not compare each key with all before it.
#[test]
fn a_mapping_of_100_000_keys_is_read_and_a_duplicate_among_them_found() {
    use std::collections::BTreeMap;
    let mut text: String = (0..100_000).map(|i| format!("key{i}: v{i}\n")).collect();
    let map = fast::parse::<BTreeMap<String, String>>(&text).expect("the fast path takes distinct keys");
    assert_eq!(map.len(), 100_000);
    assert_eq!(map["key99999"], "v99999");
    text.push_str("key5: again\n");
    assert!(fast::parse::<BTreeMap<String, String>>(&text).is_none(), "a duplicate key is serde-saphyr's to report");
    let flow = format!("m: {{{}, k7: x}}\n", (0..100).map(|i| format!("k{i}: v")).collect::<Vec<_>>().join(", "));
    assert!(fast::parse::<BTreeMap<String, BTreeMap<String, String>>>(&flow).is_none(), "a duplicate in a flow mapping too");
}
