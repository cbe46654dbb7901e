//! Anti-cheat screening of study sessions and exam attempts (`screen_session`,
//! `screen_exam`).
//!
//! Each job gathers the facts the rules in `domain::review` read, applies them with the
//! thresholds of `definitions/review.yaml`, and stores the outcome:
//! - `review`: a review case opens and the record waits (session `flagged`, attempt
//!   `pending`) until a reviewer decides;
//! - `sample`: the record counts at once and a review case opens for a later check;
//! - `pass`: the record counts.

use domain::archive::Archive;
use domain::review::{self, ExamFacts, Finding, Outcome, Overlap, ReviewSettings, SessionFacts};
use serde_json::{Value, json};
use sqlx::{Any, Row, Transaction};
use workflows::runtime::EventIn;
use workflows::runtime::outbox::OutboxEntry;

use super::{payload_str, send};
use crate::actions::ActionError;
use crate::archive::{self, NewEntry};
use crate::records;
use crate::services::Services;

pub async fn screen_session(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let settings = ReviewSettings::current();
    let session_id = payload_str(entry, "session_id").ok_or_else(|| ActionError::invalid("screen_session without session_id"))?;
    let row = sqlx::query(
        "SELECT s.enrollment_id, s.operator_id, s.course_code, s.started_at, s.ended_at, s.face_check, s.status, s.evidence, c.minutes
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
    let course_code: String = row.get(2);
    let started_at: i64 = row.get(3);
    let ended_at: i64 = row.get(4);
    let face_check: String = row.get(5);
    let status: String = row.get(6);
    let evidence: Value = serde_json::from_str(&row.get::<String, _>(7)).unwrap_or(Value::Null);
    let course_minutes: Option<i64> = row.get(8);

    // A session already screened or decided keeps its result.
    if status != "reported" {
        return Ok(json!({ "session": session_id, "status": status, "repeat": true }));
    }

    // Step 1: the device and IP address go into columns, so other sessions' screening
    // can find this one.
    let (device, ip) = review::device_and_ip(&evidence);
    sqlx::query("UPDATE study_sessions SET device = $1, ip = $2 WHERE id = $3").bind(device).bind(ip).bind(session_id).execute(pool).await?;

    // Step 2: the facts beyond the session itself.
    // The cast keeps PostgreSQL's SUM (numeric) decodable through the Any driver.
    let earlier_course_minutes: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM((ended_at - started_at) / 60000), 0) AS BIGINT) FROM study_sessions
         WHERE enrollment_id = $1 AND course_code = $2 AND id <> $3 AND status = 'cleared' AND started_at < $4",
    )
    .bind(&enrollment_id)
    .bind(&course_code)
    .bind(session_id)
    .bind(started_at)
    .fetch_one(pool)
    .await?;
    let own_overlaps = overlaps(pool, "operator_id = $1", &operator_id, session_id, started_at, ended_at).await?;
    let device_overlaps = match device {
        Some(device) => others(overlaps(pool, "device = $1", device, session_id, started_at, ended_at).await?, &operator_id),
        None => Vec::new(),
    };
    let ip_overlaps = match ip {
        Some(ip) => others(overlaps(pool, "ip = $1", ip, session_id, started_at, ended_at).await?, &operator_id),
        None => Vec::new(),
    };
    let facts = SessionFacts {
        started_at_ms: started_at,
        ended_at_ms: ended_at,
        face_check: &face_check,
        evidence: &evidence,
        course_minutes: course_minutes.map(|minutes| minutes as u32),
        earlier_course_minutes,
        own_overlaps,
        device_overlaps,
        ip_overlaps,
    };

    // Step 3: rules and outcome.
    let findings = review::screen_session(&facts, &settings.session);
    let outcome = review::decide(&findings, &settings.sampling, session_id);
    let new_status = if outcome == Outcome::Review { "flagged" } else { "cleared" };
    let mut tx = services.engine.db.begin_write().await?;
    if outcome != Outcome::Pass {
        open_case(&mut tx, services.engine.now_ms(), "session", session_id, &enrollment_id, outcome, &findings).await?;
    }
    sqlx::query("UPDATE study_sessions SET status = $1 WHERE id = $2 AND status = 'reported'").bind(new_status).bind(session_id).execute(&mut *tx).await?;
    let record = json!({
        "session_id": session_id, "enrollment_id": enrollment_id, "course_code": course_code, "started_at": started_at, "ended_at": ended_at,
        "minutes": (ended_at - started_at) / 60_000, "face_check": face_check, "outcome": outcome,
    });
    archive_screening(services, &mut tx, &operator_id, "session", session_id, record, &findings).await?;
    flag_crowd_partners(services, &mut tx, session_id, &findings).await?;
    tx.commit().await?;
    tracing::info!(session = %session_id, outcome = outcome.as_str(), findings = findings.len(), "study session screened");
    if outcome == Outcome::Review {
        return Ok(json!({ "session": session_id, "outcome": outcome, "findings": findings }));
    }

    // Step 4: a counted session may complete its course; tell the instance the count.
    let enrollment = records::enrollment_of_instance(pool, &entry.instance_id).await?.ok_or_else(|| ActionError::rejected("instance has no enrollment"))?;
    let completed = records::completed_courses(pool, &enrollment).await?.len() as i64;
    send(services, entry, EventIn::new(format!("cleared:{session_id}"), "courses_updated").with("completed", completed)).await?;
    Ok(json!({ "session": session_id, "outcome": outcome, "completed": completed }))
}

