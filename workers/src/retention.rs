//! Evidence retention (证据保存期限): face images, snapshots and audio are sensitive
//! personal information, kept only `evidence.retention_days` (definitions/review.yaml)
//! after their session or attempt ended. The scheduled job removes those evidence
//! fields from older records and records each deletion in `evidence_deletions`.
//!
//! Records under an open review case or appeal keep their evidence until it is decided.
//! Fields the screening rules need for cross-record checks (device, IP address, media
//! seconds) are not biometric and stay.

use serde_json::{Value, json};
use sqlx::Row;
use workflows::runtime::Engine;

/// Evidence fields that hold face images, snapshots or audio.
pub const SENSITIVE_FIELDS: &[&str] = &["snapshots", "random_checks", "face_checks", "face_images", "audio"];

/// What one run removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    pub attempts: usize,
}

/// Removes sensitive evidence of records that ended more than `retention_days` ago.
pub async fn purge_expired(engine: &Engine, retention_days: u32) -> Result<Purged, sqlx::Error> {
    let cutoff = engine.now_ms() - i64::from(retention_days) * 86_400_000;
    let sessions = purge_table(engine, "session", retention_days, cutoff).await?;
    let attempts = purge_table(engine, "exam", retention_days, cutoff).await?;
    Ok(Purged { sessions, attempts })
}

async fn purge_table(engine: &Engine, kind: &str, retention_days: u32, cutoff: i64) -> Result<usize, sqlx::Error> {
    let (table, ended) = if kind == "session" { ("study_sessions", "ended_at") } else { ("exam_attempts", "COALESCE(finished_at, deadline_at)") };
    let sql = format!(
        "SELECT r.id, r.evidence FROM {table} r
         WHERE {ended} < $1
           AND NOT EXISTS (SELECT 1 FROM review_cases c WHERE c.subject_id = r.id AND c.status = 'open')
           AND NOT EXISTS (SELECT 1 FROM review_cases c JOIN review_appeals a ON a.case_id = c.id WHERE c.subject_id = r.id AND a.status = 'open')
         ORDER BY r.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cutoff).fetch_all(&engine.db.pool).await?;
    let mut purged = 0;
    for row in rows {
        let id: String = row.get(0);
        let Ok(Value::Object(mut evidence)) = serde_json::from_str::<Value>(&row.get::<String, _>(1)) else { continue };
        let removed: Vec<&str> = SENSITIVE_FIELDS.iter().copied().filter(|field| evidence.remove(*field).is_some()).collect();
        if removed.is_empty() {
            continue;
        }
        let now_ms = engine.now_ms();
        evidence.insert("evidence_deleted_at".into(), json!(now_ms));
        let mut tx = engine.db.begin_write().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET evidence = $1 WHERE id = $2"))).bind(Value::Object(evidence).to_string()).bind(&id).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO evidence_deletions (id, subject_kind, subject_id, fields, retention_days, deleted_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(kind)
            .bind(&id)
            .bind(json!(removed).to_string())
            .bind(i64::from(retention_days))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(kind, record = %id, fields = ?removed, "expired evidence deleted");
        purged += 1;
    }
    Ok(purged)
}
