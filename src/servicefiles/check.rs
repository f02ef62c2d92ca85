//! Checking new file contents with each service's own tools before anything is written. Every
//! check runs in a scratch directory where the service runs (inside its container in docker
//! mode), with copies of the configuration the new file is read with (main.cf, dovecot.conf,
//! the other rspamd local.d/override.d files) taken from the services root.

use std::path::Path;

use super::host::{Host, HostError};
use super::{FileChange, FileKind, Service};
use crate::store::docker::Output;

/// A change a checker refused, with what the checker said (scratch paths replaced by the
/// managed file's path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub path: String,
    pub declared_at: String,
    pub checker: String,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (declared at {}) was refused by {}:\n    {}", self.path, self.declared_at, self.checker, self.message.replace('\n', "\n    "))
    }
}

/// Refusals of all changed files; empty when every check passed.
pub async fn check(host: &Host, root: &Path, changes: &[FileChange]) -> Result<Vec<Refusal>, HostError> {
    let mut refusals = Vec::new();
    let of = |kinds: &[FileKind]| changes.iter().filter(|c| kinds.contains(&c.kind)).collect::<Vec<_>>();
    let postfix = of(&[FileKind::PostfixExtraCf, FileKind::PostfixTable]);
    if !postfix.is_empty() {
        refusals.extend(check_postfix(host, root, &postfix).await?);
    }
    let dovecot = of(&[FileKind::DovecotConf, FileKind::Sieve]);
    if !dovecot.is_empty() {
        refusals.extend(check_dovecot(host, root, &dovecot).await?);
    }
    let rspamd = of(&[FileKind::RspamdConf]);
    if !rspamd.is_empty() {
        refusals.extend(check_rspamd(host, root, &rspamd).await?);
    }
    Ok(refusals)
}

/// One scratch directory on the service's side; removed when the check is done.
struct Scratch<'a> {
    host: &'a Host,
    service: Service,
    dir: String,
}

impl<'a> Scratch<'a> {
    async fn new(host: &'a Host, service: Service) -> Result<Self, HostError> {
        Ok(Scratch { host, service, dir: host.scratch(service).await? })
    }
    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }
    async fn put(&self, name: &str, content: &str) -> Result<String, HostError> {
        let path = self.path(name);
        self.host.put(self.service, &path, content).await?;
        Ok(path)
    }
    async fn run(&self, argv: &[&str]) -> Result<Output, HostError> {
        self.host.run(self.service, argv).await
    }
    /// A refusal of `change`, the checker's words showing the managed path instead of the scratch one.
    fn refuse(&self, change: &FileChange, scratch_name: &str, checker: &str, out: &Output) -> Refusal {
        let message = out.message().replace(&self.path(scratch_name), &change.path).replace(&format!("{}/", self.dir), "");
        Refusal { path: change.path.clone(), declared_at: change.declared_at.clone(), checker: checker.into(), message }
    }
    async fn done(self) {
        self.host.remove(self.service, &self.dir).await;
    }
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_default()
}

/// main.cf as the container rebuilds it at start: mailcow's part (up to its `# User Overrides`
/// marker, after which the old extra.cf was appended) followed by extra.cf.
fn merged_main_cf(base: &str, extra: &str) -> String {
    let mailcows = base.split("\n# User Overrides").next().unwrap_or("");
    format!("{mailcows}\n# User Overrides\n{extra}")
}

