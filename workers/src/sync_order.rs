//! Per-operator order of provincial records on the sending side.
//!
//! The receiver accepts an operator's records only in sequence order, so a record whose
//! predecessor is not delivered waits here instead of being refused there. A predecessor
//! that failed for good (an open incident) holds back the operator's later records until
//! staff replay, skip or cancel it. A skipped or cancelled predecessor gives its sequence
//! number up and the later records move down by one, so the receiver gets no gap. Records
//! of other operators never wait on each other.

use sqlx::Row;
use workflows::runtime::{Engine, EngineError};

/// The earliest undelivered earlier record of one operator, by what it waits for.
#[derive(Debug, PartialEq, Eq)]
pub enum Predecessor {
    /// Every earlier record is delivered or was given up: send now.
    Clear,
    /// An earlier record is still being sent; its next attempt is due at this instant (ms).
    Pending { due_at: i64 },
    /// An earlier record failed for good and waits for staff (its outbox entry id).
    Held { key: String },
    /// An earlier record was skipped or cancelled by staff; its sequence must be released.
    Abandoned { key: String, sequence: i64 },
}

/// Finds the earliest record of `operator_ref` below `sequence` that is not delivered.
pub async fn predecessor(engine: &Engine, operator_ref: &str, sequence: i64) -> Result<Predecessor, EngineError> {
    let row = sqlx::query(
        "SELECT s.idempotency_key, s.sequence, o.status, o.due_at,
                (SELECT COUNT(*) FROM wf_incidents n WHERE n.outbox_id = s.idempotency_key AND n.status = 'open')
         FROM sync_records s LEFT JOIN wf_outbox o ON o.id = s.idempotency_key
         WHERE s.operator_ref = $1 AND s.sequence < $2 AND s.status NOT IN ('delivered', 'skipped')
         ORDER BY s.sequence LIMIT 1",
    )
    .bind(operator_ref)
    .bind(sequence)
    .fetch_optional(&engine.db.pool)
    .await?;
    let Some(row) = row else { return Ok(Predecessor::Clear) };
    let key: String = row.get(0);
    let earlier_sequence: i64 = row.get(1);
    let outbox_status: Option<String> = row.get(2);
    let due_at: Option<i64> = row.get(3);
    let open_incidents: i64 = row.get(4);
    Ok(match outbox_status.as_deref() {
        Some("pending") => Predecessor::Pending { due_at: due_at.unwrap_or_default() },
        // A finished entry whose record is not delivered was skipped by staff, and a
        // failed one without an open incident was cancelled.
        Some("done") => Predecessor::Abandoned { key, sequence: earlier_sequence },
        Some("failed") if open_incidents == 0 => Predecessor::Abandoned { key, sequence: earlier_sequence },
        _ => Predecessor::Held { key },
    })
}

/// Marks the abandoned record `key` skipped and moves the operator's later undelivered
/// records, and the operator's last sequence, down by one. Returns false when another
/// worker released it first.
pub async fn release_sequence(engine: &Engine, operator_ref: &str, key: &str, sequence: i64) -> Result<bool, EngineError> {
    let mut tx = engine.db.begin_write().await?;
    // Lock the operator's counter first, in the same order as the sequence assignment,
    // so the two cannot deadlock on PostgreSQL.
    sqlx::query("UPDATE sync_sequences SET last_sequence = last_sequence WHERE operator_ref = $1").bind(operator_ref).execute(&mut *tx).await?;
    let marked = sqlx::query("UPDATE sync_records SET status = 'skipped' WHERE idempotency_key = $1 AND status NOT IN ('delivered', 'skipped')")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    if marked.rows_affected() == 0 {
        tx.commit().await?;
        return Ok(false);
    }
    sqlx::query("UPDATE sync_records SET sequence = sequence - 1 WHERE operator_ref = $1 AND sequence > $2 AND status NOT IN ('delivered', 'skipped')")
        .bind(operator_ref)
        .bind(sequence)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sync_sequences SET last_sequence = last_sequence - 1 WHERE operator_ref = $1").bind(operator_ref).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(record = %key, operator_ref, sequence, "abandoned provincial record released its sequence");
    Ok(true)
}

/// How many waiting records one delivery after failures releases from their backoff.
/// Each of their deliveries releases as many again, so the load on a recovered receiver
/// grows geometrically from a few requests instead of arriving all at once.
pub const RECOVERY_RELEASE: i64 = 8;

/// Makes the records that wait on the delivered record `key` due now: the operator's
/// next sequence and the next unnumbered record of the same instance. When the
/// delivered attempt followed failures, it also releases up to [`RECOVERY_RELEASE`]
/// other records from their retry backoff, because the receiver is evidently back.
pub async fn wake_successors(engine: &Engine, key: &str, instance_id: &str, operator_ref: &str, sequence: i64, after_failures: bool) -> Result<(), EngineError> {
    let pool = &engine.db.pool;
    let now_ms = engine.now_ms();
    let mut waiting: Vec<(String, i64)> = Vec::new();

    let next = sqlx::query(
        "SELECT o.id, o.attempts FROM sync_records s JOIN wf_outbox o ON o.id = s.idempotency_key
         WHERE s.operator_ref = $1 AND s.sequence = $2 AND o.status = 'pending' AND o.due_at > $3",
    )
    .bind(operator_ref)
    .bind(sequence + 1)
    .bind(now_ms)
    .fetch_all(pool)
    .await?;
    waiting.extend(next.iter().map(|row| (row.get(0), row.get(1))));

    let unnumbered = sqlx::query(
        "SELECT o.id, o.attempts FROM wf_outbox o
         WHERE o.instance_id = $1 AND o.kind = 'sync' AND o.status = 'pending' AND o.due_at > $2 AND o.id <> $3
           AND NOT EXISTS (SELECT 1 FROM sync_records s WHERE s.idempotency_key = o.id)
         ORDER BY o.created_at, o.id LIMIT 1",
    )
    .bind(instance_id)
    .bind(now_ms)
    .bind(key)
    .fetch_all(pool)
    .await?;
    waiting.extend(unnumbered.iter().map(|row| (row.get(0), row.get(1))));

    if after_failures {
        let backlog = sqlx::query(
            "SELECT id, attempts FROM wf_outbox WHERE kind = 'sync' AND status = 'pending' AND attempts > 0 AND due_at > $1
             ORDER BY due_at, created_at, id LIMIT $2",
        )
        .bind(now_ms)
        .bind(RECOVERY_RELEASE)
        .fetch_all(pool)
        .await?;
        waiting.extend(backlog.iter().map(|row| (row.get(0), row.get(1))));
    }

    for (id, _) in waiting {
        if engine.wake_action(&id).await? {
            tracing::debug!(outbox = %id, after = %key, "provincial record woken");
        }
    }
    Ok(())
}

/// Makes the later records of `operator_ref` due now, after staff resolved the record
/// that held them.
pub async fn wake_held(engine: &Engine, operator_ref: &str) -> Result<usize, EngineError> {
    let now_ms = engine.now_ms();
    let rows = sqlx::query(
        "SELECT o.id, o.attempts FROM sync_records s JOIN wf_outbox o ON o.id = s.idempotency_key
         WHERE s.operator_ref = $1 AND o.status = 'pending' AND o.due_at > $2",
    )
    .bind(operator_ref)
    .bind(now_ms)
    .fetch_all(&engine.db.pool)
    .await?;
    let mut woken = 0;
    for row in rows {
        let id: String = row.get(0);
        if engine.wake_action(&id).await? {
            woken += 1;
        }
    }
    Ok(woken)
}
