//! End to end through the CLI: apply a directory declaring every kind, change and remove one
//! object of each kind, apply again, and check that plan is empty after each apply — on the
//! embedded SQLite target and on the real MariaDB (mailcow schema) + Redis + memcached.

use crate::support;

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
        assert!(out.status.success(), "plan failed ({}): {}\n{}", out.status, String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn plan_json_env(&self, dir: &Path, env: &[(&str, &str)]) -> Value {
        let out = self.cmd("plan", dir).envs(env.iter().copied()).args(["--format", "json"]).output().unwrap();
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
    for kind in [
        "domain_template",
        "mailbox_template",
        "relay_host",
        "domain",
        "alias_domain",
        "mailbox",
        "alias",
        "bcc_map",
        "recipient_map",
        "tls_policy",
        "transport",
        "forwarding_host",
    ] {
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

/// A desired-state directory from (path, text) pairs.
fn directory(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn sql(url: &str, statements: &[&str]) -> Vec<Vec<Option<String>>> {
    use mailplane::store::db::{Db, Stmt};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = Db::connect(url, None).await.unwrap();
        let (reads, writes): (Vec<&str>, Vec<&str>) = statements.iter().partition(|s| s.starts_with("SELECT"));
        db.execute_all(&writes.iter().map(|s| Stmt { sql: s.to_string(), args: vec![] }).collect::<Vec<_>>()).await.unwrap();
        let mut rows = Vec::new();
        for q in reads {
            rows.extend(db.query(q, &[]).await.unwrap());
        }
        db.close().await;
        rows
    })
}

const PRUNE: &str = "prune: {mailbox: delete, domain: delete, alias: delete}\n";

fn domain_yaml(comment: &str, extra_mailbox: &str, net: &str) -> String {
    format!(
        "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n        sender_acl: [\"info@example.org\"]\n      - local_part: bob\n{extra_mailbox}    \
         aliases:\n      - address: info@example.org\n        goto: [alice@example.org, bob@example.org]\n        public_comment: {comment}\n{net}"
    )
}

/// Issue 17's defects 1-3: what apply would change beyond the plan.
fn contract_regressions(t: &Target, url: &str) {
    let net = "  - name: example.net\n    mailboxes:\n      - local_part: carol\n      - local_part: room\n    aliases:\n      - address: sales@example.net\n        goto: [ext@example.com]\n";
    let v1 = directory(&[("mailplane.yaml", PRUNE), ("a.yaml", &domain_yaml("one", "", net))]);
    t.apply(v1.path());
    // 1. An alias edit keeps its targets' declared send-as rights; the next plan is empty.
    let v2 = directory(&[("mailplane.yaml", PRUNE), ("a.yaml", &domain_yaml("two", "", net))]);
    t.apply(v2.path());
    t.assert_no_changes(v2.path());

    // Objects mailplane does not own (as if made in mailcow's UI): a mailbox, an alias, a resource.
    sql(
        url,
        &[
            "DELETE FROM mailplane_inventory WHERE obj_key IN ('carol@example.net', 'sales@example.net', 'room@example.net')",
            "UPDATE mailbox SET kind = 'location' WHERE username = 'room@example.net'",
        ],
    );
    let without = "  - name: example.net\n";
    // 2. A mailbox of the same address as an undeclared alias is refused, naming it; nothing moves.
    let v3 = directory(&[("mailplane.yaml", PRUNE), ("a.yaml", &domain_yaml("two", "", &format!("{without}    mailboxes:\n      - local_part: sales\n")))]);
    let out = t.cmd("plan", v3.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("mailbox sales@example.net cannot be created over an alias that is not declared (alias sales@example.net to ext@example.com)"),
        "{text}"
    );
    let out = t.cmd("apply", v3.path()).arg("--auto-approve").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(sql(url, &["SELECT goto FROM alias WHERE address = 'sales@example.net'"]), vec![vec![Some("ext@example.com".to_string())]]);

    // 3. Deleting a domain that still holds undeclared mailboxes, aliases or resources is refused.
    let v4 = directory(&[("mailplane.yaml", PRUNE), ("a.yaml", &domain_yaml("two", "", ""))]);
    let out = t.cmd("plan", v4.path()).arg("--allow-delete=domain,mailbox").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "domain example.net cannot be deleted while it holds objects the plan does not delete (mailbox carol@example.net, resource room@example.net, alias sales@example.net)"
        ),
        "{text}"
    );
    let out = t.cmd("apply", v4.path()).args(["--auto-approve", "--allow-delete=domain,mailbox"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(sql(url, &["SELECT COUNT(*) FROM mailbox WHERE domain = 'example.net'"]), vec![vec![Some("2".to_string())]]);
}

#[test]
fn apply_changes_nothing_beyond_the_plan_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let t = Target { args: vec!["--target".into(), url.clone()], _tmp: tmp };
    contract_regressions(&t, &url);
}

#[test]
fn apply_changes_nothing_beyond_the_plan_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, db) = rt.block_on(services.fresh_mailcow_db("contract"));
    let t = Target {
        args: vec!["--target".into(), url.clone(), "--redis".into(), services.redis_db(7), "--memcached".into(), services.memcached.clone()],
        _tmp: tempfile::tempdir().unwrap(),
    };
    services.flush_redis_db(7);
    contract_regressions(&t, &url);

    // 4. A mailbox delete removes its SOGo calendars, address books and shares, as mailcow does,
    // and nothing of another user's.
    let v1 = directory(&[
        ("mailplane.yaml", PRUNE),
        ("a.yaml", &domain_yaml("two", "      - local_part: a_b\n      - local_part: axb\n", "  - name: example.net\n")),
    ]);
    t.apply(v1.path());
    let folder = |id: u32, user: &str| {
        format!(
            "INSERT INTO sogo_folder_info (c_folder_id, c_path, c_path1, c_path2, c_foldername, c_folder_type) VALUES ({id}, '/Users/{user}/Calendar/personal', 'Users', '{user}', 'Personal', 'Appointment')"
        )
    };
    let store = |id: u32| {
        format!("INSERT INTO sogo_store (c_folder_id, c_name, c_content, c_creationdate, c_lastmodified, c_version) VALUES ({id}, 'e.ics', 'x', 1, 1, 0)")
    };
    let quick = |id: u32| {
        format!(
            "INSERT INTO sogo_quick_appointment (c_folder_id, c_name, c_uid, c_title, c_classification, c_isopaque, c_status, c_component) VALUES ({id}, 'e.ics', 'u', 't', 0, 0, 0, 'vevent')"
        )
    };
    let acl = |object: &str| format!("INSERT INTO sogo_acl (c_folder_id, c_object, c_uid, c_role) VALUES (9, '{object}', 'someone@example.org', 'r')");
    let inserts = [
        folder(1, "a_b@example.org"),
        folder(2, "axb@example.org"),
        store(1),
        store(2),
        quick(1),
        quick(2),
        acl("/Users/a_b@example.org/Calendar/personal"),
        acl("/Users/axb@example.org/Calendar/personal"),
    ];
    sql(&url, &inserts.iter().map(String::as_str).collect::<Vec<_>>());
    let v2 = directory(&[("mailplane.yaml", PRUNE), ("a.yaml", &domain_yaml("two", "      - local_part: axb\n", "  - name: example.net\n"))]);
    t.cmd("apply", v2.path()).args(["--auto-approve", "--allow-delete=a_b@example.org"]).assert().success();
    let counts = sql(
        &url,
        &[
            "SELECT (SELECT COUNT(*) FROM sogo_folder_info), (SELECT COUNT(*) FROM sogo_store), (SELECT COUNT(*) FROM sogo_quick_appointment), (SELECT COUNT(*) FROM sogo_acl), (SELECT MIN(c_object) FROM sogo_acl)",
        ],
    );
    assert_eq!(counts, vec![["1", "1", "1", "1", "/Users/axb@example.org/Calendar/personal"].map(|s| Some(s.to_string())).to_vec()]);
    rt.block_on(services.drop_db(&db));
}

/// Issue 17.8: a secret that apply would need is resolved by plan, and its error names the
/// object and its place.
#[test]
fn plan_resolves_every_secret_and_names_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let t = Target { args: vec!["--target".into(), url], _tmp: tmp };
    let dir = directory(&[(
        "a.yaml",
        "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n        password: {env: MAILPLANE_TEST_UNSET_PASSWORD}\n",
    )]);
    let out = t.cmd("plan", dir.path()).env_remove("MAILPLANE_TEST_UNSET_PASSWORD").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[unresolved-secret]: mailbox `alice@example.org`: password: environment variable `MAILPLANE_TEST_UNSET_PASSWORD` is not set here"),
        "{err}"
    );
    assert!(err.contains("a.yaml:5:19"), "{err}");
    // validate, which may run without the secrets, only warns.
    let out = Command::cargo_bin("mailplane").unwrap().arg("validate").arg(dir.path()).env_remove("MAILPLANE_TEST_UNSET_PASSWORD").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning[unresolved-secret]"));
}

