//! `mailplane idp test [DIR]`: check the declared identity provider for real and show what it
//! returns. LDAP: connect, bind, search, and which template each user gets. Keycloak and
//! generic OIDC: discovery, the endpoints mailcow uses, the client's credentials, and for
//! Keycloak's user import the admin API's users.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::target::runtime;
use crate::model::{IdentityProvider, LdapProvider};
use crate::printer::{ExitStatus, Printer};
use crate::store::ldap;
use crate::store::oidc::{self, Outcome};

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
    let loaded = match crate::kinds::load_dir(&dir) {
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
    let timeout = Duration::from_secs(timeout);
    match &idp.value {
        IdentityProvider::Ldap(p) => test_ldap(p, &loaded.root, timeout, sample, printer),
        other => test_oidc(other, &loaded.root, timeout, sample, printer),
    }
}

fn test_ldap(p: &LdapProvider, dir: &std::path::Path, timeout: Duration, sample: usize, printer: Printer) -> ExitStatus {
    let bind_password = match p.bind_password.as_ref().map(|s| s.reveal(dir)) {
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
    let settings = ldap::Settings { provider: p, bind_password, timeout };
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
            out.push_str(&format!("{} users match {} under {}\n", found.users.len(), ldap::search_filter(p), p.base_dn.value));
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

/// Keycloak or generic OIDC: every step on its own line, failures on stderr.
fn test_oidc(idp: &IdentityProvider, dir: &std::path::Path, timeout: Duration, sample: usize, printer: Printer) -> ExitStatus {
    let client_secret = match idp.secret().map(|s| s.reveal(dir)) {
        Some(Ok(secret)) => Some(secret),
        Some(Err(e)) => {
            printer.err(&format!("error: client secret: {e}"));
            return ExitStatus::Error;
        }
        None => None,
    };
    let settings = oidc::Settings { timeout, sample, client_secret };
    let report = runtime().block_on(async {
        match idp {
            IdentityProvider::Keycloak(p) => {
                printer.out(&format!("keycloak realm {} at {}, client {}", p.realm.value, p.server_url.value, p.client_id.value));
                oidc::check_keycloak(p, &settings).await
            }
            IdentityProvider::GenericOidc(p) => {
                printer.out(&format!("generic OIDC provider, client {}", p.client_id.value));
                oidc::check_generic(p, &settings).await
            }
            IdentityProvider::Ldap(_) => unreachable!("LDAP is tested by test_ldap"),
        }
    });
    for step in &report.steps {
        match &step.outcome {
            Outcome::Ok(msg) => printer.out(&format!("ok    {:<9}  {}: {msg}", step.what, step.url)),
            Outcome::Note(msg) => printer.out(&format!("note  {:<9}  {}: {msg}", step.what, step.url)),
            Outcome::Failed(problem) => printer.err(&format!("error: {} {}: {problem}", step.what, step.url)),
        }
    }
    let mut users = String::new();
    for u in report.users.iter().take(sample) {
        let template = idp.template_for(u.template_attribute.as_deref()).unwrap_or("(no template: not provisioned)");
        users.push_str(&format!(
            "  {}  {}  mailcow_template={}  → template {template}\n",
            u.username,
            u.email.as_deref().unwrap_or("(no email)"),
            u.template_attribute.as_deref().unwrap_or("(none)")
        ));
    }
    if !users.is_empty() {
        printer.out(&users);
    }
    if report.failed() { ExitStatus::Error } else { ExitStatus::Success }
}
