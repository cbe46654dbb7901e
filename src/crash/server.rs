//! The `certflow serve` child process the drill kills and restarts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// One `certflow serve` process at a time, on a fixed loopback address so clients find
/// it again after a restart.
pub struct Server {
    exe: PathBuf,
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
    pub fn new(exe: PathBuf, listen: SocketAddr, env: Vec<(String, String)>, log: PathBuf) -> Server {
        Server { exe, listen, env, log, child: None, starts: 0, kills: 0 }
    }

    /// Starts the process and waits until `/healthz` responds, for at most two minutes
    /// (start-up migrates and publishes before it listens).
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).with_context(|| self.log.display().to_string())?;
        let child = Command::new(&self.exe)
            .args(["serve", "--listen", &self.listen.to_string()])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting certflow serve")?;
        self.child = Some(child);
        self.starts += 1;

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