/// Issue 17.5: a key under a non-default selector and size survives adoption: export writes
/// them, and a domain that declares nothing about DKIM keeps its key; a declared selector rotates.
#[test]
fn dkim_keys_of_adopted_servers_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let t = Target { args: vec!["--target".into(), url], _tmp: tmp };
    let domain = |dkim: &str| directory(&[("a.yaml", &format!("domains:\n  - name: example.org\n{dkim}"))]);
    let first = domain("    dkim_selector: s2024\n    dkim_key_size: 1024\n");
    t.apply(first.path());
    t.assert_no_changes(domain("").path());

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("domains/example.org.yaml")).unwrap();
    assert!(exported.contains("dkim_selector: s2024") && exported.contains("dkim_key_size: 1024"), "{exported}");
    t.assert_no_changes(out.path());

    let rotated = t.plan_json(domain("    dkim_selector: s2025\n").path());
    let changes = rotated["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["kind"] == "dkim_key" && c["action"] == "update"), "{rotated:#}");
}

/// Issue 17.7: a forwarding host given by name is expanded through its SPF record (then MX, then
/// A/AAAA) by a real DNS server; once the server has it, plans need no DNS; addresses and
/// networks are stored as written.
#[test]
fn forwarding_host_names_resolve_once_like_mailcow() {
    let Some(server) = support::dns_server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let t = Target { args: vec!["--target".into(), url], _tmp: tmp };
    let dir = directory(&[(
        "a.yaml",
        "forwarding_hosts:\n  - host: fwd.example.test\n  - host: mxonly.example.test\n    filter_spam: false\n  - host: \" 2001:0DB8::/32\"\n",
    )]);
    let plan = t.plan_json_env(dir.path(), &[("MAILPLANE_DNS_RESOLVER", &server)]);
    let keys: BTreeSet<String> = plan["changes"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap().to_string()).collect();
    assert_eq!(keys, ["192.0.2.64/28", "192.0.2.10", "2001:0DB8::/32", "2001:DB8:1::/48"].map(String::from).into(), "{plan:#}");
    let out = t.cmd("apply", dir.path()).env("MAILPLANE_DNS_RESOLVER", &server).arg("--auto-approve").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Offline (a resolver that does not answer): the live entries of each name satisfy it.
    let offline = [("MAILPLANE_DNS_RESOLVER", "127.0.0.1:9")];
    let out = t.cmd("plan", dir.path()).envs(offline).arg("--detailed-exitcode").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Asked to look again while DNS is down: its own step, its own message.
    let out = t.cmd("plan", dir.path()).envs(offline).arg("--refresh-forwarding-hosts").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot resolve forwarding hosts") && err.contains("forwarding host `fwd.example.test`"), "{err}");
}

/// Rows of one query, as text.
fn rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::store::db::Db::connect(url, None).await.unwrap();
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

/// MTA-STS policies (the first kind of the rest of mailcow's panel): create, each field, the id
/// that changes only with the policy, a domain delete blocked by a policy the plan leaves,
/// delete by `prune`, and export → plan empty.
fn mta_sts_scenario(t: &Target, url: &str) {
    // example.net keeps its policy throughout: removing the last one would need --force.
    let policy = |p: &str| format!("domains:\n  - name: example.net\n    mta_sts: {{mode: none, mx: [mx.example.net]}}\n  - name: example.org\n{p}");
    let prune = "prune: {mta_sts: delete, domain: delete}\n";
    let dir = |files: &[(&str, &str)]| directory(files);
    let row = || rows(url, "SELECT id, version, mode, mx, max_age, active FROM mta_sts WHERE domain = 'example.org'");

    let v1 = dir(&[("a.yaml", &policy("    mta_sts:\n      mode: enforce\n      mx: [mail.example.org, \" *.mx.example.org\"]\n      version: STSv1\n"))]);
    let plan = t.plan_json(v1.path());
    assert!(actions(&plan).contains(&("create".into(), "mta_sts".into())), "{plan:#}");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    let created = row();
    assert_eq!(created.len(), 1);
    let id = created[0][0].clone();
    assert!(id.len() == 14 && id.starts_with("20"), "mailcow's YmdHis id, got {id}");
    assert_eq!(created[0][1..], ["stsv1", "enforce", "mail.example.org,*.mx.example.org", "604800", "1"].map(String::from));

    // Deactivating it is no new policy: the id stays.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let v2 = dir(&[("a.yaml", &policy("    mta_sts: {mode: enforce, mx: [mail.example.org, \"*.mx.example.org\"], active: false}\n"))]);
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(row()[0], [id.as_str(), "stsv1", "enforce", "mail.example.org,*.mx.example.org", "604800", "0"]);

    // A changed policy gets a new id, as in mailcow's edit.
    let v3 = dir(&[("a.yaml", &policy("    mta_sts: {mode: testing, mx: [mail.example.org], max_age: 86400}\n"))]);
    let plan = t.plan_json(v3.path());
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["mode", "mx", "max_age", "active"], "{plan:#}");
    t.apply(v3.path());
    t.assert_no_changes(v3.path());
    let edited = row();
    assert_ne!(edited[0][0], id, "a changed policy keeps its id");
    assert_eq!(edited[0][1..], ["stsv1", "testing", "mail.example.org", "86400", "1"].map(String::from));

    // Adoption.
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("domains/example.org.yaml")).unwrap();
    assert!(exported.contains("mta_sts:") && exported.contains("mode: testing") && exported.contains("max_age: 86400"), "{exported}");
    let plan = t.plan_json(out.path());
    assert_eq!(plan["summary"]["create"].as_u64().unwrap() + plan["summary"]["update"].as_u64().unwrap(), 0, "{plan:#}");

    // Deleting the domain would take the policy along: blocked while the plan leaves it.
    let gone = dir(&[("mailplane.yaml", "prune: {domain: delete}\n"), ("a.yaml", "domains:\n  - name: other.example\n")]);
    let out = t.cmd("plan", gone.path()).args(["--allow-delete=domain"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("mta_sts example.org"), "{text}");

    // Removed from the directory and pruned: deleted, and nothing else moves.
    let v4 = dir(&[("mailplane.yaml", prune), ("a.yaml", &policy(""))]);
    let plan = t.plan_json(v4.path());
    assert_eq!(actions(&plan), [("delete".to_string(), "mta_sts".to_string())].into_iter().collect(), "{plan:#}");
    t.apply(v4.path());
    t.assert_no_changes(v4.path());
    assert!(row().is_empty());
}

#[test]
fn mta_sts_round_trips_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let t = Target { args: vec!["--target".into(), url.clone()], _tmp: tmp };
    mta_sts_scenario(&t, &url);
    // A file written before mailplane managed MTA-STS has no such table: plan (read-only)
    // reads it as empty, apply adds the table.
    sql(&url, &["DROP TABLE mta_sts"]);
    let v = directory(&[("a.yaml", "domains:\n  - name: example.net\n    mta_sts: {mode: none, mx: [mx.example.net]}\n  - name: example.org\n")]);
    let plan = t.plan_json(v.path());
    assert_eq!(actions(&plan), [("create".to_string(), "mta_sts".to_string())].into_iter().collect(), "{plan:#}");
    t.apply(v.path());
    t.assert_no_changes(v.path());
}

#[test]
fn mta_sts_round_trips_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "mtasts", 22);
    mta_sts_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// Domain-wide footers: create, change each field, export → plan empty, delete by `prune`.
fn domain_footer_scenario(t: &Target, url: &str) {
    let files = |footer: &str, prune: &str| {
        directory(&[
            ("mailplane.yaml", prune),
            (
                "a.yaml",
                &format!(
                    "domains:\n  - name: example.net\n    footer: {{plain: keep}}\n  - name: example.org\n    alias_domains: [{{name: example.info}}]\n    mailboxes: [{{local_part: bob}}]\n{footer}"
                ),
            ),
        ])
    };
    let row = || rows(url, "SELECT html, plain, mbox_exclude, alias_domain_exclude, skip_replies FROM domain_wide_footer WHERE domain = 'example.org'");
    let v1 = files(
        "    footer:\n      html: '<p>Example Org</p>'\n      plain: |\n        -- \n        Example Org\n      exclude: [bob@example.org, example.info]\n",
        "",
    );
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    assert_eq!(row()[0], ["<p>Example Org</p>", "-- \nExample Org\n", "[\"bob@example.org\"]", "[\"example.info\"]", "0"]);

    let v2 = files("    footer: {plain: \"-- \\nExample\", skip_replies: true}\n", "");
    let plan = t.plan_json(v2.path());
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["html", "plain", "mbox_exclude", "alias_domain_exclude", "skip_replies"], "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(row()[0], ["", "-- \nExample", "[]", "[]", "1"]);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let plan = t.plan_json(out.path());
    assert_eq!(plan["summary"]["create"].as_u64().unwrap() + plan["summary"]["update"].as_u64().unwrap(), 0, "{plan:#}");

    let v3 = files("", "prune: {domain_footer: delete}\n");
    let plan = t.plan_json(v3.path());
    assert_eq!(actions(&plan), [("delete".to_string(), "domain_footer".to_string())].into_iter().collect(), "{plan:#}");
    t.apply(v3.path());
    t.assert_no_changes(v3.path());
    assert!(row().is_empty());

    // An exclude that names nothing declared is refused, with its place.
    let bad = files("    footer: {plain: x, exclude: [nobody@example.org]}\n", "");
    let out = t.cmd("plan", bad.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("`nobody@example.org` is not a declared mailbox, alias or alias domain") && err.contains("a.yaml:"), "{err}");
}

#[test]
fn domain_footer_round_trips_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let t = Target { args: vec!["--target".into(), url.clone()], _tmp: tmp };
    domain_footer_scenario(&t, &url);
}

#[test]
fn domain_footer_round_trips_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "footer", 23);
    domain_footer_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// Quota-warning BCCs (a Redis hash): create, change, export → plan empty, delete by `prune`.
fn quota_warning_bcc_scenario(t: &Target) {
    let files = |bcc: &str, prune: &str| {
        directory(&[
            ("mailplane.yaml", prune),
            ("a.yaml", &format!("domains:\n  - name: example.net\n    quota_warning_bcc: {{recipients: [keep@example.net]}}\n  - name: example.org\n{bcc}")),
        ])
    };
    let v1 = files("    quota_warning_bcc: {recipients: [postmaster@example.org, it@example.org]}\n", "");
    let plan = t.plan_json(v1.path());
    assert!(actions(&plan).contains(&("create".into(), "quota_warning_bcc".into())), "{plan:#}");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    let v2 = files("    quota_warning_bcc: {recipients: [postmaster@example.org], active: false}\n", "");
    let plan = t.plan_json(v2.path());
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["recipients", "active"], "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let plan = t.plan_json(out.path());
    assert_eq!(plan["summary"]["create"].as_u64().unwrap() + plan["summary"]["update"].as_u64().unwrap(), 0, "{plan:#}");
    let v3 = files("", "prune: {quota_warning_bcc: delete}\n");
    let plan = t.plan_json(v3.path());
    assert_eq!(actions(&plan), [("delete".to_string(), "quota_warning_bcc".to_string())].into_iter().collect(), "{plan:#}");
    t.apply(v3.path());
    t.assert_no_changes(v3.path());
    let bad = files("    quota_warning_bcc: {recipients: [not-an-address]}\n", "");
    let out = t.cmd("plan", bad.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("quota-warning BCC `not-an-address`") && err.contains("a.yaml:"), "{err}");
}

#[test]
fn quota_warning_bcc_round_trips_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    quota_warning_bcc_scenario(&Target { args: vec!["--target".into(), url], _tmp: tmp });
}

#[test]
fn quota_warning_bcc_round_trips_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, _, db) = mailcow_target(&services, &rt, "qwbcc", 25);
    quota_warning_bcc_scenario(&t);
    rt.block_on(services.drop_db(&db));
}

