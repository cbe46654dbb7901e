//! `POST /api/training/events/{event_id}/decision`: association staff decide a
//! submitted training event.
//!
//! - `approve`: each attendee gets one credit per course of the event, unless that
//!   course already has a standing credit. The credits are written, with a training
//!   archive entry and a continuing-education credit entry per attendee, in one
//!   transaction. Then each attendee's `annual_ce` instance receives
//!   `training_credited` with the recounted credits, which notifies the operator,
//!   pushes the credit to the provincial platform, and issues the card when the credits
//!   reach the requirement. An attendee whose year is closed gets nothing and is listed.
//! - `request_changes`: the unit edits the event and submits it again.
//! - `reject`: final; each attendee's training archive records the rejected event.
//!
//! Every decision needs a reason, which the event's `internal_training` instance
//! sends to the unit's admins.

use axum::extract::{Path, State};
use domain::archive::Archive;
use domain::messages::{self, Locale};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workers::archive::{self, NewEntry};
use workers::records::{self, EnrollmentRow, TRAINING_CREDIT_PREFIX};
use workflows::runtime::EventIn;

use super::events::{EventRow, event_json};
use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::db::Tx;
use crate::error::ApiError;
use crate::extract::Json;
use crate::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingDecision {
    Approve,
    RequestChanges,
    Reject,
}

impl TrainingDecision {
    fn as_str(self) -> &'static str {
        match self {
            TrainingDecision::Approve => "approve",
            TrainingDecision::RequestChanges => "request_changes",
            TrainingDecision::Reject => "reject",
        }
    }

    /// Returns the event's status after the decision.
    fn status(self) -> &'static str {
        match self {
            TrainingDecision::Approve => "approved",
            TrainingDecision::RequestChanges => "changes_requested",
            TrainingDecision::Reject => "rejected",
        }
    }

    /// Returns the `internal_training` event the decision sends.
    fn workflow_event(self) -> &'static str {
        match self {
            TrainingDecision::Approve => "approved",
            TrainingDecision::RequestChanges => "changes_requested",
            TrainingDecision::Reject => "rejected",
        }
    }
}

#[derive(Deserialize)]
pub struct DecisionRequest {
    decision: TrainingDecision,
    reason: Option<String>,
}

/// An attendee with the enrollment and instance the credits go to.
struct Attendee {
    enrollment: EnrollmentRow,
    instance_id: String,
    instance_status: String,
}

