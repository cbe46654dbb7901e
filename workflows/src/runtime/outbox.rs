//! The outbox: side effects recorded by transitions, handed to workers once due, and
//! retried by the engine on its own clock.
//!
//! An entry's attempt number is `attempts + 1`. Dispatching marks that number as handed
//! out, so one entry goes to one worker even with several dispatchers. A worker reports
//! the attempt it ran, and a late report of an older attempt changes nothing. Retries
//! set `due_at` in the future instead of sleeping, so an outage of hours on a simulated
//! clock passes in moments.

use rand::SeedableRng;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::effects::{self, HistoryEntry};
use super::{Engine, EngineError};
use crate::definition::RetryPolicy;
use crate::retry::{RetryDecision, decide};

/// Time after which an attempt handed to a worker without a report is handed out
/// again: it covers a process that died between claiming the entry and queueing its
/// job. A second hand-out of a slow attempt is harmless, because every handler is
/// idempotent per key.
pub const DISPATCH_LEASE_MS: i64 = 2 * 60 * 1000;

/// An outbox entry as workers see it.
#[derive(Clone, Debug, Serialize)]
pub struct OutboxEntry {
    pub id: String,
    pub instance_id: String,
    pub kind: String,
    pub action: serde_json::Value,
    pub status: String,
    pub attempts: i64,
    pub due_at: i64,
    pub last_error: Option<String>,
    /// Wall-clock ms of the hand-out that claimed this attempt; part of the job key, so
    /// an attempt deferred or leased out again is queued anew.
    pub dispatched_at: i64,
    pub created_at: i64,
}

impl OutboxEntry {
    fn from_row(row: &AnyRow) -> Result<OutboxEntry, EngineError> {
        Ok(OutboxEntry {
            id: row.try_get("id")?,
            instance_id: row.try_get("instance_id")?,
            kind: row.try_get("kind")?,
            action: serde_json::from_str(&row.try_get::<String, _>("action")?)?,
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            due_at: row.try_get("due_at")?,
            last_error: row.try_get("last_error")?,
            dispatched_at: row.try_get::<Option<i64>, _>("dispatched_at")?.unwrap_or(0),
            created_at: row.try_get("created_at")?,
        })
    }

    /// The attempt a worker runs now (1-based).
    pub fn attempt(&self) -> i64 {
        self.attempts + 1
    }

    /// The idempotency key of this hand-out's job: entry id, attempt and hand-out time.
    pub fn job_key(&self) -> String {
        format!("{}:{}:{}", self.id, self.attempt(), self.dispatched_at)
    }
}

const COLUMNS: &str = "id, instance_id, kind, action, status, attempts, due_at, last_error, dispatched_at, created_at";

/// The outcome of a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Scheduled again at this instant (unix ms).
    RetryAt(i64),
    /// Retries are over; an incident was raised with this id.
    Incident(String),
    /// The report was for an attempt that is no longer current.
    Stale,
}

impl Engine {
    /// Claims up to `limit` due entries of the given `kinds` for dispatch and returns
    /// them, oldest first. Each entry is claimed by one caller only. Entries of other
    /// kinds are left pending (a provincial record waits while no endpoint is
    /// configured) and do not hold back the rest.
    pub async fn claim_due_actions(&self, kinds: &[&str], limit: i64) -> Result<Vec<OutboxEntry>, EngineError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let now_ms = self.now_ms();
        // The lease is measured on the wall clock: it covers a worker that died, which
        // real time reveals however fast a simulated clock runs.
        let wall_ms = chrono::Utc::now().timestamp_millis();
        let lease_start = wall_ms - DISPATCH_LEASE_MS;

        // Only entries whose current attempt is not handed out, or whose lease ran out,
        // are read, so entries in flight never fill the page.
        let kind_params: Vec<String> = (0..kinds.len()).map(|index| format!("${}", index + 4)).collect();
        let select = format!(
            "SELECT {COLUMNS}, dispatched_attempt FROM wf_outbox
             WHERE status = 'pending' AND due_at <= $1
               AND (dispatched_attempt < attempts + 1 OR dispatched_at < $2)
               AND kind IN ({})
               AND instance_id NOT IN (SELECT id FROM wf_instances WHERE status = 'paused')
             ORDER BY due_at, created_at, id LIMIT $3",
            kind_params.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(select)).bind(now_ms).bind(lease_start).bind(limit);
        for kind in kinds {
            query = query.bind(*kind);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }

