//! Service configuration files against the real checkers (postconf, postmap, doveconf, sievec,
//! rspamadm) — on this host (standalone mode) and inside containers labelled like mailcow's
//! compose services (docker mode, a real Docker engine; the image is made locally from an empty
//! root with the host's /usr bind-mounted, so no registry is needed).
//!
//! Every service start, reload and auth-cache flush is appended to one event log, as is each
//! restart command in standalone mode, so a test sees exactly what apply did.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CHECKERS: [&str; 5] = ["postconf", "postmap", "doveconf", "sievec", "rspamadm"];

struct Setup {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    conf: PathBuf,
    events: PathBuf,
    seen: usize,
}

impl Setup {
    /// A services root like mailcow's data/conf, and a desired-state directory whose settings
    /// end with `settings`.
    fn new(settings: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("conf");
        for d in ["postfix", "dovecot", "rspamd/local.d", "rspamd/override.d", "rspamd/custom"] {
            std::fs::create_dir_all(conf.join(d)).unwrap();
        }
        std::fs::write(conf.join("postfix/main.cf"), "compatibility_level = 3.6\nmaillog_file = /dev/stdout\n# Overrides #\n\n# User Overrides\n").unwrap();
        std::fs::write(conf.join("postfix/master.cf"), std::fs::read_to_string("/etc/postfix/master.cf").unwrap_or_default()).unwrap();
        std::fs::write(conf.join("dovecot/dovecot.conf"), "protocols = none\nssl = no\n!include_try /etc/dovecot/extra.conf\n").unwrap();
        let events = tmp.path().join("log/events");
        std::fs::create_dir_all(events.parent().unwrap()).unwrap();
        std::fs::write(&events, "").unwrap();
        let dir = tmp.path().join("mail");
        std::fs::create_dir_all(dir.join("sieve")).unwrap();
        let state = tmp.path().join("state.db");
        std::fs::write(dir.join("mailplane.yaml"), format!("target: sqlite://{}\nservices_root: {}\n{settings}", state.display(), conf.display())).unwrap();
        Setup { tmp, dir, conf, events, seen: 0 }
    }

    fn declare(&self, yaml: &str) {
        std::fs::write(self.dir.join("services.yaml"), yaml).unwrap();
    }

    fn mailplane(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mailplane"))
            .args(args)
            .arg(&self.dir)
            .env("NO_COLOR", "1")
            .env("MAILPLANE_STATE_DIR", self.tmp.path().join("state"))
            .env_remove("MAILPLANE_DATABASE_URL")
            .env_remove("MAILPLANE_REDIS_URL")
            .env_remove("MAILPLANE_MEMCACHED")
            .output()
            .unwrap()
    }

    /// Applies and expects `code`; returns stdout + stderr.
    fn apply(&self, extra: &[&str], code: i32) -> String {
        let mut args = vec!["apply", "--auto-approve"];
        args.extend_from_slice(extra);
        let out = self.mailplane(&args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "apply exited {:?}:\n{text}", out.status.code());
        text
    }

    /// The events logged since the last call, sorted. A restarted container logs its start a
    /// moment after Docker reports it running, hence the pause.
    fn events(&mut self) -> Vec<String> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let all: Vec<String> = std::fs::read_to_string(&self.events).unwrap().lines().map(str::to_string).collect();
        let mut new = all[self.seen..].to_vec();
        self.seen = all.len();
        new.sort();
        new
    }

    /// Every file under the services root with its bytes.
    fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.conf, &mut out);
        out
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.conf.join(rel)).unwrap()
    }
}

const VALID: &str = r#"services:
  postfix:
    main_cf:
      message_size_limit: 52428800
      smtpd_helo_required: true
    files:
      custom_transport.pcre: "/^user@example\\.org$/ smtp:[relay.example]:25\n"
  dovecot:
    extra_conf: "auth_cache_size = 1M\n"
    sieve_before: {file: sieve/before.sieve}
  rspamd:
    local_d:
      actions.conf: "reject = 20;\n"
    maps:
      global_rcpt_blacklist.map: "/.*@spam\\.example$/\n"
"#;

const SIEVE: &str = "require \"fileinto\";\nif header :contains \"subject\" \"[SPAM]\" { fileinto \"Junk\"; }\n";

