//! Appeals (申诉) against review decisions.
//!
//! The operator may appeal a decision other than `accept` within the window of
//! `definitions/review.yaml` (Beijing calendar days after the decision), with a reason
//! and supporting files (`crate::documents`). Another reviewer than the one who
//! decided the case decides the appeal: `uphold` keeps the decision, `overturn` restores
//! what it changed (sessions, the attempt, withdrawn credits). Either outcome sends
//! `review_decided`, which notifies the operator and the unit admin, pushes a decision
//! record to the provincial platform, and issues or revokes the card as the credits
//! now require.

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{Duration, NaiveDate};
use domain::archive::Archive;
use domain::exam::{Paper, courses_covered};
use domain::messages::{self, Locale};
use domain::review::ReviewSettings;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use workers::archive::{self, NewEntry};
use workflows::clock::{beijing_date, from_millis};

use crate::auth::allowed::{Operators, Staff};
use crate::auth::Allowed;
use crate::db::new_id;
use crate::documents::{MAX_BODY_BYTES, read_form};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::reviews::effects::{self, CaseRef, Effects};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/reviews/{case_id}/appeal", post(file_appeal).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .route("/api/appeals", get(list))
        .route("/api/appeals/{appeal_id}/decision", post(decide))
}

/// Returns the last Beijing date on which a decision made at `decided_at_ms` may be appealed.
pub fn appeal_deadline(decided_at_ms: i64, window_days: u32) -> NaiveDate {
    beijing_date(from_millis(decided_at_ms)) + Duration::days(i64::from(window_days))
}