        // One write for the whole page. The update repeats the conditions, so of two
        // dispatchers that read the same entry only one claims it.
        let mut tx = self.db.begin_write().await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let mut entry = OutboxEntry::from_row(&row)?;
            let dispatched: i64 = row.try_get("dispatched_attempt")?;
            let attempt = entry.attempt();
            let result = sqlx::query(
                "UPDATE wf_outbox SET dispatched_attempt = $1, dispatched_at = $2
                 WHERE id = $3 AND status = 'pending' AND attempts + 1 = $1
                   AND (dispatched_attempt < $1 OR dispatched_at < $4)",
            )
            .bind(attempt)
            .bind(wall_ms)
            .bind(&entry.id)
            .bind(lease_start)
            .execute(&mut *tx)
            .await?;
            if result.rows_affected() == 1 {
                entry.dispatched_at = wall_ms;
                // A deferred attempt, or one whose lease expired, is handed out again.
                if dispatched >= attempt {
                    tracing::debug!(outbox = %entry.id, attempt, "attempt handed out again");
                }
                claimed.push(entry);
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Returns outbox entry `id`.
    pub async fn outbox_entry(&self, id: &str) -> Result<OutboxEntry, EngineError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM wf_outbox WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| EngineError::OutboxNotFound(id.to_string()))?;
        OutboxEntry::from_row(&row)
    }

    /// Records that `attempt` of entry `id` succeeded. Returns false when the entry was
    /// already finished (a duplicate run); the caller need do nothing more.
    pub async fn complete_action(&self, id: &str, attempt: i64, result: serde_json::Value) -> Result<bool, EngineError> {
        let now_ms = self.now_ms();
        let mut tx = self.db.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE wf_outbox SET status = 'done', result = $1, completed_at = $2, attempts = $3
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(result.to_string())
        .bind(now_ms)
        .bind(attempt)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM wf_outbox WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
        let entry = HistoryEntry { kind: "action", event: None, event_id: Some(id), from: None, to: None, detail: json!({ "outbox": id, "attempt": attempt, "status": "done", "result": result }) };
        effects::append_history(&mut tx, &instance_id, now_ms, &[entry]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records that `attempt` of entry `id` failed with error kind `kind`, and schedules
    /// the next attempt by the entry's retry policy, or raises an incident.
    pub async fn fail_action(&self, id: &str, attempt: i64, kind: &str, message: &str) -> Result<FailureOutcome, EngineError> {
        let now_ms = self.now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query("SELECT instance_id, policy, attempts, status FROM wf_outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| EngineError::OutboxNotFound(id.to_string()))?;
        let instance_id: String = row.get(0);
        let policy: RetryPolicy = policy_from_json(&row.get::<String, _>(1))?;
        let attempts: i64 = row.get(2);
        let status: String = row.get(3);
        if status != "pending" || attempts + 1 != attempt {
            return Ok(FailureOutcome::Stale);
        }

        let mut rng = rand::rngs::StdRng::from_os_rng();
        let error_text = format!("{kind}: {message}");
        let outcome = match decide(&policy, attempt as u32, kind, &mut rng) {
            RetryDecision::After(delay) => {
                let due = now_ms + delay.num_milliseconds();
                sqlx::query("UPDATE wf_outbox SET attempts = $1, due_at = $2, last_error = $3 WHERE id = $4")
                    .bind(attempt)
                    .bind(due)
                    .bind(&error_text)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tracing::warn!(outbox = %id, instance = %instance_id, attempt, retry_in_ms = delay.num_milliseconds(), error = %error_text, "action failed; retry scheduled");
                FailureOutcome::RetryAt(due)
            }
            RetryDecision::GiveUp => {
                sqlx::query("UPDATE wf_outbox SET attempts = $1, status = 'failed', last_error = $2, completed_at = $3 WHERE id = $4")
                    .bind(attempt)
                    .bind(&error_text)
                    .bind(now_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let incident = self.raise_incident(&mut tx, &instance_id, Some(id), "action_failed", &error_text, attempt).await?;
                tracing::error!(outbox = %id, instance = %instance_id, incident = %incident, attempt, error = %error_text, "action failed for good; incident raised");
                FailureOutcome::Incident(incident)
            }
        };
        let detail = json!({ "outbox": id, "attempt": attempt, "status": "failed", "error": error_text });
        let entry = HistoryEntry { kind: "action", event: None, event_id: Some(id), from: None, to: None, detail };
        effects::append_history(&mut tx, &instance_id, now_ms, &[entry]).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Puts `attempt` of entry `id` off until `until_ms` without counting it as a failure
    /// (an SMS held through quiet hours). Returns false for a stale report.
    pub async fn defer_action(&self, id: &str, attempt: i64, until_ms: i64, reason: &str) -> Result<bool, EngineError> {
        let updated = sqlx::query(
            "UPDATE wf_outbox SET due_at = $1, dispatched_attempt = attempts, last_error = $2
             WHERE id = $3 AND status = 'pending' AND attempts + 1 = $4",
        )
        .bind(until_ms)
        .bind(format!("deferred: {reason}"))
        .bind(id)
        .bind(attempt)
        .execute(&self.db.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Moves the next attempt of pending entry `id` forward to now if it lies later (a
    /// record whose predecessor was just delivered). Returns false when it was due
    /// already. Unlike [`Engine::defer_action`], it leaves the hand-out state alone, so an
    /// attempt that a dispatcher claimed a moment earlier is not handed out twice.
    pub async fn wake_action(&self, id: &str) -> Result<bool, EngineError> {
        let now_ms = self.now_ms();
        let updated = sqlx::query("UPDATE wf_outbox SET due_at = $1 WHERE id = $2 AND status = 'pending' AND due_at > $1")
            .bind(now_ms)
            .bind(id)
            .execute(&self.db.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Hands `attempt` of entry `id` back undone, as a worker that stops before the
    /// attempt finished does: the next dispatch pass hands it out again at once
    /// instead of after [`DISPATCH_LEASE_MS`]. Returns false for a stale report.
    pub async fn return_action(&self, id: &str, attempt: i64) -> Result<bool, EngineError> {
        let updated = sqlx::query("UPDATE wf_outbox SET dispatched_attempt = attempts WHERE id = $1 AND status = 'pending' AND attempts + 1 = $2")
            .bind(id)
            .bind(attempt)
            .execute(&self.db.pool)
            .await?;
        if updated.rows_affected() == 1 {
            self.work_ready.notify_waiters();
        }
        Ok(updated.rows_affected() == 1)
    }

    /// Counts entries by status, for the demo summary and metrics.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, String, i64)>, EngineError> {
        let rows = sqlx::query("SELECT kind, status, COUNT(*) FROM wf_outbox GROUP BY kind, status ORDER BY kind, status")
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect())
    }

    /// Returns the earliest `due_at` of a pending entry or timer, so a simulated clock
    /// can jump to it.
    pub async fn next_due_ms(&self) -> Result<Option<i64>, EngineError> {
        let outbox: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM wf_outbox WHERE status = 'pending' AND instance_id NOT IN (SELECT id FROM wf_instances WHERE status = 'paused')").fetch_one(&self.db.pool).await?;
        let timers: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM wf_timers WHERE status = 'pending' AND instance_id NOT IN (SELECT id FROM wf_instances WHERE status = 'paused')").fetch_one(&self.db.pool).await?;
        Ok(match (outbox, timers) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

fn policy_from_json(text: &str) -> Result<RetryPolicy, EngineError> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let ms = |key: &str, default: i64| value.get(key).and_then(serde_json::Value::as_i64).unwrap_or(default);
    Ok(RetryPolicy {
        initial: chrono::Duration::milliseconds(ms("initial", 5_000)),
        backoff: value.get("backoff").and_then(serde_json::Value::as_f64).unwrap_or(2.0),
        max_interval: chrono::Duration::milliseconds(ms("max_interval", 600_000)),
        max_attempts: value.get("max_attempts").and_then(serde_json::Value::as_u64).map(|n| n as u32).or(Some(1)),
        jitter: match value.get("jitter").and_then(serde_json::Value::as_str) {
            Some("none") => crate::definition::Jitter::None,
            _ => crate::definition::Jitter::Full,
        },
        non_retryable: value
            .get("non_retryable")
            .and_then(serde_json::Value::as_array)
            .map(|kinds| kinds.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        pos: Default::default(),
    })
}