async fn check_postfix(host: &Host, root: &Path, changes: &[&FileChange]) -> Result<Vec<Refusal>, HostError> {
    let s = Scratch::new(host, Service::Postfix).await?;
    let result = async {
        let extra = changes.iter().find(|c| c.kind == FileKind::PostfixExtraCf);
        let extra_text = extra.map_or_else(|| read(root, super::EXTRA_CF), |c| c.new.clone());
        s.put("main.cf", &merged_main_cf(&read(root, "postfix/main.cf"), &extra_text)).await?;
        // postconf warns about a missing master.cf, and parameters used only there look unused without it.
        s.put("master.cf", &read(root, "postfix/master.cf")).await?;
        let mut refusals = Vec::new();
        if let Some(c) = extra {
            // `postconf -n` exits 0 on unknown parameters and bad values; only its warnings tell.
            let out = s.run(&["postconf", "-c", &s.dir, "-n"]).await?;
            if !out.success() || out.stderr.contains("warning:") {
                refusals.push(s.refuse(c, "main.cf", "postconf -n", &Output { stdout: String::new(), ..out }));
            }
        }
        for c in changes.iter().filter(|c| c.kind == FileKind::PostfixTable) {
            let name = c.path.trim_start_matches("postfix/");
            let table = format!("{}:{}", if name.ends_with(".cidr") { "cidr" } else { "pcre" }, s.put(name, &c.new).await?);
            // Exit 1 means "not found"; problems in the table are warnings or fatals on stderr.
            let out = s.run(&["postmap", "-c", &s.dir, "-q", "mailplane-check", &table]).await?;
            if out.code > 1 || out.stderr.contains("warning:") || out.stderr.contains("fatal:") {
                refusals.push(s.refuse(c, name, "postmap", &Output { stdout: String::new(), ..out }));
            }
        }
        Ok(refusals)
    }
    .await;
    s.done().await;
    result
}

/// dovecot.conf with its `!include…extra.conf` line pointed at the candidate. Without a
/// dovecot.conf in the services root the candidate is checked as a whole configuration.
fn dovecot_conf_with(base: &str, extra_path: &str) -> Option<String> {
    let is_include = |l: &str| l.trim_start().starts_with("!include") && l.trim_end().ends_with("extra.conf");
    if base.trim().is_empty() {
        return None;
    }
    let mut lines: Vec<String> = base.lines().filter(|l| !is_include(l)).map(str::to_string).collect();
    lines.push(format!("!include {extra_path}"));
    Some(lines.join("\n") + "\n")
}

async fn check_dovecot(host: &Host, root: &Path, changes: &[&FileChange]) -> Result<Vec<Refusal>, HostError> {
    let s = Scratch::new(host, Service::Dovecot).await?;
    let result = async {
        let mut refusals = Vec::new();
        for c in changes {
            if c.kind == FileKind::DovecotConf {
                let extra = s.put("extra.conf", &c.new).await?;
                let conf = match dovecot_conf_with(&read(root, "dovecot/dovecot.conf"), &extra) {
                    Some(text) => s.put("dovecot.conf", &text).await?,
                    None => extra,
                };
                let out = s.run(&["doveconf", "-n", "-c", &conf]).await?;
                if !out.success() {
                    refusals.push(s.refuse(c, "extra.conf", "doveconf -n", &Output { stdout: String::new(), ..out }));
                }
            } else {
                let name = format!("{}.sieve", c.path.trim_start_matches("dovecot/"));
                let script = s.put(&name, &c.new).await?;
                let out = s.run(&["sievec", &script, &s.path(&format!("{name}.svbin"))]).await?;
                if !out.success() {
                    refusals.push(s.refuse(c, &name, "sievec", &out));
                }
            }
        }
        Ok(refusals)
    }
    .await;
    s.done().await;
    result
}

async fn check_rspamd(host: &Host, root: &Path, changes: &[&FileChange]) -> Result<Vec<Refusal>, HostError> {
    let s = Scratch::new(host, Service::Rspamd).await?;
    let result = async {
        // The whole local configuration as it will be: today's files with the candidates over them.
        for dir in ["local.d", "override.d"] {
            for entry in std::fs::read_dir(root.join("rspamd").join(dir)).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if path.is_file() && !name.starts_with('.') && !name.contains(".mailplane-") {
                    s.put(&format!("{dir}/{name}"), &std::fs::read_to_string(&path).unwrap_or_default()).await?;
                }
            }
        }
        let mut refusals = Vec::new();
        for c in changes {
            let rel = c.path.trim_start_matches("rspamd/");
            let file = s.put(rel, &c.new).await?;
            // rspamd reads only the local.d files its modules name, so each file's syntax is checked on its own too.
            let out = s.run(&["rspamadm", "configtest", "-c", &file]).await?;
            if out.stderr.contains("ucl parser error") {
                refusals.push(s.refuse(c, rel, "rspamadm configtest", &out));
            }
        }
        if refusals.is_empty() {
            let var = format!("--var=LOCAL_CONFDIR={}", s.dir);
            let out = s.run(&["rspamadm", &var, "configtest", "-c", "/etc/rspamd/rspamd.conf"]).await?;
            if !out.success() {
                // Name the file the parser names, else every changed one.
                let named: Vec<&&FileChange> = changes.iter().filter(|c| out.stderr.contains(&s.path(c.path.trim_start_matches("rspamd/")))).collect();
                let blamed = if named.is_empty() { changes.iter().collect() } else { named };
                for c in blamed {
                    refusals.push(s.refuse(c, c.path.trim_start_matches("rspamd/"), "rspamadm configtest", &out));
                }
            }
        }
        Ok(refusals)
    }
    .await;
    s.done().await;
    result
}