/// Spam allow/deny lists of a domain and a mailbox, and a mailbox's spam score: create, change
/// (an entry moved between lists, one added, one removed: the other rows keep their ids), export →
/// plan empty, emptied, mailbox delete blocked while its score stays, delete by `prune`.
fn spam_scenario(t: &Target, url: &str) {
    let files = |domain: &str, alice: &str, prune: &str| {
        directory(&[
            ("mailplane.yaml", prune),
            (
                "a.yaml",
                &format!(
                    "domains:\n  - name: example.org\n{domain}    mailboxes:\n      - local_part: alice\n{alice}      - local_part: bob\n        spam_policy: {{deny: [keep.example]}}\n        spam_score: {{low: 3, high: 9}}\n"
                ),
            ),
        ])
    };
    let row = || rows(url, "SELECT object, `option`, value, prefid FROM filterconf ORDER BY prefid");
    let v1 = files(
        "    spam_policy: {allow: [Partner@Trusted-Vendor.example], deny: [spammy-marketing.example]}\n",
        "        spam_policy: {allow: [billing@bank.example, \"*@payroll.example\"]}\n        spam_score: {low: 6.5, high: 12}\n",
        "",
    );
    let plan = t.plan_json(v1.path());
    let want: BTreeSet<(String, String)> =
        [("create", "mailbox"), ("create", "domain"), ("create", "dkim_key"), ("create", "spam_policy"), ("create", "spam_score")]
            .map(|(a, k)| (a.into(), k.into()))
            .into();
    assert_eq!(actions(&plan), want, "{plan:#}");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    let before = row();
    assert_eq!(before.len(), 9, "{before:?}");
    assert!(before.iter().any(|r| r[..3] == ["example.org", "whitelist_from", "partner@trusted-vendor.example"]), "stored lowercased: {before:?}");
    assert!(
        before.iter().any(|r| r[..3] == ["alice@example.org", "lowspamlevel", "6.5"])
            && before.iter().any(|r| r[..3] == ["alice@example.org", "highspamlevel", "12"])
    );

    let v2 = files(
        "    spam_policy: {deny: [spammy-marketing.example, partner@trusted-vendor.example, new.example]}\n",
        "        spam_policy: {allow: [billing@bank.example]}\n        spam_score: {low: 7, high: 7}\n",
        "",
    );
    let plan = t.plan_json(v2.path());
    let domain = plan["changes"].as_array().unwrap().iter().find(|c| c["key"] == "example.org").unwrap();
    assert_eq!(domain["fields"][1]["added"], serde_json::json!(["new.example", "partner@trusted-vendor.example"]), "{plan:#}");
    assert_eq!(domain["fields"][1]["removed"], serde_json::json!([]), "{plan:#}");
    let text = String::from_utf8(t.cmd("plan", v2.path()).output().unwrap().stdout).unwrap();
    assert!(text.contains("deny   + \"new.example\", + \"partner@trusted-vendor.example\""), "{text}");
    assert!(text.contains("high  \"12\" → \"7.1\""), "mailcow's +0.1 when equal: {text}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    let after = row();
    let kept = |r: &[Vec<String>], v: &str| r.iter().find(|x| x[2] == v).map(|x| x[3].clone());
    assert_eq!(kept(&after, "spammy-marketing.example"), kept(&before, "spammy-marketing.example"), "an unchanged entry keeps its row");
    assert_eq!(kept(&after, "billing@bank.example"), kept(&before, "billing@bank.example"));
    assert_eq!(kept(&after, "*@payroll.example"), None);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    t.assert_no_changes(out.path());

    // Emptied lists remove the rows; an empty policy is nothing to create.
    let v3 = files("    spam_policy: {}\n", "        spam_policy: {}\n        spam_score: {low: 7, high: 7.1}\n", "");
    t.apply(v3.path());
    t.assert_no_changes(v3.path());
    assert_eq!(rows(url, "SELECT count(*) FROM filterconf WHERE object IN ('example.org') OR `option` LIKE '%list_from'")[0][0], "1", "only bob's entry stays");

    // alice's score is not declared, so not deleted: mailcow's mailbox delete would take it along.
    let v4 = directory(&[
        ("mailplane.yaml", "prune: {mailbox: delete}\n"),
        (
            "a.yaml",
            "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: bob\n        spam_policy: {deny: [keep.example]}\n        spam_score: {low: 3, high: 9}\n",
        ),
    ]);
    let out = t.cmd("plan", v4.path()).arg("--allow-delete=mailbox").output().unwrap();
    let err = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mailbox alice@example.org cannot be deleted") && err.contains("spam_score alice@example.org"), "{err}");
    std::fs::write(v4.path().join("mailplane.yaml"), "prune: {mailbox: delete, spam_score: delete}\n").unwrap();
    let plan = t.plan_json(v4.path());
    let want: BTreeSet<(String, String)> = [("delete", "mailbox"), ("delete", "spam_score")].map(|(a, k)| (a.into(), k.into())).into();
    assert_eq!(actions(&plan), want, "{plan:#}");
    t.apply(v4.path());
    t.assert_no_changes(v4.path());
    assert_eq!(
        rows(url, "SELECT `option`, value FROM filterconf WHERE object = 'bob@example.org' ORDER BY `option`"),
        [["blacklist_from", "keep.example"], ["highspamlevel", "9"], ["lowspamlevel", "3"]]
    );
    assert_eq!(rows(url, "SELECT count(*) FROM filterconf")[0][0], "3");

    let bad = files("    spam_policy: {allow: [a.example], deny: [A.example]}\n", "", "");
    let out = t.cmd("plan", bad.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("`a.example` is in both `allow` and `deny`") && err.contains("a.yaml:"), "{err}");
}

#[test]
fn spam_policy_and_score_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    spam_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn spam_policy_and_score_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "spam", 26);
    spam_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// App passwords: created from references (hashed, never shown), `enforce` checked against the
/// live hash, protocols and state changed in place, export → plan empty, one to create without a
/// password refused at plan time, deleted by `prune`.
fn app_password_scenario(t: &Target, url: &str) {
    let files = |apps: &str, prune: &str| {
        directory(&[
            ("mailplane.yaml", prune),
            ("a.yaml", &format!("domains:\n  - name: example.org\n    mailboxes:\n      - local_part: bob\n        app_passwords:\n{apps}")),
        ])
    };
    let env = [("TB_PW", "AppPw-Bob-2026!"), ("IP_PW", "AppPw-Phone-2026!")];
    let with_env = |mut c: Command| {
        c.envs(env);
        c
    };
    let v1 = files(
        "          - {name: Thunderbird Laptop, password: {env: TB_PW}, protocols: [imap, smtp, sieve]}\n          - {name: iPhone <Mail>, password: {env: IP_PW}, password_policy: enforce, protocols: [eas, dav]}\n",
        "",
    );
    let plan = t.plan_json_env(v1.path(), &env);
    assert_eq!(plan["changes"].as_array().unwrap().iter().filter(|c| c["kind"] == "app_password").count(), 2, "{plan:#}");
    let out = with_env(t.cmd("apply", v1.path())).arg("--auto-approve").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("AppPw-") && !plan.to_string().contains("AppPw-"), "a password in the output: {stdout}");
    let stored = rows(
        url,
        "SELECT name, domain, password, imap_access, pop3_access, smtp_access, sieve_access, eas_access, dav_access, active FROM app_passwd ORDER BY id",
    );
    assert_eq!(stored[1][0], "iPhone &lt;Mail&gt;", "stored HTML-escaped, as mailcow does");
    assert_eq!(stored[0][3..], ["1", "0", "1", "1", "0", "0", "1"]);
    assert_eq!(stored[1][1], "example.org");
    assert!(mailplane::password::verify(&stored[0][2], "AppPw-Bob-2026!").unwrap() && stored[0][2].starts_with("{BLF-CRYPT}$2y$"), "{:?}", stored[0]);
    let no_changes = |dir: &Path, env: &[(&str, &str)]| {
        let out = t.cmd("plan", dir).envs(env.iter().copied()).arg("--detailed-exitcode").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    };
    no_changes(v1.path(), &env);
    // An enforced password that differs is an update; an initial one is not compared.
    let changed = t.plan_json_env(v1.path(), &[("TB_PW", "other-Pass-1"), ("IP_PW", "other-Pass-1")]);
    let updates: Vec<String> = changed["changes"].as_array().unwrap().iter().map(|c| format!("{} {}", c["action"], c["key"])).collect();
    assert_eq!(updates, ["\"update\" \"bob@example.org iPhone &lt;Mail&gt;\""], "{changed:#}");

    let v2 = files(
        "          - {name: Thunderbird Laptop, password: {env: TB_PW}, protocols: [imap, smtp], active: false}\n          - {name: iPhone <Mail>, password: {env: IP_PW}, password_policy: enforce, protocols: [eas, dav]}\n",
        "",
    );
    let plan = t.plan_json_env(v2.path(), &env);
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["sieve_access", "active"], "{plan:#}");
    assert!(with_env(t.cmd("apply", v2.path())).arg("--auto-approve").output().unwrap().status.success());
    no_changes(v2.path(), &env);
    assert_eq!(rows(url, "SELECT sieve_access, active FROM app_passwd WHERE name = 'Thunderbird Laptop'"), [["0", "0"]]);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("domains/example.org.yaml")).unwrap();
    assert!(exported.contains("name: iPhone <Mail>") && !exported.contains("BLF-CRYPT"), "{exported}");
    no_changes(out.path(), &[]);

    let v3 = files("          - {name: Tablet}\n", "prune: {app_password: delete}\n");
    let out = t.cmd("plan", v3.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("app password `bob@example.org Tablet` has no password to be created with"), "{text}");
    let v4 = files("          - {name: Tablet, password: '{SHA512-CRYPT}$6$abc$def'}\n", "prune: {app_password: delete}\n");
    let plan = t.plan_json(v4.path());
    let want: BTreeSet<(String, String)> = [("create", "app_password"), ("delete", "app_password")].map(|(a, k)| (a.into(), k.into())).into();
    assert_eq!(actions(&plan), want, "{plan:#}");
    t.apply(v4.path());
    t.assert_no_changes(v4.path());
    assert_eq!(rows(url, "SELECT name, password FROM app_passwd"), [["Tablet", "{SHA512-CRYPT}$6$abc$def"]]);

    let bad = files("          - {name: Phone, password: {env: TB_PW}}\n          - {name: phone, password: {env: TB_PW}, protocols: [sogo]}\n", "");
    let out = t.cmd("plan", bad.path()).envs(env).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("app password `phone` of `bob@example.org` is declared twice") && err.contains("`sogo` is not a protocol of app passwords"), "{err}");
}

#[test]
fn app_passwords_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    app_password_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn app_passwords_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "apppw", 27);
    app_password_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// Mailbox Sieve filters: created after sievec passed them, changed in place, a broken script
/// refused with nothing written, a second active filter of a type refused (declared, and left
/// by mailcow's UI), export → plan empty, deleted by `prune`.
fn sieve_filter_scenario(t: &Target, url: &str) {
    let files = |filters: &str, prune: &str| {
        directory(&[
            ("mailplane.yaml", prune),
            ("a.yaml", &format!("domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n        sieve_filters:\n{filters}")),
        ])
    };
    let news = |folder: &str, active: bool| {
        format!(
            "          - description: Sort newsletters\n            type: prefilter\n            active: {active}\n            script: |\n              require [\"fileinto\"];\n              if header :contains \"List-Id\" \"news\" {{ fileinto \"{folder}\"; }}\n"
        )
    };
    let spam = "          - {description: Discard spam, type: postfilter, script: \"if header :is \\\"X-Spam-Flag\\\" \\\"YES\\\" { discard; }\\n\"}\n";
    let row = || rows(url, "SELECT username, filter_type, script_desc, script_name, script_data FROM sieve_filters ORDER BY filter_type DESC");
    let v1 = files(&format!("{}{spam}", news("INBOX/News", true)), "");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    let stored = row();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0][..4], ["alice@example.org", "prefilter", "Sort newsletters", "active"]);
    assert!(stored[0][4].contains("fileinto \"INBOX/News\""), "{stored:?}");
    assert_eq!(stored[1][3], "active");

    let v2 = files(&format!("{}{spam}", news("INBOX/Lists", false)), "");
    let plan = t.plan_json(v2.path());
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((plan["changes"].as_array().unwrap().len(), fields), (1, vec!["script", "active"]), "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(row()[0][3], "inactive");

    // A script sievec refuses: nothing is planned, nothing written.
    let broken = files(&format!("{}{spam}", news("INBOX/Lists\" stop", false)), "");
    let out = t.cmd("apply", broken.path()).arg("--auto-approve").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("sievec refused 1 Sieve filter") && err.contains("alice@example.org prefilter Sort newsletters"), "{err}");
    assert!(row()[0][4].contains("INBOX/Lists\";"), "nothing written");

    // A prefilter activated in mailcow's UI beside the declared one: mailcow would deactivate it; mailplane refuses.
    sql(
        url,
        &[
            "INSERT INTO sieve_filters (username, script_desc, script_name, script_data, filter_type) VALUES ('alice@example.org', 'From the UI', 'active', 'keep;', 'prefilter')",
        ],
    );
    let v3 = files(&format!("{}{spam}", news("INBOX/Lists", true)), "");
    let out = t.cmd("plan", v3.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("alice@example.org would have 2 active prefilters"), "{text}");
    sql(url, &["DELETE FROM sieve_filters WHERE script_desc = 'From the UI'"]);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    t.assert_no_changes(out.path());

    let v4 = files(spam, "prune: {sieve_filter: delete}\n");
    let plan = t.plan_json(v4.path());
    assert_eq!(actions(&plan), [("delete".to_string(), "sieve_filter".to_string())].into_iter().collect(), "{plan:#}");
    t.apply(v4.path());
    t.assert_no_changes(v4.path());
    assert_eq!(row().len(), 1);

    let bad = files(&format!("{spam}{}", spam.replace("Discard spam", "discard SPAM")), "");
    let out = t.cmd("plan", bad.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is declared twice for its type") && err.contains("is a second active postfilter of the mailbox"), "{err}");
}

