//! What apply writes, as review sees it: the statements of the golden scenario A on an empty
//! SQLite target (every kind created) and of A-edits after it (updates and deletes), one insta
//! snapshot each. A change to what any kind writes shows here as a diff. Passwords are declared
//! as hashes (no environment), and what is random or a clock is masked.

use std::path::Path;

use mailplane::cli::target::{TargetArgs, prepare};
use mailplane::printer::Printer;
use mailplane::sql::{Arg, Stmt};

/// The scenario's directory with its `{env:}` passwords replaced by one fixed hash.
fn scenario(name: &str) -> tempfile::TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-yaml").join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in walk(&from) {
        let rel = entry.strip_prefix(&from).unwrap();
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(&entry).unwrap();
        let hash = "\"{BLF-CRYPT}$2y$05$.oAVYApCgu2zcqetkRFd1u9r2gWVBATqFv5eGZJgPp3iqrVlMuysa\"";
        let text =
            ["GOLDEN_ALICE_PASSWORD", "GOLDEN_BOB_PASSWORD", "GOLDEN_CAROL_PASSWORD"].iter().fold(text, |t, v| t.replace(&format!("{{env: {v}}}"), hash));
        std::fs::write(to, text).unwrap();
    }
    dir
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

fn show(stmts: &[Stmt]) -> String {
    let arg = |a: &Arg| match a {
        Arg::Null => "NULL".to_string(),
        Arg::Int(i) => i.to_string(),
        Arg::Text(t) => format!("{t:?}"),
    };
    stmts.iter().map(|s| format!("{}\n    [{}]\n", s.sql, s.args.iter().map(arg).collect::<Vec<_>>().join(", "))).collect()
}

fn statements(rt: &tokio::runtime::Runtime, dir: &Path, url: &str) -> String {
    let args = TargetArgs {
        dir: dir.to_path_buf(),
        target: Some(url.to_string()),
        redis: None,
        memcached: None,
        allow_delete: vec!["mailbox".into(), "domain".into()],
        force: true,
        refresh_forwarding_hosts: false,
        lock_timeout: 10,
        mailcow_dir: None,
    };
    let p = rt.block_on(prepare(&args, Printer::new(true), false)).expect("the scenario plans");
    assert!(p.plan.problems.is_empty(), "{:?}", p.plan.problems);
    show(&mailplane::apply::statements(&p.plan, &p.desired, &p.live, p.db.dialect()).unwrap())
}

fn apply(dir: &Path, url: &str, state: &Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailplane"))
        .args(["apply", dir.to_str().unwrap(), "--target", url, "--auto-approve", "--force", "--allow-delete=mailbox,domain"])
        .env("NO_COLOR", "1")
        .env("MAILPLANE_STATE_DIR", state)
        .env_remove("MAILPLANE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn statements_of_the_golden_scenarios() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", state.path().display());
    let (a, edits) = (scenario("A"), scenario("A-edits"));
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[datetime]");
    settings.add_filter(r"\b[0-9a-f]{32,}\b", "[hex]");
    settings.add_filter(r"mp-[0-9a-z-]{8,}", "[id]");
    settings.bind(|| {
        // The target is created (schema, seed rows) by the first apply; plan against it empty.
        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("mailplane.yaml"), "").unwrap();
        apply(empty.path(), &url, state.path());
        insta::assert_snapshot!("a_on_an_empty_target", statements(&rt, a.path(), &url));
        apply(a.path(), &url, state.path());
        insta::assert_snapshot!("a_edits_after_a", statements(&rt, edits.path(), &url));
    });
}
