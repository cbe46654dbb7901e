//! Consent to proctoring (监考) before an exam: camera snapshots and an audio recording
//! are sensitive personal information, so the operator agrees separately, per
//! enrollment, to the current version of the notice. The consent, its time and the
//! notice version are stored in `proctoring_consents`.
//!
//! An exam starts only after that consent ([`require_consent`]), because proctoring
//! is part of every exam. The snapshots and audio themselves are attempt evidence sent to
//! `POST /api/exams/{attempt_id}/evidence`, which the retention job removes after
//! `evidence.retention_days`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workflows::db::is_unique_violation;

use crate::auth::allowed::Operators;
use crate::auth::{Allowed, Caller};
use crate::db::new_id;
use crate::enrollments::own_enrollment;
use crate::error::ApiError;
use crate::extract::Json;
use crate::AppState;

/// Version of the proctoring notice (`proctoring.notice` in the message catalogue).
/// A new text needs a new version, so that earlier consents do not cover it.
pub const NOTICE_VERSION: &str = "2026-01";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/enrollments/{enrollment_id}/proctoring-consent", get(show).post(give))
}

/// Fails with 409 `exam.consent_required` unless the operator of `enrollment_id` has
/// consented to the current notice version.
pub async fn require_consent(state: &AppState, enrollment_id: &str) -> Result<(), ApiError> {
    let consented: Option<i64> = sqlx::query_scalar("SELECT consented_at FROM proctoring_consents WHERE enrollment_id = $1 AND notice_version = $2")
        .bind(enrollment_id)
        .bind(NOTICE_VERSION)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    if consented.is_none() {
        tracing::info!(enrollment = %enrollment_id, notice = NOTICE_VERSION, "exam start without proctoring consent rejected");
        return Err(ApiError::conflict("exam.consent_required").arg("version", NOTICE_VERSION));
    }
    Ok(())
}

/// `GET /api/enrollments/{enrollment_id}/proctoring-consent` (operator): the current
/// notice version and the caller's consent to it, if given.
async fn show(State(state): State<AppState>, Path(enrollment_id): Path<String>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let enrollment = own_enrollment(&state, &caller, &enrollment_id).await?;
    let consented_at: Option<i64> = sqlx::query_scalar("SELECT consented_at FROM proctoring_consents WHERE enrollment_id = $1 AND notice_version = $2")
        .bind(&enrollment.id)
        .bind(NOTICE_VERSION)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    Ok(Json(json!({ "notice_version": NOTICE_VERSION, "consented": consented_at.is_some(), "consented_at": consented_at })))
}

#[derive(Deserialize)]
struct ConsentRequest {
    notice_version: String,
}

/// `POST /api/enrollments/{enrollment_id}/proctoring-consent {notice_version}`
/// (operator): records consent to the notice version shown. 201, or 200 when given before.
async fn give(State(state): State<AppState>, Path(enrollment_id): Path<String>, caller: Allowed<Operators>, Json(request): Json<ConsentRequest>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let enrollment = own_enrollment(&state, &caller, &enrollment_id).await?;
    if request.notice_version.trim() != NOTICE_VERSION {
        return Err(ApiError::conflict("proctoring.notice_outdated").field("notice_version").arg("version", NOTICE_VERSION));
    }

    let now_ms = state.now_ms();
    let inserted = sqlx::query("INSERT INTO proctoring_consents (id, operator_id, enrollment_id, notice_version, consented_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(new_id())
        .bind(&enrollment.operator_id)
        .bind(&enrollment.id)
        .bind(NOTICE_VERSION)
        .bind(now_ms)
        .execute(&state.engine.db.pool)
        .await;
    let status = match inserted {
        Ok(_) => {
            tracing::info!(operator = %enrollment.operator_id, enrollment = %enrollment.id, notice = NOTICE_VERSION, "proctoring consent recorded");
            StatusCode::CREATED
        }
        Err(error) if is_unique_violation(&error) => StatusCode::OK,
        Err(error) => return Err(error.into()),
    };
    let row = sqlx::query("SELECT consented_at FROM proctoring_consents WHERE enrollment_id = $1 AND notice_version = $2")
        .bind(&enrollment.id)
        .bind(NOTICE_VERSION)
        .fetch_one(&state.engine.db.pool)
        .await?;
    let consented_at: i64 = row.try_get("consented_at")?;
    Ok((status, Json(json!({ "notice_version": NOTICE_VERSION, "consented": true, "consented_at": consented_at }))))
}
