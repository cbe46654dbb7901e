//! The `sync` action: pushes one record to the provincial supervision platform.
//!
//! The record's idempotency key is the outbox entry id, so a retried or repeated push
//! is acknowledged as a duplicate by the receiver. Each operator's records carry an
//! increasing sequence number, assigned on the first attempt and kept in
//! `sync_records`, so the receiver can hold a record until its predecessor arrives.

use serde_json::{Value, json};
use sqlx::Row;
use workflows::runtime::outbox::OutboxEntry;

use crate::actions::{ActionError, Done};
use crate::provincial::{RecordKind, SyncErrorKind, SyncRecord};
use crate::records;
use crate::services::Services;

/// Delay after an earlier record's due time before a later record tries again.
const DEFER_MS: i64 = 1_000;

pub async fn perform(services: &Services, entry: &OutboxEntry, action: &Value) -> Result<Done, ActionError> {
    let Some(client) = &services.provincial else {
        return Err(ActionError::retryable("no provincial endpoint configured"));
    };
    let pool = &services.engine.db.pool;
    let record_name = action.get("record").and_then(Value::as_str).unwrap_or_default();
    let kind = RecordKind::from_wire(record_name).ok_or_else(|| ActionError::invalid(format!("unknown record kind {record_name}")))?;

    // Step 1: the record as first built. A retry sends exactly the same body and
    // sequence, since the platform refuses a known key with other content.
    let stored = stored_record(pool, &entry.id).await?;
    let (operator_ref, sequence, body) = match stored {
        Some(stored) => stored,
        None => {
            // The body, from the instance snapshot and the records it names, numbered
            // after every earlier record of the same instance.
            let subject = entry.action.get("subject").cloned().unwrap_or(Value::Null);
            let operator = records::operator_of_subject(pool, &subject).await?.ok_or_else(|| ActionError::not_ready("operator record not found yet"))?;
            let body = record_body(services, entry, &operator, kind).await?;
            if let Some(earlier_due) = earlier_pending(services, entry).await? {
                // Wait until just after the earlier record's next attempt, and at least
                // one clock second, so the two never spin against each other.
                let until_ms = earlier_due.max(services.engine.now_ms()) + DEFER_MS;
                return Ok(Done::DeferredUntil { until_ms, reason: "an earlier record of this instance is pending".into() });
            }
            assign_sequence(services, &entry.id, &operator.id, kind, &body).await?
        }
    };

    // Step 3: push and classify.
    let record = SyncRecord {
        kind,
        idempotency_key: entry.id.clone(),
        operator_ref,
        sequence: sequence as u64,
        // The transition's commit time, the same on every attempt.
        occurred_at: workflows::clock::from_millis(entry.created_at),
        body,
    };
    match client.push(&record).await {
        Ok(delivered) => {
            sqlx::query("UPDATE sync_records SET status = 'delivered', ack_id = $1, delivered_at = $2 WHERE idempotency_key = $3")
                .bind(&delivered.ack_id)
                .bind(services.engine.now_ms())
                .bind(&entry.id)
                .execute(pool)
                .await?;
            Ok(Done::Completed(json!({ "ack_id": delivered.ack_id, "duplicate": delivered.duplicate, "sequence": sequence })))
        }
        Err(error) if error.kind == SyncErrorKind::Retryable => Err(ActionError::retryable(error.to_string())),
        Err(error) => {
            sqlx::query("UPDATE sync_records SET status = 'rejected' WHERE idempotency_key = $1").bind(&entry.id).execute(pool).await?;
            Err(ActionError::rejected(error.to_string()))
        }
    }
}

/// Returns the operator, sequence and body of the record stored for `key` by an
/// earlier attempt.
async fn stored_record<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E, key: &str) -> Result<Option<(String, i64, Value)>, ActionError> {
    let row: Option<(String, i64, String)> = sqlx::query_as("SELECT operator_ref, sequence, body FROM sync_records WHERE idempotency_key = $1")
        .bind(key)
        .fetch_optional(executor)
        .await?;
    row.map(|(operator_ref, sequence, body)| Ok((operator_ref, sequence, serde_json::from_str(&body).map_err(|e| ActionError::invalid(format!("stored record body: {e}")))?)))
        .transpose()
}

/// Numbers and stores the record for `key`, or returns the one a concurrent attempt
/// stored first.
async fn assign_sequence(services: &Services, key: &str, operator_ref: &str, kind: RecordKind, body: &Value) -> Result<(String, i64, Value), ActionError> {
    let engine = &services.engine;
    let mut tx = engine.db.begin_write().await?;
    if let Some(existing) = stored_record(&mut *tx, key).await? {
        tx.commit().await?;
        return Ok(existing);
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
        "INSERT INTO sync_records (idempotency_key, operator_ref, sequence, kind, body, status, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
    )
    .bind(key)
    .bind(operator_ref)
    .bind(sequence)
    .bind(kind.as_str())
    .bind(body.to_string())
    .bind(engine.now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((operator_ref.to_string(), sequence, body.clone()))
}

/// Returns the due time of an older sync entry of the same instance that is still
/// pending, if any. Records of one instance are numbered and sent in the order their
/// transitions recorded them.
async fn earlier_pending(services: &Services, entry: &OutboxEntry) -> Result<Option<i64>, ActionError> {
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(due_at) FROM wf_outbox WHERE instance_id = $1 AND kind = 'sync' AND status = 'pending'
           AND (created_at < $2 OR (created_at = $2 AND id < $3))",
    )
    .bind(&entry.instance_id)
    .bind(entry.created_at)
    .bind(&entry.id)
    .fetch_one(&services.engine.db.pool)
    .await?;
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
