//! Saved plans: `plan --out FILE` then `apply FILE` applies exactly that plan; a change on the
//! server or in the files since then makes apply refuse; the file holds no secret in clear.

use std::path::Path;

use assert_cmd::Command;

fn mailplane(state: &Path) -> Command {
    let mut c = Command::cargo_bin("mailplane").unwrap();
    c.env("NO_COLOR", "1").env("MAILPLANE_STATE_DIR", state).env_remove("MAILPLANE_DATABASE_URL");
    c
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

struct Case {
    state: tempfile::TempDir,
    dir: tempfile::TempDir,
    url: String,
}

impl Case {
    fn new() -> Case {
        let state = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(Path::new("examples/quickstart"), dir.path());
        let url = format!("sqlite://{}/mp.db", state.path().display());
        Case { state, dir, url }
    }
    fn plan_out(&self) -> std::path::PathBuf {
        let file = self.state.path().join("plan.json");
        let out = mailplane(self.state.path()).arg("plan").arg(self.dir.path()).args(["--target", &self.url, "--out"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        file
    }
    fn apply_file(&self, file: &Path) -> std::process::Output {
        mailplane(self.state.path()).arg("apply").arg(file).args(["--target", &self.url]).output().unwrap()
    }
}

#[test]
fn a_saved_plan_applies_as_planned_and_holds_no_secret() {
    let c = Case::new();
    let file = c.plan_out();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"mailplane_version\""));
    assert!(!text.contains("relay:pass"), "the relay host's password is in the plan file");
    let out = c.apply_file(&file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    mailplane(c.state.path()).arg("plan").arg(c.dir.path()).args(["--target", &c.url, "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn a_plan_goes_stale_when_the_files_change() {
    let c = Case::new();
    let file = c.plan_out();
    let path = c.dir.path().join("maps.yaml");
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("policy: secure", "policy: encrypt")).unwrap();
    let out = c.apply_file(&file);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the plan is stale") && err.contains("changed since the plan was made"), "{err}");
}

#[test]
fn a_plan_goes_stale_when_the_server_changes() {
    let c = Case::new();
    mailplane(c.state.path()).arg("apply").arg(c.dir.path()).args(["--target", &c.url, "--auto-approve"]).assert().success();
    let path = c.dir.path().join("domains/example.org.yaml");
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("quota: 4 GiB", "quota: 5 GiB")).unwrap();
    let file = c.plan_out();
    // Someone edits the same mailbox in mailcow's UI meanwhile.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::store::db::Db::connect(&c.url, None).await.unwrap();
        let stmt = mailplane::store::db::Stmt { sql: "UPDATE mailbox SET name = 'Changed' WHERE username = 'alice@example.org'".into(), args: vec![] };
        db.execute_all(&[stmt]).await.unwrap();
        db.close().await;
    });
    let out = c.apply_file(&file);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("changed on the server") && err.contains("mailbox alice@example.org"), "{err}");
}

#[test]
fn a_saved_plan_carries_its_consent_to_delete() {
    let c = Case::new();
    mailplane(c.state.path()).arg("apply").arg(c.dir.path()).args(["--target", &c.url, "--auto-approve"]).assert().success();
    std::fs::write(c.dir.path().join("mailplane.yaml"), "prune: {mailbox: delete}\n").unwrap();
    let path = c.dir.path().join("domains/example.org.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let bob = text.find("      - local_part: bob").expect("bob in the quickstart");
    let end = bob + text[bob..].find("    aliases:").expect("aliases after bob");
    let rest = text[end..].replace("goto: [alice@example.org, bob@example.org]", "goto: [alice@example.org]");
    std::fs::write(&path, format!("{}{rest}", &text[..bob])).unwrap();
    let file = c.state.path().join("plan.json");
    let out =
        mailplane(c.state.path()).arg("plan").arg(c.dir.path()).args(["--target", &c.url, "--allow-delete=mailbox", "--out"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Reviewed with the consent, applied without repeating it: exactly that plan.
    let out = c.apply_file(&file);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bob@example.org"));
    mailplane(c.state.path()).arg("plan").arg(c.dir.path()).args(["--target", &c.url, "--detailed-exitcode"]).assert().code(0);
}
