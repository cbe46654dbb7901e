//! Starts the workers of one process: the apalis monitor with one worker per queue,
//! the dispatcher, and the cron loop; stops them on a shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::actions::run_action_job;
use crate::queues::{ACTION_QUEUES, ActionJob, JobQueues, TIMER_QUEUE, TimerJob};
use crate::poll::TickStrategy;
use crate::services::Services;
use crate::{cron, dispatcher};

/// How often idle workers and the dispatcher look for work. The dispatcher is also
/// woken at once by every commit in this process.
pub const DEFAULT_POLL: Duration = Duration::from_millis(200);

/// Concurrent jobs per queue in one process.
const CONCURRENCY: usize = 4;

/// Running worker tasks; [`WorkerHandle::stop`] ends them.
pub struct WorkerHandle {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Signals every task and waits for them to finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!("workers stopped");
    }
}

/// The parts of the platform this process runs.
#[derive(Clone, Copy, Debug)]
pub struct Roles {
    pub workers: bool,
    pub scheduler: bool,
}

/// Starts the monitor, the dispatcher and (with the scheduler role) cron.
pub fn start(services: Arc<Services>, queues: JobQueues, roles: Roles, poll: Duration) -> WorkerHandle {
    let (shutdown, receiver) = watch::channel(false);
    let mut tasks = Vec::new();

    if roles.workers {
        let monitor = build_monitor(&services, &queues, poll);
        let mut stop = receiver.clone();
        tasks.push(tokio::spawn(async move {
            let signal = async move {
                let _ = stop.changed().await;
                Ok(())
            };
            if let Err(error) = monitor.run_with_signal(signal).await {
                tracing::error!(%error, "worker monitor ended with an error");
            }
        }));
        tasks.push(tokio::spawn(dispatcher::run(services.clone(), queues.clone(), poll, receiver.clone())));
    }
    if roles.scheduler {
        tasks.push(tokio::spawn(cron::run(services.clone(), receiver.clone())));
    }
    tracing::info!(workers = roles.workers, scheduler = roles.scheduler, "workers started");
    WorkerHandle { shutdown, tasks }
}

/// Registers one worker for `$queue` on whichever backend `$queues` is. The SQLite and
/// PostgreSQL storages are different types, so the builder chain is written once here
/// and expanded for each.
macro_rules! register_worker {
    ($monitor:expr, $queues:expr, $job:ty, $queue:expr, $name:expr, $services:expr, $poll:expr, $handler:expr) => {{
        let services = $services.clone();
        let name = $name;
        let queue = $queue;
        let poll = $poll;
        match $queues {
            JobQueues::Sqlite(pool) => {
                let pool = pool.clone();
                $monitor.register(move |_| {
                    let storage = SqliteStorage::<$job>::new(&pool).with_config(sqlite_config(queue)).poll_with_strategy(TickStrategy::new(poll));
                    WorkerBuilder::new(name.clone()).backend(storage).concurrency(CONCURRENCY).catch_panic().enable_tracing().data(services.clone()).build($handler)
                })
            }
            JobQueues::Postgres(pool) => {
                let pool = pool.clone();
                $monitor.register(move |_| {
                    let storage = PostgresStorage::<$job>::new(&pool).with_config(postgres_config(queue)).poll_with_strategy(TickStrategy::new(poll));
                    WorkerBuilder::new(name.clone()).backend(storage).concurrency(CONCURRENCY).catch_panic().enable_tracing().data(services.clone()).build($handler)
                })
            }
        }
    }};
}

fn build_monitor(services: &Arc<Services>, queues: &JobQueues, poll: Duration) -> Monitor {
    // A unique worker name per process start: a reused name kept a crashed job
    // "running" on PostgreSQL in apalis 1.0.
    let process = uuid::Uuid::new_v4().simple().to_string();
    // A worker whose fetch failed (a database error) is restarted: without this apalis
    // leaves the queue unserved until the process restarts.
    let mut monitor = Monitor::new().should_restart(|worker, error| {
        tracing::warn!(worker = %worker.name(), %error, "job worker stopped; restarting it");
        true
    });

    for queue in ACTION_QUEUES {
        let name = format!("{queue}-{}", &process[..8]);
        monitor = register_worker!(monitor, queues, ActionJob, queue, name, services, poll, run_action_job);
    }
    let name = format!("{TIMER_QUEUE}-{}", &process[..8]);
    register_worker!(monitor, queues, TimerJob, TIMER_QUEUE, name, services, poll, run_timer_job)
}

/// Heartbeat of a worker: a job taken by a process that missed three heartbeats
/// (15 s), as after a crash, is queued again for the living workers. A repeat is
/// harmless, since a job runs only while its outbox attempt is current.
const HEARTBEAT: Duration = Duration::from_secs(5);
const MISSED_HEARTBEATS: usize = 3;

fn sqlite_config(queue: &str) -> apalis_sqlite::Config {
    apalis_sqlite::Config::default().queue(queue).heartbeat_interval(HEARTBEAT).missed_heartbeats(MISSED_HEARTBEATS)
}

fn postgres_config(queue: &str) -> apalis_postgres::Config {
    apalis_postgres::Config::default().queue(queue).heartbeat_interval(HEARTBEAT).missed_heartbeats(MISSED_HEARTBEATS)
}

/// Fires one due timer. Errors leave the timer pending; the dispatcher queues it again.
async fn run_timer_job(job: TimerJob, services: Data<Arc<Services>>) -> Result<(), BoxDynError> {
    match services.engine.fire_timer(&job.timer_id).await {
        Ok(outcome) => tracing::debug!(timer = %job.timer_id, ?outcome, "timer fired"),
        Err(error) => tracing::error!(timer = %job.timer_id, %error, "timer could not fire; it stays pending"),
    }
    Ok(())
}