#[test]
fn sieve_filters_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    sieve_filter_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn sieve_filters_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "sieve", 28);
    sieve_filter_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// Sync jobs: created from a reference (the password never in output, plan file, journal or
/// export), changed field by field and by password, export (without the password) → plan empty,
/// one to create without a password refused at plan time, mailcow's rules refused, deleted by `prune`.
fn sync_job_scenario(t: &Target, url: &str) {
    let files = |jobs: &str, prune: &str| {
        directory(&[
            ("mailplane.yaml", prune),
            ("a.yaml", &format!("domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n        sync_jobs:\n{jobs}")),
        ])
    };
    const SECRET: &str = "Old-Imap-Pass:1-zq";
    let env = [("OLD_IMAP", SECRET)];
    let job = |rest: &str| format!("          - {{host: IMAP.Old.Example, user: alice.liddell, password: {{env: OLD_IMAP}}{rest}}}\n");
    let v1 = files(&job(", port: 993, encryption: ssl, custom_params: '--skipemptyfolders --maxsize=52428800'"), "");
    let plan = t.plan_json_env(v1.path(), &env);
    assert!(
        plan["changes"].as_array().unwrap().iter().any(|c| c["kind"] == "sync_job" && c["key"] == "alice@example.org imap.old.example alice.liddell"),
        "{plan:#}"
    );
    let planfile = v1.path().join("saved.plan");
    let out = t.cmd("plan", v1.path()).envs(env).arg("--out").arg(&planfile).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = t.cmd("apply", &planfile).envs(env).output().unwrap();
    let shown = [out.stdout.clone(), out.stderr.clone(), std::fs::read(&planfile).unwrap(), plan.to_string().into_bytes()].concat();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stored = rows(
        url,
        "SELECT host1, authmech1, password1, port1, enc1, mins_interval, exclude, timeout1, delete2duplicates, automap, subscribeall, dry, active, custom_params FROM imapsync",
    );
    assert_eq!(
        stored,
        [[
            "imap.old.example",
            "PLAIN",
            SECRET,
            "993",
            "SSL",
            "20",
            "(?i)spam|(?i)junk",
            "600",
            "1",
            "1",
            "1",
            "0",
            "1",
            "--skipemptyfolders --maxsize=52428800"
        ]]
    );
    let no_changes = |dir: &Path, env: &[(&str, &str)]| {
        let out = t.cmd("plan", dir).envs(env.iter().copied()).arg("--detailed-exitcode").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    };
    no_changes(v1.path(), &env);
    let changed = t.plan_json_env(v1.path(), &[("OLD_IMAP", "new")]);
    assert_eq!(changed["changes"][0]["fields"][0]["field"], "password", "{changed:#}");
    assert_eq!(changed["changes"][0]["fields"][0]["sensitive"], true, "{changed:#}");

    let v2 = files(&job(", port: 993, encryption: ssl, interval_minutes: 60, exclude: '(?i)trash', dry_run: true, active: false"), "");
    let plan = t.plan_json_env(v2.path(), &env);
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["interval_minutes", "exclude", "custom_params", "dry_run", "active"], "{plan:#}");
    assert!(t.cmd("apply", v2.path()).envs(env).arg("--auto-approve").output().unwrap().status.success());
    no_changes(v2.path(), &env);
    // The runner's columns are its own: what it wrote stays, and no plan shows it.
    sql(url, &["UPDATE imapsync SET is_running = 1, returned_text = 'log', success = 1, exit_status = 'EXIT_OK'"]);
    no_changes(v2.path(), &env);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("domains/example.org.yaml")).unwrap();
    assert!(exported.contains("host: imap.old.example") && !exported.contains("password"), "{exported}");
    no_changes(out.path(), &[]);

    let journal: Vec<Vec<String>> = rows(url, "SELECT * FROM mailplane_journal");
    let everything = [shown, exported.into_bytes(), format!("{journal:?}").into_bytes()].concat();
    assert!(!String::from_utf8_lossy(&everything).contains(SECRET), "the sync job's password was shown");

    let v3 = files("          - {host: imap.other.example, user: alice}\n", "prune: {sync_job: delete}\n");
    let out = t.cmd("plan", v3.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("sync job `alice@example.org imap.other.example alice` has no password"), "{text}");
    let v4 = files("          - {host: imap.other.example, user: alice, password: {env: OLD_IMAP}}\n", "prune: {sync_job: delete}\n");
    let plan = t.plan_json_env(v4.path(), &env);
    let want: BTreeSet<(String, String)> = [("create", "sync_job"), ("delete", "sync_job")].map(|(a, k)| (a.into(), k.into())).into();
    assert_eq!(actions(&plan), want, "{plan:#}");
    assert!(t.cmd("apply", v4.path()).envs(env).arg("--auto-approve").output().unwrap().status.success());
    no_changes(v4.path(), &env);
    assert_eq!(rows(url, "SELECT host1, is_running FROM imapsync"), [["imap.other.example", "0"]]);

    let bad = files(&job(", port: 0, custom_params: '--regextrans2=s/a/b/', exclude: 'INBOX/Trash'"), "");
    let out = t.cmd("plan", bad.path()).envs(env).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for want in ["`port` is 0; mailcow takes 1 to 65535", "`--regextrans2` is not an imapsync option mailcow allows", "holds an unescaped `/`"] {
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn sync_jobs_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    sync_job_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn sync_jobs_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "syncjob", 29);
    sync_job_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// Resources: created with mailcow's username rule, changed in place (the address kept when
