//! The desired-state directory is untrusted: it arrives by pull request, and CI posts the plan
//! publicly with the server's secrets in the environment. A corpus of hostile directories
//! (generated here: path escapes through `{file:}` and symlinks, special files, bad encodings,
//! control characters, secrets next to other errors, out-of-range numbers, size bombs, broken
//! YAML) is run through `validate`, `plan` (human, markdown) and `apply`, and every run must:
//! exit as expected (never 101, never hang), say where the problem is, print nothing of the
//! files outside the directory, the environment or the secrets, stay within bounded time and
//! memory, and leave the target unchanged when the input is refused.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILE_CANARY: &str = "CANARY-FILE-d41d8cd98f00";
const ENV_CANARY: &str = "CANARY-ENV-0cc175b9c0f1";
const SECRET_CANARY: &str = "S3CR3T-CANARY-92eb5ffee6";
/// Content of /etc/passwd that must never be printed.
const PASSWD: &str = "root:x:0:0";
const TIME_LIMIT: Duration = Duration::from_secs(30);
const RSS_LIMIT_KB: i64 = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// validate, plan and apply refuse it (exit 1) with a located message; nothing written.
    Refused,
    /// Whatever it means (it may be valid): no panic, bounded, no leak; plan writes nothing.
    NoHarm,
}

enum Entry {
    File(String, Vec<u8>),
    Link(String, String),
    Fifo(String),
    Dir(String),
}

struct Case {
    name: String,
    entries: Vec<Entry>,
    expect: Expect,
}

fn case(name: impl Into<String>, expect: Expect, entries: Vec<Entry>) -> Case {
    Case { name: name.into(), entries, expect }
}

fn file(path: &str, text: impl Into<String>) -> Entry {
    Entry::File(path.into(), text.into().into_bytes())
}

fn link(path: &str, target: &str) -> Entry {
    Entry::Link(path.into(), target.into())
}

/// A small valid domain that most cases add their hostile part to.
const BASE: &str = "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: alice\n        password: \"{BLF-CRYPT}$2y$05$wQ8vUeIHJXFQtmXN.A8G4uhsY7sp2a4pqgh8oQgRUBt0pj3T3SQxe\"\n";

/// Places a hostile `{file: X}` or literal can stand, as YAML with `VALUE` to fill in.
const SECRET_SLOTS: [(&str, &str); 6] = [
    ("relay_password", "relay_hosts:\n  - name: r\n    hostname: \"[smtp.example.net]:587\"\n    username: u\n    password: VALUE\n"),
    ("transport_password", "transports:\n  - destination: partner.example\n    nexthop: \"[mx.partner.example]:25\"\n    username: u\n    password: VALUE\n"),
    ("mailbox_password", "domains:\n  - name: example.com\n    mailboxes:\n      - local_part: bob\n        password: VALUE\n"),
    ("dkim_key", "domains:\n  - name: example.com\n    dkim_private_key: VALUE\n"),
    (
        "ldap_bind",
        "identity_provider:\n  ldap:\n    host: 127.0.0.1\n    port: 1\n    base_dn: dc=x\n    bind_dn: cn=x\n    bind_password: VALUE\n    username_field: mail\n",
    ),
    (
        "oidc_secret",
        "identity_provider:\n  generic_oidc:\n    authorize_url: https://idp.example/a\n    token_url: https://idp.example/t\n    userinfo_url: https://idp.example/u\n    client_id: c\n    client_secret: VALUE\n",
    ),
];
const SERVICE_SLOTS: [(&str, &str); 4] = [
    ("dovecot_extra", "services:\n  dovecot:\n    extra_conf: VALUE\n"),
    ("sieve_before", "services:\n  dovecot:\n    global_sieve_before: VALUE\n"),
    ("rspamd_local", "services:\n  rspamd:\n    local_d:\n      x.conf: VALUE\n"),
    ("postfix_file", "services:\n  postfix:\n    files:\n      x.pcre: VALUE\n"),
];
/// Paths that lead outside the directory or to something that is not a regular file.
const BAD_PATHS: [&str; 12] = [
    "../outside/secret.txt",
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "/proc/self/environ",
    "/dev/zero",
    "/proc/self/fd/0",
    "sub/../../outside/secret.txt",
    "link-out",
    "link-zero",
    "pipe",
    "sub",
    "link-loop",
];

