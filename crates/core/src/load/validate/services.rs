//! `services:`: file names that stay inside their directory, postfix parameters, and that the
//! settings say where the files live.

use super::Validator;
use crate::model::{Content, FileName, Located, Services};

/// Longer names are surely a mistake; file systems allow 255 bytes.
const NAME_LIMIT: usize = 100;

/// A plain file name: no directories, not hidden, no `..`, nothing a shell or rspamd would
/// read specially.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_LIMIT
        && !name.starts_with('.')
        && !name.contains("..")
        && !name.contains(".mailplane-")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// The endings a file may have in each directory; empty: any.
const POSTFIX_TABLES: [&str; 2] = [".pcre", ".cidr"];
const RSPAMD_CONF: [&str; 2] = [".conf", ".inc"];

impl Validator<'_> {
    pub(super) fn check_services(&mut self, file: usize, services: &Located<Services>) {
        let has_root = self.l.settings.as_ref().is_some_and(|(_, s)| s.services_root.is_some());
        let root = self.l.settings.as_ref().and_then(|(f, s)| s.services_root.as_ref().map(|r| (*f, r)));
        if let Some((sfile, r)) = root
            && !r.is_dir()
        {
            // The settings are not located field by field: point at the key's line.
            let text = self.l.sources.get(sfile).map_or("", |s| s.text.as_str());
            let line = text.lines().position(|l| l.starts_with("services_root")).map_or(1, |i| i as u32 + 1);
            let at = crate::model::Span { line, column: 1, offset: 0, len: 0 };
            self.push(
                crate::load::Diagnostic::warning("services-root", sfile, at, format!("services_root `{}` is not a directory here", r.display()))
                    .help("plan and apply read and write mailcow's data/conf there: run them where it exists"),
            );
        }
        if !has_root {
            self.error_help(
                "services-root",
                file,
                services.at,
                "`services:` needs to know where mailcow's configuration is",
                "set `services_root: /opt/mailcow-dockerized/data/conf` (mailcow's data/conf) in mailplane.yaml",
            );
        }
        if let Some(p) = &services.postfix {
            if let Some(params) = &p.main_cf {
                for (name, value) in params {
                    self.check_param(file, name, value);
                }
            }
            self.check_files(file, "postfix", &POSTFIX_TABLES, &p.files);
        }
        if let Some(d) = &services.dovecot {
            for (name, content) in [("extra.conf", &d.extra_conf), ("global_sieve_before", &d.sieve_before), ("global_sieve_after", &d.sieve_after)] {
                if let Some(c) = content {
                    self.claim("service_file", &format!("dovecot/{name}"), "a service file", (file, c.at));
                    self.check_content(file, c);
                }
            }
        }
        if let Some(r) = &services.rspamd {
            self.check_files(file, "rspamd/local.d", &RSPAMD_CONF, &r.local_d);
            self.check_files(file, "rspamd/override.d", &RSPAMD_CONF, &r.override_d);
            self.check_files(file, "rspamd/custom", &[], &r.maps);
            if let Some(p) = &r.ui_password {
                self.claim("service_file", crate::model::RSPAMD_PASSWORD_FILE, "a service file", (file, p.at));
                if let crate::model::Secret::Literal(v) = &p.value
                    && !crate::model::is_rspamd_hash(v)
                {
                    self.error_help(
                        "plaintext-secret",
                        file,
                        p.at,
                        "the Rspamd UI password is written in clear text",
                        "give it as `{env: NAME}` or `{file: path}`, or as the `$2$…` hash `rspamadm pw -e` prints",
                    );
                }
            }
        }
    }

    fn check_files(&mut self, file: usize, dir: &str, endings: &[&str], files: &indexmap::IndexMap<FileName, Located<Content>>) {
        for (name, content) in files {
            let bad_ending = !endings.is_empty() && !endings.iter().any(|e| name.ends_with(e));
            if !plain_name(name) || bad_ending {
                let allowed = if endings.is_empty() { String::new() } else { format!(" ending in {}", endings.join(" or ")) };
                self.error_help(
                    "invalid-file-name",
                    file,
                    name.at,
                    format!("`{}` is not a file name mailplane writes to {dir}/", name.value),
                    format!("use a plain name{allowed}: letters, digits and . _ - +, no `/`, no leading dot"),
                );
                continue;
            }
            self.claim("service_file", &format!("{dir}/{}", name.value), "a service file", (file, name.at));
            self.check_content(file, content);
        }
    }

    fn check_param(&mut self, file: usize, name: &FileName, value: &Located<crate::model::Param>) {
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if !valid {
            self.error_help(
                "invalid-postfix-parameter",
                file,
                name.at,
                format!("`{}` is not a postfix parameter name", name.value),
                "parameter names are letters, digits, `_` and `-`, e.g. `message_size_limit`",
            );
            return;
        }
        if name.value == "myhostname" {
            self.error_help(
                "invalid-postfix-parameter",
                file,
                name.at,
                "mailcow sets `myhostname` itself (from MAILCOW_HOSTNAME)",
                "remove it; change MAILCOW_HOSTNAME in mailcow.conf instead",
            );
            return;
        }
        if value.as_postfix().contains('\n') {
            self.error_help(
                "invalid-postfix-parameter",
                file,
                value.at,
                format!("the value of `{}` spans several lines", name.value),
                "write the value on one line; postfix separates list items with commas or spaces",
            );
        }
        self.claim("postfix_parameter", &name.value, "a postfix parameter", (file, name.at));
    }

    fn check_content(&mut self, file: usize, content: &Located<Content>) {
        use crate::confined::{ConfinedError, Scope};
        if let Content::File { file: path } = &content.value {
            match crate::confined::read(&self.l.root, path, Scope::Directory, crate::load::MAX_SERVICE_FILE_BYTES) {
                Ok(_) => {}
                Err(ConfinedError::NotFound(_)) => self.error_help(
                    "unknown-file",
                    file,
                    content.at,
                    format!("`{}` does not exist", path.display()),
                    "relative paths are read from the desired-state directory",
                ),
                // Plans show a service file's content, and CI posts plans publicly.
                Err(e) => self.error_help(
                    "unknown-file",
                    file,
                    content.at,
                    e.to_string(),
                    "a service file's content must be a regular file inside the desired-state directory",
                ),
            }
        }
    }
}
