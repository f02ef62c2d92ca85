//! `mailplane idp test` for Keycloak and generic OIDC against the real OpenID Connect provider
//! started by scripts/services.sh: django-oidc-provider at Keycloak's URL layout (realm
//! `mailplane`), confidential client `mailcow` / `mailcow-secret` allowed client_credentials, and
//! `mailcow-no-service` (same secret) that gets no client_credentials token.

use crate::support;

const SECRET: &str = "mailcow-secret";

/// The provider's base URL, e.g. http://127.0.0.1:18080; None (after saying why) outside CI.
fn oidc_url() -> Option<String> {
    let url = std::env::var("MAILPLANE_TEST_OIDC_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but MAILPLANE_TEST_OIDC_URL is not set");
        eprintln!("skipped: the OpenID Connect provider is not running (scripts/test.sh starts it)");
    }
    url.map(|u| u.trim_end_matches('/').to_string())
}

/// Runs `idp test` on a directory holding `provider` (YAML under identity_provider:).
fn idp_test(provider: &str, secret: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idp.yaml"), format!("identity_provider:\n{provider}")).unwrap();
    support::idp_test(dir.path(), 5, ("MP_OIDC_SECRET", secret))
}

fn keycloak(url: &str, realm: &str, extra: &str) -> String {
    keycloak_client(url, realm, "mailcow", extra)
}

fn keycloak_client(url: &str, realm: &str, client_id: &str, extra: &str) -> String {
    format!(
        "  keycloak:\n    server_url: {url}/\n    realm: {realm}\n    client_id: {client_id}\n    client_secret: {{env: MP_OIDC_SECRET}}\n    redirect_url: https://mail.example.org\n    version: 26.1.3\n{extra}"
    )
}

fn generic(base: &str) -> String {
    generic_client(base, "mailcow")
}

fn generic_client(base: &str, client_id: &str) -> String {
    let oidc = format!("{base}/protocol/openid-connect");
    format!(
        "  generic_oidc:\n    authorize_url: {oidc}/auth\n    token_url: {oidc}/token\n    userinfo_url: {oidc}/userinfo\n    client_id: {client_id}\n    client_secret: {{env: MP_OIDC_SECRET}}\n    redirect_url: https://mail.example.org\n"
    )
}

fn redact_ports(text: &str) -> String {
    regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap().replace_all(text, "127.0.0.1:[port]").into_owned()
}

#[test]
fn keycloak_realm_endpoints_and_credentials_check_out() {
    let Some(url) = oidc_url() else { return };
    let (code, out, err) = idp_test(&keycloak(&url, "mailplane", ""), SECRET);
    assert_eq!(code, 0, "{out}{err}");
    insta::assert_snapshot!("keycloak_ok", redact_ports(&out));
    assert!(!out.contains(SECRET) && !err.contains(SECRET), "the client secret is never printed");
}

#[test]
fn keycloak_user_import_needs_the_admin_api() {
    let Some(url) = oidc_url() else { return };
    // django-oidc-provider has no Keycloak admin API: said, but not a failure of the provider.
    let (code, out, err) = idp_test(&keycloak(&url, "mailplane", "    import_users: true\n"), SECRET);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("/admin/realms/mailplane/users?first=0&max=10: HTTP 404: this server offers no Keycloak admin API"), "{out}");
}

#[test]
fn a_wrong_realm_is_named() {
    let Some(url) = oidc_url() else { return };
    let (code, out, err) = idp_test(&keycloak(&url, "nosuchrealm", ""), SECRET);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("/realms/nosuchrealm/.well-known/openid-configuration: realm `nosuchrealm` not found (HTTP 404)"), "{err}");
}

#[test]
fn a_wrong_client_secret_is_invalid_client_credentials() {
    let Some(url) = oidc_url() else { return };
    let wrong = "not-the-secret-4711";
    for provider in [keycloak(&url, "mailplane", ""), generic(&format!("{url}/realms/mailplane"))] {
        let (code, out, err) = idp_test(&provider, wrong);
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("error: token ") && err.contains("invalid client credentials for client `mailcow`"), "{err}");
        assert!(out.contains("ok    discovery") && out.contains("ok    userinfo"), "the other steps still run: {out}");
        assert!(!out.contains(wrong) && !err.contains(wrong), "the client secret is never printed");
    }
}

#[test]
fn generic_oidc_urls_answer_and_match_discovery() {
    let Some(url) = oidc_url() else { return };
    let (code, out, err) = idp_test(&generic(&format!("{url}/realms/mailplane")), SECRET);
    assert_eq!(code, 0, "{out}{err}");
    insta::assert_snapshot!("generic_ok", redact_ports(&out));
    assert!(!out.contains(SECRET) && !err.contains(SECRET));
}

#[test]
fn an_unreachable_provider_cannot_connect() {
    // Nothing listens on port 1 (privileged, unassigned): connection refused at once.
    let (code, out, err) = idp_test(&generic("http://127.0.0.1:1/realms/mailplane"), SECRET);
    assert_eq!(code, 1, "{out}{err}");
    for what in ["authorize", "token", "userinfo"] {
        assert!(err.contains(&format!("error: {what} http://127.0.0.1:1/")), "{err}");
    }
    assert!(err.contains("cannot connect: connection refused"), "{err}");
    let (code, _, err) = idp_test(&keycloak("http://127.0.0.1:1", "mailplane", ""), SECRET);
    assert_eq!(code, 1);
    assert!(err.contains("error: discovery http://127.0.0.1:1/realms/mailplane/.well-known/openid-configuration: cannot connect: connection refused"), "{err}");
}

#[test]
fn https_to_a_plain_http_provider_is_a_tls_error() {
    let Some(url) = oidc_url() else { return };
    let https = url.replacen("http://", "https://", 1);
    let (code, out, err) = idp_test(&keycloak(&https, "mailplane", ""), SECRET);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("error: discovery https://127.0.0.1:") && err.contains(": TLS error: "), "{err}");
}

#[test]
fn accepted_credentials_without_a_token_are_a_note_unless_user_import_needs_one() {
    let Some(url) = oidc_url() else { return };
    let (code, out, err) = idp_test(&generic_client(&format!("{url}/realms/mailplane"), "mailcow-no-service"), SECRET);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("note  token")
            && out.contains("client `mailcow-no-service` was not refused as invalid, but got no client_credentials token (invalid_scope"),
        "{out}"
    );

    let (code, out, err) = idp_test(&keycloak_client(&url, "mailplane", "mailcow-no-service", "    periodic_sync: true\n"), SECRET);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("error: users ") && err.contains("mailcow's user import and sync need one: enable service accounts for the client"), "{err}");
}
