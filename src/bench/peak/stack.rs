//! The platform under test, started as `certflow serve` starts it: API and pages on one
//! loopback listener, workers and scheduler in the same process, the system clock. An
//! SMS provider stub and the provincial simulator on loopback stand in for the outside
//! services.

use std::sync::Arc;

use workers::provincial::ProvincialConfig;
use workers::provincial::sim::{SimOptions, SimState, serve_on};
use workers::queues::JobQueues;
use workers::runtime::{self, DEFAULT_POLL, Roles, WorkerHandle};
use workflows::clock::SystemClock;
use workflows::runtime::Engine;
use workflows::testing::TempDir;

use crate::config::Config;
use crate::demo::client::Client;
use crate::demo::sms_stub::SmsStub;
use crate::platform;

/// The simulator's shared secret; it never leaves loopback.
const SIM_SECRET: &[u8] = b"exam-peak-provincial-secret";

pub struct Stack {
    pub engine: Engine,
    pub state: api::AppState,
    /// `http://127.0.0.1:<port>`, the API's base URL.
    pub base_url: String,
    pub client: Client,
    pub sms: SmsStub,
    workers: WorkerHandle,
    _dir: TempDir,
}

impl Stack {
    pub async fn start(database_url: &str) -> anyhow::Result<Stack> {
        let dir = TempDir::new();
        let sim = SimState::open(&dir.path.join("provincial-sim"), SimOptions::new(SIM_SECRET.to_vec())).await?;
        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sim_address = sim_listener.local_addr()?;
        tokio::spawn(serve_on(sim_listener, sim, std::future::pending()));
        let (sms, sms_api) = SmsStub::start().await?;

        let config = Config {
            database_url: database_url.to_string(),
            data_dir: dir.path.join("data"),
            definitions_dir: None,
            smtp: None,
            mail_from: "certflow-peak@localhost".into(),
            sms_gateway: None,
            sms_api: Some(sms_api),
            provincial: Some(ProvincialConfig::new(format!("http://{sim_address}"), "dev", SIM_SECRET.to_vec())),
            s3: None,
            real_name: None,
        };
        let platform = platform::build(&config, Arc::new(SystemClock)).await?;
        let queues = JobQueues::connect(&platform.engine.db.url).await?;
        let workers = runtime::start(platform.services.clone(), queues, Roles { workers: true, scheduler: true }, DEFAULT_POLL);

        let state = api::AppState::with_courseware(platform.engine.clone(), platform.services.courseware.clone()).with_objects(config.object_store()?);
        let router = web::site(state.clone(), web::WebConfig::from_env());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, router).await });

        Ok(Stack { engine: platform.engine, state, client: Client::new(base_url.clone())?, base_url, sms, workers, _dir: dir })
    }

    /// Stops the workers and closes the pool, so that the bench database can be dropped.
    pub async fn stop(self) {
        self.workers.stop().await;
        self.engine.db.pool.close().await;
    }
}