/// The checks and follow-ups both modes share: a valid change, each kind of refused change,
/// per-file follow-ups, and a hand edit undone.
fn exercise(s: &mut Setup) {
    std::fs::write(s.dir.join("sieve/before.sieve"), SIEVE).unwrap();
    s.declare(VALID);

    // A valid change: written, each service restarted once (the restart covers postfix's reload).
    let out = s.apply(&[], 0);
    assert!(out.contains("+ file postfix/extra.cf"), "{out}");
    assert_eq!(s.read("postfix/extra.cf"), format!("# {}\nmessage_size_limit = 52428800\nsmtpd_helo_required = yes\n", mailplane::servicefiles::HEADER_NOTE));
    assert_eq!(s.read("dovecot/global_sieve_before"), SIEVE);
    assert_eq!(s.read("rspamd/custom/global_rcpt_blacklist.map"), "/.*@spam\\.example$/\n");
    assert_eq!(s.events(), ["start dovecot", "start postfix", "start rspamd"]);
    let plan = s.mailplane(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    // Per file type: a table only reloads postfix, a map needs nothing.
    s.declare(&VALID.replace("relay.example]:25", "relay.example]:587").replace("spam\\\\.example", "junk\\\\.example"));
    s.apply(&[], 0);
    assert_eq!(s.events(), ["postfix reload"]);
    s.declare(VALID);
    s.apply(&[], 0);
    s.events();

    // Refused changes: nothing written, nothing restarted, the checker's words shown.
    let refused = [
        (VALID.replace("smtpd_helo_required: true", "smtpd_helo_required: true\n      no_such_parameter: 1"), "unused parameter: no_such_parameter=1"),
        (VALID.replace("auth_cache_size = 1M", "no_such_setting = 1"), "Unknown setting: no_such_setting"),
        (VALID.replace("reject = 20;", "reject = 20\\n}}"), "ucl parser error"),
        (VALID.replace("/^user@", "/(^user@"), "warning: pcre map postfix/custom_transport.pcre, line 1"),
    ];
    let before = s.files();
    for (yaml, says) in &refused {
        s.declare(yaml);
        let out = s.apply(&[], 1);
        assert!(out.contains(says) && out.contains("no file was written"), "expected `{says}` in:\n{out}");
        assert!(s.files() == before, "a refused apply changed files:\n{out}");
        assert_eq!(s.events(), Vec::<String>::new());
    }
    s.declare(VALID);
    std::fs::write(s.dir.join("sieve/before.sieve"), "require \"fileinto\";\nfileinto \"Junk\"\n").unwrap();
    let out = s.apply(&[], 1);
    assert!(out.contains("sievec") && out.contains("dovecot/global_sieve_before (declared at mail/services.yaml:10:19)"), "{out}");
    assert!(s.files() == before);
    std::fs::write(s.dir.join("sieve/before.sieve"), SIEVE).unwrap();

    // Drift: a hand edit shows as a diff and apply puts the declared text back.
    std::fs::write(s.conf.join("postfix/extra.cf"), s.read("postfix/extra.cf") + "smtpd_banner = hand edit\n").unwrap();
    let plan = s.mailplane(&["plan", "--detailed-exitcode"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "{text}");
    assert!(
        text.contains("~ file postfix/extra.cf  (then: restart postfix)") && text.contains("@@ -1,4 +1,3 @@") && text.contains("-smtpd_banner = hand edit"),
        "{text}"
    );
    s.apply(&[], 0);
    assert_eq!(s.files().get(&s.conf.join("postfix/extra.cf")), before.get(&s.conf.join("postfix/extra.cf")));
    assert_eq!(s.read("postfix/extra.cf.mailplane-bak").lines().last(), Some("smtpd_banner = hand edit"));
    assert_eq!(s.events(), ["start postfix"]);
}

#[test]
fn standalone_checks_with_local_tools_and_runs_the_configured_commands() {
    if !support::tools(&CHECKERS, false) {
        return;
    }
    let log = "LOG";
    let settings = format!(
        "services_mode: standalone\nservice_commands:\n  postfix_restart: echo 'start postfix' >> {log}\n  postfix_reload: echo 'postfix reload' >> {log}\n  dovecot_restart: echo 'start dovecot' >> {log}\n  rspamd_restart: echo 'start rspamd' >> {log}\n"
    );
    let mut s = Setup::new(&settings);
    let with_log = std::fs::read_to_string(s.dir.join("mailplane.yaml")).unwrap().replace("LOG", &s.events.display().to_string());
    std::fs::write(s.dir.join("mailplane.yaml"), with_log).unwrap();
    exercise(&mut s);
    rspamd_ui_password(&mut s);
}

/// Whether the real rspamadm says `hash` is `password`'s (it reads the password only from a
/// terminal, and discards what was typed before it asks: hence `script` and the pause).
fn rspamadm_accepts(hash: &str, password: &str) -> bool {
    let check = r#"(sleep 1; printf '%s\n' "$PASSWORD") | script -qec 'rspamadm pw -c -p "$HASH"' /dev/null"#;
    let out = Command::new("sh").args(["-c", check]).env("HASH", hash).env("PASSWORD", password).output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains("password correct")
}

/// The Rspamd UI password: hashed by the real `rspamadm pw -e` (where rspamd runs), written as
/// mailcow writes it, rspamd restarted; the hash and the password never shown; the next plan
/// empty (the cache remembers the hash it made); a new password, a hash mailplane did not make
/// and a declared `$2$` hash each change it once.
fn rspamd_ui_password(s: &mut Setup) {
    const FILE: &str = "rspamd/override.d/worker-controller-password.inc";
    std::fs::write(s.dir.join("rspamd-ui.secret"), "correct horse battery\n").unwrap();
    let declared = format!("{VALID}    ui_password: {{file: rspamd-ui.secret}}\n");
    s.declare(&declared);
    let plan = s.mailplane(&["plan"]);
    let text = String::from_utf8_lossy(&plan.stdout).to_string();
    assert!(text.contains(&format!("+ file {FILE}  (then: restart rspamd)")) && text.contains("holds a secret, changes (not shown)"), "{text}");
    let out = s.apply(&[], 0);
    assert_eq!(s.events(), ["start rspamd"]);
    let written = s.read(FILE);
    let hash = written.strip_prefix("enable_password = \"").and_then(|r| r.strip_suffix("\";\n")).unwrap_or_else(|| panic!("{written}"));
    assert!(hash.starts_with("$2$"), "{written}");
    if support::tools(&["script"], false) {
        assert!(rspamadm_accepts(hash, "correct horse battery") && !rspamadm_accepts(hash, "wrong horse"), "rspamadm refuses {hash}");
    }
    let history = s.mailplane(&["history"]);
    for shown in [text, out, String::from_utf8_lossy(&history.stdout).to_string()] {
        assert!(!shown.contains("$2$") && !shown.contains("correct horse"), "{shown}");
    }
    let plan = s.mailplane(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    std::fs::write(s.dir.join("rspamd-ui.secret"), "staple\n").unwrap();
    s.apply(&[], 0);
    assert_eq!(s.events(), ["start rspamd"]);
    assert!(s.read(FILE) != written);
    // mailcow's form (or a hand edit) set another one: the declared password is written again.
    let other = Command::new("rspamadm").args(["pw", "-e", "-p", "from the form"]).output().unwrap();
    let other = String::from_utf8_lossy(&other.stdout).trim().to_string();
    std::fs::write(s.conf.join(FILE), format!("enable_password = \"{other}\";\n")).unwrap();
    let plan = s.mailplane(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2));
    s.declare(&format!("{VALID}    ui_password: '{other}'\n"));
    let plan = s.mailplane(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "the declared hash is the one on disk: {}", String::from_utf8_lossy(&plan.stdout));
    std::fs::write(s.dir.join("rspamd-ui.secret"), "short\n").unwrap();
    s.declare(&declared);
    let plan = s.mailplane(&["plan"]);
    assert!(String::from_utf8_lossy(&plan.stderr).contains("the Rspamd UI password: it is shorter than the 6 characters"));
    s.declare(&format!("{VALID}    ui_password: 'swordfish'\n"));
    let out = s.mailplane(&["validate"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the Rspamd UI password is written in clear text"));
    s.declare(VALID);
}

/// Containers labelled like mailcow's, and the image they run; removed (by label) on drop.
struct Containers {
    run: String,
    image: String,
}

const FAKES: [(&str, &str); 2] = [
    // The container's `postfix` and `doveadm` only record what they were asked; the checkers are real.
    ("postfix", "#!/bin/sh\necho \"postfix $*\" >> /log/events\n"),
    ("doveadm", "#!/bin/sh\necho \"doveadm $*\" >> /log/events\n"),
];

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Containers {
    fn new() -> Containers {
        let run = format!("mailplanetest{}", std::process::id());
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in ["usr", "tmp", "proc", "sys", "dev", "etc", "log", "opt/fake/bin"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        for link in ["bin", "lib", "lib64", "sbin"] {
            std::os::unix::fs::symlink(format!("usr/{link}"), r.join(link)).unwrap();
        }
        for (name, script) in FAKES {
            let p = r.join("opt/fake/bin").join(name);
            std::fs::write(&p, script).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let image = format!("{run}:base");
        let tar = Command::new("tar").arg("-C").arg(r).args(["-cf", "-", "."]).output().unwrap().stdout;
        let mut import = Command::new("docker")
            .args(["import", "--change", &format!("LABEL mailplanetest={run}"), "--change", "ENV PATH=/opt/fake/bin:/usr/sbin:/usr/bin", "-", &image])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut import.stdin.take().unwrap(), &tar).unwrap();
        assert!(import.wait().unwrap().success(), "docker import failed");
        Containers { run, image }
    }

    /// Starts `<service>-mailcow` of `project`; it logs `start <service>` at every start.
    fn start(&self, project: &str, service: &str, log_dir: &Path) {
        self.start_with(project, service, log_dir, &[]);
    }

    /// `start`, with `NAME=value` in the container's environment.
    fn start_with(&self, project: &str, service: &str, log_dir: &Path, env: &[&str]) {
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--label".into(), format!("mailplanetest={}", self.run)];
        for e in env {
            args.extend(["-e".into(), e.to_string()]);
        }
        args.extend(["--label".into(), format!("com.docker.compose.project={project}")]);
        args.extend(["--label".into(), format!("com.docker.compose.service={service}-mailcow")]);
        for m in ["/usr", "/etc/postfix", "/etc/dovecot", "/etc/rspamd", "/etc/passwd", "/etc/group", "/etc/ld.so.cache"] {
            args.extend(["-v".into(), format!("{m}:{m}:ro")]);
        }
        args.extend(["-v".into(), format!("{}:/log", log_dir.display()), self.image.clone()]);
        let script = format!("trap 'exit 0' TERM; echo 'start {service}' >> /log/events; while :; do sleep 1 & wait $!; done");
        args.extend(["sh".into(), "-c".into(), script]);
        docker(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        let ids = docker(&["ps", "-aq", "--filter", &format!("label=mailplanetest={}", self.run)]);
        for id in ids.lines() {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        let _ = Command::new("docker").args(["rmi", "-f", &self.image]).output();
    }
}

/// `fail2ban: {regex: mailcow-defaults}` is the list in the running netfilter's code, not the one
/// mailplane was built with: equal to it, no change; mailplane's own list is a reset.
fn netfilter_rules_are_read_from_its_container(s: &mut Setup, containers: &Containers, project: &str) {
    containers.start(project, "netfilter", s.events.parent().unwrap());
    assert_eq!(wait_for(s, 1), ["start netfilter"]);
    let id = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        "label=com.docker.compose.service=netfilter-mailcow",
    ]);
    let main_py = s.tmp.path().join("main.py");
    std::fs::write(&main_py, "def refreshF2bregex():\n  if not r.get('F2B_REGEX'):\n    f2bregex = {}\n    f2bregex[1] = r'newer rule by ([0-9a-f\\.:]+)'\n    f2bregex[2] = r'SOGo.+ Login from \\'([0-9a-f\\.:]+)\\' for user'\n").unwrap();
    docker(&["exec", &id, "mkdir", "-p", "/app"]);
    docker(&["cp", main_py.to_str().unwrap(), &format!("{id}:/app/main.py")]);
    let set = |rules: &[&str]| {
        let json = serde_json::to_string(
            &rules.iter().enumerate().map(|(i, r)| ((i + 1).to_string(), serde_json::Value::from(*r))).collect::<serde_json::Map<_, _>>(),
        )
        .unwrap();
        let url = format!("sqlite://{}", s.tmp.path().join("state.db").display());
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            use mailplane::store::db::{Arg, Db, Stmt};
            let db = Db::connect(&url, None).await.unwrap();
            let sql = "INSERT OR REPLACE INTO mailplane_kv (k, f, v) VALUES ('F2B_REGEX', '', ?)".to_string();
            db.execute_all(&[Stmt { sql, args: vec![Arg::Text(json)] }]).await.unwrap();
            db.close().await;
        });
    };
    set(&[r"newer rule by ([0-9a-f\.:]+)", r"SOGo.+ Login from \'([0-9a-f\.:]+)\' for user"]);
    std::fs::write(s.dir.join("fail2ban.yaml"), "fail2ban: {regex: mailcow-defaults}\n").unwrap();
    let plan = s.mailplane(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&plan.stdout), String::from_utf8_lossy(&plan.stderr));
    set(&mailplane::kinds::fail2ban::MAILCOW_RULES);
    let plan = s.mailplane(&["plan", "--detailed-exitcode"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.code() == Some(2) && text.contains("regex") && text.contains("+ \"newer rule by"), "{text}");
    std::fs::remove_file(s.dir.join("fail2ban.yaml")).unwrap();
}

/// Without `mailcow_dir`, the settings php-fpm-mailcow was started with stand for mailcow.conf:
/// an API key it sets, and its moved network in a Fail2ban deny list, block the plan.
fn mailcow_conf_is_read_from_php_fpm(s: &mut Setup, containers: &Containers, project: &str) {
    std::fs::write(s.dir.join("k.secret"), "KEY-FROM-MAILPLANE\n").unwrap();
    std::fs::write(s.dir.join("api.yaml"), "api_keys: [{access: rw, key: {file: k.secret}, allow_from: [127.0.0.1]}]\nfail2ban: {deny: [10.66.1.7]}\n")
        .unwrap();
    let plan = s.mailplane(&["plan"]);
    assert!(plan.status.success(), "no php-fpm yet: nothing to fight: {}", String::from_utf8_lossy(&plan.stderr));
    let env = ["API_KEY=SECRET-FROM-CONF", "API_KEY_READ_ONLY=invalid", "API_ALLOW_FROM=172.22.1.1,127.0.0.1", "IPV4_NETWORK=10.66.1"];
    containers.start_with(project, "php-fpm", s.events.parent().unwrap(), &env);
    assert_eq!(wait_for(s, 1), ["start php-fpm"]);
    let plan = s.mailplane(&["plan"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(!plan.status.success() && text.contains("the `rw` API key is set in mailcow.conf") && !text.contains("SECRET-FROM-CONF"), "{text}");
    assert!(text.contains("`10.66.1.7` overlaps mailcow's own network 10.66.1.0/24"), "{text}");
    std::fs::remove_file(s.dir.join("api.yaml")).unwrap();
}

fn wait_for(s: &mut Setup, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..100 {
        got.extend(s.events());
        if got.len() >= n {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    got.sort();
    got
}

#[test]
fn docker_mode_finds_mailcows_containers_by_label_checks_inside_and_restarts() {
    if !support::tools(&CHECKERS, true) {
        return;
    }
    let project = format!("mailplanetest{}x", std::process::id());
    let mut s = Setup::new(&format!("services_mode: docker\ncompose_project: {}\n", project.to_uppercase()));
    let containers = Containers::new();
    for service in ["postfix", "dovecot", "rspamd", "sogo"] {
        containers.start(&project, service, s.events.parent().unwrap());
    }
    // Same service label, other project: must never be touched.
    let decoy_log = s.tmp.path().join("decoy");
    std::fs::create_dir_all(&decoy_log).unwrap();
    containers.start("someotherproject", "postfix", &decoy_log);
    assert_eq!(wait_for(&mut s, 4), ["start dovecot", "start postfix", "start rspamd", "start sogo"]);

    // The Docker layer itself: lookup, exec output and exit code, restart and wait.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use mailplane::store::docker::{DockerError, Mailcow};
        let m = Mailcow::connect(&project).await.unwrap();
        let out = m.exec("postfix", &["sh", "-c", "echo out; echo err >&2; exit 3"]).await.unwrap();
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (3, "out\n", "err\n"));
        assert!(matches!(m.container("nginx").await, Err(DockerError::NotFound { .. })));
        m.restart("rspamd", std::time::Duration::from_secs(30)).await.unwrap();
    });
    assert_eq!(s.events(), ["start rspamd"]);

    exercise(&mut s);
    netfilter_rules_are_read_from_its_container(&mut s, &containers, &project);
    rspamd_ui_password(&mut s);
    mailcow_conf_is_read_from_php_fpm(&mut s, &containers, &project);

    // Database side effects: a new mailbox flushes dovecot's auth cache; a new domain with
    // --restart-sogo restarts SOGo.
    s.declare(&format!(
        "{VALID}domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n        password: \"{{BLF-CRYPT}}$2y$05$.oAVYApCgu2zcqetkRFd1u9r2gWVBATqFv5eGZJgPp3iqrVlMuysa\"\n"
    ));
    s.apply(&["--restart-sogo"], 0);
    assert_eq!(s.events(), ["doveadm auth cache flush", "start sogo"]);
    assert_eq!(std::fs::read_to_string(decoy_log.join("events")).unwrap(), "start postfix\n", "the other project's container was touched");
    drop(containers);
    assert_eq!(docker(&["ps", "-aq", "--filter", &format!("label=com.docker.compose.project={project}")]), "");
}