/// `POST /api/training/events/{event_id}/decision {decision, reason}` (association
/// staff): `approve`, `request_changes` or `reject` a submitted event.
pub async fn decide(State(state): State<AppState>, caller: Allowed<Staff>, Path(event_id): Path<String>, Json(request): Json<DecisionRequest>) -> Result<Json<Value>, ApiError> {
    let decided_by = caller.account_id.clone().unwrap_or_default();
    let reason = request.reason.as_deref().map(str::trim).filter(|reason| !reason.is_empty()).map(str::to_string);
    let reason = reason.ok_or_else(|| ApiError::invalid("training.reason_required").field("reason"))?;
    let decision = request.decision;

    // Step 1: the event must wait for a decision.
    let event = EventRow::load(&state.engine.db.pool, &event_id).await?;
    if event.status != "submitted" {
        return Err(ApiError::conflict("training.not_submitted").arg("status", &event.status));
    }
    let instance_id = event.instance_id.clone().ok_or_else(|| ApiError::internal(anyhow::anyhow!("submitted event {event_id} has no instance")))?;

    // Step 2: the decision, the credits and the archive entries in one transaction.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let moved = sqlx::query("UPDATE training_events SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4 WHERE id = $5 AND status = 'submitted'")
        .bind(decision.status())
        .bind(&decided_by)
        .bind(now_ms)
        .bind(&reason)
        .bind(&event_id)
        .execute(&mut *tx)
        .await?;
    if moved.rows_affected() == 0 {
        return Err(ApiError::conflict("training.not_submitted").arg("status", "decided"));
    }
    let attendees = load_attendees(&mut tx, &event).await?;
    let mut credited = Vec::new();
    let mut not_credited = Vec::new();
    for attendee in &attendees {
        let operator_id = attendee.enrollment.operator_id.as_str();
        match decision {
            TrainingDecision::Approve if attendee.instance_status == "terminal" => {
                not_credited.push(json!({ "operator_id": operator_id, "reason": "year_closed" }));
                append_event_entry(&state, &mut tx, &event, operator_id, decision, &reason, &decided_by, &[], now_ms).await?;
            }
            TrainingDecision::Approve => {
                let courses = award(&mut tx, &event, &attendee.enrollment, now_ms).await?;
                append_event_entry(&state, &mut tx, &event, operator_id, decision, &reason, &decided_by, &courses, now_ms).await?;
                let body = json!({ "training_event_id": event.id, "enrollment_id": attendee.enrollment.id, "year": event.year, "item_code": event.item_code, "courses": courses });
                let entry = NewEntry::system(operator_id, Archive::ContinuingEducation, "credit", format!("credit:{TRAINING_CREDIT_PREFIX}{}", event.id), body);
                archive::append(&mut tx, state.engine.db.backend, NewEntry { recorded_by: &decided_by, ..entry }, now_ms).await?;
                credited.push(json!({ "operator_id": operator_id, "enrollment_id": attendee.enrollment.id, "courses": courses }));
            }
            TrainingDecision::Reject => append_event_entry(&state, &mut tx, &event, operator_id, decision, &reason, &decided_by, &[], now_ms).await?,
            TrainingDecision::RequestChanges => {}
        }
    }
    let effects = json!({ "credited": credited, "not_credited": not_credited });
    let seq: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM training_decisions WHERE event_id = $1").bind(&event_id).fetch_one(&mut *tx).await?;
    sqlx::query("INSERT INTO training_decisions (event_id, seq, decision, reason, decided_by, decided_at, effects) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&event_id)
        .bind(seq + 1)
        .bind(decision.as_str())
        .bind(&reason)
        .bind(&decided_by)
        .bind(now_ms)
        .bind(effects.to_string())
        .execute(&mut *tx)
        .await?;

    // Step 3: the workflow events, recorded with the decision so that none is lost if
    // the process stops before sending them: the attendees' credits, then the unit's notice.
    let mut events = Vec::new();
    if decision == TrainingDecision::Approve {
        for attendee in attendees.iter().filter(|attendee| attendee.instance_status != "terminal") {
            let completed = records::completed_courses_in(&mut tx, &attendee.enrollment).await?.len() as i64;
            let credits = records::credit_count(&mut *tx, &attendee.enrollment.id).await?;
            let credited = EventIn::new(format!("training:{event_id}:{}", attendee.enrollment.id), "training_credited").with("completed", completed).with("credits", credits);
            events.push((attendee.instance_id.clone(), credited));
        }
    }
    // Notifications are rendered in zh-CN, whatever the reviewer's request locale.
    let label = messages::text(Locale::ZhCn, &format!("training.decision.{}", decision.as_str()), &[]);
    let notice = EventIn::new(format!("training:{event_id}:decision:{}", seq + 1), decision.workflow_event()).with("reason", reason.clone()).with("decision", label);
    events.push((instance_id.clone(), notice));
    let event_ids = crate::workflow::record_all(&mut tx, &events, now_ms).await?;
    tx.commit().await?;
    tracing::info!(event = %event_id, decision = decision.as_str(), reviewer = %decided_by, credited = credited.len(), not_credited = not_credited.len(), "training event decided");
    crate::workflow::deliver_recorded(&state, &event_ids).await;

    let mut body = event_json(&state, &event_id).await?;
    body["effects"] = effects;
    Ok(Json(body))
}

/// Loads the attendees with their enrollment and its instance's status, inside `tx`.
async fn load_attendees(tx: &mut Tx, event: &EventRow) -> Result<Vec<Attendee>, ApiError> {
    let rows = sqlx::query(
        "SELECT e.id, e.operator_id, e.year, e.item_code, e.instance_id, i.status FROM training_attendees a
         JOIN enrollments e ON e.id = a.enrollment_id JOIN wf_instances i ON i.id = e.instance_id
         WHERE a.event_id = $1 ORDER BY a.line",
    )
    .bind(&event.id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Attendee {
                enrollment: EnrollmentRow { id: row.try_get(0)?, operator_id: row.try_get(1)?, year: row.try_get(2)?, item_code: row.try_get(3)? },
                instance_id: row.try_get(4)?,
                instance_status: row.try_get(5)?,
            })
        })
        .collect()
}

/// Awards one credit per course of the event to the enrollment; returns the courses
/// credited now. A standing credit (from an exam or an earlier event) stays as it is;
/// a withdrawn one is awarded again.
async fn award(tx: &mut Tx, event: &EventRow, enrollment: &EnrollmentRow, now_ms: i64) -> Result<Vec<String>, ApiError> {
    let source = format!("{TRAINING_CREDIT_PREFIX}{}", event.id);
    let mut credited = Vec::new();
    for course in &event.courses {
        let written = sqlx::query(
            "INSERT INTO credits (enrollment_id, course_code, attempt_id, awarded_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (enrollment_id, course_code) DO UPDATE SET attempt_id = excluded.attempt_id, awarded_at = excluded.awarded_at, withdrawn_at = NULL
             WHERE credits.withdrawn_at IS NOT NULL",
        )
        .bind(&enrollment.id)
        .bind(course)
        .bind(&source)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        if written.rows_affected() > 0 {
            credited.push(course.clone());
        }
    }
    Ok(credited)
}

/// Appends the event to the attendee's training archive (培训档案) with the decision.
#[allow(clippy::too_many_arguments)]
async fn append_event_entry(
    state: &AppState,
    tx: &mut Tx,
    event: &EventRow,
    operator_id: &str,
    decision: TrainingDecision,
    reason: &str,
    decided_by: &str,
    credited: &[String],
    now_ms: i64,
) -> Result<(), ApiError> {
    let body = json!({
        "training_event_id": event.id,
        "unit_id": event.unit_id,
        "title": event.title,
        "year": event.year,
        "item_code": event.item_code,
        "courses": event.courses,
        "decision": decision.as_str(),
        "credited_courses": credited,
    });
    let entry = NewEntry {
        recorded_by: decided_by,
        reason: Some(reason),
        ..NewEntry::system(operator_id, Archive::Training, "training_event", format!("training:{}", event.id), body)
    };
    archive::append(tx, state.engine.db.backend, entry, now_ms).await?;
    Ok(())
}
