//! Study session reports from training institutions (signed requests).
//!
//! Each report is stored once per `statement_id`: a repeat is acknowledged as a
//! duplicate and counts nothing again. A new report is stored as `reported` and sent to
//! the enrollment's instance as `session_reported`, whose `screen_session` job clears or
//! flags it. Only cleared sessions count towards completed courses.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workflows::clock::beijing_date;
use workflows::db::is_unique_violation;
use workflows::runtime::{EventIn, EventOutcome};

use crate::db::new_id;
use crate::enrollments::load_enrollment;
use crate::error::ApiError;
use crate::extract::Json;
use crate::institutions::Signed;
use crate::study::courses_for;
use crate::workflow::state_label;
use crate::xapi;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/institution/sessions", post(report))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FaceCheck {
    Passed,
    Failed,
    Missing,
}

impl FaceCheck {
    fn as_str(&self) -> &'static str {
        match self {
            FaceCheck::Passed => "passed",
            FaceCheck::Failed => "failed",
            FaceCheck::Missing => "missing",
        }
    }
}

/// certflow's JSON session report; an xAPI statement is mapped onto it by [`crate::xapi`].
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SessionReport {
    pub(crate) statement_id: String,
    pub(crate) enrollment_id: String,
    pub(crate) course_code: String,
    pub(crate) started_at: String,
    pub(crate) ended_at: String,
    pub(crate) face_check: FaceCheck,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) evidence: serde_json::Map<String, Value>,
}

/// Maximum plausible length of one session, in minutes. A longer one is a clock or unit
/// error at the institution (minutes sent as seconds, a session never closed).
const MAX_SESSION_MINUTES: i64 = 12 * 60;

/// `POST /api/institution/sessions` (institution, signed request): records a study
/// session, sent as certflow's JSON or as one xAPI statement. 202 for a new report, 200
/// `{duplicate: true}` for a repeated statement id.
#[utoipa::path(
    post,
    path = "/api/institution/sessions",
    tag = "institution",
    request_body(content = SessionReport, description = "certflow's JSON report, or one xAPI statement (docs/institutions.md) deduplicated by its id"),
    responses(
        (status = 202, description = "New report stored and queued for screening", body = crate::openapi::SessionAck),
        (status = 200, description = "Statement id reported before; acknowledged as a duplicate", body = crate::openapi::SessionAck),
        (status = 400, description = "A field is invalid: time in the future, outside the year, implausible duration, unknown course, xAPI field missing", body = crate::openapi::ErrorResponse),
        (status = 401, description = "Signature, key id or timestamp invalid", body = crate::openapi::ErrorResponse),
        (status = 403, description = "The enrollment was not handed off to this institution", body = crate::openapi::ErrorResponse),
        (status = 409, description = "Statement id used by another institution, or the year is closed", body = crate::openapi::ErrorResponse),
    ),
    security(("institution_signature" = []))
)]
pub(crate) async fn report(State(state): State<AppState>, signed: Signed) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body: Value = signed.json()?;
    let report: SessionReport = if xapi::is_statement(&body) {
        xapi::to_report(&body)?
    } else {
        serde_json::from_value(body).map_err(|error| ApiError::from_json_text(&error.to_string()))?
    };
    let institution = &signed.institution;
    let statement_id = report.statement_id.trim();
    if statement_id.is_empty() || statement_id.len() > 200 {
        return Err(ApiError::invalid("session.statement_id_invalid").field("statement_id"));
    }

    // Step 1: a repeated statement is acknowledged without counting it again.
    if let Some(duplicate) = find_statement(&state, statement_id, &institution.id).await? {
        return Ok(duplicate);
    }

    // Step 2: the enrollment must have been handed off to this institution, and the
    // course must belong to the enrollment's item and year.
    let enrollment = load_enrollment(&state, &report.enrollment_id).await.map_err(|error| error.field("enrollment_id"))?;
    if enrollment.institution_id.as_deref() != Some(institution.id.as_str()) || !institution.teaches(&enrollment.item_code) {
        return Err(ApiError::forbidden("session.not_handed_off").field("enrollment_id"));
    }
    let course_known = courses_for(&state.courseware, &enrollment.item_code, enrollment.year).iter().any(|course| course.code == report.course_code);
    if !course_known {
        return Err(ApiError::invalid("session.course_not_in_enrollment")
            .field("course_code")
            .arg("course", &report.course_code)
            .arg("item", &enrollment.item_code)
            .arg("year", enrollment.year));
    }

    // Step 3: the times must make sense by the server's clock.
    let started_at = parse_instant(&report.started_at, "started_at")?;
    let ended_at = parse_instant(&report.ended_at, "ended_at")?;
    if ended_at <= started_at {
        return Err(ApiError::invalid("session.end_before_start").field("ended_at"));
    }
    let minutes = (ended_at - started_at).num_minutes();
    if minutes > MAX_SESSION_MINUTES {
        return Err(ApiError::invalid("session.duration_implausible").field("ended_at").arg("minutes", minutes).arg("max_minutes", MAX_SESSION_MINUTES));
    }
    if ended_at > state.now() {
        return Err(ApiError::invalid("session.in_future").field("ended_at").arg("ended_at", &report.ended_at));
    }
    if beijing_date(started_at).year() != enrollment.year {
        return Err(ApiError::invalid("session.outside_year").field("started_at").arg("year", enrollment.year));
    }
    let instance = state.engine.instance(&enrollment.instance_id).await?;
    if instance.status == "terminal" {
        return Err(ApiError::conflict("session.year_closed").arg("year", enrollment.year));
    }

    // Step 4: store the session with the unit of the period it happened in, so that a
    // session reported after a unit change still belongs to the earlier unit.
    let unit_id = unit_at(&state, &enrollment.operator_id, started_at.timestamp_millis()).await?;
    let session_id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO study_sessions (id, statement_id, institution_id, enrollment_id, operator_id, unit_id, course_code, started_at, ended_at, face_check, evidence, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'reported', $12)",
    )
    .bind(&session_id)
    .bind(statement_id)
    .bind(&institution.id)
    .bind(&enrollment.id)
    .bind(&enrollment.operator_id)
    .bind(&unit_id)
    .bind(&report.course_code)
    .bind(started_at.timestamp_millis())
    .bind(ended_at.timestamp_millis())
    .bind(report.face_check.as_str())
    .bind(Value::Object(report.evidence).to_string())
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await;
    match inserted {
        Ok(_) => {}
        // The same statement arrived twice at once; the other request stored it.
        Err(error) if is_unique_violation(&error) => {
            return find_statement(&state, statement_id, &institution.id)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("statement vanished after a unique violation")));
        }
        Err(error) => return Err(error.into()),
    }

    // Step 5: hand the session to the workflow for screening. The instance can be
    // between two steps (automatic grading, credit award) where it accepts no report;
    // then the row is removed again and the institution is asked to resend.
    let event = EventIn::new(format!("session:{session_id}"), "session_reported").with("session_id", session_id.clone());
    let outcome = state.engine.send(&enrollment.instance_id, event).await?;
    if let EventOutcome::Rejected { state: current, reason } = outcome {
        sqlx::query("DELETE FROM study_sessions WHERE id = $1").bind(&session_id).execute(&state.engine.db.pool).await?;
        tracing::warn!(enrollment = %enrollment.id, state = %current, reason = %reason, statement = %statement_id, "session report not accepted in this state; asked to resend");
        let instance = state.engine.instance(&enrollment.instance_id).await?;
        return Err(ApiError::Rejected { state: current, state_label: state_label(&state, &instance), reason });
    }
    tracing::info!(institution = %institution.id, enrollment = %enrollment.id, session = %session_id, course = %report.course_code, "study session reported");

    Ok((StatusCode::ACCEPTED, Json(json!({ "session_id": session_id, "duplicate": false }))))
}

