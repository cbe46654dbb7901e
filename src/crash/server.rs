//! The `certflow serve` child process the drill kills and restarts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long a process without a listener must keep running to count as started.
// NOTE: a worker that is still migrating after this long counts as started; the drill
// only needs it alive, since the API process migrates first.
const NO_LISTENER_SETTLE: Duration = Duration::from_millis(1500);

/// One `certflow serve --role ROLE` process at a time, on a fixed loopback address so
/// clients find it again after a restart.
pub struct Server {
    exe: PathBuf,
    /// `all`, `api`, `worker` or `scheduler`.
    pub role: &'static str,
    pub listen: SocketAddr,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    /// How many times the process was started.
    pub starts: usize,
    /// How many times it was killed with SIGKILL.
    pub kills: usize,
}

impl Server {
    pub fn new(exe: PathBuf, role: &'static str, listen: SocketAddr, env: Vec<(String, String)>, log: PathBuf) -> Server {
        Server { exe, role, listen, env, log, child: None, starts: 0, kills: 0 }
    }

    /// Starts the process and waits until it is ready, for at most two minutes: a role
    /// that serves the API is ready when `/healthz` responds (start-up migrates and
    /// publishes before it listens); a worker or scheduler, which has no listener, when
    /// it is still running after [`NO_LISTENER_SETTLE`].
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).with_context(|| self.log.display().to_string())?;
        let child = Command::new(&self.exe)
            .args(["serve", "--role", self.role, "--listen", &self.listen.to_string()])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting certflow serve")?;
        self.child = Some(child);
        self.starts += 1;

        if !matches!(self.role, "all" | "api") {
            tokio::time::sleep(NO_LISTENER_SETTLE).await;
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("certflow serve --role {} exited with {status} during start-up; see {}", self.role, self.log.display());
            }
            return Ok(());
        }

        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let url = format!("http://{}/healthz", self.listen);
        for _ in 0..600 {
            if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("certflow serve exited with {status} during start-up; see {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("certflow serve did not respond on /healthz within two minutes; see {}", self.log.display())
    }

    /// Kills the process with SIGKILL, as a power cut or the OOM killer would, and
    /// waits for it to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if self.stop().await? {
            self.kills += 1;
        }
        Ok(())
    }

    /// Ends the process at the end of the drill, without counting it as a kill.
    /// Returns whether one was running.
    pub async fn stop(&mut self) -> anyhow::Result<bool> {
        let Some(mut child) = self.child.take() else { return Ok(false) };
        child.start_kill()?;
        child.wait().await?;
        Ok(true)
    }
}
