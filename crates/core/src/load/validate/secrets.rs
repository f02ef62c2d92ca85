//! Secrets that validate can check without the server: references that resolve here, and
//! literals that are working cleartext passwords. An unset variable or a missing file is a
//! warning here (validate may run where the secrets are not, e.g. for a pull request), and an
//! error for plan and apply (cli/target.rs), which need every one.

use super::Validator;
use crate::confined::{ConfinedError, MAX_SECRET_BYTES, Scope};
use crate::load::Diagnostic;
use crate::model::{Document, Secret};

pub const UNRESOLVED: &str = "unresolved-secret";

impl Validator<'_> {
    pub(super) fn check_secret_references(&mut self, file: usize, doc: &Document) {
        for (what, s) in doc.secrets() {
            match &s.value {
                Secret::Literal(v) => {
                    let scheme = v.split_once('}').map(|(s, _)| s.trim_start_matches('{').to_ascii_uppercase());
                    if matches!(scheme.as_deref(), Some("PLAIN" | "CLEARTEXT" | "PLAIN-TRUNC")) {
                        self.push(
                            Diagnostic::warning(
                                "plaintext-secret",
                                file,
                                s.at,
                                format!("{what} is a `{{{}}}` password: a working password in clear text", scheme.unwrap_or_default()),
                            )
                            .help("store a hash (`doveadm pw -s BLF-CRYPT`) or a reference such as `{env: NAME}`; `--strict` refuses this"),
                        );
                    }
                }
                Secret::Env(name) => {
                    if std::env::var_os(name).is_none() {
                        self.push(
                            Diagnostic::warning(UNRESOLVED, file, s.at, format!("{what}: environment variable `{name}` is not set here"))
                                .help("plan and apply need it: export it (in CI, as a secret of the job that runs them)"),
                        );
                    }
                }
                Secret::File(path) => match crate::confined::read(&self.l.root, path, Scope::Secrets, MAX_SECRET_BYTES) {
                    Ok(_) => {}
                    Err(ConfinedError::NotFound(_)) => {
                        self.push(
                            Diagnostic::warning(UNRESOLVED, file, s.at, format!("{what}: the file `{}` does not exist here", path.display()))
                                .help("plan and apply need it: create it (relative paths start at the desired-state directory)"),
                        );
                    }
                    Err(e) => {
                        self.push(
                            Diagnostic::error("secret-file", file, s.at, format!("{what}: {e}"))
                                .help("a `{file: …}` secret must be a regular file inside the desired-state directory (or MAILPLANE_SECRETS_DIR)"),
                        );
                    }
                },
            }
        }
    }
}
