//! Starts the workers of one process: the apalis monitor with one worker per queue,
//! the dispatcher, the cron loop and, on PostgreSQL, the cross-process wake-ups; stops
//! them on a shutdown signal, finishing running jobs or handing them back.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use apalis_core::backend::ext::poll_strategy::Strategy;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::actions::{InFlight, run_tracked_action_job};
use crate::queues::{ACTION_QUEUES, ActionJob, JobQueues, TIMER_QUEUE, TimerJob};
use crate::poll::{ListenStrategy, TickStrategy};
use crate::services::Services;
use crate::wake::{self, Signals};
use crate::{cron, dispatcher};

/// How often idle workers and the dispatcher look for work. The dispatcher is also
/// woken at once by every commit in this process.
pub const DEFAULT_POLL: Duration = Duration::from_millis(200);

/// Concurrent jobs per queue in one process.
pub const CONCURRENCY: usize = 4;

/// Time running jobs get to finish after a shutdown signal; attempts still running then
/// are handed back to the outbox for another process.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Running worker tasks; [`WorkerHandle::stop`] ends them.
pub struct WorkerHandle {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    in_flight: InFlight,
    services: Arc<Services>,
    process: String,
}

impl WorkerHandle {
    /// Returns this runtime's process name, the prefix of its apalis worker names: the
    /// OS process id and a random suffix, new at every start.
    pub fn process(&self) -> &str {
        &self.process
    }

    /// Returns the number of job attempts running now.
    pub fn running_jobs(&self) -> usize {
        self.in_flight.len()
    }

    /// Returns the outbox ids of the job attempts running now.
    pub fn running_outbox_ids(&self) -> Vec<String> {
        self.in_flight.outbox_ids()
    }

    /// Signals every task, lets running jobs finish within [`SHUTDOWN_GRACE`], and hands
    /// back those that did not.
    pub async fn stop(self) {
        self.stop_within(SHUTDOWN_GRACE).await;
    }

