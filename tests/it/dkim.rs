//! DKIM keys: generated on domain create in mailcow's Redis format, usable for signing (checked
//! with openssl), never rotated by a re-apply, rotated when the selector changes, and a supplied
//! key is stored as given. Runs on the embedded target, whose Redis hashes live in mailplane_kv.

use std::path::Path;
use std::process::Command as Proc;

use assert_cmd::Command;

fn apply(dir: &Path, state: &Path) {
    let out = Command::cargo_bin("mailplane")
        .unwrap()
        .arg("apply")
        .arg(dir)
        .args(["--auto-approve", "--target", &format!("sqlite://{}/mp.db", state.display())])
        .env("MAILPLANE_STATE_DIR", state)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn hash(state: &Path, key: &str) -> std::collections::BTreeMap<String, String> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::store::db::Db::connect(&format!("sqlite://{}/mp.db", state.display()), None).await.unwrap();
        let rows = db.query("SELECT f, v FROM mailplane_kv WHERE k = ?", &[mailplane::store::db::Arg::Text(key.into())]).await.unwrap();
        db.close().await;
        rows.into_iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap())).collect()
    })
}

fn write_domain(dir: &Path, extra: &str) {
    std::fs::write(dir.join("d.yaml"), format!("domains:\n  - name: example.org\n{extra}")).unwrap();
}

#[test]
fn generated_keys_sign_and_verify_and_are_not_rotated_by_reapply() {
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_domain(dir.path(), "");
    apply(dir.path(), state.path());
    let (selectors, public, private) = (hash(state.path(), "DKIM_SELECTORS"), hash(state.path(), "DKIM_PUB_KEYS"), hash(state.path(), "DKIM_PRIV_KEYS"));
    assert_eq!(selectors["example.org"], "dkim");
    let pem = &private["dkim.example.org"];
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n") && pem.ends_with("-----END PRIVATE KEY-----"));
    assert!(!public["example.org"].contains('\n') && public["example.org"].len() == 392, "2048-bit SPKI, base64 without PEM lines");

    // The private key signs; the published public key verifies.
    let work = tempfile::tempdir().unwrap();
    let p = |n: &str| work.path().join(n);
    std::fs::write(p("key.pem"), pem).unwrap();
    let body: String = public["example.org"].as_bytes().chunks(64).map(|c| format!("{}\n", String::from_utf8_lossy(c))).collect();
    std::fs::write(p("pub.pem"), format!("-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n")).unwrap();
    std::fs::write(p("msg"), "From: a@example.org\r\n\r\nhello\r\n").unwrap();
    let ok = |args: &[&str]| assert!(Proc::new("openssl").current_dir(work.path()).args(args).status().unwrap().success(), "openssl {args:?}");
    ok(&["dgst", "-sha256", "-sign", "key.pem", "-out", "sig", "msg"]);
    ok(&["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "msg"]);

    apply(dir.path(), state.path());
    assert_eq!(hash(state.path(), "DKIM_PRIV_KEYS"), private, "a re-apply never replaces a key");

    // A new selector is a rotation: a new key under it, the old private key removed.
    write_domain(dir.path(), "    dkim_selector: dkim2027\n");
    apply(dir.path(), state.path());
    let rotated = hash(state.path(), "DKIM_PRIV_KEYS");
    assert_eq!(rotated.keys().collect::<Vec<_>>(), vec!["dkim2027.example.org"]);
    assert_ne!(hash(state.path(), "DKIM_PUB_KEYS")["example.org"], public["example.org"]);
}

#[test]
fn a_supplied_key_is_stored_as_given() {
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = dir.path().join("dkim.pem");
    assert!(Proc::new("openssl").args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"]).arg(&key).status().unwrap().success());
    write_domain(dir.path(), "    dkim_private_key: {file: dkim.pem}\n");
    apply(dir.path(), state.path());
    assert_eq!(hash(state.path(), "DKIM_PRIV_KEYS")["dkim.example.org"], std::fs::read_to_string(&key).unwrap().trim());
    apply(dir.path(), state.path());
}

/// mailcow imports PKCS#1 keys (`BEGIN RSA PRIVATE KEY`) too; the key's own size is what the
/// server then shows, so a 3072-bit key under the default `dkim_key_size` plans no change.
#[test]
fn a_supplied_pkcs1_key_is_stored_as_given_and_converges() {
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = dir.path().join("dkim.pem");
    assert!(Proc::new("openssl").args(["genrsa", "-traditional", "-out"]).arg(&key).arg("3072").status().unwrap().success());
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{pem}");
    write_domain(dir.path(), "    dkim_private_key: {file: dkim.pem}\n");
    apply(dir.path(), state.path());
    assert_eq!(hash(state.path(), "DKIM_PRIV_KEYS")["dkim.example.org"], pem.trim());
    let plan = Command::cargo_bin("mailplane")
        .unwrap()
        .arg("plan")
        .arg(dir.path())
        .args(["--detailed-exitcode", "--target", &format!("sqlite://{}/mp.db", state.path().display())])
        .env("MAILPLANE_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
}
