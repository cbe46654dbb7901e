//! The evidence retention job on each backend: face images, snapshots and audio of
//! records that ended before the retention period are removed and each deletion is
//! recorded; newer records and records under an open review keep their evidence.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use workers::retention::{Purged, purge_expired};
use workflows::SimClock;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::Engine;

const DAY_MS: i64 = 86_400_000;

async fn session(db: &Db, id: &str, ended_at: i64, evidence: Value) {
    sqlx::query(
        "INSERT INTO study_sessions (id, statement_id, institution_id, enrollment_id, operator_id, course_code, started_at, ended_at, face_check, evidence, status, created_at)
         VALUES ($1, $1, 'inst-1', 'en-1', 'op-1', 'T-01', $2, $3, 'passed', $4, 'cleared', 0)",
    )
    .bind(id)
    .bind(ended_at - 3_600_000)
    .bind(ended_at)
    .bind(evidence.to_string())
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn evidence_of(db: &Db, id: &str) -> Value {
    let text: String = sqlx::query_scalar("SELECT evidence FROM study_sessions WHERE id = $1").bind(id).fetch_one(&db.pool).await.unwrap();
    serde_json::from_str(&text).unwrap()
}

both_backends!(retention_deletes_old_evidence, |db: Db| async move {
    let now = Utc.with_ymd_and_hms(2027, 3, 5, 18, 30, 0).unwrap();
    let engine = Engine::new(db.clone(), Arc::new(SimClock::starting_at(now)));
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', 'U1', '单位', 'active', 0)").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, status, created_at, updated_at) VALUES ('op-1', '19246777401', 'complete', 0, 0)").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, created_at) VALUES ('en-1', 'op-1', 2026, 'T', 'i-1', 0)").execute(&db.pool).await.unwrap();
    let now_ms = now.timestamp_millis();
    let sensitive = json!({ "device": "d-1", "ip": "10.0.0.1", "snapshots": [{ "file": "s1.jpg", "same_person": true }], "audio": [{ "file": "a.ogg" }] });
    session(&db, "old", now_ms - 400 * DAY_MS, sensitive.clone()).await;
    session(&db, "recent", now_ms - 300 * DAY_MS, sensitive.clone()).await;
    session(&db, "under-review", now_ms - 400 * DAY_MS, sensitive.clone()).await;
    session(&db, "plain", now_ms - 400 * DAY_MS, json!({ "device": "d-2" })).await;
    sqlx::query("INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, created_at) VALUES ('c-1', 'session', 'under-review', 'en-1', '[]', 'open', 0)")
        .execute(&db.pool)
        .await
        .unwrap();

    assert_eq!(purge_expired(&engine, 365).await.unwrap(), Purged { sessions: 1, attempts: 0 });
    let old = evidence_of(&db, "old").await;
    assert!(old.get("snapshots").is_none());
    assert!(old.get("audio").is_none());
    assert_eq!(old["device"], "d-1", "non-biometric fields stay for the cross-record rules");
    assert_eq!(old["evidence_deleted_at"], now_ms);
    assert_eq!(evidence_of(&db, "recent").await, sensitive, "inside the retention period");
    assert_eq!(evidence_of(&db, "under-review").await, sensitive, "an open case keeps its evidence");

    let deletions: Vec<(String, String, String, i64)> = sqlx::query_as("SELECT subject_kind, subject_id, fields, retention_days FROM evidence_deletions").fetch_all(&db.pool).await.unwrap();
    assert_eq!(deletions, vec![("session".to_string(), "old".to_string(), "[\"snapshots\",\"audio\"]".to_string(), 365)]);

    // A second run finds nothing left to delete.
    assert_eq!(purge_expired(&engine, 365).await.unwrap(), Purged::default());
});
