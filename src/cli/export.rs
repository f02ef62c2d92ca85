//! `mailplane export --out DIR`: write the live server as a desired-state directory.

use std::path::PathBuf;

use super::target::{TargetArgs, connect, runtime};
use crate::printer::{ExitStatus, Printer};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Where to write the files (created; existing files of the same name are replaced).
    #[arg(long, short)]
    out: PathBuf,
    /// Also write mailbox, app password and administrator password hashes (files are then readable by their owner only).
    #[arg(long)]
    include_hashes: bool,
}

const HEADER: &str = "# yaml-language-server: $schema=https://raw.githubusercontent.com/mailplane/mailplane/main/schema/mailplane.schema.json\n# Written by `mailplane export`.\n";

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    runtime().block_on(async {
        // Only mailplane.yaml (it may name the target): the other files need not be valid.
        let settings = match super::target::settings_only(&args.target.dir) {
            Ok(s) => s,
            Err(e) => {
                e.report(printer);
                return e.exit_status();
            }
        };
        let (db, kv, _) = match connect(&args.target, &settings, printer).await {
            Ok(connected) => connected,
            Err(e) => {
                e.report(printer);
                return e.exit_status();
            }
        };
        let mut live = match crate::observe::observe(&db, &kv).await {
            Ok(l) => l,
            Err(e) => {
                printer.err(&format!("error: {e}"));
                return ExitStatus::Error;
            }
        };
        db.close().await;
        crate::observe::netfilter_rules(&settings, &mut live).await;
        let records = crate::kinds::live(&live);
        let mut hashes: std::collections::HashMap<String, String> =
            live.rows(&crate::kinds::mailbox::MAILBOXES).iter().map(|r| (r.s("username").to_string(), r.s("password").to_string())).collect();
        hashes.extend(crate::kinds::app_password::stored_hashes(&live).into_iter().map(|(k, h)| (k, h.to_string())));
        hashes.extend(crate::kinds::admin::stored_hashes(&live).into_iter().map(|(k, h)| (k, h.to_string())));
        let exported = crate::kinds::export::export(&records, args.include_hashes.then_some(&hashes), live.netfilter_rules.as_deref());
        for s in &exported.skipped {
            printer.err(&format!("warning: not exported: {s}"));
        }
        for (name, doc) in &exported.files {
            let path = args.out.join(name);
            let text = match crate::load::yaml::to_string(doc) {
                Ok(t) => format!("{HEADER}{t}"),
                Err(e) => {
                    printer.err(&format!("error: cannot write {name}: {e}"));
                    return ExitStatus::Error;
                }
            };
            if let Err(e) = write(&path, &text, args.include_hashes) {
                printer.err(&format!("error: cannot write {}: {e}", path.display()));
                return ExitStatus::Error;
            }
        }
        printer.out(&format!("Exported {} files to {}.", exported.files.len(), args.out.display()));
        ExitStatus::Success
    })
}

fn write(path: &std::path::Path, text: &str, private: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    use std::io::Write;
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())
}
