//! Due timers. Timers are rows with an absolute UTC instant, so they survive restarts;
//! the timer worker fires each due one once through [`Engine::fire_timer`].
//!
//! Dispatchers claim due timers with a lease, as they claim outbox entries: a claim
//! sets `dispatched_at`. A timer still pending is claimed again only after that lease
//! expires, which happens when its worker died or its fire failed.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::outbox::DISPATCH_LEASE_MS;
use super::{Engine, EngineError};

/// A pending timer that is due.
#[derive(Clone, Debug)]
pub struct DueTimer {
    pub id: String,
    pub instance_id: String,
    pub event: String,
    pub due_at: i64,
    /// Wall-clock ms of the claim that handed this timer out, 0 when never claimed. It
    /// is part of the job key, so a timer claimed again after its lease is queued anew.
    pub dispatched_at: i64,
}

impl DueTimer {
    fn from_row(row: &AnyRow) -> DueTimer {
        DueTimer {
            id: row.get(0),
            instance_id: row.get(1),
            event: row.get(2),
            due_at: row.get(3),
            dispatched_at: row.get::<Option<i64>, _>(4).unwrap_or(0),
        }
    }

    /// Returns the idempotency key of this hand-out's job: timer id and claim time.
    pub fn job_key(&self) -> String {
        format!("timer:{}:{}", self.id, self.dispatched_at)
    }
}

impl Engine {
    /// Returns up to `limit` pending timers due at the engine clock's now, oldest first.
    /// Timers of paused instances wait until the instance is resumed.
    pub async fn due_timers(&self, limit: i64) -> Result<Vec<DueTimer>, EngineError> {
        let rows = sqlx::query(
            "SELECT t.id, t.instance_id, t.event, t.due_at, t.dispatched_at FROM wf_timers t JOIN wf_instances i ON i.id = t.instance_id
             WHERE t.status = 'pending' AND t.due_at <= $1 AND i.status <> 'paused' ORDER BY t.due_at, t.id LIMIT $2",
        )
        .bind(self.now_ms())
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(DueTimer::from_row).collect())
    }

    /// Claims up to `limit` due timers for dispatch, oldest first, and returns them: the
    /// timers never handed out, and those whose lease of [`DISPATCH_LEASE_MS`] expired.
    /// Each claim is handed to one caller only, across processes. Timers of paused
    /// instances wait until the instance is resumed.
    pub async fn claim_due_timers(&self, limit: i64) -> Result<Vec<DueTimer>, EngineError> {
        // The lease is measured on the wall clock, like the outbox's: it covers a worker
        // that died, which real time reveals however fast a simulated clock runs.
        let wall_ms = chrono::Utc::now().timestamp_millis();
        // One statement, so a pass is one write. The lease condition sits in the outer
        // WHERE: PostgreSQL re-checks it on a row that a concurrent claim updated first,
        // so that claim's timers are skipped, and SQLite runs one writer at a time.
        let rows = sqlx::query(
            "UPDATE wf_timers SET dispatched_at = $1
             WHERE id IN (
                 SELECT t.id FROM wf_timers t JOIN wf_instances i ON i.id = t.instance_id
                 WHERE t.status = 'pending' AND t.due_at <= $2 AND i.status <> 'paused'
                   AND (t.dispatched_at IS NULL OR t.dispatched_at < $3)
                 ORDER BY t.due_at, t.id LIMIT $4)
               AND status = 'pending' AND (dispatched_at IS NULL OR dispatched_at < $3)
             RETURNING id, instance_id, event, due_at, dispatched_at",
        )
        .bind(wall_ms)
        .bind(self.now_ms())
        .bind(wall_ms - DISPATCH_LEASE_MS)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        let mut claimed: Vec<DueTimer> = rows.iter().map(DueTimer::from_row).collect();
        // RETURNING follows no ORDER BY, so the claims are sorted here, oldest first.
        claimed.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        Ok(claimed)
    }

    /// Returns the instance's pending timers as (event, due_at ms).
    pub async fn pending_timers(&self, instance_id: &str) -> Result<Vec<(String, i64)>, EngineError> {
        let rows = sqlx::query("SELECT event, due_at FROM wf_timers WHERE instance_id = $1 AND status = 'pending' ORDER BY due_at")
            .bind(instance_id)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}
