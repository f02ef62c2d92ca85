//! Where the services run: in mailcow's containers (checks via docker exec, restarts through
//! Docker) or on this host (local checkers, the restart commands from mailplane.yaml). The
//! checks and the apply are written once against this.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{FollowUp, Service};
use crate::settings::{ServiceCommands, ServicesMode, SettingsFile};
use crate::store::docker::{DockerError, Mailcow, Output};

/// How long a restarted container may take to run again.
const RESTART_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{0}")]
    Io(String),
    #[error("`{0}` is needed in `service_commands` of mailplane.yaml (standalone mode)")]
    NoCommand(&'static str),
    #[error("`{command}` failed (exit {code}): {message}")]
    Failed { command: String, code: i64, message: String },
}

pub enum Host {
    Docker(Mailcow),
    Standalone(ServiceCommands),
}

static SCRATCH: AtomicU32 = AtomicU32::new(0);

impl Host {
    /// The host the settings describe; `None` when they manage no services (no `services_root`
    /// and no `services_mode`), e.g. a SQLite target on a laptop.
    pub async fn from_settings(s: &SettingsFile) -> Result<Option<Host>, HostError> {
        Ok(Some(match s.services() {
            None => return Ok(None),
            Some(ServicesMode::Docker) => Host::Docker(Mailcow::connect(s.docker_project().unwrap_or(crate::settings::DEFAULT_PROJECT)).await?),
            Some(ServicesMode::Standalone) => Host::Standalone(s.service_commands.clone().unwrap_or_default()),
        }))
    }

    /// Runs a command where the service runs.
    pub async fn run(&self, service: Service, argv: &[&str]) -> Result<Output, HostError> {
        match self {
            Host::Docker(m) => Ok(m.exec(service.name(), argv).await?),
            Host::Standalone(_) => {
                let out = tokio::process::Command::new(argv[0])
                    .args(&argv[1..])
                    .output()
                    .await
                    .map_err(|e| HostError::Io(format!("cannot run `{}`: {e}", argv[0])))?;
                Ok(Output {
                    code: out.status.code().map_or(-1, i64::from),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                })
            }
        }
    }

    /// Like `run`, but a non-zero exit is an error.
    async fn run_ok(&self, service: Service, argv: &[&str]) -> Result<Output, HostError> {
        let out = self.run(service, argv).await?;
        if !out.success() {
            return Err(HostError::Failed { command: argv.join(" "), code: out.code, message: out.message() });
        }
        Ok(out)
    }

    /// A new empty directory for a check, as the service's tools see it.
    pub async fn scratch(&self, service: Service) -> Result<String, HostError> {
        match self {
            Host::Docker(_) => Ok(self.run_ok(service, &["mktemp", "-d", "/tmp/mailplane-check.XXXXXX"]).await?.stdout.trim().to_string()),
            Host::Standalone(_) => {
                let n = SCRATCH.fetch_add(1, Ordering::SeqCst);
                let dir = std::env::temp_dir().join(format!("mailplane-check-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).map_err(|e| HostError::Io(format!("cannot create {}: {e}", dir.display())))?;
                Ok(dir.to_string_lossy().into_owned())
            }
        }
    }

    /// Writes a file below a scratch directory.
    pub async fn put(&self, service: Service, path: &str, content: &str) -> Result<(), HostError> {
        match self {
            // The text travels as an argument: config files are far below the kernel's 128 KiB per argument.
            Host::Docker(_) => {
                let script = r#"mkdir -p "$(dirname "$1")" && printf '%s' "$2" > "$1""#;
                self.run_ok(service, &["sh", "-c", script, "sh", path, content]).await.map(|_| ())
            }
            Host::Standalone(_) => {
                let path = std::path::Path::new(path);
                let io = |e: std::io::Error| HostError::Io(format!("cannot write {}: {e}", path.display()));
                std::fs::create_dir_all(path.parent().expect("below a scratch dir")).map_err(io)?;
                std::fs::write(path, content).map_err(io)
            }
        }
    }

    pub async fn remove(&self, service: Service, dir: &str) {
        match self {
            Host::Docker(_) => {
                let _ = self.run(service, &["rm", "-rf", dir]).await;
            }
            Host::Standalone(_) => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    /// Makes a service pick up its changed files.
    pub async fn follow_up(&self, f: FollowUp) -> Result<(), HostError> {
        match (self, f) {
            (_, FollowUp::Nothing) => Ok(()),
            (Host::Docker(m), FollowUp::Restart(s)) => Ok(m.restart(s.name(), RESTART_TIMEOUT).await?),
            (Host::Docker(_), FollowUp::PostfixReload) => self.run_ok(Service::Postfix, &["postfix", "reload"]).await.map(|_| ()),
            (Host::Standalone(c), f) => {
                let command = standalone_command(c, f)?;
                let out = self.run(Service::Postfix, &["sh", "-c", command]).await?;
                if !out.success() {
                    return Err(HostError::Failed { command: command.to_string(), code: out.code, message: out.message() });
                }
                Ok(())
            }
        }
    }

    /// Dovecot caches logins; after passwords or mailbox states changed in the database, stale
    /// entries would keep old passwords working. Docker mode only (mailcow's dovecot).
    pub async fn flush_auth_cache(&self) -> Result<bool, HostError> {
        match self {
            Host::Docker(_) => self.run_ok(Service::Dovecot, &["doveadm", "auth", "cache", "flush"]).await.map(|_| true),
            Host::Standalone(_) => Ok(false),
        }
    }

    /// Whether a follow-up can be run at all (checked before anything is written).
    pub fn can(&self, f: FollowUp) -> Result<(), HostError> {
        match self {
            Host::Standalone(c) if f != FollowUp::Nothing => standalone_command(c, f).map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// The configured shell command for a follow-up in standalone mode.
fn standalone_command(c: &ServiceCommands, f: FollowUp) -> Result<&str, HostError> {
    let (name, command) = match f {
        FollowUp::Restart(Service::Postfix) => ("postfix_restart", &c.postfix_restart),
        FollowUp::PostfixReload => ("postfix_reload", &c.postfix_reload),
        FollowUp::Restart(Service::Dovecot) => ("dovecot_restart", &c.dovecot_restart),
        FollowUp::Restart(Service::Rspamd) => ("rspamd_restart", &c.rspamd_restart),
        FollowUp::Restart(Service::Sogo) => ("sogo_restart", &c.sogo_restart),
        FollowUp::Nothing => return Ok("true"),
    };
    command.as_deref().ok_or(HostError::NoCommand(name))
}
