//! The demo's world: a platform on a simulated clock with its API on a loopback port,
//! the workers, the provincial simulator and an SMS provider stub, all in this process.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use workers::notify::{SmtpConfig, Tls};
use workers::provincial::ProvincialConfig;
use workers::provincial::sim::{SimOptions, SimState, serve_on};
use workers::queues::JobQueues;
use workers::runtime::{self, Roles, WorkerHandle};
use workflows::SimClock;
use workflows::runtime::Engine;

use super::client::Client;
use super::sms_stub::SmsStub;
use crate::config::Config;
use crate::platform;

/// The simulator's shared secret; it never leaves loopback.
const SIM_SECRET: &[u8] = b"demo-provincial-secret";

pub struct World {
    pub engine: Engine,
    pub clock: SimClock,
    pub client: Client,
    pub smtp_used: bool,
    /// The SMS provider stub that every SMS of this run goes to.
    pub sms: SmsStub,
    workers: Option<WorkerHandle>,
    _temp: Option<workflows::testing::TempDir>,
}

pub struct Options {
    pub database: Option<String>,
    pub smtp: Option<String>,
    pub start: DateTime<Utc>,
}

impl World {
    pub async fn start(options: Options) -> anyhow::Result<World> {
        // A new database in a temporary folder unless one is given; never ./data.
        let temp = workflows::testing::TempDir::new();
        let data_dir = temp.path.join("data");
        let database_url = options.database.clone().unwrap_or_else(|| format!("sqlite://{}/certflow.db", data_dir.display()));

        // The provincial simulator on an ephemeral loopback port; its store lives beside
        // the database so a second run against the same database finds the same records.
        let sim_dir = match &options.database {
            Some(_) => std::env::temp_dir().join(format!("certflow-demo-sim-{:x}", fxhash(&database_url))),
            None => temp.path.join("provincial-sim"),
        };
        let sim = SimState::open(&sim_dir, SimOptions::new(SIM_SECRET.to_vec())).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sim_address = listener.local_addr()?;
        tokio::spawn(serve_on(listener, sim.clone(), std::future::pending()));

        let smtp = match &options.smtp {
            Some(address) => {
                let (host, port) = address.rsplit_once(':').ok_or_else(|| anyhow::anyhow!("--smtp takes HOST:PORT, got {address}"))?;
                let mut smtp = SmtpConfig::new(host.to_string(), "certflow-demo@localhost".to_string());
                smtp.port = port.parse()?;
                smtp.tls = Tls::None;
                Some(smtp)
            }
            None => None,
        };
        let (sms, sms_api) = SmsStub::start().await?;
        let config = Config {
            database_url,
            data_dir,
            definitions_dir: None,
            smtp,
            mail_from: "certflow-demo@localhost".into(),
            sms_gateway: None,
            sms_api: Some(sms_api),
            provincial: Some(ProvincialConfig::new(format!("http://{sim_address}"), "dev", SIM_SECRET.to_vec())),
            s3: None,
            real_name: None,
        };

        let clock = SimClock::starting_at(options.start);
        let platform = platform::build(&config, Arc::new(clock.clone())).await?;
        // The clock of a second run starts where the first one ended, never earlier.
        if let Some(last) = last_activity(&platform.engine).await? {
            clock.advance_to(last);
        }
        let queues = JobQueues::connect(&platform.engine.db.url).await?;
        let workers = runtime::start(platform.services.clone(), queues, Roles { workers: true, scheduler: false }, Duration::from_millis(20));

        let state = api::AppState::with_courseware(platform.engine.clone(), platform.services.courseware.clone()).with_objects(config.object_store()?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api_address = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, api::router(state)).await });

        Ok(World {
            engine: platform.engine,
            clock,
            client: Client::new(format!("http://{api_address}"))?,
            smtp_used: options.smtp.is_some(),
            sms,
            workers: Some(workers),
            _temp: Some(temp),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now_utc()
    }

    /// Moves the clock on by `duration` without waiting for what becomes due, as time
    /// passes while a person works, such as answering an exam paper.
    pub fn pass_time(&self, duration: chrono::Duration) {
        self.clock.advance(duration);
    }

    /// Moves the clock to `instant` and lets every timer and action that became due run.
    pub async fn advance_to(&self, instant: DateTime<Utc>) -> anyhow::Result<()> {
        self.clock.advance_to(instant);
        self.engine.work_ready.notify_waiters();
        self.settle().await
    }

    /// Waits until no outbox entry or timer is due and nothing is running; a retry
    /// scheduled later is brought forward by moving the clock to it, as the time would
    /// pass in a real year. Gives up after ten minutes of real time.
    pub async fn settle(&self) -> anyhow::Result<()> {
        let pool = &self.engine.db.pool;
        let mut quiet_checks = 0;
        for _ in 0..60_000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let now_ms = self.now().timestamp_millis();
            let due_actions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE status = 'pending' AND due_at <= $1").bind(now_ms).fetch_one(pool).await?;
            let due_timers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_timers WHERE status = 'pending' AND due_at <= $1").bind(now_ms).fetch_one(pool).await?;
            if due_actions + due_timers > 0 {
                quiet_checks = 0;
                continue;
            }
            quiet_checks += 1;
            if quiet_checks < 3 {
                continue;
            }
            let next_retry: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM wf_outbox WHERE status = 'pending'").fetch_one(pool).await?;
            match next_retry {
                Some(next) => {
                    self.clock.advance_to(DateTime::from_timestamp_millis(next).unwrap_or_default());
                    self.engine.work_ready.notify_waiters();
                    quiet_checks = 0;
                }
                None => return Ok(()),
            }
        }
        anyhow::bail!("the platform did not settle within ten minutes")
    }

    pub async fn stop(mut self) {
        if let Some(workers) = self.workers.take() {
            workers.stop().await;
        }
    }
}

/// Returns the latest instant the database has seen, so a rerun's clock continues from it.
async fn last_activity(engine: &Engine) -> anyhow::Result<Option<DateTime<Utc>>> {
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(at) FROM wf_history").fetch_one(&engine.db.pool).await?;
    Ok(last.and_then(DateTime::from_timestamp_millis))
}

/// Returns a short stable hash for naming the simulator's folder after a database URL.
fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3))
}
