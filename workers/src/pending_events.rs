//! Workflow events that a domain transaction committed to send (`pending_events`).
//!
//! A decision (review, appeal, internal training) changes its own tables and then
//! moves one or more workflow instances. Sending the events after the commit would
//! lose them when the process stops in between, and a retried request finds the
//! decision already made and sends nothing. So the decision writes its events with
//! [`record`] inside its transaction, sends them with [`deliver`] after the commit,
//! and the scheduled [`sweep`] delivers whatever a stopped process left behind. The
//! engine acknowledges a repeated event id without applying it again, which makes a
//! second delivery harmless.

use serde_json::Value;
use sqlx::{Any, Row, Transaction};
use workflows::runtime::{Engine, EngineError, EventIn, EventOutcome};

/// Events younger than this are left to the request that recorded them, in
/// milliseconds of the engine clock, so that the sweep does not race a healthy
/// request for the same event.
pub const SWEEP_AFTER_MS: i64 = 60_000;

/// Rows one sweep delivers at most; the next tick takes the rest.
const SWEEP_BATCH: i64 = 500;

/// Writes `event` for `instance_id` in `tx`. Recording the same event id again keeps
/// the first row.
pub async fn record(tx: &mut Transaction<'static, Any>, instance_id: &str, event: &EventIn, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_events (event_id, instance_id, event, payload, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&event.id)
    .bind(instance_id)
    .bind(&event.name)
    .bind(Value::Object(event.payload.clone()).to_string())
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One delivered event and what the engine did with it.
#[derive(Debug)]
pub struct Delivered {
    pub event_id: String,
    pub instance_id: String,
    pub outcome: EventOutcome,
}

/// Sends the recorded events `event_ids`, in the order given, and deletes each one the
/// engine took. An event whose send fails stays for the sweep, with its error, and the
/// first such error is returned after the remaining events of the list were tried.
pub async fn deliver(engine: &Engine, event_ids: &[String]) -> Result<Vec<Delivered>, EngineError> {
    let mut delivered = Vec::new();
    let mut first_error = None;
    for event_id in event_ids {
        match deliver_one(engine, event_id).await {
            Ok(Some(done)) => delivered.push(done),
            Ok(None) => {}
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(delivered),
    }
}

/// Delivers every event recorded more than [`SWEEP_AFTER_MS`] ago, oldest first, up to
/// one batch; returns how many the engine took.
pub async fn sweep(engine: &Engine) -> Result<usize, EngineError> {
    let cutoff = engine.now_ms() - SWEEP_AFTER_MS;
    let event_ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM pending_events WHERE created_at <= $1 ORDER BY seq LIMIT $2")
        .bind(cutoff)
        .bind(SWEEP_BATCH)
        .fetch_all(&engine.db.pool)
        .await?;
    if event_ids.is_empty() {
        return Ok(0);
    }
    tracing::info!(events = event_ids.len(), "delivering workflow events left by an earlier request");
    let mut delivered = 0;
    for event_id in &event_ids {
        // One failing event must not hold back the others of the batch.
        if let Ok(Some(_)) = deliver_one(engine, event_id).await {
            delivered += 1;
        }
    }
    Ok(delivered)
}

/// Sends one recorded event and deletes its row; returns `None` when another process
/// delivered it first.
async fn deliver_one(engine: &Engine, event_id: &str) -> Result<Option<Delivered>, EngineError> {
    let row = sqlx::query("SELECT instance_id, event, payload FROM pending_events WHERE event_id = $1")
        .bind(event_id)
        .fetch_optional(&engine.db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let instance_id: String = row.try_get("instance_id")?;
    let payload: String = row.try_get("payload")?;
    let payload = match serde_json::from_str::<Value>(&payload) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let event = EventIn { id: event_id.to_string(), name: row.try_get("event")?, payload };

    let outcome = match engine.send(&instance_id, event).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(event = %event_id, instance = %instance_id, %error, "recorded workflow event not delivered; the sweep retries it");
            sqlx::query("UPDATE pending_events SET attempts = attempts + 1, last_error = $1 WHERE event_id = $2")
                .bind(error.to_string())
                .bind(event_id)
                .execute(&engine.db.pool)
                .await?;
            return Err(error);
        }
    };
    if let EventOutcome::Rejected { state, reason } = &outcome {
        // The decision is stored, so the event is not retried; this line names the state
        // that rejected it.
        tracing::warn!(event = %event_id, instance = %instance_id, state = %state, reason = %reason, "workflow rejected a recorded event");
    }
    sqlx::query("DELETE FROM pending_events WHERE event_id = $1").bind(event_id).execute(&engine.db.pool).await?;
    Ok(Some(Delivered { event_id: event_id.to_string(), instance_id, outcome }))
}