/// Checks Sieve scripts (a mailbox's filters: key, script) with `sievec` where Dovecot runs;
/// returns each refused one as `key: what sievec said`.
pub async fn check_sieve_scripts(host: &Host, scripts: &[(&str, &str)]) -> Result<Vec<String>, HostError> {
    check_each(host, Service::Dovecot, scripts, "Sieve filter", |s, i, script| {
        Box::pin(async move {
            let name = format!("filter-{i}.sieve");
            let path = s.put(&name, script).await?;
            let out = s.run(&["sievec", &path, &s.path(&format!("{name}.svbin"))]).await?;
            Ok((!out.success()).then(|| out.message().replace(&format!("filter-{i}"), "script")))
        })
    })
    .await
}

/// Checks Rspamd settings maps (description, content) with `rspamadm configtest` where Rspamd
/// runs, each inside a `settings` block as mailcow's `settings.php` hands it to Rspamd.
pub async fn check_settings_maps(host: &Host, maps: &[(&str, &str)]) -> Result<Vec<String>, HostError> {
    check_each(host, Service::Rspamd, maps, "Rspamd settings map", |s, i, content| {
        Box::pin(async move {
            let path = s.put(&format!("settings-{i}.conf"), &format!("settings {{\nadditional_settings_{i} {{\n{content}\n}}\n}}\n")).await?;
            let out = s.run(&["rspamadm", "configtest", "-c", &path]).await?;
            Ok(out.stderr.contains("ucl parser error").then(|| out.message().replace(&format!("settings-{i}.conf"), "the map")))
        })
    })
    .await
}

type Checked<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<String>, HostError>> + 'a>>;

/// Runs `one` on each (key, text) in one scratch directory of `service`; returns each refused
/// one as ``what `key`: what the tool said`` (scratch paths left out).
async fn check_each<'s>(
    host: &'s Host,
    service: Service,
    items: &[(&str, &str)],
    what: &str,
    one: impl for<'a> Fn(&'a Scratch<'s>, usize, &'a str) -> Checked<'a>,
) -> Result<Vec<String>, HostError> {
    let s = Scratch::new(host, service).await?;
    let result = async {
        let mut refused = Vec::new();
        for (i, (key, text)) in items.iter().enumerate() {
            if let Some(message) = one(&s, i, text).await? {
                let message = message.replace(&format!("{}/", s.dir), "");
                refused.push(format!("{what} `{key}`: {}", message.trim().replace('\n', "\n    ")));
            }
        }
        Ok(refused)
    }
    .await;
    s.done().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_cf_keeps_mailcows_part_and_replaces_the_user_overrides() {
        let live = "a = 1\n# Overrides #\nb = 2\n\n# User Overrides\nmyhostname = x\nold = 1\n";
        assert_eq!(merged_main_cf(live, "new = 2\n"), "a = 1\n# Overrides #\nb = 2\n\n# User Overrides\nnew = 2\n");
        assert_eq!(merged_main_cf("", "new = 2\n"), "\n# User Overrides\nnew = 2\n");
    }

    #[test]
    fn dovecot_conf_includes_the_candidate_instead_of_extra_conf() {
        let base = "protocols = imap\n!include_try /etc/dovecot/extra.conf\n";
        assert_eq!(dovecot_conf_with(base, "/tmp/c/extra.conf").unwrap(), "protocols = imap\n!include /tmp/c/extra.conf\n");
        assert_eq!(dovecot_conf_with("", "/tmp/c/extra.conf"), None);
    }
}