fn corpus() -> Vec<Case> {
    use Expect::*;
    let mut cases = Vec::new();
    let traps = || {
        vec![
            link("link-out", "../outside/secret.txt"),
            link("link-zero", "/dev/zero"),
            link("link-loop", "link-loop"),
            Entry::Fifo("pipe".into()),
            Entry::Dir("sub".into()),
        ]
    };
    // 1. `{file:}` escapes, for every secret and every service file.
    for (slot, yaml) in SECRET_SLOTS.iter().chain(SERVICE_SLOTS.iter()) {
        for p in BAD_PATHS {
            let mut e = traps();
            e.push(file("a.yaml", yaml.replace("VALUE", &format!("{{file: \"{p}\"}}"))));
            cases.push(case(format!("file_{slot}_{p}"), Refused, e));
        }
    }
    // 2. The directory's own files: links out, loops, special files.
    let yaml_links: [(&str, &str); 7] = [
        ("passwd", "/etc/passwd"),
        ("outside", "../outside/secret.txt"),
        ("environ", "/proc/self/environ"),
        ("zero", "/dev/zero"),
        ("dangling", "nowhere.yaml"),
        ("self", "x.yaml"),
        ("stdin", "/proc/self/fd/0"),
    ];
    for (n, target) in yaml_links {
        cases.push(case(format!("yaml_link_{n}"), Refused, vec![link("x.yaml", target), file("a.yaml", BASE)]));
        cases.push(case(format!("settings_link_{n}"), Refused, vec![link("mailplane.yaml", target), file("a.yaml", BASE)]));
    }
    cases.push(case("yaml_fifo", Refused, vec![Entry::Fifo("x.yaml".into()), file("a.yaml", BASE)]));
    cases.push(case("settings_dir", Refused, vec![Entry::Dir("mailplane.yaml".into()), file("a.yaml", BASE)]));
    for (n, target) in [("dot", "."), ("up", ".."), ("usr", "/usr"), ("root", "/")] {
        cases.push(case(format!("dir_link_{n}"), NoHarm, vec![link("loop", target), link("loop2", target), file("a.yaml", BASE)]));
    }
    // 3. Encodings and characters the parser must survive.
    let latin1 = b"domains:\n  - name: example.org\n    description: caf\xe9\n".to_vec();
    cases.push(case("latin1", Refused, vec![Entry::File("a.yaml".into(), latin1)]));
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(BASE.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    cases.push(case("utf16le", Refused, vec![Entry::File("a.yaml".into(), utf16)]));
    let utf16be: Vec<u8> = [0xFE, 0xFF].into_iter().chain(BASE.encode_utf16().flat_map(u16::to_be_bytes)).collect();
    cases.push(case("utf16be", Refused, vec![Entry::File("a.yaml".into(), utf16be)]));
    for c in (0u8..0x20).filter(|c| !matches!(c, b'\t' | b'\n' | b'\r')).chain([0x7f]) {
        let text = format!("domains:\n  - name: example.org\n    description: \"x{}y\"\n", c as char).replace('"', "");
        cases.push(case(format!("control_{c:02x}"), Refused, vec![file("a.yaml", text)]));
    }
    for (n, ch) in [
        ("nbsp", '\u{a0}'),
        ("em_space", '\u{2003}'),
        ("ideographic", '\u{3000}'),
        ("bom", '\u{feff}'),
        ("zwsp", '\u{200b}'),
        ("nel", '\u{85}'),
        ("line_sep", '\u{2028}'),
    ] {
        cases.push(case(format!("indent_{n}"), Refused, vec![file("a.yaml", BASE.replace("    mailboxes", &format!("  {ch} mailboxes")))]));
        cases.push(case(format!("key_{n}"), NoHarm, vec![file("a.yaml", BASE.replace("name:", &format!("na{ch}me:")))]));
        cases.push(case(format!("value_{n}"), NoHarm, vec![file("a.yaml", BASE.replace("example.org", &format!("exa{ch}mple.org")))]));
    }
    cases.push(case("tab_indent", Refused, vec![file("a.yaml", BASE.replace("    mailboxes", "\tmailboxes"))]));
    // 4. A literal secret must stay masked whatever else is wrong on its line or in its file.
    let secret_lines = [
        ("duplicate_key", format!("relay_hosts:\n  - name: r\n    hostname: h\n    password: {SECRET_CANARY}\n    password: {SECRET_CANARY}\n")),
        ("wrong_type", format!("relay_hosts:\n  - name: r\n    hostname: h\n    password: [{SECRET_CANARY}]\n")),
        ("bad_escape", format!("relay_hosts:\n  - name: r\n    hostname: h\n    password: \"{SECRET_CANARY}\\q\"\n")),
        ("trailing", format!("relay_hosts:\n  - name: r\n    hostname: h\n    password: \"{SECRET_CANARY}\" junk\n")),
        ("flow", format!("relay_hosts:\n  - {{name: r, hostname: h, password: {SECRET_CANARY}, bogus: 1}}\n")),
        ("block", format!("relay_hosts:\n  - name: r\n    hostname: h\n    password: |\n      {SECRET_CANARY}\n    bogus: 1\n")),
        ("unknown_field_next", format!("relay_hosts:\n  - name: r\n    hostname: h\n    password: {SECRET_CANARY}\n    passwrd: {SECRET_CANARY}\n")),
        (
            "mailbox_plain",
            format!(
                "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: a\n        password: \"{{PLAIN}}{SECRET_CANARY}\"\n        quota: lots\n"
            ),
        ),
        ("mailbox_clear", format!("domains:\n  - name: example.org\n    mailboxes:\n      - local_part: a\n        password: \"{SECRET_CANARY}\" x\n")),
        ("ldap", format!("identity_provider:\n  ldap:\n    bind_password: {SECRET_CANARY}\n    port: many\n")),
        ("oidc", format!("identity_provider:\n  keycloak:\n    client_secret: \"{SECRET_CANARY}\"\n    realm: [x]\n")),
        ("dkim", format!("domains:\n  - name: example.org\n    dkim_private_key: \"{SECRET_CANARY}\"\n    dkim_key_size: 1\n")),
        ("tab", format!("relay_hosts:\n  - name: r\n    hostname: h\n\tpassword: {SECRET_CANARY}\n")),
        ("env_ref_canary", "relay_hosts:\n  - name: r\n    hostname: h\n    password: {env: MAILPLANE_HOSTILE_CANARY}\n    bogus: 1\n".to_string()),
    ];
    for (n, text) in secret_lines {
        cases.push(case(format!("secret_{n}"), Refused, vec![file("a.yaml", text)]));
    }
    // A secret file named like desired state is a secret, not YAML to parse and print.
    cases.push(case(
        "secret_file_named_yaml",
        NoHarm,
        vec![
            file(
                "routing.yaml",
                "relay_hosts:\n  - name: r\n    hostname: \"[smtp.example.net]:587\"\n    username: u\n    password: {file: secrets/relay.yaml}\n",
            ),
            file("secrets/relay.yaml", format!("{SECRET_CANARY}: [\n")),
        ],
    ));
    // 5. Numbers and text out of what mailcow's columns and PHP accept.
    let out_of_range = [
        ("dkim_size_1", "domains:\n  - name: example.org\n    dkim_key_size: 1\n"),
        ("dkim_size_huge", "domains:\n  - name: example.org\n    dkim_key_size: 99999\n"),
        ("dkim_size_odd", "domains:\n  - name: example.org\n    dkim_key_size: 2047\n"),
        ("domain_quota_overflow", "domains:\n  - name: example.org\n    limits:\n      domain_quota: 8388608 TiB\n"),
        ("mailbox_quota_overflow", "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: a\n        quota: 99999999 TiB\n"),
        ("negative_quota", "domains:\n  - name: example.org\n    limits:\n      max_mailboxes: -1\n"),
        ("u64_overflow", "domains:\n  - name: example.org\n    limits:\n      max_mailboxes: 18446744073709551616\n"),
        ("float_count", "domains:\n  - name: example.org\n    limits:\n      max_aliases: 1.5\n"),
        ("rate_limit_junk", "domains:\n  - name: example.org\n    rate_limit: 99999999999999999999/1s\n"),
        ("rate_limit_unit", "domains:\n  - name: example.org\n    rate_limit: 10/1y\n"),
        ("relay_port", "relay_hosts:\n  - name: r\n    hostname: \"[smtp.example.net]:99999\"\n"),
        ("relay_newline", "relay_hosts:\n  - name: r\n    hostname: \"smtp.example.net\\nrelayhost = evil\"\n"),
        ("relay_sql", "relay_hosts:\n  - name: r\n    hostname: \"'; DROP TABLE relayhosts; --\"\n"),
        ("transport_sql", "transports:\n  - destination: partner.example\n    nexthop: \"'; DROP TABLE transports; --\"\n"),
        ("transport_port", "transports:\n  - destination: partner.example\n    nexthop: \"[mx.partner.example]:0\"\n"),
        (
            "alias_case_twice",
            "domains:\n  - name: example.org\n    aliases:\n      - address: Info@example.org\n        goto: [a@example.net]\n      - address: info@example.org\n        goto: [b@example.net]\n",
        ),
        ("mailbox_case_twice", "domains:\n  - name: example.org\n    mailboxes:\n      - local_part: Bob\n      - local_part: bob\n"),
        ("domain_newline", "domains:\n  - name: \"example.org\\nx\"\n"),
        ("domain_sql", "domains:\n  - name: \"x'; DROP TABLE domain; --\"\n"),
        ("address_newline", "domains:\n  - name: example.org\n    aliases:\n      - address: \"a\\n@example.org\"\n        goto: [b@example.net]\n"),
    ];
    for (n, text) in out_of_range {
        cases.push(case(format!("range_{n}"), Refused, vec![file("a.yaml", text)]));
    }
    let long = "x".repeat(1_000_000);
    cases.push(case("long_description", Refused, vec![file("a.yaml", format!("domains:\n  - name: example.org\n    description: {long}\n"))]));
    cases.push(case("long_key", Refused, vec![file("a.yaml", format!("domains:\n  - name: example.org\n    {long}: 1\n"))]));
    cases.push(case("long_comment_value", Refused, vec![file("a.yaml", format!("domains:\n  - name: example.org\n    aliases:\n      - address: a@example.org\n        goto: [b@example.net]\n        public_comment: \"{long}\"\n"))]));
    // Stored literally, never interpreted: valid or refused, but harmless.
    for (n, s) in [
        ("quote", "it's"),
        ("sql", "x'); DELETE FROM mailbox; --"),
        ("percent", "100% _"),
        ("backslash", "a\\\\b"),
        ("html", "<script>alert(1)</script>"),
        ("shell", "$(reboot)`id`"),
    ] {
        cases.push(case(format!("literal_{n}"), NoHarm, vec![file("a.yaml", format!("domains:\n  - name: example.org\n    description: \"{s}\"\n"))]));
    }
    // 6. Size and shape bombs.
    let keys: String = (0..100_000).map(|i| format!("  k{i}: v\n")).collect();
    cases.push(case("many_keys", Refused, vec![file("a.yaml", format!("domains:\n- name: example.org\n  x:\n{keys}"))]));
    let deep: String = (0..2000).map(|i| format!("{}- \n", " ".repeat(i))).collect();
    cases.push(case("deep_lists", Refused, vec![file("a.yaml", format!("domains:\n{deep}"))]));
    cases.push(case("deep_flow", Refused, vec![file("a.yaml", format!("domains: {}{}\n", "[".repeat(5000), "]".repeat(5000)))]));
    let laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
    cases.push(case("alias_bomb", Refused, vec![file("a.yaml", laughs)]));
    cases.push(case(
        "too_large",
        Refused,
        vec![Entry::File("a.yaml".into(), {
            let mut v = b"domains: []\n".to_vec();
            v.resize(65 * 1024 * 1024, b'#');
            v
        })],
    ));
    let deep_path: String = (0..40).map(|i| format!("d{i}/")).chain(["a.yaml".to_string()]).collect();
    cases.push(case("many_dirs_deep", Refused, vec![file(&deep_path, BASE)]));
    // 7. Truncated and mangled real files: every cut of a real file must fail cleanly or load.
    let real = std::fs::read_to_string("examples/organisation/domains/acme.example.yaml").unwrap();
    let chars: Vec<char> = real.chars().collect();
    for i in (7..chars.len()).step_by(chars.len() / 60) {
        let cut: String = chars.iter().take(i).collect();
        cases.push(case(format!("cut_{i}"), NoHarm, vec![file("a.yaml", cut)]));
    }
    for (i, (from, to)) in
        [(": ", ":"), ("- ", "-"), ("  ", " "), ("\n", "\n\n  "), ("[", "{"), ("]", ""), ("\"", ""), (":", ": :"), ("name", "&x name"), ("GiB", " GiB GiB")]
            .iter()
            .enumerate()
    {
        cases.push(case(format!("mangle_{i}"), NoHarm, vec![file("a.yaml", real.replacen(from, to, 3))]));
    }
    cases
}

fn materialise(c: &Case, root: &Path, services: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let has_settings = c.entries.iter().any(|e| matches!(e, Entry::File(p, _) | Entry::Link(p, _) | Entry::Dir(p) if p == "mailplane.yaml"));
    // services_root only where service files are declared: with it, apply also reaches Docker.
    let declares_services = c.entries.iter().any(|e| matches!(e, Entry::File(_, b) if b.starts_with(b"services:")));
    if !has_settings {
        let root_line = if declares_services { format!("services_root: {}\n", services.display()) } else { String::new() };
        std::fs::write(root.join("mailplane.yaml"), format!("{root_line}mailcow_hostname: mail.example.org\n")).unwrap();
    }
    for e in &c.entries {
        match e {
            Entry::File(p, bytes) => {
                let path = root.join(p);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            Entry::Link(p, target) => std::os::unix::fs::symlink(target, root.join(p)).unwrap(),
            Entry::Fifo(p) => assert!(Command::new("mkfifo").arg(root.join(p)).status().unwrap().success()),
            Entry::Dir(p) => std::fs::create_dir_all(root.join(p)).unwrap(),
        }
    }
}

struct Run {
    code: Option<i32>,
    output: String,
    elapsed: Duration,
    max_rss_kb: i64,
}

/// Runs mailplane with a time limit; measures its peak RSS through wait4.
#[allow(clippy::zombie_processes, reason = "wait4 reaps the child; clippy only knows Child::wait")]
fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let t = Instant::now();
    let out_path = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailplane"))
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env_remove("MAILPLANE_DATABASE_URL")
        .env_remove("MAILPLANE_REDIS_URL")
        .stdin(Stdio::null())
        .stdout(out_path.reopen().unwrap())
        .stderr(out_path.reopen().unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    loop {
        // SAFETY: wait4 on our own child with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if t.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Run { code: None, output: format!("(killed: ran longer than {TIME_LIMIT:?})"), elapsed: t.elapsed(), max_rss_kb: 0 };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let output = String::from_utf8_lossy(&std::fs::read(out_path.path()).unwrap()).into_owned();
    Run { code, output, elapsed: t.elapsed(), max_rss_kb: usage.ru_maxrss }
}

/// The target's rows (mailplane's lock table aside, which plan takes and frees).
fn dump(db: &Path) -> String {
    let out = Command::new("sqlite3").arg(db).arg(".dump").output().expect("sqlite3 (scripts/services.sh installs it)");
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.contains("mailplane_lock")).collect::<Vec<_>>().join("\n")
}

#[test]
fn hostile_directories_are_refused_without_harm() {
    if !support::tools(&["sqlite3", "mkfifo"], false) {
        return;
    }
    let cases = corpus();
    assert!(cases.len() >= 300, "the corpus has {} cases", cases.len());
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("outside")).unwrap();
    std::fs::write(work.path().join("outside/secret.txt"), FILE_CANARY).unwrap();
    let services = work.path().join("conf");
    std::fs::create_dir_all(&services).unwrap();
    // Two workers, each with its own target (apply takes a lock).
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|w| {
                let (cases, work, services) = (&cases, work.path(), &services);
                s.spawn(move || {
                    let state = work.join(format!("state{w}"));
                    std::fs::create_dir_all(&state).unwrap();
                    let db = state.join("t.db");
                    let url = format!("sqlite://{}", db.display());
                    let env = [("MAILPLANE_STATE_DIR", state.to_str().unwrap()), ("MAILPLANE_HOSTILE_CANARY", ENV_CANARY)];
                    // A target with something in it, so that "unchanged" means something.
                    let seed = work.join(format!("seed{w}"));
                    materialise(&case("seed", Expect::NoHarm, vec![file("a.yaml", BASE)]), &seed, services);
                    let seeded = run(&["apply", seed.to_str().unwrap(), "--target", &url, "--auto-approve"], &env);
                    assert_eq!(seeded.code, Some(0), "{}", seeded.output);
                    let before = dump(&db);
                    let pristine = state.join("t.db.seeded");
                    std::fs::copy(&db, &pristine).unwrap();
                    let mut failures = Vec::new();
                    for (i, c) in cases.iter().enumerate().filter(|(i, _)| i % 2 == w) {
                        let dir = work.join(format!("case{i}"));
                        materialise(c, &dir, services);
                        let d = dir.to_str().unwrap();
                        let mut runs =
                            vec![("validate", run(&["validate", d], &env)), ("plan", run(&["plan", d, "--target", &url, "--format", "markdown"], &env))];
                        if c.expect == Expect::Refused {
                            runs.push(("plan --format human", run(&["plan", d, "--target", &url], &env)));
                            runs.push(("apply", run(&["apply", d, "--target", &url, "--auto-approve"], &env)));
                        }
                        for (what, r) in &runs {
                            let mut problems = Vec::new();
                            if r.code == Some(101) || r.output.contains("panicked") {
                                problems.push("panicked".to_string());
                            }
                            match (c.expect, r.code) {
                                (Expect::Refused, Some(1)) | (Expect::NoHarm, Some(0 | 1)) => {}
                                (_, code) => problems.push(format!("exit {code:?}")),
                            }
                            if c.expect == Expect::Refused && !r.output.contains("-->") && !r.output.contains(&format!("case{i}")) {
                                problems.push("no location in the message".into());
                            }
                            for leak in [FILE_CANARY, ENV_CANARY, SECRET_CANARY, PASSWD] {
                                if r.output.contains(leak) {
                                    problems.push(format!("printed `{leak}`"));
                                }
                            }
                            if r.max_rss_kb > RSS_LIMIT_KB {
                                problems.push(format!("peak RSS {} MB", r.max_rss_kb / 1024));
                            }
                            if !problems.is_empty() {
                                let shown: String = r.output.chars().take(1500).collect();
                                failures.push(format!("{} [{what}, {:?}]: {}\n{shown}", c.name, r.elapsed, problems.join("; ")));
                            }
                        }
                        if dump(&db) != before {
                            failures.push(format!("{}: the target changed", c.name));
                            std::fs::copy(&pristine, &db).unwrap();
                        }
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                    failures
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{} failures in {} cases:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
