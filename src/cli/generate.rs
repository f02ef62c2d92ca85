//! `mailplane generate` (hidden): deterministic data sets for the benchmark (bench/run.sh).
//! The same size and seed always give byte-identical files; `--change 1` gives the same set
//! with 1 % of the objects changed (half updated, a quarter deleted, a quarter created).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::printer::{ExitStatus, Printer};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Size {
    #[value(name = "S", alias = "s")]
    S,
    #[value(name = "M", alias = "m")]
    M,
    #[value(name = "L", alias = "l")]
    L,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// S: 10 domains, 1,000 mailboxes; M: 100 / 10,000; L: 1,000 / 100,000 (plus aliases, maps, transports).
    #[arg(long, value_enum)]
    pub size: Size,
    /// Percent of objects to change relative to the base set.
    #[arg(long, default_value_t = 0.0)]
    pub change: f64,
    /// Directory to write (created; existing *.yaml files in it are replaced).
    pub out: PathBuf,
}

/// Object counts of one data set.
struct Counts {
    domains: usize,
    mailboxes_per_domain: usize,
    aliases_per_domain: usize,
    maps: usize,
    transports: usize,
}

impl Size {
    fn counts(self) -> Counts {
        let scale = match self {
            Size::S => 1,
            Size::M => 10,
            Size::L => 100,
        };
        Counts { domains: 10 * scale, mailboxes_per_domain: 100, aliases_per_domain: 200, maps: 50 * scale, transports: 5 * scale }
    }
}

/// Which objects the change touches: every `every`-th object from an offset, per change type.
struct Change {
    every: usize,
}

impl Change {
    fn new(percent: f64) -> Option<Change> {
        (percent > 0.0).then(|| Change { every: (100.0 / percent).round().max(1.0) as usize })
    }
    /// 1 in `every` objects is updated, deleted or created; of those, half are updates.
    fn updated(&self, i: usize) -> bool {
        i % self.every == 1 || i % self.every == self.every / 2 + 1
    }
    fn deleted(&self, i: usize) -> bool {
        i % self.every == 3
    }
    /// Objects created per `n` existing ones.
    fn created(&self, n: usize) -> usize {
        n / self.every
    }
}

/// The target comes from `--target`; removed objects are deleted so that a change has deletes.
const SETTINGS: &str = "prune:
  mailbox: delete
  alias: delete
  bcc_map: delete
  recipient_map: delete
  tls_policy: delete
  transport: delete
";

const PASSWORD: &str = "{BLF-CRYPT}$2y$05$.oAVYApCgu2zcqetkRFd1u9r2gWVBATqFv5eGZJgPp3iqrVlMuysa";

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    let change = Change::new(args.change);
    match write_set(&args, args.size.counts(), change.as_ref()) {
        Ok(n) => {
            printer.out(&format!("wrote {n} files to {}", args.out.display()));
            ExitStatus::Success
        }
        Err(e) => {
            printer.err(&format!("error: writing {}: {e}", args.out.display()));
            ExitStatus::Error
        }
    }
}

fn write_set(args: &Args, c: Counts, change: Option<&Change>) -> std::io::Result<usize> {
    let domains_dir = args.out.join("domains");
    if domains_dir.exists() {
        std::fs::remove_dir_all(&domains_dir)?;
    }
    std::fs::create_dir_all(&domains_dir)?;
    let files =
        [("mailplane.yaml", SETTINGS.to_string()), ("templates.yaml", templates()), ("maps.yaml", maps(&c, change)), ("routing.yaml", routing(&c, change))];
    for (name, text) in &files {
        std::fs::write(args.out.join(name), text)?;
    }
    for d in 0..c.domains {
        std::fs::write(domains_dir.join(format!("d{d:04}.yaml")), domain(d, &c, change))?;
    }
    Ok(files.len() + c.domains)
}

fn templates() -> String {
    "domain_templates:
  - name: hosting
    limits:
      max_mailboxes: 1000
      max_aliases: 2000
      default_mailbox_quota: 1 GiB
      max_mailbox_quota: 10 GiB
      domain_quota: 10 TiB
    rate_limit: 1000/1h
mailbox_templates:
  - name: user
    quota: 1 GiB
    quarantine_notification: daily
  - name: large
    quota: 5 GiB
    protocols: [imap, smtp, sieve, sogo]
"
    .into()
}

/// Indices of one group of `n` objects after the change: kept (maybe updated) and created.
fn indices(n: usize, change: Option<&Change>) -> impl Iterator<Item = (usize, bool)> + '_ {
    let created = change.map_or(0, |c| c.created(n));
    (0..n + created).filter(move |&i| !(i < n && change.is_some_and(|c| c.deleted(i)))).map(move |i| (i, change.is_some_and(|c| i < n && c.updated(i))))
}

fn domain(d: usize, c: &Counts, change: Option<&Change>) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let name = format!("d{d:04}.example");
    let _ = write!(
        s,
        "domains:\n  - name: {name}\n    description: Customer {d}\n    template: hosting\n    alias_domains:\n      - name: d{d:04}-alias.example\n    mailboxes:\n"
    );
    for (i, updated) in indices(c.mailboxes_per_domain, change) {
        let template = if i % 10 == 0 { "large" } else { "user" };
        let who = if updated { "Renamed user" } else { "User" };
        let _ = write!(s, "      - local_part: u{i:05}\n        name: {who} {i} of {d}\n        template: {template}\n        password: \"{PASSWORD}\"\n");
    }
    s.push_str("    aliases:\n");
    for (i, updated) in indices(c.aliases_per_domain, change) {
        let goto = (i + usize::from(updated)) % c.mailboxes_per_domain;
        let _ = write!(s, "      - address: a{i:05}@{name}\n        goto: [u{goto:05}@{name}]\n");
        if i % 7 == 0 {
            s.push_str("        sogo_visible: false\n");
        }
    }
    s
}

fn maps(c: &Counts, change: Option<&Change>) -> String {
    let n = c.maps / 5;
    let mut s = String::from("bcc_maps:\n");
    for (i, updated) in indices(2 * n, change) {
        let kind = if i % 2 == 0 { "sender" } else { "recipient" };
        let dest = if updated { "archive2" } else { "archive" };
        // Even local parts from u00010 up are never deleted by a change.
        let (mailbox, domain) = (10 + (i / c.domains) % 40 * 2, i % c.domains);
        let _ = write!(s, "  - local_dest: u{mailbox:05}@d{domain:04}.example\n    bcc_dest: {dest}@archive.example\n    type: {kind}\n");
    }
    s.push_str("recipient_maps:\n");
    for (i, updated) in indices(2 * n, change) {
        let new = if updated { "new2" } else { "new" };
        let _ = write!(s, "  - old: old{i:05}@legacy.example\n    new: {new}{i}@d{:04}.example\n", i % c.domains);
    }
    s.push_str("tls_policies:\n");
    for (i, updated) in indices(n, change) {
        let policy = if updated { "verify" } else { "encrypt" };
        let _ = write!(s, "  - destination: partner{i:05}.example\n    policy: {policy}\n");
    }
    s
}

fn routing(c: &Counts, change: Option<&Change>) -> String {
    let mut s = String::from("transports:\n");
    for (i, updated) in indices(c.transports, change) {
        let port = if updated { 587 } else { 25 };
        let _ = write!(s, "  - destination: t{i:04}.example\n    nexthop: \"[gw{i}.example]:{port}\"\n");
    }
    s
}