/// `POST /api/reviews/{case_id}/appeal` (the operator of the case), multipart with a
/// `reason` text field and file fields: files an appeal. 201.
async fn file_appeal(State(state): State<AppState>, caller: Allowed<Operators>, Path(case_id): Path<String>, mut form: Multipart) -> Result<(StatusCode, Json<Value>), ApiError> {
    let operator_id = caller.operator_id()?.to_string();

    // Step 1: the operator's own decided case, within the window.
    let (case, status) = CaseRef::load(&state, &case_id).await?;
    if case.enrollment.operator_id != operator_id {
        return Err(ApiError::not_found("review.not_found"));
    }
    if status != "rejected" {
        return Err(ApiError::conflict("appeal.not_appealable"));
    }
    let decided_at: Option<i64> = sqlx::query_scalar("SELECT decided_at FROM review_cases WHERE id = $1").bind(&case_id).fetch_one(&state.engine.db.pool).await?;
    let deadline = appeal_deadline(decided_at.unwrap_or_default(), ReviewSettings::current().appeal.window_days);
    if state.today() > deadline {
        return Err(ApiError::conflict("appeal.window_closed").arg("deadline", deadline));
    }

    // Step 2: the reason and the files, checked before anything is stored.
    let (fields, documents) = read_form(&mut form).await?;
    let reason = fields.get("reason").cloned().unwrap_or_default();
    let files: Vec<(String, &'static str, Vec<u8>)> = documents.into_iter().map(|d| (d.file_name, d.content_type, d.bytes)).collect();
    if reason.is_empty() {
        return Err(ApiError::invalid("appeal.reason_required").field("reason"));
    }

    // Step 3: the appeal, its files and the archive entry in one transaction.
    let appeal_id = new_id();
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let inserted = sqlx::query("INSERT INTO review_appeals (id, case_id, operator_id, reason, status, created_at) VALUES ($1, $2, $3, $4, 'open', $5)")
        .bind(&appeal_id)
        .bind(&case_id)
        .bind(&operator_id)
        .bind(&reason)
        .bind(now_ms)
        .execute(&mut *tx)
        .await;
    match inserted {
        Err(error) if workflows::db::is_unique_violation(&error) => return Err(ApiError::conflict("appeal.exists")),
        other => other?,
    };
    let mut listed = Vec::new();
    for (seq, (file_name, content_type, bytes)) in files.iter().enumerate() {
        let digest = hex::encode(Sha256::digest(bytes));
        sqlx::query("INSERT INTO appeal_files (appeal_id, seq, file_name, content_type, size, sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&appeal_id)
            .bind(seq as i64)
            .bind(file_name)
            .bind(*content_type)
            .bind(bytes.len() as i64)
            .bind(&digest)
            .bind(bytes.clone())
            .execute(&mut *tx)
            .await?;
        listed.push(json!({ "file_name": file_name, "content_type": content_type, "size": bytes.len(), "sha256": digest }));
    }
    let body = json!({ "appeal_id": appeal_id, "case_id": case_id, "files": listed });
    let entry = NewEntry { recorded_by: &operator_id, reason: Some(&reason), ..NewEntry::system(&operator_id, Archive::ContinuingEducation, "appeal", format!("appeal:{appeal_id}"), body) };
    archive::append(&mut tx, state.engine.db.backend, entry, now_ms).await?;
    tx.commit().await?;
    tracing::info!(appeal = %appeal_id, case = %case_id, operator = %operator_id, files = files.len(), "appeal filed");
    Ok((StatusCode::CREATED, Json(json!({ "appeal_id": appeal_id, "case_id": case_id, "deadline": deadline, "files": listed }))))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

/// `GET /api/appeals?status=open|upheld|overturned` (association staff): appeals with
/// their case, oldest first. `files` counts the attached files and `file_list` gives
/// their numbers for `GET /api/appeals/{appeal_id}/files?seq=`.
async fn list(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let status = query.status.unwrap_or_else(|| "open".to_string());
    let rows = sqlx::query(
        "SELECT a.id, a.case_id, a.operator_id, a.reason, a.status, a.decided_by, a.decision_reason, a.created_at, c.kind, c.decision, c.decided_by AS case_decided_by,
                (SELECT COUNT(*) FROM appeal_files f WHERE f.appeal_id = a.id) AS files
         FROM review_appeals a JOIN review_cases c ON c.id = a.case_id WHERE a.status = $1 ORDER BY a.created_at, a.id",
    )
    .bind(&status)
    .fetch_all(&state.engine.db.pool)
    .await?;
    let appeals = rows
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "id": row.try_get::<String, _>("id")?, "case_id": row.try_get::<String, _>("case_id")?, "operator_id": row.try_get::<String, _>("operator_id")?,
                "reason": row.try_get::<String, _>("reason")?, "status": row.try_get::<String, _>("status")?, "decided_by": row.try_get::<Option<String>, _>("decided_by")?,
                "decision_reason": row.try_get::<Option<String>, _>("decision_reason")?, "created_at": row.try_get::<i64, _>("created_at")?,
                "case_kind": row.try_get::<String, _>("kind")?, "case_decision": row.try_get::<Option<String>, _>("decision")?,
                "case_decided_by": row.try_get::<Option<String>, _>("case_decided_by")?, "files": row.try_get::<i64, _>("files")?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut appeals = appeals;
    for appeal in &mut appeals {
        let appeal_id = appeal["id"].as_str().unwrap_or_default().to_string();
        appeal["file_list"] = crate::appeal_files::file_list(&state, &appeal_id).await?;
    }
    Ok(Json(json!({ "appeals": appeals })))
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Uphold,
    Overturn,
}

#[derive(Deserialize)]
pub struct AppealDecision {
    outcome: Outcome,
    reason: String,
}

/// `POST /api/appeals/{appeal_id}/decision {outcome: uphold|overturn, reason}`
/// (association staff other than the case's reviewer).
async fn decide(State(state): State<AppState>, caller: Allowed<Staff>, Path(appeal_id): Path<String>, Json(request): Json<AppealDecision>) -> Result<Json<Value>, ApiError> {
    let decided_by = caller.account_id.clone().unwrap_or_default();
    let reason = request.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::invalid("appeal.reason_required").field("reason"));
    }

    // Step 1: an open appeal, decided by someone other than the case's reviewer.
    let row = sqlx::query("SELECT a.case_id, a.status, c.decided_by, c.effects FROM review_appeals a JOIN review_cases c ON c.id = a.case_id WHERE a.id = $1")
        .bind(&appeal_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("appeal.not_found"))?;
    let case_id: String = row.try_get("case_id")?;
    if row.try_get::<String, _>("status")? != "open" {
        return Err(ApiError::conflict("appeal.already_decided"));
    }
    if row.try_get::<Option<String>, _>("decided_by")?.as_deref() == Some(decided_by.as_str()) {
        return Err(ApiError::forbidden("appeal.same_reviewer"));
    }
    let original: Effects = row.try_get::<Option<String>, _>("effects")?.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
    let (case, _) = CaseRef::load(&state, &case_id).await?;
    let instance = state.engine.instance(&case.instance_id).await?;
    if instance.status == "terminal" {
        return Err(ApiError::conflict("review.year_closed").arg("year", case.enrollment.year));
    }

    // Step 2: the outcome and, for an overturn, the restored records in one transaction.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let restored = match request.outcome {
        Outcome::Overturn => restore(&state, &mut tx, &case, &original, now_ms).await?,
        Outcome::Uphold => {
            let completed = effects::completed_courses(&state, &mut tx, &case.enrollment).await?.len() as i64;
            let credits: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL").bind(&case.enrollment.id).fetch_one(&mut *tx).await?;
            Effects { completed, credits, ..Effects::default() }
        }
    };
    let status = if request.outcome == Outcome::Overturn { "overturned" } else { "upheld" };
    let updated = sqlx::query("UPDATE review_appeals SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4, effects = $5 WHERE id = $6 AND status = 'open'")
        .bind(status)
        .bind(&decided_by)
        .bind(now_ms)
        .bind(&reason)
        .bind(json!(restored).to_string())
        .bind(&appeal_id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::conflict("appeal.already_decided"));
    }
    let body = json!({ "appeal_id": appeal_id, "case_id": case_id, "outcome": status, "restored": restored });
    let entry = NewEntry { recorded_by: &decided_by, reason: Some(&reason), ..NewEntry::system(&case.enrollment.operator_id, Archive::ContinuingEducation, "appeal_decided", format!("appeal_decided:{appeal_id}"), body) };
    archive::append(&mut tx, state.engine.db.backend, entry, now_ms).await?;

    // Step 3: move the workflow like a decision, with the event recorded in the same
    // transaction and sent after the commit. A case takes one appeal, so the outcome is
    // final and its notification invites no further appeal.
    let code = if request.outcome == Outcome::Overturn { "appeal.outcome.overturned" } else { "appeal.outcome.upheld" };
    let text = messages::text(Locale::ZhCn, code, &[("reason", &reason)]);
    let event = workflows::runtime::EventIn::new(format!("appeal:{appeal_id}"), "review_decided")
        .with("completed", restored.completed)
        .with("credits", restored.credits)
        .with("reason", text)
        .with("case_id", case_id.clone())
        .with("appealable", false);
    let event_ids = crate::workflow::record_all(&mut tx, &[(case.instance_id.clone(), event)], now_ms).await?;
    tx.commit().await?;
    tracing::info!(appeal = %appeal_id, case = %case_id, outcome = status, reviewer = %decided_by, "appeal decided");
    crate::workflow::deliver_recorded(&state, &event_ids).await;
    Ok(Json(json!({ "appeal_id": appeal_id, "status": status, "restored": restored })))
}