pub async fn screen_exam(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let settings = ReviewSettings::current();
    let attempt_id = payload_str(entry, "attempt_id").ok_or_else(|| ActionError::invalid("screen_exam without attempt_id"))?;
    let row = sqlx::query("SELECT enrollment_id, evidence, review_status, started_at, finished_at, answers, operator_id, score FROM exam_attempts WHERE id = $1")
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
    let answers: Value = serde_json::from_str(&row.get::<String, _>(5)).unwrap_or(Value::Null);
    let operator_id: String = row.get(6);
    let score: Option<f64> = row.get(7);
    let facts = ExamFacts {
        evidence: &evidence,
        started_at_ms: row.get(3),
        finished_at_ms: row.get(4),
        answered: answers.as_object().map(|answers| answers.len()).unwrap_or(0),
    };

    let findings = review::screen_exam(&facts, &settings.exam);
    let outcome = review::decide(&findings, &settings.sampling, attempt_id);
    let mut tx = services.engine.db.begin_write().await?;
    if outcome != Outcome::Pass {
        open_case(&mut tx, services.engine.now_ms(), "exam", attempt_id, &enrollment_id, outcome, &findings).await?;
    }
    let new_status = if outcome == Outcome::Review { "pending" } else { "accepted" };
    sqlx::query("UPDATE exam_attempts SET review_status = $1 WHERE id = $2").bind(new_status).bind(attempt_id).execute(&mut *tx).await?;
    let record = json!({
        "attempt_id": attempt_id, "enrollment_id": enrollment_id, "started_at": facts.started_at_ms, "finished_at": facts.finished_at_ms,
        "score": score, "passed": true, "outcome": outcome,
    });
    archive_screening(services, &mut tx, &operator_id, "exam", attempt_id, record, &findings).await?;
    tx.commit().await?;
    tracing::info!(attempt = %attempt_id, outcome = outcome.as_str(), findings = findings.len(), "exam attempt screened");
    if outcome == Outcome::Review {
        return Ok(json!({ "attempt": attempt_id, "outcome": outcome, "findings": findings }));
    }
    send(services, entry, EventIn::new(format!("screened:{attempt_id}"), "review_passed").with("attempt_id", attempt_id)).await?;
    Ok(json!({ "attempt": attempt_id, "outcome": outcome }))
}

/// Appends the screened record to the operator's continuing-education archive, and
/// its findings as a second entry when there are any.
async fn archive_screening(
    services: &Services,
    tx: &mut Transaction<'static, Any>,
    operator_id: &str,
    kind: &str,
    record_id: &str,
    record: Value,
    findings: &[Finding],
) -> Result<(), ActionError> {
    let backend = services.engine.db.backend;
    let now_ms = services.engine.now_ms();
    let entry = NewEntry::system(operator_id, Archive::ContinuingEducation, kind, format!("{kind}:{record_id}"), record);
    archive::append(tx, backend, entry, now_ms).await?;
    if !findings.is_empty() {
        let body = json!({ "record": kind, "record_id": record_id, "findings": findings });
        let entry = NewEntry::system(operator_id, Archive::ContinuingEducation, "finding", format!("finding:{record_id}"), body);
        archive::append(tx, backend, entry, now_ms).await?;
    }
    Ok(())
}