/// the description changes), export → plan empty, an address an alias has refused, a delete
/// only with consent (it drops the resource's calendar).
fn resource_scenario(t: &Target, url: &str) {
    let files = |resources: &str, prune: &str| {
        directory(&[
            ("mailplane.yaml", prune),
            (
                "a.yaml",
                &format!("domains:\n  - name: example.org\n    aliases: [{{address: info@example.org, goto: [ext@example.com]}}]\n    resources:\n{resources}"),
            ),
        ])
    };
    let row =
        || rows(url, "SELECT username, password, name, quota, local_part, kind, multiple_bookings, active FROM mailbox WHERE kind <> '' ORDER BY username");
    let v1 = files("      - {description: Board Room 7, kind: location}\n      - {description: Beamer Epson-4K, kind: thing, multiple_bookings: 3}\n", "");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    assert_eq!(
        row(),
        [
            ["BeamerEpson4K@example.org", "RESOURCE", "Beamer Epson-4K", "0", "BeamerEpson4K", "thing", "3", "1"],
            ["BoardRoom7@example.org", "RESOURCE", "Board Room 7", "0", "BoardRoom7", "location", "-1", "1"]
        ]
    );
    assert_eq!(rows(url, "SELECT count(*) FROM quota2 WHERE username LIKE 'B%'")[0][0], "0", "no quota rows for a resource");
    assert_eq!(rows(url, "SELECT count(*) FROM alias WHERE address LIKE 'B%'")[0][0], "0", "no self-alias for a resource");

    let v2 = files(
        "      - {description: Board Room 7 (2nd floor), local_part: BoardRoom7, kind: location, multiple_bookings: 2}\n      - {description: Beamer Epson-4K, kind: thing, multiple_bookings: 3, active: false}\n",
        "",
    );
    let plan = t.plan_json(v2.path());
    assert_eq!(actions(&plan), [("update".to_string(), "resource".to_string())].into_iter().collect(), "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(row()[1][2..], ["Board Room 7 (2nd floor)", "0", "BoardRoom7", "location", "2", "1"]);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("domains/example.org.yaml")).unwrap();
    assert!(exported.contains("local_part: BoardRoom7") && !exported.contains("local_part: BeamerEpson4K"), "{exported}");
    t.assert_no_changes(out.path());

    let clash = files("      - {description: Info, local_part: info, kind: group}\n", "");
    let out = t.cmd("plan", clash.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("`info@example.org` is already declared as an alias"), "{err}");

    let v3 =
        files("      - {description: Board Room 7 (2nd floor), local_part: BoardRoom7, kind: location, multiple_bookings: 2}\n", "prune: {resource: delete}\n");
    let out = t.cmd("plan", v3.path()).output().unwrap();
    assert!(!out.status.success(), "a resource delete needs consent: {}", String::from_utf8_lossy(&out.stdout));
    let out = t.cmd("apply", v3.path()).args(["--auto-approve", "--allow-delete=resource"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    t.assert_no_changes(v3.path());
    assert_eq!(row().len(), 1);
}

#[test]
fn resources_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    resource_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn resources_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "resource", 35);
    resource_scenario(&t, &url);
    // An inactive resource is not in SOGo; an active one is, with its kind.
    assert_eq!(rows(&url, "SELECT c_uid, kind, multiple_bookings FROM _sogo_static_view WHERE kind <> ''"), [["BoardRoom7@example.org", "location", "2"]]);
    rt.block_on(services.drop_db(&db));
}

/// Pushover: created from references (key and token never shown or exported), changed, export →
/// plan empty, settings to create without a key refused at plan time, bad values refused,
/// deleted by `prune`.
fn pushover_scenario(t: &Target, url: &str) {
    let files = |p: &str, prune: &str| {
        directory(&[("mailplane.yaml", prune), ("a.yaml", &format!("domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n{p}"))])
    };
    const KEY: &str = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG";
    const TOKEN: &str = "azGDORePK8gMaC0QOYAMyEEuzJnyUi";
    let env = [("PO_KEY", KEY), ("PO_TOKEN", TOKEN)];
    let po = |rest: &str| format!("        pushover: {{key: {{env: PO_KEY}}, token: {{env: PO_TOKEN}}{rest}}}\n");
    let v1 = files(&po(", senders: [J.Doe@gmail.com, boss@example.org], sound: magic"), "");
    let out = t.cmd("apply", v1.path()).envs(env).arg("--auto-approve").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).to_string();
    assert!(!shown.contains(KEY) && !shown.contains(TOKEN), "{shown}");
    let row = || rows(url, "SELECT `key`, token, attributes, title, text, senders, senders_regex, active FROM pushover");
    assert_eq!(
        row(),
        [[KEY, TOKEN, "{\"evaluate_x_prio\":\"0\",\"only_x_prio\":\"0\",\"sound\":\"magic\"}", "Mail", "", "JDoe@gmail.com,boss@example.org", "", "1"]]
    );
    let no_changes = |dir: &Path, env: &[(&str, &str)]| {
        let out = t.cmd("plan", dir).envs(env.iter().copied()).arg("--detailed-exitcode").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    };
    no_changes(v1.path(), &env);
    let changed = t.plan_json_env(v1.path(), &[("PO_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ("PO_TOKEN", TOKEN)]);
    assert_eq!(changed["changes"][0]["fields"][0]["field"], "key", "{changed:#}");
    let out = t.cmd("plan", v1.path()).envs([("PO_KEY", "short"), ("PO_TOKEN", TOKEN)]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("the Pushover key of `alice@example.org` is not 30 letters and digits") && !err.contains("short"), "{err}");

    // Without key and token, the live ones stay.
    let v2 = directory(&[(
        "a.yaml",
        "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n        pushover: {title: New mail, senders_regex: '/@example\\.org$/', evaluate_x_prio: true, active: false}\n",
    )]);
    let plan = t.plan_json(v2.path());
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["title", "senders", "senders_regex", "evaluate_x_prio", "sound", "active"], "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(row()[0][..4], [KEY, TOKEN, "{\"evaluate_x_prio\":\"1\",\"only_x_prio\":\"0\",\"sound\":\"pushover\"}", "New mail"]);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("domains/example.org.yaml")).unwrap();
    assert!(exported.contains("senders_regex") && !exported.contains(KEY) && !exported.contains(TOKEN), "{exported}");
    t.assert_no_changes(out.path());

    let bad = files(&format!("        pushover: {{senders: [not-an-address], senders_regex: 'no delimiters', title: {}}}\n", "x".repeat(70_000)), "");
    let out = t.cmd("plan", bad.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sender `not-an-address`") && err.contains("senders_regex needs delimiters"), "{err}");
    assert!(err.contains("`title` is 70000 bytes; mailcow stores at most 65535"), "a value the apply would fail on is refused when planning: {err}");

    let v3 = directory(&[
        ("mailplane.yaml", "prune: {pushover: delete}\n"),
        ("a.yaml", "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n      - local_part: bob\n        pushover: {title: x}\n"),
    ]);
    let out = t.cmd("plan", v3.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("the Pushover settings of `bob@example.org` need `key` and `token` to be created"), "{text}");
    let v4 = directory(&[
        ("mailplane.yaml", "prune: {pushover: delete}\n"),
        ("a.yaml", "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n"),
    ]);
    // The last settings of their kind: the empty-set guard wants --force.
    let out = t.cmd("plan", v4.path()).args(["--format", "json", "--force"]).output().unwrap();
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(actions(&plan), [("delete".to_string(), "pushover".to_string())].into_iter().collect(), "{plan:#}");
    let out = t.cmd("apply", v4.path()).args(["--auto-approve", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(row().is_empty());
}

#[test]
fn pushover_round_trips_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    pushover_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn pushover_round_trips_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "pushover", 31);
    pushover_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// Custom attributes: set, replaced, export → plan empty, emptied by `{}`, a name with a space refused.
fn custom_attributes_scenario(t: &Target, url: &str) {
    let files = |a: &str| {
        directory(&[("a.yaml", &format!("domains:\n  - name: example.org\n    mailboxes:\n      - local_part: bob\n{a}      - local_part: carol\n"))])
    };
    let stored = || rows(url, "SELECT username, custom_attributes FROM mailbox ORDER BY username");
    let v1 = files("        custom_attributes: {department: Engineering, costcenter: CC-4711}\n");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    assert_eq!(stored(), [["bob@example.org", "{\"department\":\"Engineering\",\"costcenter\":\"CC-4711\"}"], ["carol@example.org", "{}"]]);
    let v2 = files("        custom_attributes: {department: \"R&D / Platform\"}\n");
    let plan = t.plan_json(v2.path());
    assert_eq!(actions(&plan), [("update".to_string(), "custom_attributes".to_string())].into_iter().collect(), "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(stored()[0][1], "{\"department\":\"R&D \\/ Platform\"}", "PHP's json_encode escapes the slash");
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    t.assert_no_changes(out.path());
    let v3 = files("        custom_attributes: {}\n");
    t.apply(v3.path());
    t.assert_no_changes(v3.path());
    assert_eq!(stored()[0][1], "{}");
    let bad = files("        custom_attributes: {cost center: x}\n");
    let out = t.cmd("plan", bad.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("custom attribute `cost center` of mailbox `bob`: a name is one word"));
}

#[test]
fn custom_attributes_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    custom_attributes_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn custom_attributes_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "custattr", 32);
    custom_attributes_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// The password policy: declared and changed, a plaintext password it refuses blocks the plan
/// (saying what is missing, not the password), a `{SCHEME}` hash is not checked, export → plan
/// empty, a delete is refused.
fn password_policy_scenario(t: &Target) {
    let files = |policy: &str, mailbox: &str, prune: &str| {
        directory(&[("mailplane.yaml", prune), ("a.yaml", &format!("{policy}domains:\n  - name: example.org\n    mailboxes:\n{mailbox}"))])
    };
    let policy = "password_complexity: {length: 10, numbers: true, lowerupper: true}\n";
    let weak = [("ALICE_PW", "weakpass")];
    let v1 = files(policy, "      - {local_part: alice, password: {env: ALICE_PW}}\n", "");
    let out = t.cmd("plan", v1.path()).envs(weak).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("the password of mailbox alice@example.org (env:ALICE_PW) does not meet the password policy: it needs at least 10 characters, a lowercase and an uppercase letter, a digit")
            && !text.contains("weakpass"),
        "{text}"
    );
    let strong = [("ALICE_PW", "Strong-Pass-2026")];
    let out = t.cmd("apply", v1.path()).envs(strong).arg("--auto-approve").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan = t.plan_json_env(v1.path(), &strong);
    assert!(plan["changes"].as_array().unwrap().is_empty(), "{plan:#}");
    // A hash's plaintext is unknown: not checked. The server's policy applies when none is declared.
    let v2 = files(
        "",
        "      - {local_part: alice, password: {env: ALICE_PW}}\n      - {local_part: bob, password: \"{SHA512-CRYPT}$6$a$b\"}\n      - {local_part: carol, password: {env: CAROL_PW}}\n",
        "",
    );
    let out = t.cmd("plan", v2.path()).envs([("ALICE_PW", "Strong-Pass-2026"), ("CAROL_PW", "short")]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("the password of mailbox carol@example.org") && !text.contains("bob@example.org ("), "{text}");
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    assert!(std::fs::read_to_string(out.path().join("server.yaml")).unwrap().contains("length: 10"));
    t.assert_no_changes(out.path());
    let v3 = files("", "      - {local_part: alice, password: {env: ALICE_PW}}\n", "prune: {password_complexity: delete}\n");
    let out = t.cmd("plan", v3.path()).envs(strong).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("the password policy cannot be deleted"), "{text}");
    let v4 = files("password_complexity: {length: 3}\n", "      - {local_part: alice, password: {env: ALICE_PW}}\n", "");
    let plan = t.plan_json_env(v4.path(), &strong);
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["length", "lowerupper", "numbers"], "{plan:#}");
}

#[test]
fn password_policy_round_trips_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    password_policy_scenario(&Target { args: vec!["--target".into(), url], _tmp: tmp });
}

#[test]
fn password_policy_round_trips_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, _, db) = mailcow_target(&services, &rt, "pwpolicy", 37);
    password_policy_scenario(&t);
    rt.block_on(services.drop_db(&db));
}

