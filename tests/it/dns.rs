//! `mailplane dns` against a real authoritative DNS server (nsd, no mocks):
//! - the fixture zone that `scripts/services.sh start` serves on MAILPLANE_TEST_DNS, with a
//!   supplied DKIM key (tests/fixtures/dns/dkim.pem), so every format is a stable snapshot;
//! - an nsd of the test's own (`scripts/services.sh dns-start`) for zones it writes with the key
//!   apply generated: missing and mismatched records give exit 2; then zones built from
//!   `--format bind` itself check out with exit 0.
//!
//! Without nsd or MAILPLANE_TEST_DNS a test skips with a message, and fails under CI=true.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(why: &str) {
    assert!(!ci(), "CI=true but {why}: run the tests through scripts/test.sh");
    eprintln!("skipped: {why} (run scripts/test.sh, or `scripts/services.sh start` and eval its env)");
}

fn mailplane(cwd: &Path) -> Command {
    let mut c = Command::cargo_bin("mailplane").unwrap();
    c.current_dir(cwd).env("NO_COLOR", "1").env_remove("MAILPLANE_DATABASE_URL").env_remove("MAILPLANE_REDIS_URL");
    c
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// (name, type) → status, from `--format json`.
fn statuses(json: &Value) -> BTreeMap<(String, String), String> {
    json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ((r["name"].as_str().unwrap().to_string(), r["type"].as_str().unwrap().to_string()), r["status"].as_str().unwrap_or("-").to_string()))
        .collect()
}

fn status<'a>(s: &'a BTreeMap<(String, String), String>, name: &str, t: &str) -> &'a str {
    s.get(&(name.to_string(), t.to_string())).unwrap_or_else(|| panic!("no {name} {t} in {s:?}"))
}

#[test]
fn fixture_zone_in_every_format() {
    let Some(server) = std::env::var("MAILPLANE_TEST_DNS").ok().filter(|v| !v.is_empty()) else {
        return skip("MAILPLANE_TEST_DNS is not set");
    };
    let dir = tempfile::tempdir().unwrap();
    // A `{file:}` secret is read from inside the directory only.
    std::fs::copy("tests/fixtures/dns/dkim.pem", dir.path().join("dkim.pem")).unwrap();
    write(&dir.path().join("mailplane.yaml"), "mailcow_hostname: mail.example.test\n");
    write(&dir.path().join("d.yaml"), "domains:\n  - name: example.test\n    dkim_private_key: {file: dkim.pem}\n");
    for (format, name) in [("table", "dns_table"), ("json", "dns_json"), ("bind", "dns_bind")] {
        let out = mailplane(dir.path()).args(["dns", ".", "--check", "--resolver", &server, "--format", format]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
    let out = mailplane(dir.path()).args(["dns", ".", "--check", "--resolver", &server, "--format", "json"]).output().unwrap();
    let s = statuses(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(status(&s, "dkim._domainkey.example.test", "TXT"), "correct", "a 2048-bit key split into 255-byte strings");
    assert_eq!(status(&s, "autoconfig.example.test", "CNAME"), "missing");
    assert_eq!(status(&s, "_autodiscover._tcp.example.test", "SRV"), "mismatch");
    assert_eq!(status(&s, "example.test", "TXT"), "optional", "a wrong SPF is reported, but SPF is optional");
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 required record(s) missing or wrong"));

    // No hostname: a clear error naming mailplane.yaml.
    write(&dir.path().join("mailplane.yaml"), "{}\n");
    let out = mailplane(dir.path()).args(["dns", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mailcow_hostname") && String::from_utf8_lossy(&out.stderr).contains("mailplane.yaml"));
    mailplane(dir.path()).args(["dns", ".", "--hostname", "mail.example.test", "--domain", "nope.test"]).assert().code(1);
}

/// An nsd of this test's own on a free port; stopped (by its pid) when dropped.
struct Nsd {
    dir: tempfile::TempDir,
    addr: String,
}

impl Nsd {
    fn start(zones: &[(&str, &str)]) -> Nsd {
        let dir = tempfile::tempdir().unwrap();
        let port = loop {
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        };
        let mut args = vec![dir.path().join("nsd").display().to_string(), port.to_string()];
        for (origin, text) in zones {
            let file = dir.path().join(format!("{origin}.zone"));
            write(&file, text);
            args.extend([origin.to_string(), file.display().to_string()]);
        }
        let out = std::process::Command::new("bash").arg("scripts/services.sh").arg("dns-start").args(&args).output().unwrap();
        assert!(out.status.success(), "dns-start: {}", String::from_utf8_lossy(&out.stderr));
        Nsd { dir, addr: format!("127.0.0.1:{port}") }
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash").args(["scripts/services.sh", "dns-stop"]).arg(self.dir.path().join("nsd")).output();
    }
}

fn zone_head(origin: &str) -> String {
    format!(
        "$TTL 300\n{origin}.\tIN\tSOA\tns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n{origin}.\tIN\tNS\tns.{origin}.\nns.{origin}.\tIN\tA\t192.0.2.53\n"
    )
}

fn txt(value: &str) -> String {
    value.as_bytes().chunks(255).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
}

fn public_keys(state: &Path) -> BTreeMap<String, String> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = mailplane::store::db::Db::connect(&format!("sqlite://{}", state.join("mp.db").display()), None).await.unwrap();
        let rows = db.query("SELECT f, v FROM mailplane_kv WHERE k = ?", &[mailplane::store::db::Arg::Text("DKIM_PUB_KEYS".into())]).await.unwrap();
        db.close().await;
        rows.into_iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap())).collect()
    })
}

