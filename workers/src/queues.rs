//! The apalis job queues on SQLite or PostgreSQL, behind one enum.
//!
//! apalis storages of the two backends are different types, so every operation
//! matches on [`JobQueues`]. Jobs carry only ids, and the engine's outbox and timer
//! rows contain the work and its state. Every job is pushed with `max_attempts(1)`
//! because retries belong to the engine's policy, scheduled on its clock, so no second
//! retry layer multiplies attempts.

use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// One attempt of one outbox entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActionJob {
    pub outbox_id: String,
    pub attempt: i64,
    /// The job's idempotency key, from [`workflows::runtime::outbox::OutboxEntry::job_key`].
    pub key: String,
}

/// One due timer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimerJob {
    pub timer_id: String,
    /// The job's idempotency key, from [`workflows::runtime::timers::DueTimer::job_key`].
    /// Jobs queued before the key was stored in the job decode with an empty one.
    #[serde(default)]
    pub key: String,
}

/// The named queues. Names are fixed strings so that renaming a Rust type never
/// orphans queued jobs.
pub const NOTIFY_QUEUE: &str = "certflow.notify";
pub const SYNC_QUEUE: &str = "certflow.provincial_sync";
pub const CREDIT_QUEUE: &str = "certflow.credit";
pub const SCREENING_QUEUE: &str = "certflow.screening";
pub const TIMER_QUEUE: &str = "certflow.timer";

/// The queues that carry [`ActionJob`]s.
pub const ACTION_QUEUES: [&str; 4] = [NOTIFY_QUEUE, SYNC_QUEUE, CREDIT_QUEUE, SCREENING_QUEUE];

/// Returns the queue for an outbox entry of `kind` (and job `name` for jobs).
pub fn queue_for(kind: &str, job_name: Option<&str>) -> &'static str {
    match (kind, job_name) {
        ("notify", _) => NOTIFY_QUEUE,
        ("sync", _) => SYNC_QUEUE,
        (_, Some(name)) if name.starts_with("screen") || name == "finalize_exam" => SCREENING_QUEUE,
        _ => CREDIT_QUEUE,
    }
}

/// The job storage's connection pool.
#[derive(Clone, Debug)]
pub enum JobQueues {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl JobQueues {
    /// Opens the job storage at `url` and creates its tables.
    pub async fn connect(url: &str) -> Result<JobQueues, sqlx::Error> {
        if url.starts_with("sqlite:") {
            // apalis's setup turns synchronous off on its connection. The pool is opened
            // with our own options, so every connection keeps WAL, FULL and a busy timeout.
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(15));
            let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options.clone()).await?;
            SqliteStorage::setup(&pool).await.map_err(|error| sqlx::Error::Configuration(error.to_string().into()))?;
            if !crate::job_statistics::describe_jobs_table(&pool).await? {
                sqlx::query("PRAGMA synchronous = FULL").execute(&pool).await?;
                return Ok(JobQueues::Sqlite(pool));
            }

            // Connections opened before the statistics were written plan without them,
            // so the pool starts again.
            pool.close().await;
            let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
            Ok(JobQueues::Sqlite(pool))
        } else {
            let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
            sqlx::query("CREATE EXTENSION IF NOT EXISTS hstore").execute(&pool).await?;
            PostgresStorage::setup(&pool).await.map_err(|error| sqlx::Error::Configuration(error.to_string().into()))?;
            Ok(JobQueues::Postgres(pool))
        }
    }

    /// Closes the pool, waiting for its connections to be returned.
    pub async fn close(&self) {
        match self {
            JobQueues::Sqlite(pool) => pool.close().await,
            JobQueues::Postgres(pool) => pool.close().await,
        }
    }

    /// Counts the jobs of every queue that wait for a worker: pushed and not yet
    /// started (`Pending`), or fetched into a worker's buffer (`Queued`).
    pub async fn waiting_jobs(&self) -> Result<i64, String> {
        let counted = match self {
            JobQueues::Sqlite(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM Jobs WHERE status IN ('Pending', 'Queued')").fetch_one(pool).await,
            JobQueues::Postgres(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM apalis.jobs WHERE status IN ('Pending', 'Queued')").fetch_one(pool).await,
        };
        counted.map_err(|error| error.to_string())
    }

    /// Pushes action jobs to `queue` in one transaction. A job whose key is already
    /// queued is left alone.
    pub async fn push_actions(&self, queue: &str, jobs: Vec<ActionJob>) -> Result<(), String> {
        let keyed = jobs.into_iter().map(|job| (job.key.clone(), job)).collect();
        self.push_keyed(queue, keyed).await
    }

    /// Pushes timer jobs in one transaction. A job whose key is already queued is left
    /// alone. The key is [`workflows::runtime::timers::DueTimer::job_key`], made of the
    /// timer id and its claim time, so a timer claimed again after its lease is queued
    /// anew. Firing is idempotent in the engine.
    pub async fn push_timers(&self, jobs: Vec<TimerJob>) -> Result<(), String> {
        let keyed = jobs.into_iter().map(|job| (job.key.clone(), job)).collect();
        self.push_keyed(TIMER_QUEUE, keyed).await
    }

    /// Pushes `jobs` with their idempotency keys, all in one transaction. PostgreSQL
    /// rolls the whole batch back when one key is already queued, so then each job is
    /// pushed again on its own and the repeated ones are skipped.
    async fn push_keyed<Args>(&self, queue: &str, jobs: Vec<(String, Args)>) -> Result<(), String>
    where
        Args: Serialize + for<'de> Deserialize<'de> + Clone + Send + Sync + Unpin + 'static,
    {
        if jobs.is_empty() {
            return Ok(());
        }
        let batch = self.push_batch(queue, &jobs).await;
        if !is_duplicate(&batch) {
            return batch;
        }

        tracing::debug!(queue, jobs = jobs.len(), "a job of the batch was queued before; pushing one by one");
        for job in jobs {
            let single = self.push_batch(queue, std::slice::from_ref(&job)).await;
            if !is_duplicate(&single) {
                single?;
            }
        }
        Ok(())
    }

    async fn push_batch<Args>(&self, queue: &str, jobs: &[(String, Args)]) -> Result<(), String>
    where
        Args: Serialize + for<'de> Deserialize<'de> + Clone + Send + Sync + Unpin + 'static,
    {
        // Every job has max_attempts(1): retries belong to the engine (see the module doc).
        let tasks: Vec<_> = jobs.iter().map(|(key, job)| TaskBuilder::new(job.clone()).idempotency_key(key.clone()).max_attempts(1).build()).collect();
        match self {
            JobQueues::Sqlite(pool) => {
                let config = apalis_sqlite::Config::default().queue(queue);
                SqliteStorage::<Args>::new(pool).with_config(config).push_all(futures::stream::iter(tasks)).await.map_err(|e| e.to_string())
            }
            JobQueues::Postgres(pool) => {
                let config = apalis_postgres::Config::default().queue(queue);
                PostgresStorage::<Args>::new(pool).with_config(config).push_all(futures::stream::iter(tasks)).await.map_err(|e| e.to_string())
            }
        }
    }
}

// PostgreSQL reports a repeated idempotency key as a unique violation (SQLSTATE 23505),
// which means the job is already queued. SQLite skips the repeated row itself.
fn is_duplicate(result: &Result<(), String>) -> bool {
    matches!(result, Err(message) if message.contains("23505") || message.contains("duplicate key"))
}