/// Administrators and domain administrators: created with hashed passwords (never shown), read
/// back as declared, changed field by field (an `enforce`d password, `force_tfa`, domains, rights,
/// active), exported and planned empty; the last active administrator, a domain that is not on
/// the server, a domain delete under a domain administrator left alone and a name the other kind
/// holds are refused at plan time; a delete takes the person's TFA rows along, and nobody else's.
fn admin_scenario(t: &Target, url: &str, mailcow: bool) {
    let files = |yaml: &str, prune: &str| {
        directory(&[("mailplane.yaml", prune), ("a.yaml", &format!("{yaml}domains:\n  - name: example.org\n  - name: example.net\n"))])
    };
    let env = [("OPS_PW", "Ops-Admin-2026!"), ("ORG_PW", "Org-Admin-2026!")];
    let v1 = files(
        "admins:\n  - {username: OpsAdmin, password: {env: OPS_PW}, password_policy: enforce}\ndomain_admins:\n  - {username: orgadmin, password: {env: ORG_PW}, domains: [example.org], acl: [syncjobs, quarantine]}\n",
        "",
    );
    let plan = t.plan_json_env(v1.path(), &env);
    let created: Vec<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"].as_str().unwrap().contains("admin"))
        .map(|c| format!("{} {}", c["kind"], c["key"]))
        .collect();
    assert_eq!(created, ["\"admin\" \"opsadmin\"", "\"domain_admin\" \"orgadmin\""], "{plan:#}");
    let out = t.cmd("apply", v1.path()).envs(env).arg("--auto-approve").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("-Admin-2026") && !plan.to_string().contains("-Admin-2026"), "a password in the output: {stdout}");
    let admin = rows(url, "SELECT username, password, superadmin, active, attributes FROM admin WHERE username <> 'admin' ORDER BY username");
    assert_eq!(admin.len(), 2);
    assert_eq!([&admin[0][0], &admin[0][2], &admin[0][3], &admin[0][4]], ["opsadmin", "1", "1", ""], "attributes NULL, as mailcow's add leaves them");
    assert!(mailplane::password::verify(&admin[0][1], "Ops-Admin-2026!").unwrap() && admin[0][1].starts_with("{BLF-CRYPT}$2y$"));
    assert_eq!([&admin[1][0], &admin[1][2]], ["orgadmin", "0"]);
    assert_eq!(rows(url, "SELECT domain, active FROM domain_admins WHERE username = 'orgadmin'"), [["example.org", "1"]]);
    let acl = rows(url, "SELECT * FROM da_acl WHERE username = 'orgadmin'");
    assert_eq!(acl[0][1..], ["1", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"], "exactly the listed rights");
    let no_changes = |dir: &Path, env: &[(&str, &str)]| {
        let out = t.cmd("plan", dir).envs(env.iter().copied()).arg("--detailed-exitcode").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        // mailcow's seed has the shipped password: said loudly, without blocking.
        assert_eq!(stdout.contains("Warning: administrator `admin` still has mailcow's shipped password"), mailcow, "{stdout}");
        assert!(!stdout.contains("moohoo"), "{stdout}");
    };
    no_changes(v1.path(), &env);
    let changed = t.plan_json_env(v1.path(), &[("OPS_PW", "Other-Admin-2027!"), ("ORG_PW", "Other-Admin-2027!")]);
    let updates: Vec<String> =
        changed["changes"].as_array().unwrap().iter().map(|c| format!("{} {} {}", c["action"], c["key"], c["fields"][0]["field"])).collect();
    assert_eq!(updates, ["\"update\" \"opsadmin\" \"password\""], "an enforced password is compared, an initial one is not: {changed:#}");
    if mailcow {
        assert_eq!(changed["warnings"].as_array().unwrap().len(), 1, "{changed:#}");
    }

    let v2 = files(
        "admins:\n  - {username: opsadmin, password: {env: OPS_PW}, password_policy: enforce, force_tfa: true}\ndomain_admins:\n  - {username: orgadmin, domains: [example.net, example.org], acl: [syncjobs, quarantine, login_as], active: false}\n",
        "",
    );
    let plan = t.plan_json_env(v2.path(), &env);
    let fields = changed_fields(&plan);
    assert_eq!(fields, ["force_tfa", "domains", "acl", "active"], "{plan:#}");
    assert!(t.cmd("apply", v2.path()).envs(env).arg("--auto-approve").output().unwrap().status.success());
    no_changes(v2.path(), &env);
    assert_eq!(rows(url, "SELECT attributes FROM admin WHERE username = 'opsadmin'"), [[r#"{"force_tfa": "1", "force_pw_update": "0"}"#]]);
    assert_eq!(rows(url, "SELECT domain, active FROM domain_admins WHERE username = 'orgadmin' ORDER BY domain"), [["example.net", "0"], ["example.org", "0"]]);
    assert_eq!(rows(url, "SELECT syncjobs, quarantine, login_as, sogo_access FROM da_acl"), [["1", "1", "1", "0"]]);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("admins.yaml")).unwrap();
    assert!(exported.contains("username: opsadmin") && exported.contains("- login_as") && !exported.contains("CRYPT"), "{exported}");
    no_changes(out.path(), &[]);

    let blocked = |dir: &tempfile::TempDir, why: &str| {
        let out = t.cmd("plan", dir.path()).envs(env).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success() && text.contains(why), "expected `{why}`:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    };
    let v3 = files("admins:\n  - {username: admin, active: false}\n  - {username: opsadmin, active: false}\n", "");
    blocked(&v3, "this plan would leave no active administrator");
    let v4 = files("domain_admins:\n  - {username: orgadmin, domains: [nowhere.example]}\n", "");
    blocked(&v4, "domain administrator `orgadmin` would administer nowhere.example, not a domain on the server after this plan");
    let v5 = directory(&[("mailplane.yaml", "prune: {domain: delete}\n"), ("a.yaml", "domains:\n  - name: example.org\n")]);
    blocked(&v5, "domain example.net cannot be deleted while domain administrator `orgadmin` administers it");
    let v6 = files("admins:\n  - {username: orgadmin, password: {env: OPS_PW}}\n", "");
    blocked(&v6, "administrator `orgadmin` cannot be created: the name is a domain administrator on the server");
    let v7 = files("admins:\n  - {username: newadmin}\n", "");
    blocked(&v7, "administrator `newadmin` has no password to be created with");

    // The person's own TFA rows go with them; nobody else's.
    sql(
        url,
        &[
            "INSERT INTO tfa (key_id, username, authmech, secret, active) VALUES ('k1', 'orgadmin', 'totp', 's', 1)",
            "INSERT INTO tfa (key_id, username, authmech, secret, active) VALUES ('k2', 'opsadmin', 'totp', 's', 1)",
        ],
    );
    let v8 =
        files("admins:\n  - {username: opsadmin, password: {env: OPS_PW}, password_policy: enforce, force_tfa: true}\n", "prune: {domain_admin: delete}\n");
    let out = t.cmd("apply", v8.path()).envs(env).args(["--auto-approve", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    no_changes(v8.path(), &env);
    assert_eq!(rows(url, "SELECT username FROM tfa"), [["opsadmin"]]);
    // Neither the journal nor `history` holds a password or its hash.
    let history = Command::cargo_bin("mailplane").unwrap().args(["history", ".", "--format", "json", "--target", url]).output().unwrap();
    assert!(history.status.success(), "{}", String::from_utf8_lossy(&history.stderr));
    let journal = format!("{:?}{}", rows(url, "SELECT * FROM mailplane_journal"), String::from_utf8_lossy(&history.stdout));
    assert!(!journal.contains("-Admin-2026") && !journal.contains("CRYPT"), "{journal}");
    assert!(
        rows(url, "SELECT username FROM domain_admins UNION ALL SELECT username FROM da_acl UNION ALL SELECT username FROM admin WHERE username = 'orgadmin'")
            .is_empty()
    );

    refused_by_validate(
        "admins:\n  - {username: 'ops admin!'}\n  - {username: admin, password: '{SSHA256}K8eVJ6YsZbQCfuJvSUbaQRLr0HPLz5rC9IAp0PAFl0tmNDBkMDc0NDAyOTAxN2Rk'}\ndomain_admins:\n  - {username: helpdesk, password: '{NOPE}abc', domains: [example.org]}\n  - {username: OpsAdmin2, domains: []}\n  - {username: opsadmin2, domains: [example.org]}\n",
        &[
            "a.yaml:2:16",
            "mailcow's usernames are letters, digits",
            "a.yaml:6:16",
            "has no domains",
            "a.yaml:7:16",
            "domain administrator `helpdesk`: `{NOPE}` is not a password scheme mailcow accepts",
            "is declared twice",
            "a.yaml:3:33",
            "administrator `admin` is given mailcow's shipped password",
        ],
    );
}

/// A literal password of an app password is checked like a mailbox's (a scheme Dovecot knows, a
/// length mailcow's column holds).
#[test]
fn app_password_hashes_are_checked_like_mailbox_ones() {
    refused_by_validate(
        "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: bob\n        app_passwords: [{name: Phone, password: '{NOPE}x'}]\n",
        &["app password `Phone` of `bob@example.org`: `{NOPE}` is not a password scheme mailcow accepts"],
    );
}

#[test]
fn admins_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    admin_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url, false);
}

#[test]
fn admins_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "admins", 38);
    admin_scenario(&t, &url, true);
    rt.block_on(services.drop_db(&db));
}

/// API keys and OAuth2 clients: created from references (never shown, saved or exported),
/// changed field by field, a key or secret rotated, exported and planned empty (the live key
/// stays), deleted; mailcow's network rules refused at validate; a key mailcow.conf sets is not
/// fought over.
fn api_scenario(t: &Target, url: &str) {
    let env = [("RW_KEY", "AAAA11-BBBB22-CCCC33"), ("RO_KEY", "RO-KEY-2026"), ("WIKI_SECRET", "wiki-secret-0123456789")];
    let files = |yaml: &str, prune: &str| directory(&[("mailplane.yaml", prune), ("a.yaml", yaml)]);
    let v1 = files(
        "api_keys:\n  - {access: rw, key: {env: RW_KEY}, allow_from: [192.168.10.0/24, ' 10.0.0.5', 10.0.0.5]}\n  - {access: ro, key: {env: RO_KEY}, skip_ip_check: true}\noauth_clients:\n  - {client_id: wiki, secret: {env: WIKI_SECRET}, redirect_uri: 'https://wiki.example.org/oauth/callback'}\n",
        "",
    );
    let plan_file = tempfile::tempdir().unwrap();
    let saved = plan_file.path().join("plan.json");
    let out = t.cmd("plan", v1.path()).envs(env).arg("--out").arg(&saved).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = t.cmd("apply", Path::new(&saved)).envs(env).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).to_string() + &std::fs::read_to_string(&saved).unwrap();
    assert!(out.status.success(), "{shown}{}", String::from_utf8_lossy(&out.stderr));
    for (_, secret) in env {
        assert!(!shown.contains(secret), "a secret in the output or plan file: {shown}");
    }
    assert_eq!(
        rows(url, "SELECT access, api_key, allow_from, skip_ip_check, active FROM api ORDER BY access"),
        [["ro", "RO-KEY-2026", "", "1", "1"], ["rw", "AAAA11-BBBB22-CCCC33", "192.168.10.0/24,10.0.0.5", "0", "1"]]
    );
    assert_eq!(
        rows(url, "SELECT client_id, client_secret, redirect_uri, grant_types, scope, user_id FROM oauth_clients"),
        [["wiki", "wiki-secret-0123456789", "https://wiki.example.org/oauth/callback", "", "profile", ""]]
    );
    let no_changes = |dir: &Path, env: &[(&str, &str)]| {
        let out = t.cmd("plan", dir).envs(env.iter().copied()).arg("--detailed-exitcode").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    };
    no_changes(v1.path(), &env);
    // A rotated key or secret is a change that says so, not what it is.
    let rotated = [("RW_KEY", "NEW-RW-KEY"), ("RO_KEY", "RO-KEY-2026"), ("WIKI_SECRET", "new-wiki-secret")];
    let plan = t.plan_json_env(v1.path(), &rotated);
    let changed: Vec<String> = plan["changes"].as_array().unwrap().iter().map(|c| format!("{} {}", c["key"], c["fields"][0]["field"])).collect();
    assert_eq!(changed, ["\"rw\" \"key\"", "\"wiki\" \"secret\""], "{plan:#}");
    assert!(!plan.to_string().contains("NEW-RW-KEY") && !plan.to_string().contains("new-wiki"), "{plan:#}");
    assert!(t.cmd("apply", v1.path()).envs(rotated).arg("--auto-approve").output().unwrap().status.success());
    assert_eq!(
        rows(url, "SELECT api_key FROM api WHERE access = 'rw' UNION ALL SELECT client_secret FROM oauth_clients"),
        [["NEW-RW-KEY"], ["new-wiki-secret"]]
    );

    let v2 = files(
        "api_keys:\n  - {access: rw, key: {env: RW_KEY}, allow_from: [2001:db8:c0::/48], active: false}\n  - {access: ro, key: {env: RO_KEY}, skip_ip_check: true}\noauth_clients:\n  - {client_id: wiki, secret: {env: WIKI_SECRET}, redirect_uri: 'https://wiki.example.org/oauth2/callback'}\n",
        "",
    );
    let plan = t.plan_json_env(v2.path(), &rotated);
    let fields = changed_fields(&plan);
    assert_eq!(fields, ["allow_from", "active", "redirect_uri"], "{plan:#}");
    assert!(t.cmd("apply", v2.path()).envs(rotated).arg("--auto-approve").output().unwrap().status.success());
    no_changes(v2.path(), &rotated);

    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("api.yaml")).unwrap();
    assert!(
        exported.contains("2001:db8:c0::/48") && exported.contains("client_id: wiki") && !exported.contains("NEW-RW") && !exported.contains("secret"),
        "{exported}"
    );
    no_changes(out.path(), &[]);

    // A key is the row's primary key: one for both is refused before anything is written.
    let out = t.cmd("plan", v2.path()).envs([("RW_KEY", "RO-KEY-2026"), ("RO_KEY", "RO-KEY-2026"), ("WIKI_SECRET", "new-wiki-secret")]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("the `rw` API key would be the other access's key"), "{text}");
    // mailcow.conf sets the rw key: php-fpm would undo a change at its next start.
    let mailcow = directory(&[("mailcow.conf", "API_KEY=FROM-CONF\nAPI_KEY_READ_ONLY=\nAPI_ALLOW_FROM=172.22.1.1,127.0.0.1\n")]);
    let out = t.cmd("plan", v1.path()).envs(rotated).arg("--mailcow-dir").arg(mailcow.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("the `rw` API key is set in mailcow.conf (API_KEY and API_ALLOW_FROM)") && !text.contains("FROM-CONF"),
        "{text}"
    );
    let out = t.cmd("plan", v2.path()).envs(rotated).arg("--mailcow-dir").arg(mailcow.path()).arg("--detailed-exitcode").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "no change to it, nothing to say: {}", String::from_utf8_lossy(&out.stdout));

    let v3 = files("oauth_clients:\n  - {client_id: chat, redirect_uri: 'https://chat.example.org/cb'}\n", "prune: {oauth_client: delete, api_key: delete}\n");
    let out = t.cmd("plan", v3.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("OAuth2 client `chat` has no secret to be created with"), "{text}");
    let v4 = files(
        "oauth_clients:\n  - {client_id: chat, secret: {env: WIKI_SECRET}, redirect_uri: 'https://chat.example.org/cb'}\n",
        "prune: {oauth_client: delete}\n",
    );
    let out = t.cmd("apply", v4.path()).envs(rotated).args(["--auto-approve", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(rows(url, "SELECT client_id FROM oauth_clients"), [["chat"]]);
    assert_eq!(rows(url, "SELECT COUNT(*) FROM api"), [["2"]], "API keys that are not declared are left alone without their prune");
    // Neither the journal nor `history` holds a key or secret.
    let history = Command::cargo_bin("mailplane").unwrap().args(["history", ".", "--format", "json", "--target", url]).output().unwrap();
    assert!(history.status.success(), "{}", String::from_utf8_lossy(&history.stderr));
    let journal = format!("{:?}{}", rows(url, "SELECT * FROM mailplane_journal"), String::from_utf8_lossy(&history.stdout));
    for secret in ["AAAA11-BBBB22", "RO-KEY-2026", "wiki-secret", "NEW-RW-KEY"] {
        assert!(!journal.contains(secret), "`{secret}` in the journal or history: {journal}");
    }

    refused_by_validate(
        "api_keys:\n  - {access: rw, key: ABC, allow_from: [10.0.0.5/33, example.org]}\n  - {access: ro}\n  - {access: ro, skip_ip_check: true}\noauth_clients:\n  - {client_id: 'bad id', redirect_uri: '', scope: email}\n",
        &[
            "a.yaml:2:41",
            "`10.0.0.5/33` is not an IP address or network",
            "`example.org` is not an IP address or network",
            "the `rw` API key: the key is written in clear text",
            "a.yaml:3:14",
            "the `ro` API key has no `allow_from`",
            "is declared twice",
            "a client id is 1 to 80 letters",
            "the redirect URI must be one URL",
            "mailcow has one scope, `profile`",
        ],
    );
}

#[test]
fn api_keys_and_oauth_clients_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    api_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn api_keys_and_oauth_clients_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "apikeys", 39);
    api_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// The quarantine settings, the two notice mails, the UI and CORS: written whole, read back as
