//! The dead-letter list of provincial records: records whose push failed for good (a
//! 4xx from the receiver, or retries used up), each with its open incident. Staff read
//! the record body, the error and the attempts, then replay or skip it. Both go through
//! the engine's incident resolution, so the generic incident routes and this list
//! never disagree. This module only adds what ordering needs on top.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use workflows::runtime::incidents::Resolution;
use workflows::runtime::{Engine, EngineError};

use crate::sync_order;

/// A provincial record that waits for staff.
#[derive(Clone, Debug, Serialize)]
pub struct DeadLetter {
    pub incident_id: String,
    pub outbox_id: String,
    pub instance_id: String,
    pub kind: String,
    pub operator_ref: String,
    pub sequence: i64,
    pub body: Value,
    /// The last error, as the receiver or the client described it.
    pub error: String,
    pub attempts: i64,
    /// Later records of the same operator held until this one is resolved.
    pub held_records: i64,
    /// When the incident was raised (unix ms).
    pub failed_at: i64,
}

/// Lists open dead letters, oldest first, at most `limit`.
pub async fn list(engine: &Engine, limit: i64) -> Result<Vec<DeadLetter>, EngineError> {
    let rows = sqlx::query(
        "SELECT n.id, n.outbox_id, n.instance_id, s.kind, s.operator_ref, s.sequence, s.body, n.error, n.attempts, n.created_at,
                (SELECT COUNT(*) FROM sync_records later WHERE later.operator_ref = s.operator_ref AND later.sequence > s.sequence
                   AND later.status NOT IN ('delivered', 'skipped'))
         FROM wf_incidents n JOIN sync_records s ON s.idempotency_key = n.outbox_id
         WHERE n.status = 'open'
         ORDER BY n.created_at, n.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&engine.db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DeadLetter {
                incident_id: row.try_get(0)?,
                outbox_id: row.try_get(1)?,
                instance_id: row.try_get(2)?,
                kind: row.try_get(3)?,
                operator_ref: row.try_get(4)?,
                sequence: row.try_get(5)?,
                body: serde_json::from_str(&row.try_get::<String, _>(6)?)?,
                error: row.try_get(7)?,
                attempts: row.try_get(8)?,
                failed_at: row.try_get(9)?,
                held_records: row.try_get(10)?,
            })
        })
        .collect()
}

/// Returns the operator of the dead letter behind open incident `incident_id`.
async fn operator_of(engine: &Engine, incident_id: &str) -> Result<(String, String, i64), EngineError> {
    let row = sqlx::query(
        "SELECT s.operator_ref, s.idempotency_key, s.sequence FROM wf_incidents n JOIN sync_records s ON s.idempotency_key = n.outbox_id
         WHERE n.id = $1 AND n.status = 'open'",
    )
    .bind(incident_id)
    .fetch_optional(&engine.db.pool)
    .await?
    .ok_or_else(|| EngineError::IncidentNotFound(incident_id.to_string()))?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

/// Sends the record again from attempt 1. A record the receiver rejected is built anew
/// from the current data, so replay after fixing the data. The operator's later records
/// follow once it is delivered.
pub async fn replay(engine: &Engine, incident_id: &str, by: &str) -> Result<(), EngineError> {
    let (operator_ref, key, _) = operator_of(engine, incident_id).await?;
    engine.resolve_incident(incident_id, Resolution::Retry, by).await?;
    tracing::info!(incident = %incident_id, record = %key, operator_ref, by, "provincial record replayed");
    Ok(())
}

/// Gives the record up: it is never sent, its sequence number goes to the operator's
/// next record, and the records it held are sent at once. Returns how many were woken.
pub async fn skip(engine: &Engine, incident_id: &str, by: &str) -> Result<usize, EngineError> {
    let (operator_ref, key, sequence) = operator_of(engine, incident_id).await?;
    engine.resolve_incident(incident_id, Resolution::Skip, by).await?;
    sync_order::release_sequence(engine, &operator_ref, &key, sequence).await?;
    let woken = sync_order::wake_held(engine, &operator_ref).await?;
    tracing::info!(incident = %incident_id, record = %key, operator_ref, by, woken, "provincial record skipped");
    Ok(woken)
}
