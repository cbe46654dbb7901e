//! `POST /api/units/{unit_id}/staff/remind`: sends selected operators of the unit a
//! reminder of the year's continuing education by SMS and email.
//!
//! Each reminder is a `unit_reminder` instance per operator, unit, year and Beijing
//! date, whose on-enter `notify` action the workers send. The notification system's
//! delivery keys, quiet hours (no SMS 21:00–08:00 Beijing time) and per-recipient
//! hourly limits therefore apply. A second request on the same day starts nothing, so
//! an operator gets at most one reminder from a unit per year and day.

use axum::extract::{Path, State};
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{Value, json};
use workflows::runtime::instance::subject_key;

use super::{Selection, authorized_unit, current_members};
use crate::auth::allowed::UnitAdminsAndStaff;
use crate::auth::Allowed;
use crate::error::{ApiError, current_locale, text};
use crate::extract::Json;
use crate::AppState;

/// The reminder pipeline, one instance per operator, unit, year and Beijing date.
pub const UNIT_REMINDER: &str = "unit_reminder";

#[derive(Deserialize)]
pub(crate) struct RemindRequest {
    year: Option<i32>,
    #[serde(flatten)]
    selection: Selection,
}

/// `POST /api/units/{unit_id}/staff/remind {year?, operator_ids}` (the unit's admin, or
/// association staff): one result per distinct operator id: `queued` (the workers send
/// it, held through quiet hours), `already_reminded` today, or `refused` for an id that
/// is not an operator of the unit now. The year is the current Beijing year by default.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/staff/remind",
    tag = "unit",
    params(
        ("unit_id" = String, Path, description = "单位编号 / unit id"),
    ),
    request_body = serde_json::Value,
    responses(
        (status = 200, description = "One result per operator: queued, already_reminded or refused", body = serde_json::Value),
        (status = 400, description = "No operator or too many selected, or an invalid year", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is neither the unit's admin nor association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No unit has this id", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn remind(State(state): State<AppState>, caller: Allowed<UnitAdminsAndStaff>, Path(unit_id): Path<String>, Json(request): Json<RemindRequest>) -> Result<Json<Value>, ApiError> {
    authorized_unit(&state, &caller, &unit_id).await?;
    let ids = request.selection.distinct_ids()?;
    let today = state.today();
    let year = request.year.unwrap_or(today.year());
    if year != today.year() && year != today.year() + 1 {
        return Err(ApiError::invalid("unit_staff.remind_year_invalid").field("year").arg("year", year).arg("this_year", today.year()).arg("next_year", today.year() + 1));
    }
    let members = current_members(&state, &unit_id, &ids).await?;

    let mut results = Vec::with_capacity(ids.len());
    let mut queued = 0;
    for operator_id in &ids {
        let Some(name) = members.get(operator_id) else {
            let error = ApiError::not_found("unit_staff.not_in_unit");
            let (message, _) = error.message_and_field(current_locale());
            results.push(json!({ "operator_id": operator_id, "name": "", "outcome": "refused", "code": error.code(), "message": message }));
            continue;
        };
        let subject = [("operator", operator_id.clone()), ("unit", unit_id.clone()), ("year", year.to_string()), ("day", today.to_string())];
        // The check before the start only chooses the word shown: starting is
        // idempotent per subject, so two requests at once still send one reminder.
        let existing = state.engine.find_instance(UNIT_REMINDER, &subject_key(&subject)).await?;
        let outcome = if existing.is_some() {
            "already_reminded"
        } else {
            let instance = state.engine.start(UNIT_REMINDER, &subject, Default::default()).await?;
            tracing::info!(instance = %instance.id, operator = %operator_id, unit = %unit_id, year, "unit reminder queued");
            queued += 1;
            "queued"
        };
        results.push(json!({ "operator_id": operator_id, "name": name, "outcome": outcome, "message": text(&format!("unit_staff.reminder_{outcome}"), &[]) }));
    }
    Ok(Json(json!({ "year": year, "queued": queued, "results": results })))
}
