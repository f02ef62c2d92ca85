//! Postfix sees what mailplane writes: examples/quickstart is applied to a mailcow MariaDB, then
//! every lookup goes through mailcow's own map files (tests/fixtures/mailcow-schema/postfix-sql)
//! with the real `postmap -q`. A lookup passes only with the expected stdout and an empty stderr
//! (postmap exits 1 both for "not found" and for errors). Also: every stored hash verifies with
//! the real `doveadm pw -t`.

use crate::support;

use std::path::Path;
use std::process::Command as Proc;

use assert_cmd::Command;
use mailplane::store::db::Db;

/// (map file, key, expected result; None = not found)
const LOOKUPS: &[(&str, &str, Option<&str>)] = &[
    ("mysql_virtual_domains_maps.cf", "example.org", Some("example.org")),
    ("mysql_virtual_domains_maps.cf", "example.com", Some("example.com")),
    ("mysql_virtual_domains_maps.cf", "partner-backup.example", None),
    ("mysql_virtual_domains_maps.cf", "unknown.example", None),
    ("mysql_virtual_mailbox_maps.cf", "alice@example.org", Some("maildir:/var/vmail/example.org/alice/")),
    ("mysql_virtual_mailbox_maps.cf", "bob@example.org", Some("maildir:/var/vmail/example.org/bob/")),
    ("mysql_virtual_mailbox_maps.cf", "nobody@example.org", None),
    ("mysql_virtual_alias_maps.cf", "info@example.org", Some("alice@example.org,bob@example.org")),
    ("mysql_virtual_alias_maps.cf", "alice@example.org", Some("alice@example.org")),
    ("mysql_virtual_alias_maps.cf", "@example.net", Some("carol@example.net")),
    ("mysql_virtual_alias_maps.cf", "spam-trap@example.org", Some("spam@localhost")),
    ("mysql_virtual_alias_domain_maps.cf", "alice@example.com", Some("alice@example.org")),
    ("mysql_virtual_alias_domain_maps.cf", "nobody@example.com", None),
    ("mysql_virtual_relay_domain_maps.cf", "partner-backup.example", Some("partner-backup.example")),
    ("mysql_virtual_relay_domain_maps.cf", "example.org", None),
    ("mysql_relay_recipient_maps.cf", "anyone@partner-backup.example", Some("anyone@partner-backup.example")),
    ("mysql_transport_maps.cf", "partner.example", Some("smtp_via_transport_maps:[mx.partner.example]:25")),
    ("mysql_transport_maps.cf", "example.org", None),
    ("mysql_sender_dependent_default_transport_maps.cf", "alice@example.org", Some("smtp:[smtp.relay.example]:587")),
    ("mysql_sender_dependent_default_transport_maps.cf", "carol@example.net", Some("smtp:")),
    ("mysql_sasl_passwd_maps_sender_dependent.cf", "alice@example.org", Some("relayuser:relay\\:pass")),
    ("mysql_sasl_passwd_maps_sender_dependent.cf", "carol@example.net", None),
    ("mysql_tls_policy_override_maps.cf", "gmail.com", Some("secure match=.google.com")),
    ("mysql_tls_policy_override_maps.cf", "example.org", None),
    ("mysql_recipient_canonical_maps.cf", "old@example.org", Some("alice@example.org")),
    ("mysql_recipient_canonical_maps.cf", "alice@example.org", None),
    ("mysql_virtual_sender_acl.cf", "alice@example.org", Some("alice@example.org")),
    ("mysql_virtual_sender_acl.cf", "info@example.org", Some("alice@example.org")),
    ("mysql_virtual_sender_acl.cf", "stranger@example.org", None),
    ("mysql_virtual_resource_maps.cf", "alice@example.org", None),
];

fn map_file(dir: &Path, name: &str, db: &str, host: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("tests/fixtures/mailcow-schema/postfix-sql/{name}")).unwrap();
    let text = text.replace("hosts = __HOST__", &format!("hosts = {host}")).replace("dbname = mailcow", &format!("dbname = {db}"));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    // Postfix waits (1.5 s) for a table file modified in the last second to settle: backdate it.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(past).unwrap();
    path
}

#[test]
fn postfix_resolves_every_lookup_through_mailcows_maps() {
    let Some(services) = support::services() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, name) = rt.block_on(services.fresh_mailcow_db("postfix"));
    let state = tempfile::tempdir().unwrap();
    let redis = services.redis_db(3);
    services.flush_redis_db(3);
    let out = Command::cargo_bin("mailplane")
        .unwrap()
        .args(["apply", "examples/quickstart", "--auto-approve", "--target", &url, "--redis", &redis, "--memcached", &services.memcached])
        .env("MAILPLANE_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    // One postmap per map file, keys on stdin (`-q -`): each found key comes back as `key<TAB>value`.
    let maps = tempfile::tempdir().unwrap();
    let mut files: Vec<&str> = LOOKUPS.iter().map(|(f, _, _)| *f).collect();
    files.dedup();
    let mut failures = Vec::new();
    for file in files {
        let host = services.mysql.rsplit('@').next().unwrap().trim_end_matches('/');
        let path = map_file(maps.path(), file, &name, host);
        let keys: String = LOOKUPS.iter().filter(|(f, _, _)| *f == file).map(|(_, k, _)| format!("{k}\n")).collect();
        let mut child = Proc::new("postmap")
            .args(["-c", &services.postfix_config, "-q", "-"])
            .arg(format!("mysql:{}", path.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("postmap (postfix) is installed");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), keys.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.is_empty() {
            failures.push(format!("{file}: stderr {stderr:?}"));
        }
        let found: std::collections::HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('\t')).collect();
        for (_, key, want) in LOOKUPS.iter().filter(|(f, _, _)| *f == file) {
            let got = found.get(key).copied();
            if got != *want {
                failures.push(format!("{file} {key}: want {want:?}, got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "postmap lookups:\n{}", failures.join("\n"));

    rt.block_on(async {
        let db = Db::connect(&url, None).await.unwrap();
        let rows = db.query("SELECT username, password FROM mailbox", &[]).await.unwrap();
        assert_eq!(rows.len(), 3);
        for r in rows {
            let hash = r[1].as_deref().unwrap();
            let out = Proc::new("doveadm").args(["pw", "-t", hash, "-p", "secret"]).output().unwrap();
            assert!(out.status.success(), "doveadm rejects the hash of {:?}: {}", r[0], String::from_utf8_lossy(&out.stderr));
        }
        db.close().await;
        services.drop_db(&name).await;
    });
}
