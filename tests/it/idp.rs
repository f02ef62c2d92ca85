//! `mailplane idp test` against the real slapd started by scripts/services.sh (users alice, bob,
//! carol under ou=people,dc=example,dc=org).

use crate::support;

fn ldap_port() -> Option<String> {
    let url = std::env::var("MAILPLANE_TEST_LDAP_URL").ok();
    if url.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but MAILPLANE_TEST_LDAP_URL is not set");
        eprintln!("skipped: slapd not running (scripts/test.sh starts it)");
    }
    url.map(|u| u.rsplit(':').next().unwrap().trim_end_matches('/').to_string())
}

fn idp_test(hosts: &str, extra: &str, password: &str) -> (i32, String, String) {
    let port = ldap_port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("idp.yaml"),
        format!(
            "identity_provider:\n  ldap:\n    hosts: {hosts}\n    port: {port}\n    base_dn: ou=people,dc=example,dc=org\n    bind_dn: cn=admin,dc=example,dc=org\n    bind_password: {{env: MP_LDAP_PW}}\n    attribute_field: departmentNumber\n    mappings:\n      - {{value: engineering, template: staff}}\n{extra}mailbox_templates:\n  - name: staff\n"
        ),
    )
    .unwrap();
    support::idp_test(dir.path(), 3, ("MP_LDAP_PW", password))
}

#[test]
fn lists_matching_users_and_their_templates() {
    if ldap_port().is_none() {
        return;
    }
    let (code, out, err) = idp_test("[127.0.0.1]", "", "adminpass");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 users match (mail=*) under ou=people,dc=example,dc=org"), "{out}");
    assert!(out.contains("alice@example.org  \"Alice Anderson\"  departmentNumber=engineering  → template staff"), "{out}");
    assert!(out.contains("bob@example.org  \"Bob Brown\"  departmentNumber=sales  → template (no template: not provisioned)"), "{out}");
    assert!(!out.contains("adminpass") && !err.contains("adminpass"), "the bind password is never printed");
}

#[test]
fn a_dead_first_host_falls_back_to_the_next() {
    if ldap_port().is_none() {
        return;
    }
    // 127.0.0.2 has nothing listening on the port: connection refused, then the next host.
    let (code, out, err) = idp_test("[127.0.0.2, 127.0.0.1]", "", "adminpass");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("skipped ldap://127.0.0.2:") && out.contains("connection refused"), "{out}");
    assert!(out.contains("connected to ldap://127.0.0.1:"), "{out}");
}

#[test]
fn failures_are_said_in_plain_words() {
    if ldap_port().is_none() {
        return;
    }
    let (code, _, err) = idp_test("[127.0.0.1]", "", "wrong-password");
    assert_eq!(code, 1);
    assert!(err.contains("invalid credentials for bind DN `cn=admin,dc=example,dc=org` (LDAP result 49)"), "{err}");
    assert!(!err.contains("wrong-password"));

    let (code, _, err) = idp_test("[127.0.0.1]", "    filter: \"(objectClass=inetOrgPerson\"\n", "adminpass");
    assert_eq!(code, 1);
    assert!(err.contains("is not valid LDAP filter syntax"), "{err}");

    let (code, _, err) = idp_test("[127.0.0.2]", "", "adminpass");
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect to any LDAP host") && err.contains("connection refused"), "{err}");
}
