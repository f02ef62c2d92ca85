//! End to end through the CLI: apply a directory declaring every kind, change and remove one
//! object of each kind, apply again, and check that plan is empty after each apply — on the
//! embedded SQLite target and on the real MariaDB (mailcow schema) + Redis + memcached.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const V1: &str = "tests/fixtures/scenarios/v1";
const V2: &str = "tests/fixtures/scenarios/v2";

struct Target {
    args: Vec<String>,
    _tmp: tempfile::TempDir,
}

impl Target {
    fn cmd(&self, sub: &str, dir: &Path) -> Command {
        let mut c = Command::cargo_bin("mailplane").unwrap();
        c.arg(sub).arg(dir).args(&self.args).env("NO_COLOR", "1").env("MAILPLANE_STATE_DIR", self._tmp.path());
        c.env_remove("MAILPLANE_DATABASE_URL").env_remove("MAILPLANE_REDIS_URL").env_remove("MAILPLANE_MEMCACHED");
        c
    }

    fn plan_json(&self, dir: &Path) -> Value {
        let out = self.cmd("plan", dir).args(["--format", "json", "--allow-delete=mailbox,domain"]).output().unwrap();
        assert!(out.status.success(), "plan failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn apply(&self, dir: &Path) -> String {
        let out = self.cmd("apply", dir).args(["--auto-approve", "--allow-delete=mailbox,domain"]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "apply failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    }

    fn assert_no_changes(&self, dir: &Path) {
        let out = self.cmd("plan", dir).arg("--detailed-exitcode").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "expected no changes, got:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("No changes."), "{stdout}");
    }
}

fn actions(plan: &Value) -> BTreeSet<(String, String)> {
    plan["changes"].as_array().unwrap().iter().map(|c| (c["action"].as_str().unwrap().to_string(), c["kind"].as_str().unwrap().to_string())).collect()
}

fn run_scenario(t: &Target) {
    let (v1, v2) = (Path::new(V1), Path::new(V2));
    let first = t.plan_json(v1);
    assert!(actions(&first).iter().all(|(a, _)| a == "create"), "{first:#}");
    assert_eq!(first["summary"]["create"], 33, "{first:#}");
    t.apply(v1);
    t.assert_no_changes(v1);

    let second = t.plan_json(v2);
    let got = actions(&second);
    for kind in ["domain_template", "mailbox_template", "relay_host", "domain", "alias_domain", "mailbox", "alias", "bcc_map", "recipient_map", "tls_policy", "transport", "forwarding_host"] {
        for action in ["update", "delete"] {
            assert!(got.contains(&(action.to_string(), kind.to_string())), "no {action} of {kind} in {second:#}");
        }
    }
    assert!(got.contains(&("update".into(), "identity_provider".into())));
    let text = serde_json::to_string(&second).unwrap();
    for secret in ["relaypass1", "ldapbind1", "gwpass1"] {
        assert!(!text.contains(secret), "plan shows a secret");
    }
    t.apply(v2);
    t.assert_no_changes(v2);

    // Adoption: exporting the server gives a directory that plans to no changes.
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let validate = Command::cargo_bin("mailplane").unwrap().arg("validate").arg(out.path()).output().unwrap();
    assert!(validate.status.success(), "{}", String::from_utf8_lossy(&validate.stderr));
    let exported_plan = t.plan_json(out.path());
    // Secrets are not exported: relay host / transport / IdP secrets are left as they are.
    assert_eq!(exported_plan["summary"]["create"], 0, "{exported_plan:#}");
    assert_eq!(exported_plan["summary"]["update"], 0, "{exported_plan:#}");
    assert_eq!(exported_plan["summary"]["delete"], 0, "{exported_plan:#}");
}

#[test]
fn every_kind_round_trips_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let t = Target { args: vec!["--target".into(), url], _tmp: tmp };
    run_scenario(&t);
}

/// A fresh mailcow database and an emptied Redis database `redis` of its own; returns the target,
/// the database URL and its name.
fn mailcow_target(services: &support::Services, rt: &tokio::runtime::Runtime, tag: &str, redis: u32) -> (Target, String, String) {
    let (url, db) = rt.block_on(services.fresh_mailcow_db(tag));
    let t = Target {
        args: vec!["--target".into(), url.clone(), "--redis".into(), services.redis_db(redis), "--memcached".into(), services.memcached.clone()],
        _tmp: tempfile::tempdir().unwrap(),
    };
    services.flush_redis_db(redis);
    (t, url, db)
}

#[test]
fn every_kind_round_trips_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, _, db) = mailcow_target(&services, &rt, "scenarios", 1);
    run_scenario(&t);
    rt.block_on(services.drop_db(&db));
}

/// Rows of one query, as text.
fn rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::target::db::Db::connect(url, None).await.unwrap();
        let rows = db.query(sql, &[]).await.unwrap();
        db.close().await;
        rows.into_iter().map(|r| r.into_iter().map(|c| c.unwrap_or_default()).collect()).collect()
    })
}

/// On the real MariaDB: its utf8mb4_general_ci UNIQUE key would refuse the second alias at apply,
/// after the domain was already written in the same run; validation refuses both first.
#[test]
fn aliases_differing_only_in_case_are_refused_before_anything_is_written() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "case_twins", 20);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "domains:\n  - name: a.org\n    aliases:\n      - {address: Info@a.org, goto: [x@b.org]}\n      - {address: info@a.org, goto: [y@b.org]}\n",
    )
    .unwrap();
    let out = t.cmd("apply", dir.path()).arg("--auto-approve").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "apply accepted case twins");
    assert!(stderr.contains("alias `info@a.org` is declared twice") && stderr.contains("a.yaml:4:19"), "{stderr}");
    for table in ["domain", "alias"] {
        assert_eq!(rows(&url, &format!("SELECT COUNT(*) FROM {table}")), [["0"]], "{table} was written");
    }
    rt.block_on(services.drop_db(&db));
}

/// mailcow lowercases recipient maps (both sides) and a BCC map's local destination, and stores
/// `login_provisioning` as '' when it is not given; mailplane writes the same rows and then
/// plans no changes.
#[test]
fn maps_are_lowercased_and_login_provisioning_stays_off_like_mailcow() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "lowercase_maps", 21);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: alice\n\
         recipient_maps:\n  - {old: Old.Name@A.org, new: New.Name@B.org}\n\
         bcc_maps:\n  - {local_dest: Alice@a.org, bcc_dest: Archive@b.org, type: recipient}\n\
         identity_provider:\n  ldap: {hosts: [ldap.example], base_dn: dc=x, bind_dn: cn=y}\n",
    )
    .unwrap();
    t.apply(dir.path());
    assert_eq!(rows(&url, "SELECT old_dest, new_dest FROM recipient_maps"), [["old.name@a.org", "new.name@b.org"]]);
    assert_eq!(rows(&url, "SELECT local_dest, bcc_dest, type FROM bcc_maps"), [["alice@a.org", "Archive@b.org", "rcpt"]]);
    assert_eq!(rows(&url, "SELECT value FROM identity_provider WHERE `key` = 'login_provisioning'"), [[""]]);
    t.assert_no_changes(dir.path());
    rt.block_on(services.drop_db(&db));
}
