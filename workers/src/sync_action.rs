//! The `sync` action: pushes one record to the provincial supervision platform.
//!
//! The record's idempotency key is the outbox entry id, so a retried or repeated push
//! is acknowledged as a duplicate by the receiver. Each operator's records carry an
//! increasing sequence number, assigned on the first attempt and kept in
//! `sync_records` with the body, and a record is sent only after its predecessors
//! (see [`crate::sync_order`]). `occurred_at` is the instant the transition recorded the
//! entry, so every attempt sends the same record and reconciliation counts it on the
//! Beijing day it happened.

use serde_json::{Value, json};
use sqlx::Row;
use workflows::runtime::outbox::OutboxEntry;

use crate::actions::{ActionError, Done};
use crate::provincial::{RecordKind, SyncErrorKind, SyncRecord};
use crate::records;
use crate::services::Services;
use crate::sync_order::{self, Predecessor};

/// Delay after an earlier record's due time before a later record tries again.
const DEFER_MS: i64 = 1_000;

/// Delay between two looks at a record held behind one that waits for staff. Staff
/// action through the dead-letter API wakes held records at once; this covers an
/// incident resolved by other means.
const HOLD_RECHECK_MS: i64 = 5 * 60 * 1000;

pub async fn perform(services: &Services, entry: &OutboxEntry, action: &Value) -> Result<Done, ActionError> {
    let Some(client) = &services.provincial else {
        return Err(ActionError::retryable("no provincial endpoint configured"));
    };
    let engine = &services.engine;
    let pool = &engine.db.pool;
    let record_name = action.get("record").and_then(Value::as_str).unwrap_or_default();
    let kind = RecordKind::from_wire(record_name).ok_or_else(|| ActionError::invalid(format!("unknown record kind {record_name}")))?;
    let subject = entry.action.get("subject").cloned().unwrap_or(Value::Null);
    let operator = records::operator_of_subject(pool, &subject).await?.ok_or_else(|| ActionError::not_ready("operator record not found yet"))?;
    let operator_ref = operator.id.clone();

    // Step 1: the body and the operator's sequence number. A record keeps the body and
    // number of its first attempt, so a repeat after a lost acknowledgement is identical.
    // A record the receiver rejected is built anew when staff replay it, because the
    // replay follows a fix of the data behind it.
    let stored = sqlx::query("SELECT sequence, body, status FROM sync_records WHERE idempotency_key = $1").bind(&entry.id).fetch_optional(pool).await?;
    let (sequence, body) = match stored {
        Some(row) if row.get::<String, _>(2) == "rejected" => {
            let body = record_body(services, entry, &operator, kind).await?;
            sqlx::query("UPDATE sync_records SET body = $1, status = 'pending' WHERE idempotency_key = $2").bind(body.to_string()).bind(&entry.id).execute(pool).await?;
            (row.get::<i64, _>(0), body)
        }
        Some(row) => (row.get::<i64, _>(0), serde_json::from_str(&row.get::<String, _>(1)).map_err(|error| ActionError::invalid(format!("stored record body: {error}")))?),
        None => {
            let body = record_body(services, entry, &operator, kind).await?;
            if let Some(earlier_due) = earlier_pending(services, entry, &operator_ref).await? {
                // Wait until just after the earlier record's next attempt, and at least one
                // clock second, so the two never spin against each other.
                let until_ms = earlier_due.max(engine.now_ms()) + DEFER_MS;
                return Ok(Done::DeferredUntil { until_ms, reason: "an earlier record of this operator is not numbered yet".into() });
            }
            (assign_sequence(services, entry, &operator_ref, kind, &body).await?, body)
        }
    };

    // Step 2: the operator's earlier records go first.
    match sync_order::predecessor(engine, &operator_ref, sequence).await? {
        Predecessor::Clear => {}
        Predecessor::Pending { due_at } => {
            let until_ms = due_at.max(engine.now_ms()) + DEFER_MS;
            return Ok(Done::DeferredUntil { until_ms, reason: "an earlier record of this operator is pending".into() });
        }
        Predecessor::Held { key } => {
            let until_ms = engine.now_ms() + HOLD_RECHECK_MS;
            return Ok(Done::DeferredUntil { until_ms, reason: format!("held behind record {key}, which waits for staff") });
        }
        Predecessor::Abandoned { key, sequence: abandoned } => {
            sync_order::release_sequence(engine, &operator_ref, &key, abandoned).await?;
            // The numbers moved down; the next attempt reads this record's new one.
            return Ok(Done::DeferredUntil { until_ms: engine.now_ms(), reason: format!("record {key} was given up; renumbered") });
        }
    }

    // Step 3: push and classify.
    let occurred_at = workflows::clock::from_millis(entry.created_at);
    let record = SyncRecord { kind, idempotency_key: entry.id.clone(), operator_ref: operator_ref.clone(), sequence: sequence as u64, occurred_at, body };
    match client.push(&record).await {
        Ok(delivered) => {
            sqlx::query("UPDATE sync_records SET status = 'delivered', ack_id = $1, delivered_at = $2 WHERE idempotency_key = $3")
                .bind(&delivered.ack_id)
                .bind(engine.now_ms())
                .bind(&entry.id)
                .execute(pool)
                .await?;
            sync_order::wake_successors(engine, &entry.id, &entry.instance_id, &operator_ref, sequence, entry.attempts > 0).await?;
            Ok(Done::Completed(json!({ "ack_id": delivered.ack_id, "duplicate": delivered.duplicate, "sequence": sequence })))
        }
        Err(error) if error.kind == SyncErrorKind::Retryable => Err(ActionError::retryable(error.to_string())),
        Err(error) => {
            sqlx::query("UPDATE sync_records SET status = 'rejected' WHERE idempotency_key = $1").bind(&entry.id).execute(pool).await?;
            Err(ActionError::rejected(error.to_string()))
        }
    }
}

