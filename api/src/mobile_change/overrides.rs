//! Changes made for an operator whose old number is lost: by the admin of the
//! operator's unit, or by an association admin for any operator. A reason is required.
//! The new number is still proven by a code that the operator reads out, and the change
//! is recorded with the admin's account id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::apply::{self, Codes};
use super::request::{self, NewRequest};
use super::ChangeKind;
use crate::auth::allowed::{Admins, UnitAdmins};
use crate::auth::{Allowed, Caller};
use crate::error::ApiError;
use crate::extract::Json;
use crate::operator::{OperatorRecord, load_operator};
use crate::AppState;

#[derive(Deserialize)]
pub struct OverrideRequest {
    new_mobile: String,
    reason: String,
}

#[derive(Deserialize)]
pub struct OverrideConfirm {
    request_id: String,
    new_code: String,
}

/// Returns the operator when the caller is the admin of unit `unit_id` and the
/// operator belongs to it now; 404 otherwise, as for an unknown id.
async fn unit_operator(state: &AppState, caller: &Caller, unit_id: &str, operator_id: &str) -> Result<OperatorRecord, ApiError> {
    if !caller.is_admin_of_unit(unit_id) {
        return Err(ApiError::forbidden("auth.forbidden"));
    }
    let operator = load_operator(state, operator_id).await?;
    if operator.unit_id.as_deref() != Some(unit_id) {
        return Err(ApiError::not_found("operator.not_found"));
    }
    Ok(operator)
}

fn account_id(caller: &Caller) -> Result<String, ApiError> {
    caller.account_id.clone().ok_or_else(|| ApiError::forbidden("auth.forbidden"))
}

/// Opens a change request of `kind` for `operator`, requested by the calling admin. 202.
async fn open_override(state: &AppState, caller: &Caller, operator: &OperatorRecord, kind: ChangeKind, body: &OverrideRequest) -> Result<(StatusCode, Json<Value>), ApiError> {
    let requested_by = account_id(caller)?;
    let new = NewRequest { operator, new_mobile: &body.new_mobile, kind, reason: Some(&body.reason), requested_by: &requested_by };
    Ok((StatusCode::ACCEPTED, Json(request::open(state, new).await?)))
}

/// Confirms the open request of `kind` for `operator_id` with the code to the new
/// number, as changed by the calling admin.
async fn confirm_override(state: &AppState, caller: &Caller, operator_id: &str, kind: ChangeKind, body: &OverrideConfirm) -> Result<Json<Value>, ApiError> {
    let changed_by = account_id(caller)?;
    let pending = apply::load_pending(state, &body.request_id, operator_id, kind).await?;
    let codes = Codes { new_code: &body.new_code, old_code: None };
    Ok(Json(apply::confirm(state, &pending, codes, &changed_by, None).await?))
}

/// `POST /api/units/{unit_id}/operators/{operator_id}/mobile-change {new_mobile, reason}`
/// (the admin of the operator's unit): texts a code to the new number. 202.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/operators/{operator_id}/mobile-change",
    tag = "unit",
    params(("unit_id" = String, Path, description = "单位编号 / unit id"), ("operator_id" = String, Path, description = "作业人员编号 / operator id")),
    request_body = serde_json::Value,
    responses(
        (status = 202, description = "A code was sent to the new number", body = serde_json::Value),
        (status = 400, description = "Invalid new number, or no reason", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not the unit's admin", body = crate::openapi::ErrorResponse),
        (status = 404, description = "The operator does not belong to the unit", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The new number belongs to another operator or registration", body = crate::openapi::ErrorResponse),
        (status = 429, description = "A code was sent to the number less than a minute ago, or ten today", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn unit_request(
    State(state): State<AppState>,
    caller: Allowed<UnitAdmins>,
    Path((unit_id, operator_id)): Path<(String, String)>,
    Json(body): Json<OverrideRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let operator = unit_operator(&state, &caller, &unit_id, &operator_id).await?;
    open_override(&state, &caller, &operator, ChangeKind::UnitOverride, &body).await
}

/// `POST /api/units/{unit_id}/operators/{operator_id}/mobile-change/confirm {request_id,
/// new_code}` (the admin of the operator's unit): changes the number.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/operators/{operator_id}/mobile-change/confirm",
    tag = "unit",
    params(("unit_id" = String, Path, description = "单位编号 / unit id"), ("operator_id" = String, Path, description = "作业人员编号 / operator id")),
    request_body = serde_json::Value,
    responses(
        (status = 200, description = "The number is changed and the operator's sessions ended", body = serde_json::Value),
        (status = 400, description = "The code is wrong, expired or void, or the request expired", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not the unit's admin", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No open request, or the operator does not belong to the unit", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The request was confirmed or replaced, or the number was taken meanwhile", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn unit_confirm(
    State(state): State<AppState>,
    caller: Allowed<UnitAdmins>,
    Path((unit_id, operator_id)): Path<(String, String)>,
    Json(body): Json<OverrideConfirm>,
) -> Result<Json<Value>, ApiError> {
    let operator = unit_operator(&state, &caller, &unit_id, &operator_id).await?;
    confirm_override(&state, &caller, &operator.id, ChangeKind::UnitOverride, &body).await
}

/// `POST /api/staff/operators/{operator_id}/mobile-change {new_mobile, reason}`
/// (association admin): texts a code to the new number. 202.
#[utoipa::path(
    post,
    path = "/api/staff/operators/{operator_id}/mobile-change",
    tag = "staff",
    params(("operator_id" = String, Path, description = "作业人员编号 / operator id")),
    request_body = serde_json::Value,
    responses(
        (status = 202, description = "A code was sent to the new number", body = serde_json::Value),
        (status = 400, description = "Invalid new number, or no reason", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not an association admin", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No operator has this id", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The new number belongs to another operator or registration", body = crate::openapi::ErrorResponse),
        (status = 429, description = "A code was sent to the number less than a minute ago, or ten today", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn staff_request(
    State(state): State<AppState>,
    caller: Allowed<Admins>,
    Path(operator_id): Path<String>,
    Json(body): Json<OverrideRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let operator = load_operator(&state, &operator_id).await?;
    open_override(&state, &caller, &operator, ChangeKind::AssociationOverride, &body).await
}

/// `POST /api/staff/operators/{operator_id}/mobile-change/confirm {request_id, new_code}`
/// (association admin): changes the number.
#[utoipa::path(
    post,
    path = "/api/staff/operators/{operator_id}/mobile-change/confirm",
    tag = "staff",
    params(("operator_id" = String, Path, description = "作业人员编号 / operator id")),
    request_body = serde_json::Value,
    responses(
        (status = 200, description = "The number is changed and the operator's sessions ended", body = serde_json::Value),
        (status = 400, description = "The code is wrong, expired or void, or the request expired", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not an association admin", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No open request for this operator has this id", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The request was confirmed or replaced, or the number was taken meanwhile", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn staff_confirm(
    State(state): State<AppState>,
    caller: Allowed<Admins>,
    Path(operator_id): Path<String>,
    Json(body): Json<OverrideConfirm>,
) -> Result<Json<Value>, ApiError> {
    confirm_override(&state, &caller, &operator_id, ChangeKind::AssociationOverride, &body).await
}
