//! Review cases (审核): study sessions and exam attempts that the anti-cheat screening
//! flagged, decided by association reviewers.
//!
//! - Exam case: accept sends `review_passed`, and the `award_credits` job credits the
//!   courses; reject voids the attempt (`review_status = voided`) and sends
//!   `review_rejected`.
//! - Session case: accept clears the session and sends `courses_updated` with the new
//!   number of completed courses; reject voids the session, which then never counts.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workflows::runtime::EventIn;

use crate::auth::Caller;
use crate::enrollments::load_enrollment;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::study::course_progress;
use crate::workflow::{self, state_label};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/reviews", get(list))
        .route("/api/reviews/{case_id}/decision", post(decide))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/reviews?status=open&limit=` (association staff): review cases, oldest
/// first. Status is `open` (default), `accepted` or `rejected`.
async fn list(State(state): State<AppState>, caller: Caller, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let status = query.status.unwrap_or_else(|| "open".to_string());
    if !matches!(status.as_str(), "open" | "accepted" | "rejected") {
        return Err(ApiError::invalid("review.status_invalid").field("status").arg("value", &status));
    }
    let rows = sqlx::query(
        "SELECT c.id, c.kind, c.subject_id, c.enrollment_id, c.findings, c.status, c.decided_by, c.decided_at, c.reason, c.created_at,
                e.year, e.item_code, e.operator_id, o.name AS operator_name
         FROM review_cases c
         JOIN enrollments e ON e.id = c.enrollment_id
         JOIN operators o ON o.id = e.operator_id
         WHERE c.status = $1 ORDER BY c.created_at, c.id LIMIT $2",
    )
    .bind(&status)
    .bind(query.limit.unwrap_or(100).clamp(1, 500))
    .fetch_all(&state.engine.db.pool)
    .await?;

    let mut cases = Vec::with_capacity(rows.len());
    for row in rows {
        let findings: String = row.try_get("findings")?;
        cases.push(json!({
            "id": row.try_get::<String, _>("id")?,
            "kind": row.try_get::<String, _>("kind")?,
            "subject_id": row.try_get::<String, _>("subject_id")?,
            "enrollment_id": row.try_get::<String, _>("enrollment_id")?,
            "operator_id": row.try_get::<String, _>("operator_id")?,
            "operator_name": row.try_get::<Option<String>, _>("operator_name")?,
            "year": row.try_get::<i64, _>("year")?,
            "item_code": row.try_get::<String, _>("item_code")?,
            "findings": serde_json::from_str::<Value>(&findings).unwrap_or(Value::String(findings)),
            "status": row.try_get::<String, _>("status")?,
            "decided_by": row.try_get::<Option<String>, _>("decided_by")?,
            "decided_at": row.try_get::<Option<i64>, _>("decided_at")?,
            "reason": row.try_get::<Option<String>, _>("reason")?,
            "created_at": row.try_get::<i64, _>("created_at")?,
        }));
    }
    Ok(Json(json!({ "cases": cases })))
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Decision {
    Accept,
    Reject,
}

#[derive(Deserialize)]
struct DecisionRequest {
    decision: Decision,
    reason: Option<String>,
}

/// `POST /api/reviews/{case_id}/decision {decision: "accept"|"reject", reason}`
/// (association staff): decides an open case. A rejection needs a reason.
async fn decide(
    State(state): State<AppState>,
    Path(case_id): Path<String>,
    caller: Caller,
    Json(request): Json<DecisionRequest>,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let decided_by = caller.account_id.clone().unwrap_or_default();
    let reason = request.reason.as_deref().map(str::trim).filter(|reason| !reason.is_empty()).map(str::to_string);
    let accept = matches!(request.decision, Decision::Accept);
    if !accept && reason.is_none() {
        return Err(ApiError::invalid("review.reason_required").field("reason"));
    }

    // Step 1: load the case; an exam case needs its instance waiting for the review.
    let case = sqlx::query("SELECT kind, subject_id, enrollment_id, status FROM review_cases WHERE id = $1")
        .bind(&case_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("review.not_found"))?;
    let kind: String = case.try_get("kind")?;
    let subject_id: String = case.try_get("subject_id")?;
    let enrollment = load_enrollment(&state, &case.try_get::<String, _>("enrollment_id")?).await?;
    if case.try_get::<String, _>("status")? != "open" {
        return Err(ApiError::conflict("review.already_decided"));
    }
    let instance = state.engine.instance(&enrollment.instance_id).await?;
    if kind == "exam" && instance.state != "under_review" {
        return Err(ApiError::conflict("review.not_under_review").arg("state", state_label(&state, &instance)));
    }

    // Step 2: record the decision and its effect on the attempt or session together.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let decided = sqlx::query("UPDATE review_cases SET status = $1, decided_by = $2, decided_at = $3, reason = $4 WHERE id = $5 AND status = 'open'")
        .bind(if accept { "accepted" } else { "rejected" })
        .bind(&decided_by)
        .bind(now_ms)
        .bind(&reason)
        .bind(&case_id)
        .execute(&mut *tx)
        .await?;
    if decided.rows_affected() == 0 {
        return Err(ApiError::conflict("review.already_decided"));
    }
    match kind.as_str() {
        "exam" => {
            sqlx::query("UPDATE exam_attempts SET review_status = $1 WHERE id = $2")
                .bind(if accept { "accepted" } else { "voided" })
                .bind(&subject_id)
                .execute(&mut *tx)
                .await?;
        }
        "session" => {
            sqlx::query("UPDATE study_sessions SET status = $1 WHERE id = $2")
                .bind(if accept { "cleared" } else { "voided" })
                .bind(&subject_id)
                .execute(&mut *tx)
                .await?;
        }
        other => return Err(ApiError::internal(anyhow::anyhow!("review case {case_id} has unknown kind {other}"))),
    }
    tx.commit().await?;
    tracing::info!(case = %case_id, kind = %kind, accept, reviewer = %decided_by, enrollment = %enrollment.id, "review decided");

    // Step 3: tell the workflow. The event id is the case's, so a retried decision
    // cannot count twice.
    let event_id = format!("review:{case_id}");
    let event = match (kind.as_str(), accept) {
        ("exam", true) => Some(EventIn::new(event_id, "review_passed").with("attempt_id", subject_id.clone())),
        ("exam", false) => Some(EventIn::new(event_id, "review_rejected").with("attempt_id", subject_id.clone())),
        (_, true) => {
            let progress = course_progress(&state, &enrollment.id, &enrollment.item_code, enrollment.year).await?;
            let completed = progress.iter().filter(|course| course.completed).count() as i64;
            Some(EventIn::new(event_id, "courses_updated").with("completed", completed))
        }
        (_, false) => None,
    };
    if let Some(event) = event {
        workflow::send(&state, &enrollment.instance_id, event).await?;
    }

    Ok(Json(json!({ "case_id": case_id, "status": if accept { "accepted" } else { "rejected" } })))
}