async fn assign_sequence(services: &Services, entry: &OutboxEntry, operator_ref: &str, kind: RecordKind, body: &Value) -> Result<i64, ActionError> {
    let engine = &services.engine;
    let key = &entry.id;
    let mut tx = engine.db.begin_write().await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT sequence FROM sync_records WHERE idempotency_key = $1").bind(key).fetch_optional(&mut *tx).await?;
    if let Some(sequence) = existing {
        tx.commit().await?;
        return Ok(sequence);
    }

    // One atomic upsert: two records of one operator assigned at once get 1 and 2.
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO sync_sequences (operator_ref, last_sequence) VALUES ($1, 1)
         ON CONFLICT (operator_ref) DO UPDATE SET last_sequence = sync_sequences.last_sequence + 1
         RETURNING last_sequence",
    )
    .bind(operator_ref)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO sync_records (idempotency_key, operator_ref, sequence, kind, body, status, created_at, occurred_at, instance_id)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
    )
    .bind(key)
    .bind(operator_ref)
    .bind(sequence)
    .bind(kind.as_str())
    .bind(body.to_string())
    .bind(engine.now_ms())
    .bind(entry.created_at)
    .bind(&entry.instance_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(sequence)
}

/// Returns the due time of an older, still unnumbered sync entry of the same operator,
/// if any, from any of the operator's instances. Numbers follow the order in which
/// transitions recorded the entries, whichever attempt runs first.
async fn earlier_pending(services: &Services, entry: &OutboxEntry, operator_id: &str) -> Result<Option<i64>, ActionError> {
    let pool = &services.engine.db.pool;
    let rows = sqlx::query(
        "SELECT o.action, o.due_at FROM wf_outbox o
         WHERE o.kind = 'sync' AND o.status = 'pending' AND (o.created_at < $1 OR (o.created_at = $1 AND o.id < $2))
           AND NOT EXISTS (SELECT 1 FROM sync_records s WHERE s.idempotency_key = o.id)",
    )
    .bind(entry.created_at)
    .bind(&entry.id)
    .fetch_all(pool)
    .await?;
    let mut due: Option<i64> = None;
    for row in rows {
        let action: Value = serde_json::from_str(&row.get::<String, _>(0)).unwrap_or(Value::Null);
        let subject = action.get("subject").cloned().unwrap_or(Value::Null);
        let same_operator = match subject.get("operator").and_then(Value::as_str) {
            Some(id) => id == operator_id,
            None => records::operator_of_subject(pool, &subject).await?.is_some_and(|other| other.id == operator_id),
        };
        if same_operator {
            due = due.max(Some(row.get::<i64, _>(1)));
        }
    }
    Ok(due)
}

