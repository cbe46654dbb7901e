//! Simulator of the supervision platform's receiving side, for development and tests.
//!
//! It implements the contract in `docs/provincial-contract.md`: signed `/v1/*` endpoints,
//! idempotent storage in `records.jsonl`, per-operator ordering, and fault injection. The
//! `/sim/*` control and inspection endpoints have no authentication, so bind the simulator
//! to a loopback address.

mod certificates;
mod faults;
mod handlers;
mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rand::SeedableRng;
use rand::rngs::StdRng;
use workflows::{Clock, SystemClock};

use anyhow::Context;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

use certificates::CertificateSource;
use store::RecordStore;

pub use certificates::synthetic_certificates;
pub use faults::{DUPLICATE_ACK_PROBABILITY, SimFaults};
pub use store::{RECORDS_FILE, StoredRecord};

/// Key id the simulator accepts unless [`SimOptions::key_id`] is changed.
pub const DEFAULT_KEY_ID: &str = "dev";

/// Start-up settings of the simulator.
#[derive(Clone)]
pub struct SimOptions {
    /// Key id that requests must name in `X-Certflow-Key-Id`.
    pub key_id: String,
    /// Shared secret for both signature algorithms, never logged.
    pub secret: Vec<u8>,
    /// Faults active from the start, until `POST /sim/faults` replaces them.
    pub faults: SimFaults,
    /// JSON file `{ "<id_number>": [certificate, ...] }` for `GET /v1/certificates`. Id
    /// numbers not in the file get synthetic certificates.
    pub certificates_file: Option<PathBuf>,
    /// Clock of the fault schedule (`down_until`) and of `received_at`. Tests pass the
    /// engine's simulated clock so an outage of hours passes in moments. The signature
    /// timestamp window always uses the system clock, because senders sign with it.
    pub clock: Arc<dyn Clock>,
}

impl SimOptions {
    /// Creates options with key id [`DEFAULT_KEY_ID`], no faults and no certificate seed file.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            key_id: DEFAULT_KEY_ID.to_owned(),
            secret: secret.into(),
            faults: SimFaults::default(),
            certificates_file: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .field("faults", &self.faults)
            .field("certificates_file", &self.certificates_file)
            .field("clock_now", &self.clock.now())
            .finish()
    }
}

/// Counters returned by `GET /sim/stats`, since the simulator started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// `POST /v1/records` requests received.
    pub received: u64,
    /// Records newly stored, including those acknowledged with an injected `duplicate: true`.
    pub accepted: u64,
    /// Repeats of a stored idempotency key, acknowledged with `200 duplicate: true`.
    pub duplicates: u64,
    /// `POST /v1/records` requests that got a 4xx response (401, 409 or 422).
    pub rejected: u64,
    /// Responses caused by a fault on any `/v1/*` endpoint: 503 down, 500 `error_rate`,
    /// 422 `reject_kinds`.
    pub errors_injected: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    errors_injected: AtomicU64,
}

fn increment(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Shared state of a running simulator, cheap to clone.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Shared>,
}

struct Shared {
    key_id: String,
    secret: Vec<u8>,
    store: tokio::sync::Mutex<RecordStore>,
    faults: Mutex<SimFaults>,
    /// Source of the random faults, reseeded when the faults carry a `seed`.
    rng: Mutex<StdRng>,
    clock: Arc<dyn Clock>,
    counters: Counters,
    certificates: CertificateSource,
}

impl Shared {
    fn faults(&self) -> std::sync::MutexGuard<'_, SimFaults> {
        // The guarded value is plain data, so a panic elsewhere cannot leave it half-written.
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns true with probability `p`, from the seeded generator when one is set.
    fn chance(&self, p: f64) -> bool {
        use rand::Rng;
        self.rng.lock().unwrap_or_else(PoisonError::into_inner).random_bool(p.clamp(0.0, 1.0))
    }
}