/// declared, changed field by field, exported and planned empty; never deleted; mailcow's silent
/// drops (an invalid address) and its refusals (an origin with a path) refused at validate.
fn server_settings_scenario(t: &Target, read: &dyn Fn(&str) -> Option<String>) {
    let files = |yaml: &str, prune: &str| directory(&[("mailplane.yaml", prune), ("a.yaml", yaml)]);
    let v1 = files(
        "quarantine: {retention_size: 10, max_size: 20, max_score: 15, exclude_domains: [Example.ORG], subject: Digest}\nquota_warning_mail: {sender: quota@example.org, subject: 'Quota: {{percent}}%'}\npassword_reset_mail: {from: it@example.org, html: '<p>{{link}}</p>'}\nui: {title: 'R&D <Mail>', app_links: [{name: Wiki, link: 'https://wiki.example.org/', hide: true}], force_sso: true}\ncors: {allowed_origins: ['https://Portal.example.org:8443']}\n",
        "",
    );
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    for (key, want) in [
        ("Q_RETENTION_SIZE", "10"),
        ("Q_MAX_SCORE", "15"),
        ("Q_MAX_AGE", "365"),
        ("Q_EXCLUDE_DOMAINS", r#"["example.org"]"#),
        ("Q_RELEASE_FORMAT", "raw"),
        ("Q_REDIRECT", ""),
        ("QW_SUBJ", "Quota: {{percent}}%"),
        ("PW_RESET_TEXT", ""),
        ("PW_RESET_HTML", "<p>{{link}}</p>"),
        ("TITLE_NAME", "R&amp;D &lt;Mail&gt;"),
        ("APP_LINKS", r#"[{"Wiki":{"link":"https:\/\/wiki.example.org\/","user_link":"","hide":true}}]"#),
        ("CUSTOM_LOGIN", r#"{"hide_user_quicklink":0,"hide_domainadmin_quicklink":0,"hide_admin_quicklink":0,"force_sso":1}"#),
        ("IP_CHECK", "0"),
    ] {
        assert_eq!(read(key).as_deref(), Some(want), "{key}");
    }
    let v2 = files(
        "quarantine: {retention_size: 10, max_size: 20, max_score: 15.5, exclude_domains: [example.org], subject: Digest, release_format: attachment}\nquota_warning_mail: {sender: quota@example.org, subject: 'Quota: {{percent}}%'}\npassword_reset_mail: {from: it@example.org, html: '<p>{{link}}</p>'}\nui: {title: 'R&D <Mail>', app_links: [{name: Wiki, link: 'https://wiki.example.org/', hide: true}], force_sso: true, ip_check: true}\ncors: {allowed_origins: ['https://Portal.example.org:8443', '*'], allowed_methods: [GET]}\n",
        "",
    );
    let plan = t.plan_json(v2.path());
    let fields = changed_fields(&plan);
    assert_eq!(fields, ["max_score", "release_format", "ip_check", "allowed_origins", "allowed_methods"], "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(read("Q_MAX_SCORE").as_deref(), Some("15.5"));
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    let exported = std::fs::read_to_string(out.path().join("server.yaml")).unwrap();
    assert!(
        exported.contains("release_format: attachment") && exported.contains("from: it@example.org") && exported.contains("title: R&D <Mail>"),
        "{exported}"
    );
    t.assert_no_changes(out.path());
    ui_logos(t, read);
    let v3 = files("", "prune: {quarantine: delete}\n");
    let out = t.cmd("plan", v3.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("the quarantine settings cannot be deleted"), "{text}");
    refused_by_validate("quarantine: {}\nquarantine_x: 1\n", &["unknown field `quarantine_x`"]);
    refused_by_validate(
        "quarantine: {sender: not-an-address, max_age: 0}\nquota_warning_mail: {sender: 'x@'}\ncors: {allowed_origins: ['https://portal.example.org/']}\n",
        &[
            "a.yaml:1:22",
            "the quarantine's sender: `not-an-address` is not an email address (mailcow would store nothing instead)",
            "the quarantine's max_age is 0 days",
            "a.yaml:2:30",
            "the quota-warning mail's sender: `x@` is not an email address",
            "a.yaml:3:26",
            "CORS: `https://portal.example.org/` is not an origin",
        ],
    );
}

/// A PNG's signature and header: enough for mailcow's type and size checks and for mailplane's.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend(width.to_be_bytes());
    b.extend(height.to_be_bytes());
    b.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b
}

/// The UI logos: a PNG file and inline SVG stored as mailcow's upload stores them (data: URIs),
/// shown in plans by type, size and digest, taken away with `""`, not exported (said so), and
/// an image mailcow would refuse refused at plan time.
fn ui_logos(t: &Target, read: &dyn Fn(&str) -> Option<String>) {
    let ui = "ui: {title: 'R&D <Mail>', app_links: [{name: Wiki, link: 'https://wiki.example.org/', hide: true}], force_sso: true, ip_check: true";
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>"#;
    let dir = |logos: &str, image: &[u8]| {
        let d = directory(&[("mailplane.yaml", ""), ("a.yaml", &format!("{ui}, {logos}}}\n"))]);
        std::fs::create_dir_all(d.path().join("img")).unwrap();
        std::fs::write(d.path().join("img/logo.png"), image).unwrap();
        d
    };
    let v1 = dir(&format!("logo: {{file: img/logo.png}}, logo_dark: '{svg}'"), &png(200, 60));
    let plan = t.plan_json(v1.path());
    assert_eq!(changed_fields(&plan), ["logo", "logo_dark"], "{plan:#}");
    let human = String::from_utf8_lossy(&t.cmd("plan", v1.path()).output().unwrap().stdout).to_string();
    assert!(human.contains("image/png 200x60, 33 bytes, sha256 ") && human.contains("image/svg+xml, 62 bytes"), "{human}");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    assert_eq!(read("MAIN_LOGO").as_deref(), Some("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAMgAAAA8CAYAAAAAAAAA"));
    assert_eq!(
        read("MAIN_LOGO_DARK").as_deref(),
        Some("data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI0IiBoZWlnaHQ9IjQiLz4=")
    );
    let out = tempfile::tempdir().unwrap();
    let export = t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&export.stderr).contains("not exported: the UI's logo (MAIN_LOGO)"));
    t.assert_no_changes(out.path());
    let v2 = dir("logo: '', logo_dark: {file: img/logo.png}", &png(200, 60));
    assert_eq!(changed_fields(&t.plan_json(v2.path())), ["logo", "logo_dark"]);
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert_eq!(read("MAIN_LOGO"), None, "taken away: mailcow's own logo again");
    assert!(read("MAIN_LOGO_DARK").unwrap().starts_with("data:image/png;base64,"));
    for (image, logo, want) in [
        (png(4000, 10), "logo: {file: img/logo.png}", "img/logo.png is 4000x10 pixels; mailcow takes at most 1920x1920"),
        (b"hello".to_vec(), "logo: {file: img/logo.png}", "img/logo.png is not a PNG, JPEG, GIF or SVG image"),
        (png(1, 1), "logo: {file: ../outside.png}", "ui logo: "),
    ] {
        let bad = dir(logo, &image);
        let out = t.cmd("plan", bad.path()).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success() && text.contains(want), "{want}:\n{text}");
    }
}

#[test]
fn server_settings_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let read = |key: &str| rows(&url, &format!("SELECT v FROM mailplane_kv WHERE k = '{key}' AND f = ''")).first().map(|r| r[0].clone());
    server_settings_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &read);
}

#[test]
fn server_settings_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, _, db) = mailcow_target(&services, &rt, "notices", 44);
    let redis = services.redis_db(44);
    let read = |key: &str| {
        let mut c = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
        redis::cmd("GET").arg(key).query::<Option<String>>(&mut c).unwrap()
    };
    server_settings_scenario(&t, &read);
    rt.block_on(services.drop_db(&db));
}

/// How a scenario reads and writes the target's Redis (on SQLite: `mailplane_kv`).
struct KvAccess<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    set: &'a dyn Fn(&str, &str),
    fields: &'a dyn Fn(&str) -> Vec<String>,
}

