//! The baselines every engine figure is read against, measured in the same run on the
//! same database through the engine's own pool and settings:
//!
//! - (a) naive: one transaction per single-row INSERT, from the same number of
//!   concurrent tasks as the transition measurement;
//! - (b) ceiling: single-row INSERT statements, 1,000 per transaction, from one task;
//! - (c) apalis alone: trivial jobs pushed and completed with the workers' storage
//!   settings, concurrency and poll strategy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use workers::poll::{ListenStrategy, TickStrategy};
use workers::queues::JobQueues;
use workers::runtime::{CONCURRENCY, DEFAULT_POLL, postgres_config, sqlite_config};
use workers::wake::{self, Signals};
use workflows::db::Db;

use super::measure::{Measurement, measure_concurrent, summarize};

/// Rows per transaction of the ceiling baseline.
pub const ROWS_PER_BATCH: usize = 1_000;

/// The queue of the apalis baseline's jobs, apart from every queue the workers serve.
const TRIVIAL_QUEUE: &str = "certflow.bench_trivial";

pub async fn create_table(db: &Db) -> anyhow::Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_rows (id TEXT PRIMARY KEY, payload TEXT NOT NULL, created_at BIGINT NOT NULL)").execute(&db.pool).await?;
    Ok(())
}

/// Returns a payload about the size of a transition's context and history detail.
fn payload() -> String {
    format!("{{\"state\":\"busy\",\"credits\":12,\"note\":\"{}\"}}", "x".repeat(160))
}

/// (a): one committed transaction per row, `tasks` writers at once.
pub async fn naive(db: &Db, budget: Duration, min_calls: usize, tasks: usize) -> anyhow::Result<Measurement> {
    let db = db.clone();
    let payload = payload();
    measure_concurrent(budget, min_calls, tasks, move |task, call| {
        let db = db.clone();
        let payload = payload.clone();
        async move {
            let mut tx = db.begin_write().await?;
            sqlx::query("INSERT INTO bench_rows (id, payload, created_at) VALUES ($1, $2, $3)")
                .bind(format!("a-{task}-{call}"))
                .bind(payload)
                .bind(chrono::Utc::now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }
    })
    .await
}

/// (b): batches of [`ROWS_PER_BATCH`] single-row INSERTs in one transaction. The
/// figure is rows per second; the latencies are those of one row's share of a batch.
pub async fn ceiling(db: &Db, budget: Duration, min_batches: usize) -> anyhow::Result<Measurement> {
    let payload = payload();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut batch = 0;
    while batch < min_batches || started.elapsed() < budget {
        let call = Instant::now();
        let mut tx = db.begin_write().await?;
        for row in 0..ROWS_PER_BATCH {
            sqlx::query("INSERT INTO bench_rows (id, payload, created_at) VALUES ($1, $2, $3)")
                .bind(format!("b-{batch}-{row}"))
                .bind(&payload)
                .bind(chrono::Utc::now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        latencies.push(call.elapsed() / ROWS_PER_BATCH as u32);
        batch += 1;
    }
    Ok(summarize(latencies, batch * ROWS_PER_BATCH, started.elapsed()))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrivialJob {
    n: usize,
}

async fn trivial(_job: TrivialJob, done: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Measures (c): `jobs` trivial jobs pushed by `tasks` concurrent tasks to a running
/// worker with the workers' settings, in jobs per second from the first push to the
/// last job done. The p50 and p99 are those of a push, since job latencies are not
/// recorded.
pub async fn apalis_alone(queues: &JobQueues, jobs: usize, tasks: usize) -> anyhow::Result<Measurement> {
    let done = Arc::new(AtomicUsize::new(0));
    let name = format!("bench-trivial-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    // The job-insert listener the workers have, without the engine's forwarder.
    let signals = Signals::new(&[TRIVIAL_QUEUE]);
    let (stop_listener, listener_stopped) = tokio::sync::watch::channel(false);
    let listener = match queues {
        JobQueues::Postgres(pool) => wake::spawn(None, pool.clone(), name.clone(), signals.clone(), listener_stopped),
        JobQueues::Sqlite(_) => Vec::new(),
    };
    let monitor = match queues {
        JobQueues::Sqlite(pool) => {
            let pool = pool.clone();
            let done = done.clone();
            Monitor::new().register(move |_| {
                let storage = SqliteStorage::<TrivialJob>::new(&pool).with_config(sqlite_config(TRIVIAL_QUEUE)).poll_with_strategy(TickStrategy::new(DEFAULT_POLL));
                WorkerBuilder::new(name.clone()).backend(storage).concurrency(CONCURRENCY).data(done.clone()).build(trivial)
            })
        }
        JobQueues::Postgres(pool) => {
            let pool = pool.clone();
            let done = done.clone();
            let signal = signals.queue(TRIVIAL_QUEUE);
            Monitor::new().register(move |_| {
                let strategy = apalis_core::backend::ext::poll_strategy::Strategy::new()
                    .apply(ListenStrategy::new(signal.clone()))
                    .apply(TickStrategy::new(DEFAULT_POLL));
                let storage = PostgresStorage::<TrivialJob>::new(&pool).with_config(postgres_config(TRIVIAL_QUEUE)).poll_with_strategy(strategy);
                WorkerBuilder::new(name.clone()).backend(storage).concurrency(CONCURRENCY).data(done.clone()).build(trivial)
            })
        }
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(monitor.run_with_signal(async move {
        let _ = stopped.await;
        Ok(())
    }));

    let started = Instant::now();
    let per_task = jobs.div_ceil(tasks.max(1));
    let mut pushers = Vec::new();
    for task in 0..tasks.max(1) {
        let queues = queues.clone();
        pushers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for index in 0..per_task {
                let call = Instant::now();
                push_trivial(&queues, TrivialJob { n: task * per_task + index }).await?;
                latencies.push(call.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for pusher in pushers {
        latencies.extend(pusher.await??);
    }
    let total = per_task * tasks.max(1);
    let deadline = Instant::now() + Duration::from_secs(120);
    while done.load(Ordering::SeqCst) < total {
        if Instant::now() > deadline {
            anyhow::bail!("apalis baseline: {} of {total} trivial jobs done after 120 s", done.load(Ordering::SeqCst));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let wall = started.elapsed();
    let _ = stop.send(());
    let _ = running.await;
    let _ = stop_listener.send(true);
    for task in listener {
        let _ = task.await;
    }
    Ok(summarize(latencies, total, wall))
}

async fn push_trivial(queues: &JobQueues, job: TrivialJob) -> anyhow::Result<()> {
    let task = TaskBuilder::new(job).max_attempts(1).build();
    match queues {
        JobQueues::Sqlite(pool) => SqliteStorage::<TrivialJob>::new(pool).with_config(sqlite_config(TRIVIAL_QUEUE)).push_task(task).await.map_err(|e| anyhow::anyhow!("{e}")),
        JobQueues::Postgres(pool) => PostgresStorage::<TrivialJob>::new(pool).with_config(postgres_config(TRIVIAL_QUEUE)).push_task(task).await.map_err(|e| anyhow::anyhow!("{e}")),
    }
}
