//! LDAP as a source of mailboxes, against the real slapd: LDAP users become mailboxes with the
//! mapped template and authsource ldap; a user who leaves LDAP is kept, and only deactivated after
//! `miss_threshold` consecutive applies without it — never deleted.

use std::process::{Command as Proc, Stdio};

use assert_cmd::Command;

struct Ldap {
    url: String,
    admin: String,
    password: String,
    ou: String,
}

impl Ldap {
    fn from_env() -> Option<Ldap> {
        let get = |k: &str| std::env::var(k).ok();
        match (get("MAILPLANE_TEST_LDAP_URL"), get("MAILPLANE_TEST_LDAP_BIND_DN"), get("MAILPLANE_TEST_LDAP_BIND_PW")) {
            (Some(url), Some(admin), Some(password)) => Some(Ldap { url, admin, password, ou: format!("src{}", std::process::id()) }),
            _ => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but slapd is not configured");
                eprintln!("skipped: slapd not running");
                None
            }
        }
    }
    fn base(&self) -> String {
        format!("ou={},dc=example,dc=org", self.ou)
    }
    fn run(&self, tool: &str, ldif: &str) {
        let mut child =
            Proc::new(tool).args(["-x", "-H", &self.url, "-D", &self.admin, "-w", &self.password]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), ldif.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "{tool} failed");
    }
    fn add_user(&self, uid: &str, mail: &str, dept: &str) {
        let base = self.base();
        self.run("ldapadd", &format!(
            "dn: uid={uid},{base}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\ndisplayName: User {uid}\nmail: {mail}\ndepartmentNumber: {dept}\n"
        ));
    }
}

fn mailplane(dir: &std::path::Path, state: &std::path::Path, args: &[&str], ldap: &Ldap) -> std::process::Output {
    Command::cargo_bin("mailplane")
        .unwrap()
        .args(args)
        .arg(dir)
        .args(["--target", &format!("sqlite://{}/mp.db", state.display())])
        .env("MP_LDAP_PW", &ldap.password)
        .env("MAILPLANE_STATE_DIR", state)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn ldap_users_become_mailboxes_and_leavers_are_only_deactivated_after_the_threshold() {
    let Some(ldap) = Ldap::from_env() else { return };
    ldap.run("ldapadd", &format!("dn: {}\nobjectClass: organizationalUnit\nou: {}\n", ldap.base(), ldap.ou));
    ldap.add_user("ann", "ann@example.org", "engineering");
    ldap.add_user("ben", "ben@example.org", "sales");
    ldap.add_user("out", "out@elsewhere.example", "engineering");
    let port = ldap.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mailplane.yaml"), "ldap_mailboxes:\n  miss_threshold: 2\n").unwrap();
    std::fs::write(
        dir.path().join("mail.yaml"),
        format!(
            "domains:\n  - name: example.org\nmailbox_templates:\n  - name: staff\n    quota: 2 GiB\nidentity_provider:\n  ldap:\n    hosts: [127.0.0.1]\n    port: {port}\n    base_dn: \"{}\"\n    bind_dn: \"{}\"\n    bind_password: {{env: MP_LDAP_PW}}\n    attribute_field: departmentNumber\n    mappings:\n      - {{value: engineering, template: staff}}\n    default_template: Default\n",
            ldap.base(),
            ldap.admin
        ),
    )
    .unwrap();

    let out = mailplane(dir.path(), state.path(), &["plan"], &ldap);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(plan.contains("+ mailbox ann@example.org") && plan.contains("+ mailbox ben@example.org"), "{plan}");
    assert!(plan.contains("authsource                   \"ldap\""), "{plan}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("out@elsewhere.example: domain elsewhere.example is not declared"));
    assert!(mailplane(dir.path(), state.path(), &["apply", "--auto-approve"], &ldap).status.success());
    let json = |args: &[&str]| -> serde_json::Value {
        let out = mailplane(dir.path(), state.path(), args, &ldap);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(json(&["plan", "--format", "json"])["summary"]["update"], 0);

    // ann's quota comes from the staff template, ben's from Default (unlimited).
    let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::store::db::Db::connect(&format!("sqlite://{}/mp.db", state.path().display()), None).await.unwrap();
        let r = db.query("SELECT username, quota, authsource, password FROM mailbox ORDER BY username", &[]).await.unwrap();
        db.close().await;
        r
    });
    let rows: Vec<Vec<String>> = rows.into_iter().map(|r| r.into_iter().map(|c| c.unwrap_or_default()).collect()).collect();
    assert_eq!(rows, vec![vec!["ann@example.org", "2147483648", "ldap", ""], vec!["ben@example.org", "0", "ldap", ""]]);

    // ben leaves LDAP: kept through the first miss, deactivated at the second, never deleted.
    ldap.run("ldapdelete", &format!("uid=ben,{}\n", ldap.base()));
    let plan = json(&["plan", "--format", "json"]);
    assert_eq!((plan["summary"]["update"].as_u64(), plan["summary"]["delete"].as_u64()), (Some(0), Some(0)), "{plan:#}");
    assert!(mailplane(dir.path(), state.path(), &["apply", "--auto-approve"], &ldap).status.success());
    let plan = json(&["plan", "--format", "json"]);
    assert_eq!(plan["summary"]["update"], 1, "{plan:#}");
    assert_eq!(plan["changes"][0]["key"], "ben@example.org");
    assert_eq!(plan["changes"][0]["fields"][0]["new"], "inactive");
    assert!(mailplane(dir.path(), state.path(), &["apply", "--auto-approve"], &ldap).status.success());

    for uid in ["ann", "out"] {
        ldap.run("ldapdelete", &format!("uid={uid},{}\n", ldap.base()));
    }
    ldap.run("ldapdelete", &format!("{}\n", ldap.base()));
}
