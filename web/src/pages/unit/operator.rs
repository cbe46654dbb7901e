//! One operator's records for the unit admin at `/unit/staff/{operator_id}`: the
//! periods at the unit, the year's credits and cards while the operator belongs to the
//! unit, the study sessions of the unit's periods, the release with a reason, and the
//! change of a lost mobile number (代为更换手机号) confirmed by a code to the new number.

use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{beijing, unit_session};
use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::pages::mobile_change::{confirm_override, request_override};
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/unit/staff/{operator_id}", get(show))
        .route("/unit/staff/{operator_id}/release", post(release))
        .route("/unit/staff/{operator_id}/mobile", post(request_mobile_change))
        .route("/unit/staff/{operator_id}/mobile/confirm", post(confirm_mobile_change))
}

#[derive(Deserialize, Default)]
struct YearQuery {
    year: Option<i32>,
}

/// `GET /unit/staff/{operator_id}?year=`.
async fn show(context: PageContext, Path(operator_id): Path<String>, Query(query): Query<YearQuery>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let year = query.year.unwrap_or_else(|| context.state.app.today().year());
    staff_page(&context, token, &unit, &operator_id, year, "", StatusCode::OK, &FormErrors::default(), Value::Null).await
}

/// Renders the operator's records with the release form's `reason` and `errors`, and
/// the mobile change form's state `mobile` (see
/// [`mobile_form`](crate::pages::mobile_change::mobile_form)).
#[allow(clippy::too_many_arguments)]
async fn staff_page(
    context: &PageContext,
    token: &str,
    unit: &Value,
    operator_id: &str,
    year: i32,
    reason: &str,
    status: StatusCode,
    errors: &FormErrors,
    mobile: Value,
) -> Response {
    let unit_id = unit["id"].as_str().unwrap_or_default();
    let path = format!("/api/units/{unit_id}/operators/{operator_id}/records?year={year}");
    let mut records = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(records) => records,
        Err(problem) => return context.fail(problem),
    };

    // Times are shown in Beijing time.
    for list in ["periods", "sessions", "cards"] {
        if let Some(rows) = records[list].as_array_mut() {
            for row in rows {
                for field in ["started_at", "ended_at", "issued_at", "revoked_at"] {
                    if row[field].is_i64() {
                        row[format!("{field}_text")] = beijing(&row[field]);
                    }
                }
            }
        }
    }
    // Session statuses are the closed set reported, flagged, cleared, voided.
    for session in records["sessions"].as_array_mut().into_iter().flatten() {
        session["status_text"] = json!(format!("web.staff.session_status.{}", session["status"].as_str().unwrap_or("reported")));
    }
    let this_year = context.state.app.today().year();
    let years: Vec<Value> = (this_year - 4..=this_year).rev().map(|value| json!({ "year": value, "selected": value == year })).collect();
    let data = json!({
        "title": "web.unit.staff.title",
        "operator_id": operator_id,
        "records": records,
        "years": years,
        "unit_name": unit["name"],
        "reason": reason,
        "errors": errors.to_json(),
        "mobile": mobile,
        "mobile_action": format!("/unit/staff/{operator_id}/mobile"),
    });
    context.render_status(status, "unit_operator", data)
}

#[derive(Deserialize)]
struct ReleaseForm {
    #[serde(default)]
    reason: String,
    /// The checkbox by which the admin confirms the release.
    #[serde(default)]
    confirm: String,
}

/// `POST /unit/staff/{operator_id}/release {reason, confirm}`: releases the operator
/// once the admin ticked the confirmation.
async fn release(context: PageContext, Path(operator_id): Path<String>, Form(form): Form<ReleaseForm>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let year = context.state.app.today().year();
    if form.confirm != "yes" {
        let problem = crate::backend::ApiProblem {
            status: StatusCode::BAD_REQUEST,
            code: "web.unit.staff.confirm_required".into(),
            message: domain::messages::text(context.locale, "web.unit.staff.confirm_required", &[]),
            field: Some("confirm".into()),
        };
        let errors = FormErrors::from_problem(&problem, &["reason", "confirm"]);
        return staff_page(&context, token, &unit, &operator_id, year, &form.reason, StatusCode::BAD_REQUEST, &errors, Value::Null).await;
    }
    let path = format!("/api/units/{}/operators/{operator_id}/release", unit["id"].as_str().unwrap_or_default());
    match context.state.backend.post(&path, Some(token), context.locale, json!({ "reason": form.reason })).await {
        Ok(_) => redirect(&format!("/unit/staff/{operator_id}?released=1")),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED || problem.status == StatusCode::NOT_FOUND => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["reason", "confirm"]);
            staff_page(&context, token, &unit, &operator_id, year, &form.reason, StatusCode::BAD_REQUEST, &errors, Value::Null).await
        }
    }
}

#[derive(Deserialize)]
struct MobileForm {
    #[serde(default)]
    new_mobile: String,
    #[serde(default)]
    reason: String,
}

/// `POST /unit/staff/{operator_id}/mobile {new_mobile, reason}`: texts a code to the
/// new number and shows the code form.
async fn request_mobile_change(context: PageContext, Path(operator_id): Path<String>, Form(form): Form<MobileForm>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let year = context.state.app.today().year();
    let path = format!("/api/units/{}/operators/{operator_id}/mobile-change", unit["id"].as_str().unwrap_or_default());
    let (status, mobile) = match request_override(&context, token, &path, &form.new_mobile, &form.reason).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    staff_page(&context, token, &unit, &operator_id, year, "", status, &FormErrors::default(), mobile).await
}

#[derive(Deserialize)]
struct MobileConfirmForm {
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    new_code: String,
}

/// `POST /unit/staff/{operator_id}/mobile/confirm {request_id, new_code}`: changes the
/// number with the code the operator read out.
async fn confirm_mobile_change(context: PageContext, Path(operator_id): Path<String>, Form(form): Form<MobileConfirmForm>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let year = context.state.app.today().year();
    let path = format!("/api/units/{}/operators/{operator_id}/mobile-change", unit["id"].as_str().unwrap_or_default());
    let (status, mobile) = match confirm_override(&context, token, &path, &form.request_id, &form.new_code).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    staff_page(&context, token, &unit, &operator_id, year, "", status, &FormErrors::default(), mobile).await
}
