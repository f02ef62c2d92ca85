//! The CLI as a user runs it, on the embedded SQLite target: plan output in each format,
//! exit codes, confirmation, idempotence.

use assert_cmd::Command;

fn mailplane(state: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("mailplane").unwrap();
    c.env("NO_COLOR", "1").env("MAILPLANE_STATE_DIR", state).env_remove("MAILPLANE_DATABASE_URL");
    c
}

fn target(state: &std::path::Path) -> String {
    format!("sqlite://{}/mailplane.db", state.display())
}

#[test]
fn plan_formats_and_exit_codes() {
    let state = tempfile::tempdir().unwrap();
    let url = target(state.path());
    for (format, name) in [("human", "plan_human"), ("json", "plan_json"), ("markdown", "plan_markdown")] {
        let out = mailplane(state.path()).args(["plan", "examples/quickstart", "--target", &url, "--format", format]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
    let json: serde_json::Value =
        serde_json::from_slice(&mailplane(state.path()).args(["plan", "examples/quickstart", "--target", &url, "--format", "json"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["summary"]["create"], 18);
    mailplane(state.path()).args(["plan", "examples/quickstart", "--target", &url, "--detailed-exitcode"]).assert().code(2);
}

#[test]
fn apply_needs_confirmation_then_is_idempotent() {
    let state = tempfile::tempdir().unwrap();
    let url = target(state.path());
    // stdin is not a terminal here: without --auto-approve nothing is written.
    let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto-approve"));
    mailplane(state.path()).args(["plan", "examples/quickstart", "--target", &url, "--detailed-exitcode"]).assert().code(2);

    let out = mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url, "--auto-approve"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Apply complete: 18 created, 0 updated, 0 deleted"));
    let out = mailplane(state.path()).args(["plan", "examples/quickstart", "--target", &url, "--detailed-exitcode"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("plan_after_apply", String::from_utf8(out.stdout).unwrap());
    // Nothing to do: apply says so and succeeds without asking.
    mailplane(state.path()).args(["apply", "examples/quickstart", "--target", &url]).assert().success();
}

#[test]
fn invalid_input_stops_before_touching_the_target() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "domains:\n  - name: bad_domain\n").unwrap();
    let url = target(state.path());
    let out = mailplane(state.path()).arg("plan").arg(dir.path()).args(["--target", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a.yaml:2:11"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!state.path().join("mailplane.db").exists(), "nothing is created for invalid input");
}

/// mailcow counts the mailboxes already on the server against a domain's limit; so does plan.
#[test]
fn domain_limits_count_undeclared_mailboxes_too() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = target(state.path());
    let yaml = |n: usize| {
        let boxes: String = (0..n).map(|i| format!("      - local_part: user{i}\n")).collect();
        format!("domains:\n  - name: small.example\n    limits: {{max_mailboxes: 3}}\n    mailboxes:\n{boxes}")
    };
    std::fs::write(dir.path().join("d.yaml"), yaml(2)).unwrap();
    mailplane(state.path()).arg("apply").arg(dir.path()).args(["--target", &url, "--auto-approve"]).assert().success();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::store::db::Db::connect(&url, None).await.unwrap();
        db.execute_all(&[mailplane::store::db::Stmt {
            sql: "INSERT INTO mailbox (username, password, local_part, domain, quota, attributes, active) VALUES ('byhand@small.example', '', 'byhand', 'small.example', 0, '{}', 1)".into(),
            args: vec![],
        }])
        .await
        .unwrap();
        db.close().await;
    });
    std::fs::write(dir.path().join("d.yaml"), yaml(3)).unwrap();
    let out = mailplane(state.path()).arg("plan").arg(dir.path()).args(["--target", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Blocked: domain small.example: 4 mailboxes (counting the server's undeclared ones) exceed its limit of 3"), "{stdout}");
    let out = mailplane(state.path()).arg("apply").arg(dir.path()).args(["--target", &url, "--auto-approve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}