fn check(dir: &Path, nsd: &Nsd) -> (Option<i32>, Value) {
    let out = mailplane(dir).args(["dns", ".", "--check", "--resolver", &nsd.addr, "--format", "json"]).output().unwrap();
    assert!(out.status.code() != Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn generated_keys_missing_and_mismatched_records_then_all_correct() {
    if !Path::new("/usr/sbin/nsd").exists() {
        return skip("nsd is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let state: PathBuf = dir.path().join("state");
    write(&dir.path().join("mailplane.yaml"), "mailcow_hostname: mail.gen.test\ntarget: sqlite://state/mp.db\n");
    write(
        &dir.path().join("d.yaml"),
        "domains:\n  - name: gen.test\n    dkim_selector: s2026\n    alias_domains:\n      - name: alias.test\n        dkim_selector: a1\n      - name: nokey.test\n",
    );

    // Before apply the target has no key: the DKIM rows say so (no check needed).
    let out = mailplane(dir.path()).args(["dns", ".", "--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!state.join("mp.db").exists(), "dns never creates the target");
    let s = statuses(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(status(&s, "s2026._domainkey.gen.test", "TXT"), "not_generated");
    assert_eq!(status(&s, "a1._domainkey.alias.test", "TXT"), "not_generated");
    assert!(!s.keys().any(|(n, _)| n.ends_with("_domainkey.nokey.test")), "an alias domain without dkim_selector has no key");
    let out = mailplane(dir.path()).args(["dns", ".", "--format", "table"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("not yet generated — run apply"));

    let out = mailplane(dir.path()).args(["apply", ".", "--auto-approve"]).env("MAILPLANE_STATE_DIR", &state).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = public_keys(&state);
    let dkim = |d: &str| format!("v=DKIM1;k=rsa;t=s;s=email;p={}", keys[d]);

    // gen.test: autoconfig left out, the DKIM key of another domain, SPF right.
    let main = format!(
        "{}mail\tIN\tA\t192.0.2.20\n@\tIN\tMX\t10 mail\nautodiscover\tIN\tCNAME\tmail\n_autodiscover._tcp\tIN\tSRV\t0 1 443 mail\n\
         @\tIN\tTXT\t\"v=spf1 mx -all\"\n_dmarc\tIN\tTXT\t\"v=DMARC1; p=none\"\ns2026._domainkey\tIN\tTXT\t{}\n",
        zone_head("gen.test"),
        txt(&dkim("alias.test"))
    );
    let alias = format!("{}@\tIN\tMX\t10 mail.gen.test.\na1._domainkey\tIN\tTXT\t{}\n", zone_head("alias.test"), txt(&dkim("alias.test")));
    let nokey = format!("{}@\tIN\tMX\t20 mail.gen.test.\n", zone_head("nokey.test"));
    let nsd =
        Nsd::start(&[("gen.test", &format!("$ORIGIN gen.test.\n{main}")), ("alias.test", &format!("$ORIGIN alias.test.\n{alias}")), ("nokey.test", &nokey)]);
    let (code, json) = check(dir.path(), &nsd);
    assert_eq!(code, Some(2));
    let s = statuses(&json);
    assert_eq!(status(&s, "mail.gen.test", "A"), "correct");
    assert_eq!(status(&s, "gen.test", "MX"), "correct");
    assert_eq!(status(&s, "autodiscover.gen.test", "CNAME"), "correct");
    assert_eq!(status(&s, "autoconfig.gen.test", "CNAME"), "missing");
    assert_eq!(status(&s, "s2026._domainkey.gen.test", "TXT"), "mismatch");
    assert_eq!(status(&s, "gen.test", "TXT"), "correct", "SPF `mx` covers mail.gen.test's address");
    assert_eq!(status(&s, "_dmarc.gen.test", "TXT"), "correct");
    assert_eq!(status(&s, "_imaps._tcp.gen.test", "SRV"), "optional");
    assert_eq!(status(&s, "a1._domainkey.alias.test", "TXT"), "correct");
    assert_eq!(status(&s, "nokey.test", "MX"), "correct", "the preference does not matter");
    assert_eq!(status(&s, "nokey.test", "TXT"), "optional");
    drop(nsd);

    // Zones made of mailplane's own BIND output (plus SOA, NS and the server's address): every
    // required record is correct.
    let bind = |domain: &str| {
        let out = mailplane(dir.path()).args(["dns", ".", "--format", "bind", "--domain", domain]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let section = |text: String, domain: &str| text.split(&format!("; {domain}\n")).nth(1).unwrap().to_string();
    let main = format!("{}mail.gen.test.\tIN\tA\t192.0.2.20\n{}", zone_head("gen.test"), bind("gen.test"));
    let alias = format!("{}{}", zone_head("alias.test"), section(bind("alias.test"), "alias.test"));
    let nokey = format!("{}{}", zone_head("nokey.test"), section(bind("nokey.test"), "nokey.test"));
    let nsd = Nsd::start(&[("gen.test", &main), ("alias.test", &alias), ("nokey.test", &nokey)]);
    let (code, json) = check(dir.path(), &nsd);
    let failed: Vec<&Value> = json["records"].as_array().unwrap().iter().filter(|r| r["required"] == true && r["status"] != "correct").collect();
    assert_eq!((code, failed), (Some(0), vec![]));
    let s = statuses(&json);
    assert_eq!(status(&s, "s2026._domainkey.gen.test", "TXT"), "correct");
    assert_eq!(status(&s, "gen.test", "TXT"), "correct", "the recommended SPF `v=spf1 mx a -all`");
    assert_eq!(status(&s, "_carddavs._tcp.gen.test", "SRV"), "correct");
    assert_eq!(status(&s, "mail.gen.test", "AAAA"), "optional");
}

/// MTA-STS: the `mta-sts` CNAME and the `_mta-sts` TXT record with the policy's id, for the
/// domain and its alias domains (mailcow's DNS diagnostics); pending before apply, checked
/// against a real nsd after, gone when the policy is inactive.
#[test]
fn mta_sts_records_carry_the_policy_id() {
    if !Path::new("/usr/sbin/nsd").exists() {
        return skip("nsd is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let state: PathBuf = dir.path().join("state");
    write(&dir.path().join("mailplane.yaml"), "mailcow_hostname: mail.sts.test\ntarget: sqlite://state/mp.db\n");
    let declare = |active: bool| {
        let policy = format!("    mta_sts: {{mode: enforce, mx: [mail.sts.test], active: {active}}}\n");
        write(&dir.path().join("d.yaml"), &format!("domains:\n  - name: sts.test\n{policy}    alias_domains:\n      - name: alias-sts.test\n"));
    };
    let records = || {
        let out = mailplane(dir.path()).args(["dns", ".", "--format", "json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r["expected"].as_str().unwrap().to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    declare(true);
    let out = mailplane(dir.path()).args(["dns", ".", "--format", "json"]).output().unwrap();
    let s = statuses(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(status(&s, "_mta-sts.sts.test", "TXT"), "not_generated", "before apply the policy has no id");

    let apply = || {
        let out = mailplane(dir.path()).args(["apply", ".", "--auto-approve"]).env("MAILPLANE_STATE_DIR", &state).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    apply();
    let r = records();
    let txt_value = &r["_mta-sts.sts.test"];
    assert!(txt_value.starts_with("v=STSv1;id=20") && txt_value.ends_with(';') && txt_value.len() == "v=STSv1;id=;".len() + 14, "{txt_value}");
    assert_eq!(&r["_mta-sts.alias-sts.test"], txt_value, "an alias domain publishes its target's policy");
    assert_eq!(r["mta-sts.alias-sts.test"], "mail.sts.test");

    let bind = |domain: &str| {
        let out = mailplane(dir.path()).args(["dns", ".", "--format", "bind", "--domain", domain]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let section = |text: String, domain: &str| text.split(&format!("; {domain}\n")).nth(1).unwrap().to_string();
    let main = format!("{}mail.sts.test.\tIN\tA\t192.0.2.20\n{}", zone_head("sts.test"), bind("sts.test"));
    let alias = format!("{}{}", zone_head("alias-sts.test"), section(bind("alias-sts.test"), "alias-sts.test"));
    let nsd = Nsd::start(&[("sts.test", &main), ("alias-sts.test", &alias)]);
    let (code, json) = check(dir.path(), &nsd);
    let s = statuses(&json);
    assert_eq!(status(&s, "_mta-sts.sts.test", "TXT"), "correct");
    assert_eq!(status(&s, "mta-sts.alias-sts.test", "CNAME"), "correct");
    assert_eq!(code, Some(0), "{json:#}");
    drop(nsd);

    declare(false);
    apply();
    assert!(!records().keys().any(|n| n.contains("mta-sts")), "an inactive policy is not published");
}
