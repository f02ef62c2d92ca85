//! `mailplane idp test [DIR]`: check the declared identity provider for real — connect, bind,
//! search — and show who matches and which template each user gets.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::target::runtime;
use crate::ldap;
use crate::model::IdentityProvider;
use crate::printer::{ExitStatus, Printer};

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Connect to the identity provider and report what it returns.
    Test {
        /// The desired-state directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Seconds to wait for each host and each operation.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// How many matching users to list.
        #[arg(long, default_value_t = 10)]
        sample: usize,
    },
}

pub fn run(cmd: Command, printer: Printer) -> ExitStatus {
    let Command::Test { dir, timeout, sample } = cmd;
    let loaded = match crate::load::load_dir(&dir) {
        Ok(l) => l,
        Err(e) => {
            printer.err(&format!("error: {e}"));
            return ExitStatus::Error;
        }
    };
    super::validate::report_diagnostics(&loaded, printer);
    if loaded.has_errors() {
        return ExitStatus::Error;
    }
    let Some(idp) = loaded.documents.iter().find_map(|(_, d)| d.identity_provider.as_ref()) else {
        printer.err("error: no identity_provider is declared in this directory");
        return ExitStatus::Error;
    };
    let IdentityProvider::Ldap(p) = &idp.value else {
        printer.err("error: `idp test` checks LDAP providers; Keycloak and generic OIDC checks are not built yet");
        return ExitStatus::Error;
    };
    let bind_password = match p.bind_password.as_ref().map(|s| s.reveal()) {
        Some(Ok(pw)) => pw,
        Some(Err(e)) => {
            printer.err(&format!("error: bind password: {e}"));
            return ExitStatus::Error;
        }
        None => {
            printer.err("error: no bind_password is declared; idp test needs it to bind");
            return ExitStatus::Error;
        }
    };
    let settings = ldap::Settings { provider: p, bind_password, timeout: Duration::from_secs(timeout) };
    let found = runtime().block_on(ldap::fetch_users(&settings));
    match found {
        Err(problem) => {
            printer.err(&format!("error: {problem}"));
            ExitStatus::Error
        }
        Ok(found) => {
            let mut out = String::new();
            for (url, why) in &found.skipped {
                out.push_str(&format!("skipped {url}: {why}\n"));
            }
            out.push_str(&format!("connected to {} and bound as {}\n", found.url, p.bind_dn.value));
            out.push_str(&format!(
                "{} users match {} under {}\n",
                found.users.len(),
                ldap::search_filter(p),
                p.base_dn.value
            ));
            for u in found.users.iter().take(sample) {
                let template = ldap::template_for(p, u.attribute.as_deref()).unwrap_or("(no template: not provisioned)");
                out.push_str(&format!(
                    "  {}  {:?}  {}={}  → template {template}\n",
                    u.username,
                    u.display_name.as_deref().unwrap_or(""),
                    p.attribute_field.as_deref().unwrap_or("attribute"),
                    u.attribute.as_deref().unwrap_or("(none)")
                ));
            }
            if found.users.len() > sample {
                out.push_str(&format!("  … and {} more\n", found.users.len() - sample));
            }
            printer.out(&out);
            ExitStatus::Success
        }
    }
}