fn rng_for(faults: &SimFaults) -> StdRng {
    match faults.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

impl SimState {
    /// Opens the record store in `store_dir` (created when missing), reloading every stored
    /// record so that idempotency and sequences survive a restart.
    pub async fn open(store_dir: &Path, options: SimOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !options.key_id.is_empty(),
            "simulator key id must not be empty"
        );
        anyhow::ensure!(
            !options.secret.is_empty(),
            "simulator secret must not be empty"
        );
        options
            .faults
            .validate()
            .map_err(|message| anyhow::anyhow!("invalid simulator faults: {message}"))?;

        let store = RecordStore::open(store_dir).await?;
        let certificates = CertificateSource::load(options.certificates_file.as_deref())?;
        info!(
            path = %store.path().display(),
            records = store.len(),
            seeded_certificate_holders = certificates.seeded_len(),
            key_id = %options.key_id,
            "provincial simulator store opened"
        );

        Ok(Self {
            inner: Arc::new(Shared {
                key_id: options.key_id,
                secret: options.secret,
                store: tokio::sync::Mutex::new(store),
                rng: Mutex::new(rng_for(&options.faults)),
                faults: Mutex::new(options.faults),
                clock: options.clock,
                counters: Counters::default(),
                certificates,
            }),
        })
    }

    pub fn stats(&self) -> SimStats {
        let counters = &self.inner.counters;
        SimStats {
            received: counters.received.load(Ordering::Relaxed),
            accepted: counters.accepted.load(Ordering::Relaxed),
            duplicates: counters.duplicates.load(Ordering::Relaxed),
            rejected: counters.rejected.load(Ordering::Relaxed),
            errors_injected: counters.errors_injected.load(Ordering::Relaxed),
        }
    }

    pub fn faults(&self) -> SimFaults {
        self.inner.faults().clone()
    }

    /// Replaces the active faults, after checking their ranges.
    pub fn set_faults(&self, faults: SimFaults) -> Result<(), String> {
        faults.validate()?;
        info!(?faults, "provincial simulator faults changed");
        *self.inner.rng.lock().unwrap_or_else(PoisonError::into_inner) = rng_for(&faults);
        *self.inner.faults() = faults;
        Ok(())
    }

    /// Lists stored records in arrival order, optionally for one operator.
    pub async fn records(&self, operator_ref: Option<&str>) -> Vec<StoredRecord> {
        self.inner.store.lock().await.list(operator_ref)
    }
}

/// Builds the simulator's routes: the contract's `/v1/*` endpoints and the `/sim/*`
/// control and inspection endpoints.
pub fn router(state: SimState) -> Router {
    handlers::routes().with_state(state)
}

/// Runs the simulator on `listen` until Ctrl-C.
pub async fn serve(
    listen: SocketAddr,
    store_dir: PathBuf,
    options: SimOptions,
) -> anyhow::Result<()> {
    let state = SimState::open(&store_dir, options).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("failed to bind the provincial simulator to {listen}"))?;
    serve_on(listener, state, shutdown_on_ctrl_c()).await
}

/// Runs the simulator on a bound listener until `shutdown` completes, then waits for open
/// requests to finish.
pub async fn serve_on(
    listener: TcpListener,
    state: SimState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener
        .local_addr()
        .context("failed to read the simulator's local address")?;
    if !address.ip().is_loopback() {
        warn!(%address, "provincial simulator listens beyond loopback, and its /sim/* endpoints have no authentication");
    }
    info!(%address, "provincial simulator started");

    let result = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    match &result {
        Ok(()) => info!(%address, "provincial simulator stopped"),
        Err(error) => error!(%address, %error, "provincial simulator stopped with an error"),
    }
    result.context("provincial simulator server failed")
}

async fn shutdown_on_ctrl_c() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        // Without a signal handler the simulator runs until the process is killed.
        warn!(%error, "failed to listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}
