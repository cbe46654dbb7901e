//! Growth: transition cost as the instance tables grow, a mass of timers due at one
//! moment, and the memory and database size an operator's year takes.
//!
//! Instances are added in bulk with one `INSERT … SELECT` over a recursive row
//! generator, each with its `started` history entry, because starting a million through
//! the engine would take longer than the measurement. The rows are `bench_loop`
//! instances as the engine would have written them.

use std::time::{Duration, Instant};

use rand::Rng;
use workers::runtime::{self, DEFAULT_POLL, Roles};
use workflows::db::{Backend, Db};
use workflows::runtime::{EventIn, EventOutcome};

use super::measure::{Measurement, measure_concurrent, summarize};
use super::workload::Bed;

/// Rows added per transaction while growing the tables.
const GROW_BATCH: i64 = 50_000;

/// Adds `bench_loop` instances `g-<from>` … `g-<to - 1>` with one history entry each.
pub async fn grow(bed: &Bed, from: i64, to: i64) -> anyhow::Result<()> {
    let version: String = sqlx::query_scalar("SELECT version FROM wf_definitions WHERE definition_id = 'bench_loop' ORDER BY seq DESC LIMIT 1").fetch_one(&bed.engine.db.pool).await?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut start = from;
    while start < to {
        let end = (start + GROW_BATCH).min(to) - 1;
        let mut tx = bed.engine.db.begin_write().await?;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $2)
             INSERT INTO wf_instances (id, definition_id, version, subject_key, subject, state, context, status, lock_version, history_seq, created_at, updated_at)
             SELECT 'g-' || i, 'bench_loop', $3, 'key=g-' || i, '{\"key\":\"g-' || i || '\"}', 'idle', '{}', 'running', 1, 1, $4, $4 FROM n",
        )
        .bind(start)
        .bind(end)
        .bind(&version)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $2)
             INSERT INTO wf_history (instance_id, seq, at, kind, event, event_id, from_state, to_state, detail)
             SELECT 'g-' || i, 1, $3, 'started', NULL, 'start:g-' || i, NULL, 'idle', '{}' FROM n",
        )
        .bind(start)
        .bind(end)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        start = end + 1;
    }
    analyze_after_bulk_load(&bed.engine.db).await
}

/// Updates PostgreSQL's planner statistics after a bulk load, as its documentation
/// advises. Autovacuum would do it within minutes, but until then the planner takes
/// the tables for nearly empty: with 100,000 fresh timers it sorted every due timer
/// for each claim of 200. On SQLite the platform keeps no statistics for these
/// tables, and its planner's defaults already choose the ordered index.
async fn analyze_after_bulk_load(db: &Db) -> anyhow::Result<()> {
    if db.backend == Backend::Postgres {
        sqlx::query("ANALYZE wf_instances, wf_history, wf_timers").execute(&db.pool).await?;
    }
    Ok(())
}

/// Transitions on instances drawn at random among the first `population` grown ones.
pub async fn transitions_among(bed: &Bed, population: i64, label: &str, budget: Duration, min_calls: usize, tasks: usize) -> anyhow::Result<Measurement> {
    let engine = bed.engine.clone();
    let label = label.to_string();
    measure_concurrent(budget, min_calls, tasks, move |task, call| {
        let engine = engine.clone();
        let id = format!("g-{}", rand::rng().random_range(0..population));
        let event_id = format!("grow-{label}-{task}-{call}");
        async move {
            let outcome = engine.send(&id, EventIn::new(event_id, "flip")).await?;
            // Two tasks may draw one instance; both transitions apply in turn.
            anyhow::ensure!(matches!(outcome, EventOutcome::Applied { .. }), "flip on {id} not applied: {outcome:?}");
            Ok(())
        }
    })
    .await
}

/// Arms one `flip` timer, due now, on each of the first `count` grown instances, starts
/// the workers and returns timers fired per second until none is pending.
pub async fn drain_timers(bed: &Bed, count: i64) -> anyhow::Result<Measurement> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut tx = bed.engine.db.begin_write().await?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO wf_timers (id, instance_id, state, timer_index, event, due_at, status, created_at)
         SELECT 'bench-timer-' || i, 'g-' || i, 'idle', 0, 'flip', $2, 'pending', $2 FROM n",
    )
    .bind(count - 1)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    analyze_after_bulk_load(&bed.engine.db).await?;

    let handle = runtime::start(bed.services.clone(), bed.queues.clone(), Roles { workers: true, scheduler: false }, DEFAULT_POLL);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(3_600);
    let outcome = loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_timers WHERE status = 'pending' AND id LIKE 'bench-timer-%'").fetch_one(&bed.engine.db.pool).await?;
        if pending == 0 {
            break Ok(summarize(Vec::new(), count as usize, started.elapsed()));
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("{pending} of {count} timers still pending after an hour"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    handle.stop().await;
    outcome
}

/// Returns the database's size in bytes: the SQLite file after a checkpoint of its WAL,
/// or `pg_database_size` on PostgreSQL.
pub async fn database_bytes(db: &Db) -> anyhow::Result<u64> {
    match db.backend {
        Backend::Sqlite => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&db.pool).await?;
            let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&db.pool).await?;
            let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&db.pool).await?;
            Ok((pages * page_size) as u64)
        }
        Backend::Postgres => {
            let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(&db.pool).await?;
            Ok(bytes as u64)
        }
    }
}

/// Returns this process's resident set size in bytes (`VmRSS` in /proc/self/status).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