    /// Like [`WorkerHandle::stop`] with a grace period of `grace`. Returns the number of
    /// attempts handed back.
    pub async fn stop_within(self, grace: Duration) -> usize {
        let _ = self.shutdown.send(true);
        // Finished tasks are removed as they end, so only unfinished ones are aborted.
        let mut tasks = self.tasks;
        let joined = tokio::time::timeout(grace, async {
            while let Some(task) = tasks.last_mut() {
                let _ = task.await;
                tasks.pop();
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!(process = %self.process, running = self.in_flight.len(), grace_ms = grace.as_millis() as u64, "jobs still running after the grace period; stopping them");
            for task in &tasks {
                task.abort();
            }
            for task in tasks {
                let _ = task.await;
            }
        }
        let returned = self.in_flight.return_all(&self.services.engine).await;
        tracing::info!(process = %self.process, returned, "workers stopped");
        returned
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
    let in_flight = InFlight::default();
    let process = process_name();

    // Every process forwards its commits to the others, so even an API-only process
    // wakes the workers elsewhere.
    let mut queue_names = ACTION_QUEUES.to_vec();
    queue_names.push(TIMER_QUEUE);
    let signals = Signals::new(&queue_names);
    if let JobQueues::Postgres(pool) = &queues {
        tasks.extend(wake::spawn(Some(services.engine.clone()), pool.clone(), process.clone(), signals.clone(), receiver.clone()));
    }

    if roles.workers {
        let monitor = build_monitor(&services, &queues, poll, &process, &in_flight, &signals);
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
        tasks.push(tokio::spawn(dispatcher::run(services.clone(), queues.clone(), poll, signals.remote_work.clone(), receiver.clone())));
    }
    if roles.scheduler {
        tasks.push(tokio::spawn(cron::run(services.clone(), receiver.clone())));
    }
    tracing::info!(process = %process, workers = roles.workers, scheduler = roles.scheduler, "workers started");
    WorkerHandle { shutdown, tasks, in_flight, services, process }
}

/// Returns a name unique to this start: the OS process id separates processes on one
/// host, and the random part separates restarts and several runtimes in one process. A
/// reused name kept a crashed job "running" on PostgreSQL in apalis 1.0.
fn process_name() -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", std::process::id(), &suffix[..8])
}

/// Registers one worker for `$queue` on whichever backend `$queues` is. The SQLite and
/// PostgreSQL storages are different types, so the builder chain is written once here
/// and expanded for each.
macro_rules! register_worker {
    ($monitor:expr, $queues:expr, $job:ty, $queue:expr, $name:expr, $services:expr, $in_flight:expr, $signal:expr, $poll:expr, $handler:expr) => {{
        let services = $services.clone();
        let in_flight: InFlight = $in_flight.clone();
        let signal: Arc<Notify> = $signal;
        let name = $name;
        let queue = $queue;
        let poll = $poll;
        match $queues {
            JobQueues::Sqlite(pool) => {
                // SQLite has no notifications; its workers poll.
                drop(signal);
                let pool = pool.clone();
                $monitor.register(move |_| {
                    let storage = SqliteStorage::<$job>::new(&pool).with_config(sqlite_config(queue)).poll_with_strategy(TickStrategy::new(poll));
                    WorkerBuilder::new(name.clone()).backend(storage).concurrency(CONCURRENCY).catch_panic().enable_tracing().data(services.clone()).data(in_flight.clone()).build($handler)
                })
            }
            JobQueues::Postgres(pool) => {
                let pool = pool.clone();
                $monitor.register(move |_| {
                    // Woken by the insert trigger's notification, with polling as the fallback.
                    let strategy = Strategy::new().apply(ListenStrategy::new(signal.clone())).apply(TickStrategy::new(poll));
                    let storage = PostgresStorage::<$job>::new(&pool).with_config(postgres_config(queue)).poll_with_strategy(strategy);
                    WorkerBuilder::new(name.clone()).backend(storage).concurrency(CONCURRENCY).catch_panic().enable_tracing().data(services.clone()).data(in_flight.clone()).build($handler)
                })
            }
        }
    }};
}

fn build_monitor(services: &Arc<Services>, queues: &JobQueues, poll: Duration, process: &str, in_flight: &InFlight, signals: &Signals) -> Monitor {
    // A worker whose fetch failed (a database error) is restarted: without this apalis
    // leaves the queue unserved until the process restarts.
    let mut monitor = Monitor::new().should_restart(|worker, error| {
        tracing::warn!(worker = %worker.name(), %error, "job worker stopped; restarting it");
        true
    });

    for queue in ACTION_QUEUES {
        let name = format!("{queue}-{process}");
        monitor = register_worker!(monitor, queues, ActionJob, queue, name, services, in_flight, signals.queue(queue), poll, run_tracked_action_job);
    }
    let name = format!("{TIMER_QUEUE}-{process}");
    register_worker!(monitor, queues, TimerJob, TIMER_QUEUE, name, services, in_flight, signals.queue(TIMER_QUEUE), poll, run_timer_job)
}

/// Heartbeat of a worker: a job taken by a process that missed three heartbeats
/// (15 s), as after a crash, is queued again for the living workers. A repeat is
/// harmless, since a job runs only while its outbox attempt is current.
const HEARTBEAT: Duration = Duration::from_secs(5);
const MISSED_HEARTBEATS: usize = 3;

/// Returns the SQLite storage settings of queue `queue`, shared with `certflow bench`'s apalis
/// baseline so it runs with the workers' settings.
pub fn sqlite_config(queue: &str) -> apalis_sqlite::Config {
    apalis_sqlite::Config::default().queue(queue).heartbeat_interval(HEARTBEAT).missed_heartbeats(MISSED_HEARTBEATS)
}

/// Returns the PostgreSQL storage settings of queue `queue` (see [`sqlite_config`]).
pub fn postgres_config(queue: &str) -> apalis_postgres::Config {
    apalis_postgres::Config::default().queue(queue).heartbeat_interval(HEARTBEAT).missed_heartbeats(MISSED_HEARTBEATS)
}

/// Fires one due timer. Errors leave the timer pending, and the dispatcher queues it
/// again once its claim's lease expires.
async fn run_timer_job(job: TimerJob, services: Data<Arc<Services>>) -> Result<(), BoxDynError> {
    let started = std::time::Instant::now();
    match services.engine.fire_timer(&job.timer_id).await {
        Ok(outcome) => {
            tracing::debug!(timer = %job.timer_id, ?outcome, "timer fired");
            workflows::metrics::record_job(TIMER_QUEUE, "done", started.elapsed());
        }
        Err(error) => {
            tracing::error!(timer = %job.timer_id, %error, "timer could not fire; it stays pending");
            workflows::metrics::record_job(TIMER_QUEUE, "failed", started.elapsed());
        }
    }
    Ok(())
}
