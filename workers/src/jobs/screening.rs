//! First anti-cheat rules over study sessions and exam attempts.
//!
//! Session rules: the face check at the start failed or is missing; the session is
//! shorter than the course's minimum minutes; it overlaps another session of the same
//! operator. Exam rules: a face check during the attempt failed; focus was lost more
//! than [`MAX_FOCUS_LOSSES`] times. A clean case passes on; a flagged one opens a
//! review case for association staff.

use serde_json::{Value, json};
use sqlx::{Any, Row, Transaction};
use workflows::runtime::outbox::OutboxEntry;
use workflows::runtime::EventIn;

use super::{payload_str, send};
use crate::actions::ActionError;
use crate::records;
use crate::services::Services;

/// Focus losses (leaving the exam window) tolerated in one attempt.
pub const MAX_FOCUS_LOSSES: u64 = 5;

pub async fn screen_session(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let session_id = payload_str(entry, "session_id").ok_or_else(|| ActionError::invalid("screen_session without session_id"))?;
    let row = sqlx::query(
        "SELECT s.enrollment_id, s.operator_id, s.course_code, s.started_at, s.ended_at, s.face_check, s.status, c.minutes
         FROM study_sessions s JOIN enrollments e ON e.id = s.enrollment_id
         LEFT JOIN courses c ON c.item_code = e.item_code AND c.year = e.year AND c.code = s.course_code
         WHERE s.id = $1",
    )
    .bind(session_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ActionError::rejected(format!("study session {session_id} not found")))?;
    let enrollment_id: String = row.get(0);
    let operator_id: String = row.get(1);
    let started_at: i64 = row.get(3);
    let ended_at: i64 = row.get(4);
    let face_check: String = row.get(5);
    let status: String = row.get(6);
    let minimum_minutes: Option<i64> = row.get(7);

    // A session already decided keeps its decision.
    if status != "reported" {
        return Ok(json!({ "session": session_id, "status": status, "repeat": true }));
    }

    // Step 1: evaluate the rules.
    let mut findings = Vec::new();
    if face_check != "passed" {
        findings.push(json!({ "rule": "face_check_start", "evidence": { "face_check": face_check } }));
    }
    let minutes = (ended_at - started_at) / 60_000;
    if let Some(minimum) = minimum_minutes {
        if minutes < minimum {
            findings.push(json!({ "rule": "shorter_than_course", "evidence": { "minutes": minutes, "minimum": minimum } }));
        }
    }
    let overlapping: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM study_sessions WHERE operator_id = $1 AND id <> $2 AND status <> 'voided' AND started_at < $3 AND ended_at > $4",
    )
    .bind(&operator_id)
    .bind(session_id)
    .bind(ended_at)
    .bind(started_at)
    .fetch_all(pool)
    .await?;
    if !overlapping.is_empty() {
        findings.push(json!({ "rule": "overlapping_sessions", "evidence": { "sessions": overlapping } }));
    }

    // Step 2: a flagged session waits for a reviewer.
    if !findings.is_empty() {
        let mut tx = services.engine.db.begin_write().await?;
        open_case(&mut tx, services.engine.now_ms(), "session", session_id, &enrollment_id, &findings).await?;
        sqlx::query("UPDATE study_sessions SET status = 'flagged' WHERE id = $1 AND status = 'reported'").bind(session_id).execute(&mut *tx).await?;
        tx.commit().await?;
        tracing::info!(session = %session_id, findings = findings.len(), "study session flagged for review");
        return Ok(json!({ "session": session_id, "status": "flagged", "findings": findings }));
    }

    // Step 3: a clean session counts; tell the instance how many courses are complete.
    sqlx::query("UPDATE study_sessions SET status = 'cleared' WHERE id = $1 AND status = 'reported'").bind(session_id).execute(pool).await?;
    let enrollment = records::enrollment_of_instance(pool, &entry.instance_id).await?.ok_or_else(|| ActionError::rejected("instance has no enrollment"))?;
    let completed = records::completed_courses(pool, &enrollment).await?.len() as i64;
    send(services, entry, EventIn::new(format!("cleared:{session_id}"), "courses_updated").with("completed", completed)).await?;
    Ok(json!({ "session": session_id, "status": "cleared", "completed": completed }))
}

pub async fn screen_exam(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let attempt_id = payload_str(entry, "attempt_id").ok_or_else(|| ActionError::invalid("screen_exam without attempt_id"))?;
    let row = sqlx::query("SELECT enrollment_id, evidence, review_status FROM exam_attempts WHERE id = $1")
        .bind(attempt_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ActionError::rejected(format!("exam attempt {attempt_id} not found")))?;
    let enrollment_id: String = row.get(0);
    let evidence: Value = serde_json::from_str(&row.get::<String, _>(1)).unwrap_or(Value::Null);
    let review_status: String = row.get(2);
    if review_status == "accepted" || review_status == "voided" {
        return Ok(json!({ "attempt": attempt_id, "status": review_status, "repeat": true }));
    }

    let mut findings = Vec::new();
    let failed_checks = evidence
        .get("face_checks")
        .and_then(Value::as_array)
        .map(|checks| checks.iter().filter(|c| c.get("result").and_then(Value::as_str).is_some_and(|r| r != "passed")).count())
        .unwrap_or(0);
    if failed_checks > 0 {
        findings.push(json!({ "rule": "exam_face_mismatch", "evidence": { "failed_checks": failed_checks } }));
    }
    let focus_losses = evidence.get("focus_loss").and_then(Value::as_array).map(|events| events.len() as u64).unwrap_or(0);
    if focus_losses > MAX_FOCUS_LOSSES {
        findings.push(json!({ "rule": "focus_lost_repeatedly", "evidence": { "count": focus_losses, "allowed": MAX_FOCUS_LOSSES } }));
    }

    if !findings.is_empty() {
        let mut tx = services.engine.db.begin_write().await?;
        open_case(&mut tx, services.engine.now_ms(), "exam", attempt_id, &enrollment_id, &findings).await?;
        sqlx::query("UPDATE exam_attempts SET review_status = 'pending' WHERE id = $1").bind(attempt_id).execute(&mut *tx).await?;
        tx.commit().await?;
        return Ok(json!({ "attempt": attempt_id, "status": "flagged", "findings": findings }));
    }
    sqlx::query("UPDATE exam_attempts SET review_status = 'accepted' WHERE id = $1").bind(attempt_id).execute(pool).await?;
    send(services, entry, EventIn::new(format!("screened:{attempt_id}"), "review_passed").with("attempt_id", attempt_id)).await?;
    Ok(json!({ "attempt": attempt_id, "status": "accepted" }))
}

/// Opens the review case of a session or attempt inside `tx`, together with the status
/// change that marks it flagged, so a reader never sees one without the other.
async fn open_case(tx: &mut Transaction<'static, Any>, now_ms: i64, kind: &str, subject_id: &str, enrollment_id: &str, findings: &[Value]) -> Result<(), ActionError> {
    // One case per session or attempt: a repeated screening finds it open already.
    sqlx::query(
        "INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, created_at) VALUES ($1, $2, $3, $4, $5, 'open', $6)
         ON CONFLICT (subject_id) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(kind)
    .bind(subject_id)
    .bind(enrollment_id)
    .bind(Value::Array(findings.to_vec()).to_string())
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
