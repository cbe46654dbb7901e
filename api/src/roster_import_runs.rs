//! Background runs of confirmed roster imports, resumable after a restart.
//!
//! A run holds a lease on its import (`runner` and `lease_until`, on the engine's clock)
//! and renews it with the progress after every chunk of rows. Each row's result is
//! recorded in the transaction that writes the row, so a run that stops with its
//! process leaves every row either written and recorded or untouched. A later run
//! skips the recorded rows and keeps their results, and never imports a row twice.
//! [`resume_interrupted`] takes over `running` imports whose lease has expired; API
//! processes call it at start-up and then every minute ([`resume_in_background`]).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;

use crate::db::new_id;
use crate::error::ApiError;
use crate::roster::{ImportedRow, ParsedRoster, RowRecord, import_recorded_row, parse_for_unit, summarize};
use crate::AppState;

/// Rows written between two progress updates and lease renewals.
pub const CHUNK_ROWS: usize = 100;
/// How long a run owns its import after each renewal, in engine-clock milliseconds.
/// A chunk takes well under this, so only a stopped or stalled run loses its lease.
pub const LEASE_MS: i64 = 2 * 60 * 1000;
/// Wall-clock time between two looks for interrupted imports.
const RESUME_INTERVAL: Duration = Duration::from_secs(60);

/// Starts the import of a previewed file, or resumes one that failed, unless another
/// request started it first. Returns whether this call started it.
pub async fn start(state: &AppState, unit_id: &str, import_id: &str) -> Result<bool, ApiError> {
    let runner = new_id();
    let now_ms = state.now_ms();
    let started = sqlx::query(
        "UPDATE roster_imports SET status = 'running', error = NULL, runner = $1, lease_until = $2, updated_at = $3
         WHERE id = $4 AND unit_id = $5 AND status IN ('previewed', 'failed')",
    )
    .bind(&runner)
    .bind(now_ms + LEASE_MS)
    .bind(now_ms)
    .bind(import_id)
    .bind(unit_id)
    .execute(&state.engine.db.pool)
    .await?;
    if started.rows_affected() == 0 {
        return Ok(false);
    }
    spawn_run(state.clone(), import_id.to_string(), runner);
    Ok(true)
}

/// Takes over every `running` import whose lease has expired, such as one whose
/// process stopped, and continues each in the background. Returns their ids.
pub async fn resume_interrupted(state: &AppState) -> Result<Vec<String>, ApiError> {
    let now_ms = state.now_ms();
    let expired: Vec<String> = sqlx::query_scalar("SELECT id FROM roster_imports WHERE status = 'running' AND (lease_until IS NULL OR lease_until < $1) ORDER BY created_at, id")
        .bind(now_ms)
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut resumed = Vec::new();
    for import_id in expired {
        let runner = new_id();
        // The lease condition again, so that two processes looking at once take it once.
        let claimed = sqlx::query(
            "UPDATE roster_imports SET runner = $1, lease_until = $2, updated_at = $3
             WHERE id = $4 AND status = 'running' AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(&runner)
        .bind(now_ms + LEASE_MS)
        .bind(now_ms)
        .bind(&import_id)
        .execute(&state.engine.db.pool)
        .await?;
        if claimed.rows_affected() == 1 {
            tracing::info!(import = %import_id, runner = %runner, "interrupted roster import resumed");
            spawn_run(state.clone(), import_id.clone(), runner);
            resumed.push(import_id);
        }
    }
    Ok(resumed)
}

/// Calls [`resume_interrupted`] now and every minute for as long as the process runs.
pub fn resume_in_background(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = resume_interrupted(&state).await {
                tracing::error!(error = %error, "looking for interrupted roster imports failed; trying again in a minute");
            }
            tokio::time::sleep(RESUME_INTERVAL).await;
        }
    })
}

fn spawn_run(state: AppState, import_id: String, runner: String) {
    tokio::spawn(async move { run(state, import_id, runner).await });
}

/// Runs an import to its end under `runner`'s lease and records the outcome; logs a
/// failure.
async fn run(state: AppState, import_id: String, runner: String) {
    tracing::info!(import = %import_id, runner = %runner, "roster import started");
    let outcome = match Run::load(&state, &import_id, &runner).await {
        Ok(mut run) => run.to_end(&state).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(Step::Finished { accepted, rejected }) => tracing::info!(import = %import_id, accepted, rejected, "roster import finished"),
        // `to_end` returns only `Finished` or `LeaseLost`.
        Ok(_) => tracing::warn!(import = %import_id, runner = %runner, "roster import taken over by another run; this run stops"),
        Err(error) => {
            tracing::error!(import = %import_id, error = %error, "roster import failed");
            let marked = sqlx::query("UPDATE roster_imports SET status = 'failed', error = 'roster_import.failed', runner = NULL, lease_until = NULL, updated_at = $1 WHERE id = $2 AND runner = $3")
                .bind(state.now_ms())
                .bind(&import_id)
                .bind(&runner)
                .execute(&state.engine.db.pool)
                .await;
            if let Err(error) = marked {
                tracing::error!(import = %import_id, error = %error, "marking the roster import failed did not work");
            }
        }
    }
}

/// The state of an import after one chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Rows remain; the progress and the lease were renewed.
    More,
    /// Every row is recorded and the import is `done`, with these counts.
    Finished { accepted: usize, rejected: usize },
    /// Another run has the lease now, or the import is no longer `running`, so this run
    /// may write nothing more.
    LeaseLost,
}

