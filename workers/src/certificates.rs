//! Inbound base data: the certificates (作业人员证) an operator holds, pulled from the
//! provincial platform by id number and cached in `operator_certificates`.
//!
//! A pull runs when an operator registers (the `pull_certificates` job) and again on the
//! nightly refresh for pulls older than [`REFRESH_AFTER_DAYS`]. Each pull replaces the
//! operator's cached certificates in one transaction, and adds the items they cover to
//! the operator's items (作业项目), which the enrollment form offers first.

use chrono::Duration;
use serde_json::{Value, json};
use sqlx::Row;
use workflows::runtime::outbox::OutboxEntry;

use crate::actions::ActionError;
use crate::provincial::{Certificate, SyncErrorKind};
use crate::records;
use crate::services::Services;

/// Age after which the nightly refresh pulls an operator's certificates again.
pub const REFRESH_AFTER_DAYS: i64 = 30;

/// Pulls and stores the certificates of `operator_id`; returns how many it holds.
pub async fn pull(services: &Services, operator_id: &str, id_number: &str) -> Result<usize, ActionError> {
    let Some(client) = &services.provincial else {
        return Err(ActionError::retryable("no provincial endpoint configured"));
    };
    let certificates = match client.certificates(id_number).await {
        Ok(certificates) => certificates,
        Err(error) => {
            record_failure(services, operator_id, &error.to_string()).await?;
            return Err(match error.kind {
                SyncErrorKind::Retryable => ActionError::retryable(error.to_string()),
                _ => ActionError::rejected(error.to_string()),
            });
        }
    };
    store(services, operator_id, &certificates).await?;
    tracing::info!(operator = %operator_id, certificates = certificates.len(), "operator certificates pulled");
    Ok(certificates.len())
}

async fn store(services: &Services, operator_id: &str, certificates: &[Certificate]) -> Result<(), ActionError> {
    let now_ms = services.engine.now_ms();
    let mut tx = services.engine.db.begin_write().await?;
    sqlx::query("DELETE FROM operator_certificates WHERE operator_id = $1").bind(operator_id).execute(&mut *tx).await?;
    for certificate in certificates {
        sqlx::query(
            "INSERT INTO operator_certificates (operator_id, certificate_no, item_code, issued_on, expires_on, fetched_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (operator_id, certificate_no) DO NOTHING",
        )
        .bind(operator_id)
        .bind(&certificate.certificate_no)
        .bind(&certificate.item_code)
        .bind(certificate.issued_on.to_string())
        .bind(certificate.expires_on.to_string())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        // Only items of the current catalogue become the operator's items; an older code
        // stays visible on the certificate.
        if let Some(code) = services.catalogue.item(&certificate.item_code).and_then(|item| item.code.clone()) {
            sqlx::query(
                "INSERT INTO operator_items (operator_id, item_code, catalogue_version, certificate_issued_on) VALUES ($1, $2, '2019', $3)
                 ON CONFLICT (operator_id, item_code)
                 DO UPDATE SET certificate_issued_on = COALESCE(operator_items.certificate_issued_on, excluded.certificate_issued_on)",
            )
            .bind(operator_id)
            .bind(&code)
            .bind(certificate.issued_on.to_string())
            .execute(&mut *tx)
            .await?;
        }
    }
    upsert_pull(&mut tx, operator_id, now_ms, "ok", None).await?;
    tx.commit().await?;
    Ok(())
}

async fn record_failure(services: &Services, operator_id: &str, error: &str) -> Result<(), ActionError> {
    let mut tx = services.engine.db.begin_write().await?;
    upsert_pull(&mut tx, operator_id, services.engine.now_ms(), "failed", Some(error)).await?;
    tx.commit().await?;
    Ok(())
}

async fn upsert_pull(tx: &mut sqlx::Transaction<'static, sqlx::Any>, operator_id: &str, now_ms: i64, status: &str, error: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO certificate_pulls (operator_id, pulled_at, status, error) VALUES ($1, $2, $3, $4)
         ON CONFLICT (operator_id) DO UPDATE SET pulled_at = excluded.pulled_at, status = excluded.status, error = excluded.error",
    )
    .bind(operator_id)
    .bind(now_ms)
    .bind(status)
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Runs the `pull_certificates` job of the registration pipeline.
pub async fn pull_job(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    if services.provincial.is_none() {
        // The nightly refresh pulls once an endpoint is configured.
        tracing::info!(outbox = %entry.id, "no provincial endpoint configured; certificate pull left to the nightly refresh");
        return Ok(json!({ "skipped": "no provincial endpoint configured" }));
    }
    let subject = entry.action.get("subject").cloned().unwrap_or(Value::Null);
    let operator = records::operator_of_subject(&services.engine.db.pool, &subject).await?.ok_or_else(|| ActionError::not_ready("operator record not found yet"))?;
    let Some(id_number) = operator.id_number.as_deref() else {
        return Err(ActionError::not_ready("operator has no id number yet"));
    };
    match pull(services, &operator.id, id_number).await {
        Ok(count) => Ok(json!({ "certificates": count })),
        // The platform is unreachable for a while: rather than an incident, the nightly
        // refresh pulls again, because a failed pull is due at once there.
        Err(error) if error.kind == "retryable" && entry.attempt() >= PULL_ATTEMPTS_AT_REGISTRATION => {
            tracing::warn!(outbox = %entry.id, operator = %operator.id, error = %error.message, "certificate pull at registration left to the nightly refresh");
            Ok(json!({ "certificates": null, "left_to_refresh": error.message }))
        }
        Err(error) => Err(error),
    }
}

/// Attempts of the registration's pull before it leaves the pull to the nightly refresh.
const PULL_ATTEMPTS_AT_REGISTRATION: i64 = 5;

/// Pulls, for up to `limit` operators with an id number, the certificates last pulled
/// more than [`REFRESH_AFTER_DAYS`] ago, never, or without success, oldest first. A failed
/// pull is logged and retried on the next night. Returns how many pulls succeeded.
pub async fn refresh_due(services: &Services, limit: i64) -> Result<usize, String> {
    let cutoff = services.engine.now_ms() - Duration::days(REFRESH_AFTER_DAYS).num_milliseconds();
    let rows = sqlx::query(
        "SELECT o.id, o.id_number FROM operators o LEFT JOIN certificate_pulls p ON p.operator_id = o.id
         WHERE o.id_number IS NOT NULL AND (p.pulled_at IS NULL OR p.pulled_at < $1 OR p.status = 'failed')
         ORDER BY COALESCE(p.pulled_at, 0), o.id LIMIT $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&services.engine.db.pool)
    .await
    .map_err(|error| error.to_string())?;
    let mut pulled = 0;
    for row in rows {
        let operator_id: String = row.get(0);
        let id_number: String = row.get(1);
        match pull(services, &operator_id, &id_number).await {
            Ok(_) => pulled += 1,
            Err(error) => tracing::warn!(operator = %operator_id, error = %error.message, "certificate refresh failed; retried next night"),
        }
    }
    Ok(pulled)
}
