//! The `reconcile_day` job: compares the provincial records delivered for one Beijing day
//! with the platform's counts (`GET /v1/counts`). A difference is not retryable: the job
//! fails at once, and the incident's error lists every kind that differs with the
//! records certflow delivered for it, so staff can see what to look for.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Value, json};
use sqlx::Row;
use workflows::clock::beijing_midnight;
use workflows::runtime::outbox::OutboxEntry;

use crate::actions::ActionError;
use crate::provincial::SyncErrorKind;
use crate::services::Services;

/// Maximum records listed per differing kind in the incident text.
const LISTED_PER_KIND: usize = 50;

pub async fn reconcile_day(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let Some(client) = &services.provincial else {
        return Err(ActionError::retryable("no provincial endpoint configured"));
    };
    let date_text = entry.action.get("subject").and_then(|s| s.get("date")).and_then(Value::as_str).unwrap_or_default();
    let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d").map_err(|_| ActionError::invalid(format!("reconciliation date {date_text:?} is not YYYY-MM-DD")))?;

    // Step 1: both sides' counts.
    let ours = delivered_counts(services, date).await?;
    let theirs = client.counts(date).await.map_err(|error| match error.kind {
        SyncErrorKind::Retryable => ActionError::retryable(error.to_string()),
        _ => ActionError::rejected(error.to_string()),
    })?;

    // Step 2: compare every kind that either side reports.
    let mut differences = Vec::new();
    let kinds: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for kind in kinds {
        let local = ours.get(kind).copied().unwrap_or(0);
        let remote = theirs.get(kind).copied().unwrap_or(0) as i64;
        if local != remote {
            differences.push((kind.clone(), local, remote));
        }
    }
    if differences.is_empty() {
        tracing::info!(%date, kinds = ours.len(), "provincial reconciliation matched");
        return Ok(json!({ "date": date_text, "counts": ours }));
    }

    // Step 3: the incident text with the records involved.
    let mut text = format!("provincial counts for {date_text} (Beijing) differ:");
    for (kind, local, remote) in &differences {
        let records = delivered_records(services, date, kind).await?;
        text.push_str(&format!("\n{kind}: certflow delivered {local}, platform counts {remote}; records (idempotency key/ack id/operator/sequence):"));
        for record in records.iter().take(LISTED_PER_KIND) {
            text.push_str(&format!("\n  {record}"));
        }
        if records.len() > LISTED_PER_KIND {
            text.push_str(&format!("\n  … and {} more", records.len() - LISTED_PER_KIND));
        }
    }
    tracing::warn!(%date, kinds = differences.len(), "provincial reconciliation found differences");
    Err(ActionError::rejected(text))
}

/// Counts delivered records per kind whose `occurred_at` falls on `date` in Beijing.
async fn delivered_counts(services: &Services, date: NaiveDate) -> Result<BTreeMap<String, i64>, ActionError> {
    let (from, to) = beijing_day_bounds(date);
    let rows = sqlx::query("SELECT kind, COUNT(*) FROM sync_records WHERE status = 'delivered' AND occurred_at >= $1 AND occurred_at < $2 GROUP BY kind")
        .bind(from)
        .bind(to)
        .fetch_all(&services.engine.db.pool)
        .await?;
    Ok(rows.iter().map(|row| (row.get::<String, _>(0), row.get::<i64, _>(1))).collect())
}

async fn delivered_records(services: &Services, date: NaiveDate, kind: &str) -> Result<Vec<String>, ActionError> {
    let (from, to) = beijing_day_bounds(date);
    let rows = sqlx::query(
        "SELECT idempotency_key, ack_id, operator_ref, sequence FROM sync_records
         WHERE kind = $1 AND status = 'delivered' AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at, idempotency_key",
    )
    .bind(kind)
    .bind(from)
    .bind(to)
    .fetch_all(&services.engine.db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| format!("{}/{}/{}/{}", row.get::<String, _>(0), row.get::<Option<String>, _>(1).unwrap_or_default(), row.get::<String, _>(2), row.get::<i64, _>(3)))
        .collect())
}

/// Returns the Beijing day `date` as a half-open range of unix milliseconds.
fn beijing_day_bounds(date: NaiveDate) -> (i64, i64) {
    let next = date.succ_opt().unwrap_or(date);
    (beijing_midnight(date).timestamp_millis(), beijing_midnight(next).timestamp_millis())
}