/// Builds the JSON body of a record kind. Personal numbers leave masked except the ID
/// number in `operator` records, which the regulator matches certificates by.
async fn record_body(services: &Services, entry: &OutboxEntry, operator: &records::OperatorRow, kind: RecordKind) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let subject = entry.action.get("subject").cloned().unwrap_or(Value::Null);
    let context = entry.action.get("context").cloned().unwrap_or(Value::Null);
    let payload = entry.action.get("payload").cloned().unwrap_or(Value::Null);
    let unit_uscc: Option<String> = match &operator.unit_id {
        Some(unit_id) => sqlx::query_scalar("SELECT uscc FROM units WHERE id = $1").bind(unit_id).fetch_optional(pool).await?,
        None => None,
    };
    let body = match kind {
        RecordKind::Operator => json!({ "name": operator.name, "id_number": operator.id_number, "unit_uscc": unit_uscc }),
        RecordKind::Affiliation => json!({ "unit_uscc": unit_uscc }),
        RecordKind::Enrollment => json!({ "year": subject.get("year"), "item_code": subject.get("item") }),
        RecordKind::ExamAttempt => {
            let attempt_id = payload.get("attempt_id").and_then(Value::as_str).unwrap_or_default();
            let row = sqlx::query("SELECT score, passed, started_at, finished_at FROM exam_attempts WHERE id = $1").bind(attempt_id).fetch_optional(pool).await?;
            let row = row.ok_or_else(|| ActionError::not_ready(format!("exam attempt {attempt_id} not found yet")))?;
            json!({
                "attempt_id": attempt_id,
                "item_code": subject.get("item"),
                "year": subject.get("year"),
                "score": row.get::<Option<f64>, _>(0),
                "passed": row.get::<Option<i64>, _>(1).map(|p| p == 1),
                "started_at": row.get::<i64, _>(2),
                "finished_at": row.get::<Option<i64>, _>(3),
            })
        }
        RecordKind::Credit => json!({ "year": subject.get("year"), "item_code": subject.get("item"), "credits": context.get("credits") }),
        RecordKind::CardIssued | RecordKind::CardRevoked => {
            let row = sqlx::query("SELECT card_no, issued_at, revoked_at, unit_name FROM cards WHERE operator_id = $1 AND year = $2 AND item_code = $3 ORDER BY issued_at DESC LIMIT 1")
                .bind(&operator.id)
                .bind(subject.get("year").and_then(Value::as_str).and_then(|y| y.parse::<i64>().ok()).unwrap_or_default())
                .bind(subject.get("item").and_then(Value::as_str).unwrap_or_default())
                .fetch_optional(pool)
                .await?;
            let row = row.ok_or_else(|| ActionError::not_ready("card not issued yet"))?;
            json!({ "card_no": row.get::<String, _>(0), "issued_at": row.get::<i64, _>(1), "revoked_at": row.get::<Option<i64>, _>(2), "unit_name": row.get::<Option<String>, _>(3) })
        }
        _ => json!({ "event": entry.action.get("event"), "payload": payload, "subject": subject }),
    };
    Ok(body)
}
