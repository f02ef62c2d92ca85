//! `mailplane validate` as users run it: summaries, exit codes, JSON diagnostics, --strict; and the
//! committed JSON Schema is what the model generates.

use assert_cmd::Command;

fn validate(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("mailplane").unwrap().arg("validate").args(args).env("NO_COLOR", "1").output().unwrap()
}

#[test]
fn the_examples_validate() {
    for (dir, summary) in [
        (
            "examples/quickstart",
            "valid: 1 relay host, 3 domains, 1 alias domain, 3 mailboxes, 3 aliases, 1 BCC map, 1 recipient map, 1 TLS policy, 1 transport (5 files)",
        ),
        (
            "examples/organisation",
            "valid: 1 domain template, 3 mailbox templates, 1 relay host, 2 domains, 2 alias domains, 1 MTA-STS policy, 1 domain footer, 4 mailboxes, 2 resources, 1 spam policy, 1 spam score, 1 app password, 1 Sieve filter, 1 sync job, 1 mailbox's custom attributes, 4 aliases, 2 BCC maps, 2 recipient maps, 2 TLS policies, 3 transports, 1 identity provider, 1 password policy, 1 administrator, 1 domain administrator, 1 API key, 1 OAuth2 client, 1 quarantine settings, 1 quota-warning mail, 1 password-reset mail, 1 Fail2ban settings, 1 Rspamd settings map, 1 UI customisation, 1 CORS settings (11 files)",
        ),
    ] {
        let out = validate(&[dir]);
        assert_eq!(out.status.code(), Some(0), "{dir}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), summary);
    }
}

fn broken_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "domains:\n  - name: bad_name\n  - name: b.org\n    relay_host: nope\n").unwrap();
    dir
}

#[test]
fn errors_exit_1_with_located_diagnostics() {
    let dir = broken_dir();
    let out = validate(&[dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a.yaml:2:11") && err.contains("a.yaml:4:17") && err.contains("2 errors found"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn json_diagnostics_are_machine_readable() {
    let dir = broken_dir();
    let out = validate(&[dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let d = &v["diagnostics"][0];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64(), d["code"].as_str(), d["severity"].as_str()),
        (Some(2), Some(11), Some("invalid-domain"), Some("error"))
    );
    assert!(d["file"].as_str().unwrap().ends_with("a.yaml") && d["message"].as_str().unwrap().contains("bad_name"));
    let ok = validate(&["examples/quickstart", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!((v["valid"].as_bool(), v["counts"]["mailbox"].as_u64()), (Some(true), Some(3)));
}

#[test]
fn strict_turns_warnings_into_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "relay_hosts:\n  - name: r\n    hostname: \"[r.example]:25\"\n    password: hunter2\n").unwrap();
    let path = dir.path().to_str().unwrap();
    let out = validate(&[path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning[plaintext-secret]"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"), "the secret itself is never shown");
    assert_eq!(validate(&[path, "--strict"]).status.code(), Some(1));
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let out = validate(&["/nonexistent/desired"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory of desired-state files"));
}

#[test]
fn the_committed_schema_is_fresh() {
    for (file, fresh, cmd) in [
        (mailplane::schema::DOCUMENT_SCHEMA_FILE, mailplane::schema::document_schema(), "cargo run -- schema > schema/mailplane.schema.json"),
        (mailplane::schema::SETTINGS_SCHEMA_FILE, mailplane::schema::settings_schema(), "cargo run -- schema --settings > schema/settings.schema.json"),
    ] {
        let committed = std::fs::read_to_string(file).unwrap();
        assert!(committed == fresh, "{file} is stale: run `{cmd}`");
    }
}

#[test]
fn every_example_file_names_its_schema() {
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("examples")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") && !p.starts_with("examples/ci") && !p.starts_with("examples/daemon") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 10);
    for f in files {
        let first = std::fs::read_to_string(&f).unwrap().lines().next().unwrap_or("").to_string();
        let rel = first.strip_prefix("# yaml-language-server: $schema=").unwrap_or_else(|| panic!("{} has no schema modeline", f.display()));
        assert!(f.parent().unwrap().join(rel).is_file(), "{}: {rel} does not resolve", f.display());
    }
}
