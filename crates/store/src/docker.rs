//! mailcow's containers through the Docker Engine API (bollard): found the way mailcow's own
//! code finds them, by their compose labels; commands run in them with `docker exec`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder, RestartContainerOptionsBuilder};
use futures_util::StreamExt;

/// The label compose puts on every container: the service (`postfix-mailcow`) and the project.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const PROJECT_LABEL: &str = "com.docker.compose.project";

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach Docker: {0}")]
    Connect(String),
    #[error("no running container of compose service `{service}` in project `{project}` (labels {SERVICE_LABEL}={service}, {PROJECT_LABEL}={project})")]
    NotFound { service: String, project: String },
    #[error("{service}: {message}")]
    Api { service: String, message: String },
    #[error("{service} did not run again within {seconds}s after the restart")]
    Timeout { service: String, seconds: u64 },
}

/// What a command printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    /// stderr then stdout, trimmed: what a checker said.
    pub fn message(&self) -> String {
        [self.stderr.trim(), self.stdout.trim()].iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join("\n")
    }
}

/// The containers of one mailcow installation.
#[derive(Clone, Debug)]
pub struct Mailcow {
    docker: Docker,
    project: String,
}

impl Mailcow {
    /// Connects to the local engine (DOCKER_HOST is honoured) at the API version it speaks.
    pub async fn connect(project: &str) -> Result<Self, DockerError> {
        let docker = Docker::connect_with_local_defaults().map_err(|e| DockerError::Connect(e.to_string()))?;
        // Older engines refuse requests at a newer API version than theirs.
        let docker = docker.negotiate_version().await.map_err(|e| DockerError::Connect(e.to_string()))?;
        Ok(Mailcow { docker, project: project.to_string() })
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    /// The id of the running container of compose service `<service>-mailcow`. The project is
    /// compared case-insensitively, as mailcow does.
    pub async fn container(&self, service: &str) -> Result<String, DockerError> {
        let compose_service = format!("{service}-mailcow");
        let filters = HashMap::from([("label", vec![format!("{SERVICE_LABEL}={compose_service}")])]);
        let opts = ListContainersOptionsBuilder::default().all(false).filters(&filters).build();
        let list = self.docker.list_containers(Some(opts)).await.map_err(|e| self.api(service, e))?;
        list.into_iter()
            .find(|c| c.labels.as_ref().and_then(|l| l.get(PROJECT_LABEL)).is_some_and(|p| p.eq_ignore_ascii_case(&self.project)))
            .and_then(|c| c.id)
            .ok_or(DockerError::NotFound { service: compose_service, project: self.project.clone() })
    }

    /// Runs `argv` in the service's container and waits for it; a non-zero exit is not an error here.
    pub async fn exec(&self, service: &str, argv: &[&str]) -> Result<Output, DockerError> {
        let id = self.container(service).await?;
        let config =
            ExecConfig { attach_stdout: Some(true), attach_stderr: Some(true), cmd: Some(argv.iter().map(|s| s.to_string()).collect()), ..Default::default() };
        let exec = self.docker.create_exec(&id, config).await.map_err(|e| self.api(service, e))?.id;
        let mut out = Output::default();
        if let StartExecResults::Attached { mut output, .. } = self.docker.start_exec(&exec, None).await.map_err(|e| self.api(service, e))? {
            while let Some(msg) = output.next().await {
                match msg.map_err(|e| self.api(service, e))? {
                    bollard::container::LogOutput::StdErr { message } => out.stderr.push_str(&String::from_utf8_lossy(&message)),
                    other => out.stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
                }
            }
        }
        // The stream can end a moment before the engine records the exit code.
        for _ in 0..50 {
            let info = self.docker.inspect_exec(&exec).await.map_err(|e| self.api(service, e))?;
            if info.running != Some(true) {
                out.code = info.exit_code.unwrap_or(-1);
                return Ok(out);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(DockerError::Api { service: service.into(), message: format!("`{}` still running after its output ended", argv.join(" ")) })
    }

    /// Restarts the service's container and waits until it runs again (a new start time).
    pub async fn restart(&self, service: &str, timeout: Duration) -> Result<(), DockerError> {
        let id = self.container(service).await?;
        let before = self.started_at(service, &id).await?;
        let opts = RestartContainerOptionsBuilder::default().t(30).build();
        self.docker.restart_container(&id, Some(opts)).await.map_err(|e| self.api(service, e))?;
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.docker.inspect_container(&id, None::<InspectContainerOptions>).await.map_err(|e| self.api(service, e))?;
            let state = info.state.unwrap_or_default();
            if state.running == Some(true) && state.restarting != Some(true) && state.started_at != before {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DockerError::Timeout { service: format!("{service}-mailcow"), seconds: timeout.as_secs() });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The environment the service's container was started with (`NAME=value` each): mailcow's
    /// compose file hands mailcow.conf's settings to its containers this way.
    pub async fn env(&self, service: &str) -> Result<Vec<String>, DockerError> {
        let id = self.container(service).await?;
        let info = self.docker.inspect_container(&id, None::<InspectContainerOptions>).await.map_err(|e| self.api(service, e))?;
        Ok(info.config.and_then(|c| c.env).unwrap_or_default())
    }

    async fn started_at(&self, service: &str, id: &str) -> Result<Option<String>, DockerError> {
        let info = self.docker.inspect_container(id, None::<InspectContainerOptions>).await.map_err(|e| self.api(service, e))?;
        Ok(info.state.and_then(|s| s.started_at))
    }

    fn api(&self, service: &str, e: bollard::errors::Error) -> DockerError {
        DockerError::Api { service: format!("{service}-mailcow"), message: e.to_string() }
    }
}
