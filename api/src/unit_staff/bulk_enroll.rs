//! `POST /api/units/{unit_id}/staff/enroll`: enrolls selected operators of the unit for
//! a year and item on their behalf, under the same rules as an operator's own
//! enrollment ([`crate::enrollments::enroll_operator`]), with a result per operator.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Selection, authorized_unit, current_members};
use crate::auth::allowed::UnitAdminsAndStaff;
use crate::auth::Allowed;
use crate::enrollments::enroll_operator;
use crate::error::{ApiError, current_locale, text};
use crate::extract::Json;
use crate::AppState;

#[derive(Deserialize)]
pub(crate) struct BulkEnrollRequest {
    year: i32,
    item_code: String,
    #[serde(flatten)]
    selection: Selection,
}

/// `POST /api/units/{unit_id}/staff/enroll {year, item_code, operator_ids}` (the unit's
/// admin, or association staff): one result per distinct operator id, in the order
/// given: `enrolled`, `already_enrolled`, or `refused` with the code and zh-CN message
/// of the rule that refused it. An id that is not an operator of the unit now is
/// refused with `unit_staff.not_in_unit`. Errors of the database fail the request.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/staff/enroll",
    tag = "unit",
    params(
        ("unit_id" = String, Path, description = "单位编号 / unit id"),
    ),
    request_body = serde_json::Value,
    responses(
        (status = 200, description = "One result per operator: enrolled, already_enrolled or refused with the reason", body = serde_json::Value),
        (status = 400, description = "No operator or too many selected", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is neither the unit's admin nor association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No unit has this id", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn enroll(State(state): State<AppState>, caller: Allowed<UnitAdminsAndStaff>, Path(unit_id): Path<String>, Json(request): Json<BulkEnrollRequest>) -> Result<Json<Value>, ApiError> {
    authorized_unit(&state, &caller, &unit_id).await?;
    let ids = request.selection.distinct_ids()?;
    let members = current_members(&state, &unit_id, &ids).await?;

    let mut results = Vec::with_capacity(ids.len());
    let mut enrolled = 0;
    for operator_id in &ids {
        let Some(name) = members.get(operator_id) else {
            results.push(refusal(operator_id, "", &ApiError::not_found("unit_staff.not_in_unit")));
            continue;
        };
        match enroll_operator(&state, operator_id, request.year, &request.item_code).await {
            Ok(outcome) if outcome.created => {
                enrolled += 1;
                results.push(json!({ "operator_id": operator_id, "name": name, "outcome": "enrolled", "enrollment_id": outcome.enrollment.id, "message": text("unit_staff.enrolled", &[]) }));
            }
            Ok(outcome) => {
                results.push(json!({ "operator_id": operator_id, "name": name, "outcome": "already_enrolled", "enrollment_id": outcome.enrollment.id, "message": text("unit_staff.already_enrolled", &[]) }));
            }
            Err(error) if error.status().is_client_error() => results.push(refusal(operator_id, name, &error)),
            Err(error) => return Err(error),
        }
    }
    tracing::info!(unit = %unit_id, year = request.year, item = %request.item_code, requested = ids.len(), enrolled, "unit enrolled its operators");
    Ok(Json(json!({ "year": request.year, "item_code": request.item_code, "enrolled": enrolled, "results": results })))
}

fn refusal(operator_id: &str, name: &str, error: &ApiError) -> Value {
    let (message, field) = error.message_and_field(current_locale());
    json!({ "operator_id": operator_id, "name": name, "outcome": "refused", "code": error.code(), "field": field, "message": message })
}