/// One run of an import: the parsed file and the rows already recorded.
pub struct Run {
    import_id: String,
    runner: String,
    object_key: String,
    roster: ParsedRoster,
    recorded: HashSet<usize>,
}

impl Run {
    /// Loads import `import_id` for `runner`, which must hold its lease: the file from
    /// the object store, parsed, and the indices of the rows recorded so far.
    pub async fn load(state: &AppState, import_id: &str, runner: &str) -> Result<Run, ApiError> {
        let row = sqlx::query("SELECT unit_id, file_name, object_key FROM roster_imports WHERE id = $1")
            .bind(import_id)
            .fetch_one(&state.engine.db.pool)
            .await?;
        let unit_id: String = row.try_get("unit_id")?;
        let file_name: String = row.try_get("file_name")?;
        let object_key: String = row.try_get("object_key")?;
        let bytes = state.objects.get(&object_key).await.map_err(|error| ApiError::Internal(error.into()))?;
        let roster = parse_for_unit(state, &unit_id, &bytes, &file_name).await?;
        let recorded: Vec<i64> = sqlx::query_scalar("SELECT row_index FROM roster_import_rows WHERE import_id = $1").bind(import_id).fetch_all(&state.engine.db.pool).await?;
        let recorded = recorded.into_iter().map(|index| index as usize).collect();
        Ok(Run { import_id: import_id.to_string(), runner: runner.to_string(), object_key, roster, recorded })
    }

    /// Imports chunks until the import ends or the lease is lost.
    async fn to_end(&mut self, state: &AppState) -> Result<Step, ApiError> {
        loop {
            match self.import_chunk(state).await? {
                Step::More => continue,
                end => return Ok(end),
            }
        }
    }

    /// Imports up to [`CHUNK_ROWS`] rows not yet recorded, then stores the progress and
    /// renews the lease. Once no row is left, it stores the result and ends the import.
    pub async fn import_chunk(&mut self, state: &AppState) -> Result<Step, ApiError> {
        let pending: Vec<usize> = (0..self.roster.report.rows.len()).filter(|index| !self.recorded.contains(index)).take(CHUNK_ROWS).collect();
        if pending.is_empty() {
            return self.finish(state).await;
        }
        for index in pending {
            let record = RowRecord { import_id: &self.import_id, index };
            // `None` means another run recorded the row meanwhile; the lease check below stops this run.
            import_recorded_row(state, &self.roster.unit, &self.roster.report.rows[index], record).await?;
            self.recorded.insert(index);
        }
        if self.store_progress(state).await? { Ok(Step::More) } else { Ok(Step::LeaseLost) }
    }

    /// Stores the counts of recorded rows and renews the lease; returns false when this
    /// run no longer holds it.
    async fn store_progress(&self, state: &AppState) -> Result<bool, ApiError> {
        let pool = &state.engine.db.pool;
        let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roster_import_rows WHERE import_id = $1").bind(&self.import_id).fetch_one(pool).await?;
        let rejected: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roster_import_rows WHERE import_id = $1 AND rejected = 1").bind(&self.import_id).fetch_one(pool).await?;
        let now_ms = state.now_ms();
        let updated = sqlx::query(
            "UPDATE roster_imports SET done_rows = $1, accepted = $2, rejected = $3, lease_until = $4, updated_at = $5
             WHERE id = $6 AND runner = $7 AND status = 'running'",
        )
        .bind(done)
        .bind(done - rejected)
        .bind(rejected)
        .bind(now_ms + LEASE_MS)
        .bind(now_ms)
        .bind(&self.import_id)
        .bind(&self.runner)
        .execute(pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Stores every row's result in file order, marks the import `done` and removes the
    /// file from the object store.
    async fn finish(&self, state: &AppState) -> Result<Step, ApiError> {
        let texts: Vec<String> = sqlx::query_scalar("SELECT result FROM roster_import_rows WHERE import_id = $1 ORDER BY row_index")
            .bind(&self.import_id)
            .fetch_all(&state.engine.db.pool)
            .await?;
        let rows = texts.iter().map(|text| serde_json::from_str::<ImportedRow>(text)).collect::<Result<Vec<_>, _>>().map_err(ApiError::internal)?;
        let summary = summarize(&self.roster.report, rows);

        let stored: Vec<Value> = summary
            .rows
            .iter()
            .map(|row| {
                let mut value = serde_json::to_value(row).unwrap_or(Value::Null);
                value["change"] = json!(row.action.change());
                value
            })
            .collect();
        let now_ms = state.now_ms();
        let updated = sqlx::query(
            "UPDATE roster_imports SET status = 'done', result = $1, done_rows = $2, accepted = $3, rejected = $4, runner = NULL, lease_until = NULL, updated_at = $5
             WHERE id = $6 AND runner = $7 AND status = 'running'",
        )
        .bind(Value::Array(stored).to_string())
        .bind(summary.rows.len() as i64)
        .bind(summary.accepted as i64)
        .bind(summary.rejected as i64)
        .bind(now_ms)
        .bind(&self.import_id)
        .bind(&self.runner)
        .execute(&state.engine.db.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(Step::LeaseLost);
        }

        if let Err(error) = state.objects.delete(&self.object_key).await {
            tracing::warn!(import = %self.import_id, error = %error, "the imported roster file could not be removed from the object store");
        }
        Ok(Step::Finished { accepted: summary.accepted, rejected: summary.rejected })
    }
}
