//! The state of the outbound provincial sync as staff watch it: how many records wait,
//! retry, were delivered or were given up, and whether any waits for staff.
//!
//! Two tables tell it. `wf_outbox` contains one `sync` entry per record to send (`pending`
//! until delivered or failed for good). `sync_records` holds each record from its first
//! attempt on, with its sequence number and delivery status.

use serde::Serialize;
use sqlx::{AnyPool, Row};

/// Counts of the outbox's `sync` entries.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OutboxCounts {
    /// Pending entries not tried yet.
    pub waiting: i64,
    /// Pending entries tried at least once, which the dispatcher tries again.
    pub retrying: i64,
    pub done: i64,
    /// Entries that failed for good. Each has an incident.
    pub failed: i64,
}

/// Counts of `sync_records` by delivery status.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecordCounts {
    pub pending: i64,
    pub delivered: i64,
    pub rejected: i64,
    pub skipped: i64,
}

/// The outbound sync at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct SyncStatus {
    /// `attention` while a dead letter waits for staff, else `retrying` while an entry
    /// failed and waits for its next attempt, else `sending` while entries wait, else `idle`.
    pub state: &'static str,
    pub outbox: OutboxCounts,
    pub records: RecordCounts,
    /// Open dead letters: records that wait for staff to replay or skip them.
    pub dead_letters: i64,
    /// Creation time (unix ms) of the oldest pending entry.
    pub oldest_waiting_at: Option<i64>,
    /// Time (unix ms) of the last delivery the receiver acknowledged.
    pub last_delivered_at: Option<i64>,
    /// The error of the most recently tried pending entry, such as a missing endpoint.
    pub last_error: Option<String>,
}

impl SyncStatus {
    /// Reads the counts from the database.
    pub async fn load(pool: &AnyPool) -> Result<SyncStatus, sqlx::Error> {
        let mut outbox = OutboxCounts::default();
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS total, SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS tried FROM wf_outbox WHERE kind = 'sync' GROUP BY status",
        )
        .fetch_all(pool)
        .await?;
        for row in &rows {
            let status: String = row.try_get("status")?;
            let total: i64 = row.try_get("total")?;
            let tried: i64 = row.try_get("tried")?;
            match status.as_str() {
                "pending" => {
                    outbox.waiting += total - tried;
                    outbox.retrying += tried;
                }
                "done" => outbox.done += total,
                _ => outbox.failed += total,
            }
        }

        let mut records = RecordCounts::default();
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM sync_records GROUP BY status").fetch_all(pool).await?;
        for row in &rows {
            let status: String = row.try_get("status")?;
            let count: i64 = row.try_get("n")?;
            match status.as_str() {
                "delivered" => records.delivered += count,
                "rejected" => records.rejected += count,
                "skipped" => records.skipped += count,
                _ => records.pending += count,
            }
        }

        let dead_letters: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM wf_incidents n JOIN sync_records s ON s.idempotency_key = n.outbox_id WHERE n.status = 'open'",
        )
        .fetch_one(pool)
        .await?;
        let oldest_waiting_at: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM wf_outbox WHERE kind = 'sync' AND status = 'pending'").fetch_one(pool).await?;
        let last_delivered_at: Option<i64> = sqlx::query_scalar("SELECT MAX(delivered_at) FROM sync_records WHERE status = 'delivered'").fetch_one(pool).await?;
        let last_error: Option<String> = sqlx::query_scalar(
            "SELECT last_error FROM wf_outbox WHERE kind = 'sync' AND status = 'pending' AND last_error IS NOT NULL
             ORDER BY COALESCE(dispatched_at, 0) DESC, id LIMIT 1",
        )
        .fetch_optional(pool)
        .await?
        .flatten();

        let state = if dead_letters > 0 {
            "attention"
        } else if outbox.retrying > 0 {
            "retrying"
        } else if outbox.waiting > 0 {
            "sending"
        } else {
            "idle"
        };
        Ok(SyncStatus { state, outbox, records, dead_letters, oldest_waiting_at, last_delivered_at, last_error })
    }
}
