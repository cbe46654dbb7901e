//! Join requests (调入申请): a unit requests an operator who belongs to another
//! unit. The operator's current unit releases or declines the request with a reason;
//! an association admin may release in the current unit's place (`override`).
//!
//! A release reuses [`release_operator`] and [`attach_to_unit`], so the operator's
//! history keeps the period at each unit, the operator and the releasing unit's admins
//! get `unit_released`, and the requesting unit's admins get `unit_joined` from the
//! registration workflow. An operator without a unit needs no request: the operator
//! joins by info completion (`POST /api/operator/info`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workflows::db::is_unique_violation;

use crate::auth::allowed::UnitAdminsAndAdmins;
use crate::auth::{Allowed, Caller, Role};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::Json;
use crate::operator::{attach_to_unit, find_unit, load_operator};
use crate::unit_change::release_operator;
use crate::{AppState, mask};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/units/{unit_id}/join-requests", get(list).post(create))
        .route("/api/units/{unit_id}/join-requests/{request_id}/decision", post(decide))
}

#[derive(Deserialize)]
pub struct JoinRequestInput {
    id_number: String,
    name: String,
    reason: Option<String>,
}

/// `POST /api/units/{unit_id}/join-requests {id_number, name, reason?}` (that unit's
/// admin, or association admin): requests that the operator's current unit release the
/// operator to unit `unit_id`. 201. The ID number and the name must both match.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/join-requests",
    tag = "unit",
    params(("unit_id" = String, Path, description = "The requesting unit")),
    request_body(content = serde_json::Value, description = "`{id_number, name, reason?}`"),
    responses(
        (status = 201, description = "The pending request", body = serde_json::Value),
        (status = 403, description = "Caller is neither the unit's admin nor an association admin", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No operator with this ID number and name", body = crate::openapi::ErrorResponse),
        (status = 409, description = "Already a member, without a unit, or a request is pending", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Allowed<UnitAdminsAndAdmins>,
    Path(unit_id): Path<String>,
    Json(input): Json<JoinRequestInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !caller.is_admin_of_unit(&unit_id) {
        caller.require(&[Role::AssociationAdmin])?;
    }
    find_unit(&state, &unit_id).await?.ok_or_else(|| ApiError::not_found("units.not_found"))?;

    // Step 1: find the person. A wrong name gets the same response as an unknown ID
    // number, so the request reveals nothing about a number alone.
    let id_number = domain::identity::normalize_id_number(&input.id_number, state.today())?;
    let name = domain::identity::normalize_name(&input.name)?;
    let found = sqlx::query("SELECT id, name FROM operators WHERE id_number = $1")
        .bind(id_number.as_str())
        .fetch_optional(&state.engine.db.pool)
        .await?;
    let operator_id = match found {
        Some(row) if row.try_get::<Option<String>, _>("name")?.as_deref() == Some(name.as_str()) => row.try_get::<String, _>("id")?,
        _ => return Err(ApiError::not_found("unit_join.operator_not_found").field("id_number")),
    };
    let operator = load_operator(&state, &operator_id).await?;

    // Step 2: only an operator of another unit needs a request.
    let current_unit_id = match operator.unit_id.as_deref() {
        None => return Err(ApiError::conflict("unit_join.no_current_unit").field("id_number")),
        Some(current) if current == unit_id => return Err(ApiError::conflict("unit_join.already_member").field("id_number")),
        Some(current) => current.to_string(),
    };

    // Step 3: store the request. The unique index allows one pending request per operator.
    let request_id = new_id();
    let reason = input.reason.as_deref().map(str::trim).filter(|reason| !reason.is_empty());
    let inserted = sqlx::query(
        "INSERT INTO join_requests (id, operator_id, requesting_unit_id, current_unit_id, requested_by, request_reason, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
    )
    .bind(&request_id)
    .bind(&operator_id)
    .bind(&unit_id)
    .bind(&current_unit_id)
    .bind(caller.account_id.clone().unwrap_or_default())
    .bind(reason)
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => return Err(ApiError::conflict("unit_join.pending_exists").field("id_number")),
        Err(error) => return Err(error.into()),
    }
    tracing::info!(request = %request_id, operator = %operator_id, from = %current_unit_id, to = %unit_id, "join request created");
    Ok((StatusCode::CREATED, Json(request_json(&state, &request_id).await?)))
}

/// `GET /api/units/{unit_id}/join-requests` (that unit's admin, or association staff):
/// the unit's requests, `incoming` (for operators it has now) and `outgoing` (its own),
/// newest first.
#[utoipa::path(
    get,
    path = "/api/units/{unit_id}/join-requests",
    tag = "unit",
    params(("unit_id" = String, Path, description = "The unit")),
    responses(
        (status = 200, description = "`{incoming, outgoing}`", body = serde_json::Value),
        (status = 403, description = "Caller is neither the unit's admin nor association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller, Path(unit_id): Path<String>) -> Result<Json<Value>, ApiError> {
    if !caller.is_admin_of_unit(&unit_id) {
        caller.require_staff()?;
    }
    let incoming = requests_where(&state, "r.current_unit_id = $1", &unit_id).await?;
    let mut outgoing = requests_where(&state, "r.requesting_unit_id = $1", &unit_id).await?;

    // The requesting unit has not got the operator yet, so it gets no operator id.
    for request in &mut outgoing {
        if request["status"] != "released" {
            request["operator_id"] = Value::Null;
        }
    }
    Ok(Json(json!({ "unit_id": unit_id, "incoming": incoming, "outgoing": outgoing })))
}

#[derive(Deserialize)]
pub struct DecisionInput {
    decision: String,
    reason: String,
}

/// `POST /api/units/{unit_id}/join-requests/{request_id}/decision {decision, reason}`
/// (the admin of the operator's current unit `unit_id`, or association admin as an
/// override). `release` ends the operator's period at the unit and attaches the
/// operator to the requesting unit. `decline` ends the request.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/join-requests/{request_id}/decision",
    tag = "unit",
    params(("unit_id" = String, Path, description = "The operator's current unit"), ("request_id" = String, Path, description = "The request")),
    request_body(content = serde_json::Value, description = "`{decision: release | decline, reason}`"),
    responses(
        (status = 200, description = "The decided request", body = serde_json::Value),
        (status = 400, description = "Unknown decision or missing reason", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is neither the unit's admin nor an association admin", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No such request for this unit", body = crate::openapi::ErrorResponse),
        (status = 409, description = "Decided already, or the operator left the unit", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn decide(
    State(state): State<AppState>,
    caller: Allowed<UnitAdminsAndAdmins>,
    Path((unit_id, request_id)): Path<(String, String)>,
    Json(input): Json<DecisionInput>,
) -> Result<Json<Value>, ApiError> {
    let release_kind = match caller.role {
        Role::AssociationAdmin => "override",
        _ if caller.is_admin_of_unit(&unit_id) => "release",
        _ => return Err(ApiError::forbidden("auth.forbidden")),
    };
    let kind = match input.decision.as_str() {
        "release" => release_kind,
        "decline" => "decline",
        other => return Err(ApiError::invalid("unit_join.decision_invalid").field("decision").arg("value", other)),
    };
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::invalid("unit_join.reason_required").field("reason"));
    }
    let row = sqlx::query("SELECT operator_id, requesting_unit_id, status FROM join_requests WHERE id = $1 AND current_unit_id = $2")
        .bind(&request_id)
        .bind(&unit_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("unit_join.not_found"))?;
    let operator_id: String = row.try_get("operator_id")?;
    let requesting_unit_id: String = row.try_get("requesting_unit_id")?;
    if row.try_get::<String, _>("status")? != "pending" {
        return Err(ApiError::conflict("unit_join.already_decided"));
    }
    let by = caller.account_id.clone().unwrap_or_default();

    // The status guard lets one decision through when two arrive together.
    let status = if kind == "decline" { "declined" } else { "released" };
    let claimed = sqlx::query(
        "UPDATE join_requests SET status = $1, decided_by = $2, decided_kind = $3, decision_reason = $4, decided_at = $5 WHERE id = $6 AND status = 'pending'",
    )
    .bind(status)
    .bind(&by)
    .bind(kind)
    .bind(reason)
    .bind(state.now_ms())
    .bind(&request_id)
    .execute(&state.engine.db.pool)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(ApiError::conflict("unit_join.already_decided"));
    }
    if kind != "decline" {
        move_operator(&state, &request_id, &operator_id, &unit_id, &requesting_unit_id, kind, reason, &by).await?;
    }
    tracing::info!(request = %request_id, operator = %operator_id, kind, by = %by, "join request decided");
    Ok(Json(request_json(&state, &request_id).await?))
}

/// Releases the operator from `current_unit_id` and attaches them to
/// `requesting_unit_id`. An operator who left the unit since the request makes the
/// request `lapsed` (409); a failed release puts it back to `pending`.
// NOTE: an operator a roster created who never signed in has a registration instance
// in `visitor`, which ignores `unit_released`, so neither unit is notified for them.
#[allow(clippy::too_many_arguments)]
async fn move_operator(state: &AppState, request_id: &str, operator_id: &str, current_unit_id: &str, requesting_unit_id: &str, kind: &str, reason: &str, by: &str) -> Result<(), ApiError> {
    let operator = load_operator(state, operator_id).await?;
    if operator.unit_id.as_deref() != Some(current_unit_id) {
        set_status(state, request_id, "lapsed").await?;
        return Err(ApiError::conflict("unit_join.lapsed"));
    }
    if let Err(error) = release_operator(state, current_unit_id, operator_id, kind, reason, by).await {
        set_status(state, request_id, "pending").await?;
        return Err(error);
    }

    // After the release the operator has no unit, so attaching fails only when the
    // operator joined another unit in between.
    let released = load_operator(state, operator_id).await?;
    if let Err(error) = attach_to_unit(state, &released, requesting_unit_id, &[], "join_request").await {
        tracing::warn!(request = %request_id, operator = %operator_id, error = %error, "operator released but not attached to the requesting unit");
        set_status(state, request_id, "lapsed").await?;
        return Err(error);
    }
    Ok(())
}

async fn set_status(state: &AppState, request_id: &str, status: &str) -> Result<(), ApiError> {
    sqlx::query("UPDATE join_requests SET status = $1 WHERE id = $2").bind(status).bind(request_id).execute(&state.engine.db.pool).await?;
    Ok(())
}

const REQUEST_COLUMNS: &str = "r.id, r.operator_id, r.requesting_unit_id, r.current_unit_id, r.request_reason, r.status, r.decided_kind, r.decision_reason, r.created_at, r.decided_at,
     o.name AS operator_name, o.id_number, ru.name AS requesting_unit_name, cu.name AS current_unit_name";

/// Returns the requests matching `condition` on `$1`, newest first.
async fn requests_where(state: &AppState, condition: &str, value: &str) -> Result<Vec<Value>, ApiError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM join_requests r JOIN operators o ON o.id = r.operator_id JOIN units ru ON ru.id = r.requesting_unit_id
         JOIN units cu ON cu.id = r.current_unit_id WHERE {condition} ORDER BY r.created_at DESC, r.id DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_all(&state.engine.db.pool).await?;
    rows.iter().map(|row| request_from_row(row).map_err(ApiError::from)).collect()
}

/// Returns request `request_id` as the API shows it.
async fn request_json(state: &AppState, request_id: &str) -> Result<Value, ApiError> {
    let found = requests_where(state, "r.id = $1", request_id).await?;
    found.into_iter().next().ok_or_else(|| ApiError::not_found("unit_join.not_found"))
}

/// Describes one request with the operator's ID number masked.
fn request_from_row(row: &sqlx::any::AnyRow) -> Result<Value, sqlx::Error> {
    let id_number: Option<String> = row.try_get("id_number")?;
    Ok(json!({
        "id": row.try_get::<String, _>("id")?,
        "operator_id": row.try_get::<String, _>("operator_id")?,
        "operator_name": row.try_get::<Option<String>, _>("operator_name")?,
        "id_number_masked": id_number.as_deref().map(mask::id_number),
        "requesting_unit_id": row.try_get::<String, _>("requesting_unit_id")?,
        "requesting_unit_name": row.try_get::<String, _>("requesting_unit_name")?,
        "current_unit_id": row.try_get::<String, _>("current_unit_id")?,
        "current_unit_name": row.try_get::<String, _>("current_unit_name")?,
        "request_reason": row.try_get::<Option<String>, _>("request_reason")?,
        "status": row.try_get::<String, _>("status")?,
        "decided_kind": row.try_get::<Option<String>, _>("decided_kind")?,
        "decision_reason": row.try_get::<Option<String>, _>("decision_reason")?,
        "created_at": row.try_get::<i64, _>("created_at")?,
        "decided_at": row.try_get::<Option<i64>, _>("decided_at")?,
    }))
}
