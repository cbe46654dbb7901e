//! The operator's own change: a code to the new number proves it reaches the operator,
//! and a code to the current number confirms that its holder wants the change.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::apply::{self, Codes};
use super::request::{self, NewRequest};
use super::ChangeKind;
use crate::auth::allowed::Operators;
use crate::auth::Allowed;
use crate::error::ApiError;
use crate::extract::Json;
use crate::operator::load_operator;
use crate::AppState;

#[derive(Deserialize)]
pub struct SelfRequest {
    new_mobile: String,
}

/// `POST /api/operator/mobile-change {new_mobile}` (the operator): texts a code to the
/// new number and one to the current number. 202 `{request_id, expires_in_seconds,
/// new_mobile_masked, old_mobile_masked}`.
#[utoipa::path(
    post,
    path = "/api/operator/mobile-change",
    tag = "operator",
    request_body = serde_json::Value,
    responses(
        (status = 202, description = "Codes sent to the new and the current number", body = serde_json::Value),
        (status = 400, description = "The new number is not a valid mainland mobile, or is the current one", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not an operator", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The new number belongs to another operator or registration", body = crate::openapi::ErrorResponse),
        (status = 429, description = "A code was sent to one of the numbers less than a minute ago, or ten today", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn request(State(state): State<AppState>, caller: Allowed<Operators>, Json(body): Json<SelfRequest>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let operator = load_operator(&state, caller.operator_id()?).await?;
    let requested_by = format!("operator:{}", operator.id);
    let new = NewRequest { operator: &operator, new_mobile: &body.new_mobile, kind: ChangeKind::SelfService, reason: None, requested_by: &requested_by };
    Ok((StatusCode::ACCEPTED, Json(request::open(&state, new).await?)))
}

#[derive(Deserialize)]
pub struct SelfConfirm {
    request_id: String,
    new_code: String,
    old_code: String,
}

/// `POST /api/operator/mobile-change/confirm {request_id, new_code, old_code}` (the
/// operator): changes the number. The operator's other sessions end and the old
/// number is sent an SMS.
#[utoipa::path(
    post,
    path = "/api/operator/mobile-change/confirm",
    tag = "operator",
    request_body = serde_json::Value,
    responses(
        (status = 200, description = "The number is changed", body = serde_json::Value),
        (status = 400, description = "A code is wrong, expired or void, or the request expired", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not an operator", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No open request of this operator has this id", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The request was confirmed or replaced, or the number was taken meanwhile", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn confirm(State(state): State<AppState>, caller: Allowed<Operators>, Json(body): Json<SelfConfirm>) -> Result<Json<Value>, ApiError> {
    let operator_id = caller.operator_id()?;
    let pending = apply::load_pending(&state, &body.request_id, operator_id, ChangeKind::SelfService).await?;
    let codes = Codes { new_code: &body.new_code, old_code: Some(&body.old_code) };
    let changed_by = format!("operator:{operator_id}");
    Ok(Json(apply::confirm(&state, &pending, codes, &changed_by, Some(caller.token_hash.as_str())).await?))
}
