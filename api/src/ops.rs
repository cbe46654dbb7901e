//! Operations: instance history, incidents, and the health probes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use workflows::runtime::Instance;

use workflows::runtime::incidents::Resolution;

use crate::auth::allowed::{Admins, AllButInstitutions, Staff};
use crate::auth::{Allowed, Caller, Role};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::workflow::{ANNUAL_CE, REGISTRATION, state_label};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/instances/{instance_id}/history", get(history))
        .route("/api/incidents", get(incidents))
        .route("/api/incidents/{incident_id}/{action}", post(resolve_incident))
        .route("/api/instances/{instance_id}/pause", post(pause_instance))
        .route("/api/instances/{instance_id}/resume", post(resume_instance))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Deserialize)]
struct HistoryQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/instances/{instance_id}/history?after=&limit=` (the operator concerned, the
/// admin of the operator's current unit, or association staff): history entries with
/// `seq > after`, at most `limit` (default 100, max 500).
async fn history(
    State(state): State<AppState>,
    Path(instance_id): Path<String>,
    caller: Allowed<AllButInstitutions>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let instance = state.engine.instance(&instance_id).await?;
    if !may_see(&state, &caller, &instance).await? {
        // Instances of other people look like missing ones, so ids cannot be probed.
        return Err(ApiError::not_found("workflow.instance_not_found"));
    }

    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let entries = state.engine.history(&instance.id, query.after.unwrap_or(0), limit).await?;
    let next_after = entries.last().map(|entry| entry.seq);
    Ok(Json(json!({
        "instance": {
            "id": instance.id,
            "definition_id": instance.definition_id,
            "state": instance.state,
            "state_label": state_label(&state, &instance),
            "status": instance.status,
        },
        "entries": entries,
        "next_after": next_after,
    })))
}

/// Returns whether `caller` may read the instance: staff all, an operator their own,
/// a unit admin those of the unit's current operators.
async fn may_see(state: &AppState, caller: &Caller, instance: &Instance) -> Result<bool, ApiError> {
    if caller.role.is_staff() {
        return Ok(true);
    }
    let subject = |name: &str| instance.subject.get(name).and_then(Value::as_str).map(str::to_string);
    let operator_id = match instance.definition_id.as_str() {
        ANNUAL_CE => subject("operator"),
        REGISTRATION => match subject("mobile") {
            Some(mobile) => sqlx::query_scalar("SELECT id FROM operators WHERE mobile = $1").bind(mobile).fetch_optional(&state.engine.db.pool).await?,
            None => None,
        },
        _ => None,
    };
    let Some(operator_id) = operator_id else { return Ok(false) };
    match caller.role {
        Role::Operator => Ok(caller.operator_id.as_deref() == Some(operator_id.as_str())),
        Role::UnitAdmin => {
            let unit_id: Option<String> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1")
                .bind(&operator_id)
                .fetch_optional(&state.engine.db.pool)
                .await?
                .flatten();
            Ok(unit_id.is_some() && unit_id == caller.unit_id)
        }
        _ => Ok(false),
    }
}

#[derive(Deserialize)]
struct IncidentsQuery {
    status: Option<String>,
    /// `action_failed` or `stuck_instance`, or every kind when absent.
    kind: Option<String>,
    limit: Option<i64>,
}

/// Maximum incidents one request reads before the kind filter applies.
const MAX_INCIDENTS: i64 = 500;

/// `GET /api/incidents?status=open&kind=&limit=` (association staff): incidents,
/// newest first.
async fn incidents(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<IncidentsQuery>) -> Result<Json<Value>, ApiError> {
    let status = query.status.unwrap_or_else(|| "open".to_string());
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_INCIDENTS);
    let kind = query.kind.filter(|kind| !kind.is_empty());
    // NOTE: with a kind filter, only the newest MAX_INCIDENTS incidents of the status are searched.
    let read = if kind.is_some() { MAX_INCIDENTS } else { limit };
    let mut incidents = state.engine.incidents(&status, read).await?;
    if let Some(kind) = &kind {
        incidents.retain(|incident| &incident.kind == kind);
    }
    incidents.truncate(limit as usize);
    Ok(Json(json!({ "incidents": incidents })))
}

/// `POST /api/incidents/{incident_id}/retry|skip|cancel` (association admin): retry runs
/// the failed action again from attempt 1, skip treats it as done, cancel gives it up.
/// Each is recorded in the instance's history with who decided.
async fn resolve_incident(State(state): State<AppState>, caller: Caller, Path((incident_id, action)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::AssociationAdmin])?;
    let resolution = match action.as_str() {
        "retry" => Resolution::Retry,
        "skip" => Resolution::Skip,
        "cancel" => Resolution::Cancel,
        _ => return Err(ApiError::not_found("request.unknown_route")),
    };
    let by = caller.account_id.clone().unwrap_or_default();
    state.engine.resolve_incident(&incident_id, resolution, &by).await?;
    Ok(Json(json!({ "incident": incident_id, "resolution": action })))
}

#[derive(Deserialize, Default)]
struct PauseBody {
    #[serde(default)]
    reason: String,
}

/// `POST /api/instances/{instance_id}/pause` (association admin): holds the instance's
/// timers, actions and events until it is resumed. `paused` is false when it was not
/// running.
async fn pause_instance(State(state): State<AppState>, caller: Allowed<Admins>, Path(instance_id): Path<String>, Json(body): Json<PauseBody>) -> Result<Json<Value>, ApiError> {
    let reason = body.reason;
    let paused = state.engine.pause(&instance_id, caller.account_id.as_deref().unwrap_or_default(), &reason).await?;
    Ok(Json(json!({ "instance": instance_id, "paused": paused })))
}

/// `POST /api/instances/{instance_id}/resume` (association admin).
async fn resume_instance(State(state): State<AppState>, caller: Caller, Path(instance_id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::AssociationAdmin])?;
    let resumed = state.engine.resume(&instance_id, caller.account_id.as_deref().unwrap_or_default()).await?;
    Ok(Json(json!({ "instance": instance_id, "resumed": resumed })))
}

/// `GET /healthz` (public): 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process runs", body = serde_json::Value)))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz` (public): 200 when the database answers a query and the job backend's
/// table (apalis's jobs table, in the same database) can be read, else 503 naming the
/// part that failed.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "The database and the job backend respond", body = serde_json::Value),
        (status = 503, description = "The database or the job backend is unreachable", body = serde_json::Value),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Err(error) = sqlx::query("SELECT 1").execute(&state.engine.db.pool).await {
        tracing::warn!(error = %error, "readiness check failed: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "database_unreachable", "database": "unreachable", "jobs": "unknown" })));
    }

    let jobs_table = match state.engine.db.backend {
        workflows::db::Backend::Sqlite => "SELECT 1 FROM Jobs LIMIT 1",
        workflows::db::Backend::Postgres => "SELECT 1 FROM apalis.jobs LIMIT 1",
    };
    match sqlx::query(jobs_table).fetch_optional(&state.engine.db.pool).await {
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "ready", "database": "ok", "jobs": "ok" }))),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed: job backend unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "jobs_unreachable", "database": "ok", "jobs": "unreachable" })))
        }
    }
}
