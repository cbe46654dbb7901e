//! Wake-ups across processes on PostgreSQL through `LISTEN`/`NOTIFY`.
//!
//! A commit in one process (an API request's transition) must wake the dispatchers of
//! the other processes. Each process forwards its engine's `work_ready` signal as one
//! `NOTIFY certflow_work` carrying its process name, coalescing commits that arrive
//! while a notification is being sent. One listener connection per process receives
//! those notifications, which wake the dispatcher, and apalis's `apalis::job::insert`
//! notifications (sent by its insert trigger with the queue as `job_type`), which wake
//! that queue's worker. Polling stays as the fallback while the listener reconnects,
//! and is the only mechanism on SQLite, which has no notifications.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use workflows::runtime::Engine;

/// The channel of new engine work; the payload is the sending process's name.
pub const CHANNEL: &str = "certflow_work";

/// The channel apalis-postgres 1.0's trigger `notify_workers` notifies on each job
/// inserted with `run_at <= now()`.
pub const JOB_INSERT_CHANNEL: &str = "apalis::job::insert";

/// Wait before connecting the listener again after its connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// What the listener wakes: the dispatcher, and one signal per job queue.
#[derive(Clone, Default)]
pub struct Signals {
    pub remote_work: Arc<Notify>,
    queues: Arc<HashMap<String, Arc<Notify>>>,
}

impl Signals {
    pub fn new(queues: &[&str]) -> Signals {
        let queues = queues.iter().map(|queue| (queue.to_string(), Arc::new(Notify::new()))).collect();
        Signals { remote_work: Arc::new(Notify::new()), queues: Arc::new(queues) }
    }

    /// Returns the signal of `queue`, notified when a job is inserted into it.
    pub fn queue(&self, queue: &str) -> Arc<Notify> {
        self.queues.get(queue).cloned().unwrap_or_default()
    }
}

/// Starts the listener of process `process` and, given an engine, the forwarder of its
/// commits.
pub fn spawn(engine: Option<Engine>, pool: PgPool, process: String, signals: Signals, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(listen(pool.clone(), process.clone(), signals, shutdown.clone()))];
    if let Some(engine) = engine {
        tasks.push(tokio::spawn(forward_commits(engine, pool, process, shutdown)));
    }
    tasks
}

/// Sends one notification per burst of local commits until shutdown.
async fn forward_commits(engine: Engine, pool: PgPool, process: String, mut shutdown: watch::Receiver<bool>) {
    let work_ready = engine.work_ready.clone();
    // Registered before each NOTIFY is sent, so a commit made meanwhile is not missed.
    let mut committed = Box::pin(work_ready.notified());
    committed.as_mut().enable();
    loop {
        tokio::select! {
            _ = &mut committed => {}
            _ = shutdown.changed() => return,
        }
        committed = Box::pin(work_ready.notified());
        committed.as_mut().enable();
        if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&process).execute(&pool).await {
            tracing::warn!(%error, process = %process, "could not notify other processes of new work; they poll instead");
        }
    }
}

#[derive(Deserialize)]
struct JobInserted {
    job_type: String,
}

/// Listens on both channels and wakes what each notification concerns, reconnecting
/// after a lost connection.
async fn listen(pool: PgPool, process: String, signals: Signals, mut shutdown: watch::Receiver<bool>) {
    loop {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, process = %process, "work listener could not connect; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RECONNECT_DELAY) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        tracing::info!(process = %process, "listening for work from other processes");
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) if notification.channel() == CHANNEL => {
                        if notification.payload() != process {
                            signals.remote_work.notify_one();
                        }
                    }
                    Ok(Some(notification)) => {
                        if let Ok(inserted) = serde_json::from_str::<JobInserted>(notification.payload()) {
                            if let Some(signal) = signals.queues.get(&inserted.job_type) {
                                signal.notify_one();
                            }
                        }
                    }
                    // The connection dropped and sqlx reconnects; a notification sent
                    // meanwhile may be lost, so wake everything once.
                    Ok(None) => wake_all(&signals),
                    Err(error) => {
                        tracing::warn!(%error, process = %process, "work listener failed; reconnecting");
                        wake_all(&signals);
                        break;
                    }
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

fn wake_all(signals: &Signals) {
    signals.remote_work.notify_one();
    for signal in signals.queues.values() {
        signal.notify_one();
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([CHANNEL, JOB_INSERT_CHANNEL]).await?;
    Ok(listener)
}