/// Fail2ban: options and exact allow/deny sets written as mailcow does, netfilter's own rewrite
/// of the options (other bytes, a banlist id) read as the same values and its id kept; list
/// changes entry by entry; export → plan empty; never deleted; a deny list that would ban
/// everyone or mailcow itself refused at validate.
fn fail2ban_scenario(t: &Target, kv: &KvAccess) {
    let files = |yaml: &str, prune: &str| directory(&[("mailplane.yaml", prune), ("a.yaml", yaml)]);
    let v1 = files("fail2ban: {ban_time: 3600, allow: [192.0.2.0/24, monitor.example.org], deny: [203.0.113.66]}\n", "");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    assert_eq!(
        (kv.get)("F2B_OPTIONS").as_deref(),
        Some(
            r#"{"ban_time":3600,"ban_time_increment":true,"max_ban_time":10000,"netban_ipv4":32,"netban_ipv6":128,"max_attempts":10,"retry_window":600,"banlist_id":null,"manage_external":0}"#
        )
    );
    assert_eq!((kv.fields)("F2B_WHITELIST"), ["192.0.2.0/24", "monitor.example.org"]);
    // netfilter fills in its id and writes the options again with its own serialiser.
    (kv.set)(
        "F2B_OPTIONS",
        r#"{"ban_time": 3600, "ban_time_increment": true, "max_ban_time": 10000, "netban_ipv4": 32, "netban_ipv6": 128, "max_attempts": 10, "retry_window": 600, "banlist_id": "5c3e4b0a-1d2f-4e5a-9b8c-7d6e5f4a3b2c", "manage_external": 0}"#,
    );
    t.assert_no_changes(v1.path());
    let v2 = files("fail2ban: {ban_time: 3600, max_attempts: 5, allow: [192.0.2.0/24], deny: [203.0.113.66, 198.51.100.0/24]}\n", "");
    let plan = t.plan_json(v2.path());
    let fields: Vec<String> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
    assert_eq!(fields, ["max_attempts", "allow", "deny"], "{plan:#}");
    let human = String::from_utf8_lossy(&t.cmd("plan", v2.path()).output().unwrap().stdout).to_string();
    assert!(human.contains("- \"monitor.example.org\"") && human.contains("+ \"198.51.100.0/24\""), "{human}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    assert!((kv.get)("F2B_OPTIONS").unwrap().contains(r#""max_attempts":5,"retry_window":600,"banlist_id":"5c3e4b0a-1d2f-4e5a-9b8c-7d6e5f4a3b2c""#));
    assert_eq!((kv.fields)("F2B_WHITELIST"), ["192.0.2.0/24"]);
    assert_eq!((kv.fields)("F2B_BLACKLIST"), ["198.51.100.0/24", "203.0.113.66"]);
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    assert!(std::fs::read_to_string(out.path().join("server.yaml")).unwrap().contains("max_attempts: 5"));
    t.assert_no_changes(out.path());
    let out = t.cmd("plan", files("", "prune: {fail2ban: delete}\n").path()).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stdout).contains("the Fail2ban settings cannot be deleted"));
    // mailcow.conf moved mailcow's network: denying it is refused at plan time (validate knows the shipped one only).
    let mailcow = directory(&[("mailcow.conf", "IPV4_NETWORK=10.77.1\nIPV6_NETWORK=fd00:77::/64\n")]);
    let deny = files("fail2ban: {ban_time: 3600, max_attempts: 5, allow: [192.0.2.0/24], deny: [203.0.113.66, 10.77.0.0/16]}\n", "");
    let out = t.cmd("plan", deny.path()).arg("--mailcow-dir").arg(mailcow.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("`10.77.0.0/16` overlaps mailcow's own network 10.77.1.0/24"), "{text}");
    let text = refused_by_validate(
        "fail2ban:\n  ban_time: 10\n  netban_ipv4: 40\n  allow: ['bad host!']\n  deny: [0.0.0.0/0, '::/0', 172.22.0.0/16, example.org, 192.0.2.1]\n",
        &[
            "a.yaml:2:13",
            "Fail2ban's ban_time is 10; netfilter takes 60 or more",
            "Fail2ban's netban_ipv4 is 40; netfilter takes 8 to 32",
            "`bad host!` is not an address, network or host name",
            "`0.0.0.0/0` would ban every address",
            "`::/0` would ban every address",
            "a.yaml:5:29",
            "`172.22.0.0/16` overlaps mailcow's own network 172.22.1.0/24",
            "`example.org` is not an address or network",
        ],
    );
    assert!(!text.contains("192.0.2.1`"), "{text}");
    fail2ban_rules(t, kv);
}

/// Fail2ban's log rules: left alone until declared; `mailcow-defaults` replaces a list kept from
/// an older mailcow (mailcow#5251) by deleting it, and is then satisfied by no key and by the
/// list netfilter writes; a declared list is written as PHP's json_encode; export → plan empty.
fn fail2ban_rules(t: &Target, kv: &KvAccess) {
    use mailplane::kinds::fail2ban::MAILCOW_RULES;
    let netfilter = |rules: &[&str]| {
        serde_json::to_string(&rules.iter().enumerate().map(|(i, r)| ((i + 1).to_string(), serde_json::Value::from(*r))).collect::<serde_json::Map<_, _>>())
            .unwrap()
    };
    let files = |regex: &str| {
        directory(&[
            ("mailplane.yaml", ""),
            ("a.yaml", &format!("fail2ban:\n  ban_time: 3600\n  max_attempts: 5\n  allow: [192.0.2.0/24]\n  deny: [203.0.113.66, 198.51.100.0/24]\n{regex}")),
        ])
    };
    let mut old = MAILCOW_RULES.to_vec();
    old[5] = r"-login: Disconnected.+ \(auth failed, .+\): user=.*, method=.+, rip=([0-9a-f\.:]+),";
    (kv.set)("F2B_REGEX", &netfilter(&old));
    let undeclared = files("");
    let plan = t.plan_json(undeclared.path());
    assert!(plan["changes"].as_array().unwrap().iter().all(|c| c["kind"] != "fail2ban"), "{plan:#}");

    let defaults = files("  regex: mailcow-defaults\n");
    let plan = t.plan_json(defaults.path());
    assert_eq!(changed_fields(&plan), ["regex"], "{plan:#}");
    t.apply(defaults.path());
    assert_eq!((kv.get)("F2B_REGEX"), None, "deleted: netfilter writes its own list");
    t.assert_no_changes(defaults.path());
    (kv.set)("F2B_REGEX", &netfilter(&MAILCOW_RULES));
    t.assert_no_changes(defaults.path());
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    assert!(std::fs::read_to_string(out.path().join("server.yaml")).unwrap().contains("regex: mailcow-defaults"));
    t.assert_no_changes(out.path());

    let own = files("  regex:\n    - 'Login failed for .+ from ([0-9a-f.:]+) to /srv/ünï'\n    - mailcow UI. Invalid password for .+ by ([0-9a-f\\.:]+)\n");
    t.apply(own.path());
    assert_eq!(
        (kv.get)("F2B_REGEX").as_deref(),
        Some(r#"{"1":"Login failed for .+ from ([0-9a-f.:]+) to /srv/\u00fcn\u00ef","2":"mailcow UI. Invalid password for .+ by ([0-9a-f\\.:]+)"}"#)
    );
    t.assert_no_changes(own.path());
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    t.assert_no_changes(out.path());
    refused_by_validate(
        "fail2ban:\n  regex:\n    - 'from (?:[0-9.]+)'\n    - 'from ([0-9.]+'\n",
        &["a.yaml:3:7", "rule 1 `from (?:[0-9.]+)` has no capture group", "a.yaml:4:7", "rule 2 `from ([0-9.]+` leaves a group open"],
    );
    refused_by_validate("fail2ban: {regex: []}\n", &["Fail2ban's regex list is empty"]);
}

#[test]
fn fail2ban_round_trips_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    let get = |key: &str| rows(&url, &format!("SELECT v FROM mailplane_kv WHERE k = '{key}' AND f = ''")).first().map(|r| r[0].clone());
    let set = |key: &str, value: &str| {
        sql(&url, &[&format!("INSERT OR REPLACE INTO mailplane_kv (k, f, v) VALUES ('{key}', '', '{}')", value.replace('\'', "''"))]);
    };
    let fields = |key: &str| rows(&url, &format!("SELECT f FROM mailplane_kv WHERE k = '{key}' ORDER BY f")).into_iter().map(|r| r[0].clone()).collect();
    fail2ban_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &KvAccess { get: &get, set: &set, fields: &fields });
}

#[test]
fn fail2ban_round_trips_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, _, db) = mailcow_target(&services, &rt, "fail2ban", 45);
    let redis = services.redis_db(45);
    let conn = || redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    let get = |key: &str| redis::cmd("GET").arg(key).query::<Option<String>>(&mut conn()).unwrap();
    let set = |key: &str, value: &str| redis::cmd("SET").arg(key).arg(value).query::<()>(&mut conn()).unwrap();
    let fields = |key: &str| {
        let mut f: Vec<String> = redis::cmd("HKEYS").arg(key).query(&mut conn()).unwrap();
        f.sort();
        f
    };
    fail2ban_scenario(&t, &KvAccess { get: &get, set: &set, fields: &fields });
    rt.block_on(services.drop_db(&db));
}

/// Rspamd settings maps: created and changed after the real `rspamadm configtest` accepted them,
/// a broken one refused with nothing written, exported and planned empty, deleted by prune.
fn settings_map_scenario(t: &Target, url: &str) {
    let files = |maps: &str, prune: &str| directory(&[("mailplane.yaml", prune), ("a.yaml", &format!("rspamd_settings_maps:\n{maps}"))]);
    let good = "  - description: Trust the partner\n    content: |\n      priority = 5;\n      ip = \"198.51.100.0/24\";\n      apply \"default\" { actions { greylist = null; } }\n";
    let v1 = files(good, "");
    t.apply(v1.path());
    t.assert_no_changes(v1.path());
    assert_eq!(
        rows(url, "SELECT `desc`, content, active FROM settingsmap"),
        [["Trust the partner", "priority = 5;\nip = \"198.51.100.0/24\";\napply \"default\" { actions { greylist = null; } }", "1"]]
    );
    let broken = format!("{good}  - description: Broken\n    content: |\n      priority = 5\n      from = \"x\n      apply {{\n");
    let out = t.cmd("plan", files(&broken, "").path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("rspamadm configtest refused 1 Rspamd settings map(s)") && err.contains("Rspamd settings map `Broken`: "),
        "{err}"
    );
    assert!(err.contains("ucl parser error") && !err.contains("settings-0.conf"), "{err}");
    let v2 = files(&good.replace("priority = 5", "priority = 6").replace("    content", "    active: false\n    content"), "");
    let plan = t.plan_json(v2.path());
    let fields: Vec<&str> = plan["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["content", "active"], "{plan:#}");
    t.apply(v2.path());
    t.assert_no_changes(v2.path());
    let out = tempfile::tempdir().unwrap();
    t.cmd("export", Path::new(".")).arg("--out").arg(out.path()).assert().success();
    assert!(std::fs::read_to_string(out.path().join("rspamd.yaml")).unwrap().contains("priority = 6"));
    t.assert_no_changes(out.path());
    let v3 = directory(&[("mailplane.yaml", "prune: {settings_map: delete}\n"), ("a.yaml", "")]);
    let out = t.cmd("apply", v3.path()).args(["--auto-approve", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(rows(url, "SELECT `desc` FROM settingsmap").is_empty());
}

#[test]
fn settings_maps_round_trip_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mailplane.db", tmp.path().display());
    settings_map_scenario(&Target { args: vec!["--target".into(), url.clone()], _tmp: tmp }, &url);
}

#[test]
fn settings_maps_round_trip_on_mailcow_mariadb_and_redis() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, url, db) = mailcow_target(&services, &rt, "settingsmap", 46);
    settings_map_scenario(&t, &url);
    rt.block_on(services.drop_db(&db));
}

/// What `validate` says about a directory of one file that it refuses, which must say each of `wants`.
fn refused_by_validate(yaml: &str, wants: &[&str]) -> String {
    let bad = directory(&[("a.yaml", yaml)]);
    let out = Command::cargo_bin("mailplane").unwrap().arg("validate").arg(bad.path()).env("NO_COLOR", "1").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for want in wants {
        assert!(text.contains(want), "expected `{want}`:\n{text}");
    }
    text
}

/// The fields every change of a JSON plan lists, in order.
fn changed_fields(plan: &Value) -> Vec<String> {
    plan["changes"].as_array().unwrap().iter().flat_map(|c| c["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string())).collect()
}
