//! The unit admin's own unit, which the unit pages start from.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{Value, json};

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::extract::Json;
use crate::operator::find_unit;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/units/mine", get(mine))
}

/// `GET /api/units/mine` (unit_admin): the caller's unit, `{id, uscc, name, status}`.
#[utoipa::path(
    get,
    path = "/api/units/mine",
    tag = "unit",
    responses(
        (status = 200, description = "The unit admin's unit", body = serde_json::Value),
        (status = 403, description = "Caller is not a unit admin", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn mine(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::UnitAdmin])?;
    let unit_id = caller.unit_id.as_deref().ok_or_else(|| ApiError::forbidden("auth.forbidden"))?;
    let unit = find_unit(&state, unit_id).await?.ok_or_else(|| ApiError::not_found("units.not_found"))?;
    Ok(Json(json!({ "id": unit.id, "uscc": unit.uscc, "name": unit.name, "status": unit.status })))
}
