//! `POST /api/reviews/{case_id}/decision`: a reviewer decides an open case.

use axum::extract::{Path, State};
use serde::Deserialize;
use domain::archive::Archive;
use serde_json::{Value, json};
use workers::archive::{self, NewEntry};

use super::effects::{self, CaseRef, Decision};
use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::error::ApiError;
use crate::extract::Json;
use crate::workflow::{self, state_label};
use crate::AppState;

#[derive(Deserialize)]
pub struct DecisionRequest {
    decision: Decision,
    reason: Option<String>,
    /// Sessions to clear with `clear_sessions`; the case's own session when empty.
    #[serde(default)]
    session_ids: Vec<String>,
}

/// `POST /api/reviews/{case_id}/decision {decision, reason, session_ids?}` (association
/// staff). `decision` is `accept`, `clear_sessions`, `clear_course` or `clear_year` for
/// a study case, `accept` or `void_score` for an exam case; anything but `accept` needs
/// a reason, which the operator and the unit admin are told.
pub async fn decide(State(state): State<AppState>, Path(case_id): Path<String>, caller: Allowed<Staff>, Json(request): Json<DecisionRequest>) -> Result<Json<Value>, ApiError> {
    let decided_by = caller.account_id.clone().unwrap_or_default();
    let reason = request.reason.as_deref().map(str::trim).filter(|reason| !reason.is_empty()).map(str::to_string);
    if request.decision != Decision::Accept && reason.is_none() {
        return Err(ApiError::invalid("review.reason_required").field("reason"));
    }

    // Step 1: the case must be open and the decision must fit its kind; an exam case
    // that holds its instance needs the instance still waiting for it.
    let (case, status) = CaseRef::load(&state, &case_id).await?;
    if status != "open" {
        return Err(ApiError::conflict("review.already_decided"));
    }
    if !request.decision.fits(&case.kind) {
        return Err(ApiError::invalid("review.decision_invalid").field("decision").arg("decision", request.decision.as_str()).arg("kind", &case.kind));
    }
    let decision = request.decision.resolve(&case.kind);
    let instance = state.engine.instance(&case.instance_id).await?;
    if instance.status == "terminal" {
        return Err(ApiError::conflict("review.year_closed").arg("year", case.enrollment.year));
    }
    if case.kind == "exam" && case.outcome == "review" && instance.state != "under_review" {
        return Err(ApiError::conflict("review.not_under_review").arg("state", state_label(&state, &instance)));
    }

    // Step 2: the decision and its effects in one transaction.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let effects = effects::apply(&state, &mut tx, &case, decision, &request.session_ids, now_ms).await?;
    let case_status = if decision == Decision::Accept { "accepted" } else { "rejected" };
    let decided = sqlx::query(
        "UPDATE review_cases SET status = $1, decision = $2, effects = $3, decided_by = $4, decided_at = $5, reason = $6 WHERE id = $7 AND status = 'open'",
    )
    .bind(case_status)
    .bind(decision.as_str())
    .bind(effects::effects_json(&effects).to_string())
    .bind(&decided_by)
    .bind(now_ms)
    .bind(&reason)
    .bind(&case_id)
    .execute(&mut *tx)
    .await?;
    if decided.rows_affected() == 0 {
        return Err(ApiError::conflict("review.already_decided"));
    }
    let body = json!({ "case_id": case_id, "record": case.kind, "record_id": case.subject_id, "decision": decision, "effects": effects });
    let entry = NewEntry { reason: reason.as_deref(), ..NewEntry::system(&case.enrollment.operator_id, Archive::ContinuingEducation, "decision", format!("decision:{case_id}"), body) };
    archive::append(&mut tx, state.engine.db.backend, NewEntry { recorded_by: &decided_by, ..entry }, now_ms).await?;

    // Step 3: the workflow events, recorded with the decision and sent after the commit.
    let text = effects::decision_text(&case, decision, &effects, reason.as_deref());
    let events = effects::workflow_events(&case, &instance.state, decision, &effects, &text, &format!("review:{case_id}"));
    let event_ids = workflow::record_all(&mut tx, &events, now_ms).await?;
    tx.commit().await?;
    tracing::info!(case = %case_id, kind = %case.kind, decision = decision.as_str(), reviewer = %decided_by, enrollment = %case.enrollment.id,
        voided = effects.sessions_voided.len(), withdrawn = effects.credits_withdrawn.len(), "review decided");
    workflow::deliver_recorded(&state, &event_ids).await;

    Ok(Json(json!({ "case_id": case_id, "status": case_status, "decision": decision, "effects": effects })))
}
