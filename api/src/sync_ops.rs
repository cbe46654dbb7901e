//! Provincial sync operations for association staff: the backlog and state of the
//! outbound sync, and the dead-letter list of records that wait for staff, with replay
//! and skip.
//!
//! Replay and skip resolve the record's incident through the engine, the same as the
//! generic incident routes. Skip also hands the record's sequence number to the
//! operator's next record, so the receiver gets no gap.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use workers::provincial::dead_letter;
use workflows::runtime::EngineError;

use crate::auth::allowed::Staff;
use crate::auth::{Allowed, Caller};
use crate::sync_status::SyncStatus;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sync/status", get(status))
        .route("/api/sync/dead-letters", get(list))
        .route("/api/sync/dead-letters/{incident_id}/replay", post(replay))
        .route("/api/sync/dead-letters/{incident_id}/skip", post(skip))
}

/// `GET /api/sync/status` (association staff): the outbound sync's backlog by status,
/// its open dead letters, the oldest waiting record, the last delivery and the last
/// error, with one overall `state`.
#[utoipa::path(
    get,
    path = "/api/sync/status",
    tag = "sync",
    responses(
        (status = 200, description = "`{state, outbox, records, dead_letters, oldest_waiting_at, last_delivered_at, last_error}`", body = serde_json::Value),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn status(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let status = SyncStatus::load(&state.engine.db.pool).await?;
    Ok(Json(serde_json::to_value(status)?))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<i64>,
}

/// `GET /api/sync/dead-letters?limit=` (association staff): records that failed for good,
/// oldest first, each with its body, error, attempts and the number of the operator's
/// later records it holds back.
#[utoipa::path(
    get,
    path = "/api/sync/dead-letters",
    tag = "sync",
    params(("limit" = Option<i64>, Query, description = "At most this many (1 to 500, default 100)")),
    responses(
        (status = 200, description = "`{dead_letters: [...]}` with body, error, attempts and held records of each", body = serde_json::Value),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let letters = dead_letter::list(&state.engine, query.limit.unwrap_or(100).clamp(1, 500)).await?;
    Ok(Json(json!({ "dead_letters": letters })))
}

/// `POST /api/sync/dead-letters/{incident_id}/replay` (association staff): sends the record
/// again from attempt 1, rebuilt from the current data.
#[utoipa::path(
    post,
    path = "/api/sync/dead-letters/{incident_id}/replay",
    tag = "sync",
    params(("incident_id" = String, Path, description = "The dead letter's incident id")),
    responses(
        (status = 200, description = "The record is sent again from attempt 1", body = serde_json::Value),
        (status = 404, description = "No open dead letter has this incident id", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn replay(State(state): State<AppState>, caller: Caller, Path(incident_id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let by = caller.account_id.clone().unwrap_or_default();
    dead_letter::replay(&state.engine, &incident_id, &by).await.map_err(not_found_as_404)?;
    Ok(Json(json!({ "incident_id": incident_id, "resolution": "retry" })))
}

/// `POST /api/sync/dead-letters/{incident_id}/skip` (association staff): gives the record
/// up and releases the operator's records it held back.
#[utoipa::path(
    post,
    path = "/api/sync/dead-letters/{incident_id}/skip",
    tag = "sync",
    params(("incident_id" = String, Path, description = "The dead letter's incident id")),
    responses(
        (status = 200, description = "The record is given up and the records it held are released", body = serde_json::Value),
        (status = 404, description = "No open dead letter has this incident id", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn skip(State(state): State<AppState>, caller: Caller, Path(incident_id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let by = caller.account_id.clone().unwrap_or_default();
    let released = dead_letter::skip(&state.engine, &incident_id, &by).await.map_err(not_found_as_404)?;
    Ok(Json(json!({ "incident_id": incident_id, "resolution": "skip", "released": released })))
}

fn not_found_as_404(error: EngineError) -> ApiError {
    match error {
        EngineError::IncidentNotFound(_) => ApiError::not_found("sync.dead_letter_not_found"),
        other => other.into(),
    }
}