/// Returns the duplicate response when `statement_id` was stored before: 200 for the same
/// institution, 409 when another institution used the id.
///
/// Storing a session and telling the workflow are two transactions, so a crash between
/// them leaves a stored session the workflow never heard of. The institution resends
/// until it is acknowledged, so the event is sent again here under its first id: the
/// engine ignores it when it was applied, and applies it when it was lost.
async fn find_statement(state: &AppState, statement_id: &str, institution_id: &str) -> Result<Option<(StatusCode, Json<Value>)>, ApiError> {
    let row = sqlx::query(
        "SELECT s.id, s.institution_id, e.instance_id FROM study_sessions s JOIN enrollments e ON e.id = s.enrollment_id WHERE s.statement_id = $1",
    )
    .bind(statement_id)
    .fetch_optional(&state.engine.db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let session_id: String = row.try_get("id")?;
    let owner: String = row.try_get("institution_id")?;
    let instance_id: String = row.try_get("instance_id")?;
    if owner != institution_id {
        return Err(ApiError::conflict("session.statement_id_taken").field("statement_id"));
    }

    let event = EventIn::new(format!("session:{session_id}"), "session_reported").with("session_id", session_id.clone());
    match state.engine.send(&instance_id, event).await? {
        EventOutcome::Duplicate => {}
        EventOutcome::Rejected { state: current, reason } => {
            sqlx::query("DELETE FROM study_sessions WHERE id = $1").bind(&session_id).execute(&state.engine.db.pool).await?;
            tracing::warn!(session = %session_id, state = %current, reason = %reason, statement = %statement_id, "stored session not accepted in this state; asked to resend");
            let instance = state.engine.instance(&instance_id).await?;
            return Err(ApiError::Rejected { state: current, state_label: state_label(state, &instance), reason });
        }
        outcome => tracing::warn!(session = %session_id, statement = %statement_id, ?outcome, "session stored before a crash reached the workflow on resend"),
    }
    tracing::info!(institution = %institution_id, session = %session_id, statement = %statement_id, "duplicate session report acknowledged");
    Ok(Some((StatusCode::OK, Json(json!({ "session_id": session_id, "duplicate": true })))))
}

fn parse_instant(text: &str, field: &'static str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid("session.time_invalid").field(field).arg("value", text))
}

/// Returns the unit of the operator's affiliation period that contains `at_ms`. A
/// session from before the operator's first period on the platform belongs to the
/// first unit joined after it, and with no period at all to the current unit.
async fn unit_at(state: &AppState, operator_id: &str, at_ms: i64) -> Result<Option<String>, ApiError> {
    let during: Option<String> = sqlx::query_scalar(
        "SELECT unit_id FROM affiliations WHERE operator_id = $1 AND started_at <= $2 AND (ended_at IS NULL OR ended_at > $2)
         ORDER BY started_at DESC LIMIT 1",
    )
    .bind(operator_id)
    .bind(at_ms)
    .fetch_optional(&state.engine.db.pool)
    .await?;
    if during.is_some() {
        return Ok(during);
    }
    let next: Option<String> = sqlx::query_scalar("SELECT unit_id FROM affiliations WHERE operator_id = $1 AND started_at > $2 ORDER BY started_at LIMIT 1")
        .bind(operator_id)
        .bind(at_ms)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    if next.is_some() {
        return Ok(next);
    }
    Ok(sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1").bind(operator_id).fetch_optional(&state.engine.db.pool).await?.flatten())
}