/// Undoes what the case's decision changed: voided sessions are cleared again, a voided
/// attempt is accepted and credits the completed courses it covered, and withdrawn
/// credits whose course is complete again are restored. Returns what changed and the
/// new counts.
async fn restore(state: &AppState, tx: &mut crate::db::Tx, case: &CaseRef, original: &Effects, now_ms: i64) -> Result<Effects, ApiError> {
    let mut restored = Effects::default();
    for session_id in &original.sessions_voided {
        let cleared = sqlx::query("UPDATE study_sessions SET status = 'cleared' WHERE id = $1 AND status = 'voided'").bind(session_id).execute(&mut **tx).await?;
        if cleared.rows_affected() > 0 {
            restored.sessions_cleared.push(session_id.clone());
        }
    }
    let completed = effects::completed_courses(state, tx, &case.enrollment).await?;

    if let Some(attempt_id) = &original.attempt_voided {
        sqlx::query("UPDATE exam_attempts SET review_status = 'accepted' WHERE id = $1").bind(attempt_id).execute(&mut **tx).await?;
        let paper: String = sqlx::query_scalar("SELECT paper FROM exam_attempts WHERE id = $1").bind(attempt_id).fetch_one(&mut **tx).await?;
        let paper: Paper = serde_json::from_str(&paper).map_err(ApiError::internal)?;
        for course in courses_covered(&paper).into_iter().filter(|course| completed.contains(course)) {
            sqlx::query(
                "INSERT INTO credits (enrollment_id, course_code, attempt_id, awarded_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (enrollment_id, course_code) DO UPDATE SET attempt_id = excluded.attempt_id, awarded_at = excluded.awarded_at, withdrawn_at = NULL
                 WHERE credits.withdrawn_at IS NOT NULL",
            )
            .bind(&case.enrollment.id)
            .bind(&course)
            .bind(attempt_id)
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
        }
    }
    for course in original.credits_withdrawn.iter().filter(|course| completed.contains(*course)) {
        sqlx::query("UPDATE credits SET withdrawn_at = NULL WHERE enrollment_id = $1 AND course_code = $2").bind(&case.enrollment.id).bind(course).execute(&mut **tx).await?;
    }
    restored.completed = completed.len() as i64;
    restored.credits = sqlx::query_scalar("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL").bind(&case.enrollment.id).fetch_one(&mut **tx).await?;
    Ok(restored)
}