/// Returns the sessions other than `session_id` that overlap `[started_at, ended_at)`
/// and match `filter` (a condition on `$1`), with the minutes they share. Voided
/// sessions no longer count.
async fn overlaps(pool: &sqlx::AnyPool, filter: &str, value: &str, session_id: &str, started_at: i64, ended_at: i64) -> Result<Vec<Overlap>, sqlx::Error> {
    let sql = format!(
        "SELECT id, operator_id, started_at, ended_at FROM study_sessions
         WHERE {filter} AND id <> $2 AND status <> 'voided' AND started_at < $3 AND ended_at > $4 ORDER BY started_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).bind(session_id).bind(ended_at).bind(started_at).fetch_all(pool).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let shared_ms = ended_at.min(row.get::<i64, _>(3)) - started_at.max(row.get::<i64, _>(2));
            Overlap { session_id: row.get(0), operator_id: row.get(1), minutes: shared_ms / 60_000 }
        })
        .collect())
}

/// Keeps the overlaps of operators other than `operator_id`.
fn others(overlaps: Vec<Overlap>, operator_id: &str) -> Vec<Overlap> {
    overlaps.into_iter().filter(|overlap| overlap.operator_id != operator_id).collect()
}

/// Opens the review case of a session or attempt inside `tx`, together with the status
/// change of the record, so a reader never sees one without the other.
/// Opens a review case for each other operator's session that a shared device or IP
/// address finding of `session_id` names. Those sessions were screened before this
/// one arrived, when the device did not yet look shared, so without this only the last
/// of the crowd would reach a reviewer. Their status is left as screened: the
/// reviewer's decision clears their hours if needed, as for a sampled clean session.
async fn flag_crowd_partners(services: &Services, tx: &mut Transaction<'static, Any>, session_id: &str, findings: &[Finding]) -> Result<(), ActionError> {
    let now_ms = services.engine.now_ms();
    for finding in findings.iter().filter(|finding| matches!(finding.rule, review::Rule::SharedDevice | review::Rule::SharedIp)) {
        let partners: Vec<String> = finding.evidence["sessions"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
        for partner in partners {
            let row = sqlx::query("SELECT enrollment_id, operator_id, status FROM study_sessions WHERE id = $1").bind(&partner).fetch_optional(&mut **tx).await?;
            let Some(row) = row else { continue };
            let enrollment_id: String = row.get(0);
            let partner_operator: String = row.get(1);
            let status: String = row.get(2);
            if status == "voided" || status == "reported" {
                // A voided session no longer counts; a reported one is screened on its own.
                continue;
            }
            let mut evidence = finding.evidence.clone();
            evidence["reported_with"] = json!(session_id);
            let partner_findings = [Finding::new(finding.rule, evidence)];
            open_case(tx, now_ms, "session", &partner, &enrollment_id, Outcome::Review, &partner_findings).await?;
            let body = json!({ "record": "session", "record_id": partner, "findings": partner_findings });
            let entry = NewEntry::system(&partner_operator, Archive::ContinuingEducation, "finding", format!("finding:{partner}:{session_id}"), body);
            archive::append(tx, services.engine.db.backend, entry, now_ms).await?;
            tracing::info!(session = %partner, with = %session_id, rule = finding.rule.as_str(), "earlier session of a shared device or address sent to review");
        }
    }
    Ok(())
}

async fn open_case(
    tx: &mut Transaction<'static, Any>,
    now_ms: i64,
    kind: &str,
    subject_id: &str,
    enrollment_id: &str,
    outcome: Outcome,
    findings: &[Finding],
) -> Result<(), ActionError> {
    // One case per session or attempt: a repeated screening finds it open already.
    sqlx::query(
        "INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, outcome, created_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)
         ON CONFLICT (subject_id) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(kind)
    .bind(subject_id)
    .bind(enrollment_id)
    .bind(serde_json::to_string(findings).expect("findings serialize"))
    .bind(outcome.as_str())
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
