//! `/staff/operators`: an association admin finds an operator by mobile number, ID
//! number or name, reads the masked numbers and the recorded number changes, and
//! changes a lost number with a code that the operator reads out.

use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::beijing_times;
use crate::context::{PageContext, Role};
use crate::pages::mobile_change::{confirm_override, request_override};
use crate::WebState;

/// The API allows number changes to association admins only.
const ROLES: &[Role] = &[Role::AssociationAdmin];

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/operators", get(show))
        .route("/staff/operators/{operator_id}/mobile", post(request_mobile_change))
        .route("/staff/operators/{operator_id}/mobile/confirm", post(confirm_mobile_change))
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// `GET /staff/operators?q=`.
async fn show(context: PageContext, Query(query): Query<SearchQuery>) -> Response {
    let token = match context.session_for(ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    operators_page(&context, token, &query.q, None, StatusCode::OK).await
}

/// Renders the search for `q`; `selected` is the operator whose change form has the
/// state given, every other operator gets an empty form.
async fn operators_page(context: &PageContext, token: &str, q: &str, selected: Option<(&str, Value)>, status: StatusCode) -> Response {
    let mut operators = Vec::new();
    let mut search_error = Value::Null;
    if !q.trim().is_empty() {
        let path = format!("/api/staff/operators?{}", serde_urlencoded::to_string([("q", q)]).unwrap_or_default());
        match context.state.backend.get(&path, Some(token), context.locale).await {
            Ok(found) => operators = found["operators"].as_array().cloned().unwrap_or_default(),
            Err(problem) if problem.status == StatusCode::UNAUTHORIZED || problem.status == StatusCode::FORBIDDEN => return context.fail(problem),
            Err(problem) => search_error = Value::String(problem.message),
        }
    }
    for operator in &mut operators {
        let id = operator["id"].as_str().unwrap_or_default().to_string();
        if let Some(changes) = operator["mobile_changes"].as_array_mut() {
            beijing_times(changes, &["changed_at"]);
        }
        operator["mobile_action"] = json!(format!("/staff/operators/{id}/mobile"));
        operator["mobile"] = match &selected {
            Some((selected_id, form)) if *selected_id == id => form.clone(),
            _ => Value::Null,
        };
    }
    // A change just made is shown even when the search no longer finds the old number.
    let done = selected.as_ref().map(|(_, form)| form["done"].clone()).unwrap_or(Value::Null);
    let data = json!({
        "title": "web.staff_operators.title",
        "q": q,
        "searched": !q.trim().is_empty(),
        "operators": operators,
        "search_error": search_error,
        "done": done,
    });
    context.render_status(status, "staff_operators", data)
}

#[derive(Deserialize)]
struct MobileForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    new_mobile: String,
    #[serde(default)]
    reason: String,
}

/// `POST /staff/operators/{operator_id}/mobile {q, new_mobile, reason}`: texts a code
/// to the new number and shows the code form.
async fn request_mobile_change(context: PageContext, Path(operator_id): Path<String>, Form(form): Form<MobileForm>) -> Response {
    let token = match context.session_for(ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/staff/operators/{operator_id}/mobile-change");
    let (status, state) = match request_override(&context, token, &path, &form.new_mobile, &form.reason).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    operators_page(&context, token, &form.q, Some((&operator_id, state)), status).await
}

#[derive(Deserialize)]
struct MobileConfirmForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    new_code: String,
}

/// `POST /staff/operators/{operator_id}/mobile/confirm {q, request_id, new_code}`:
/// changes the number with the code the operator read out.
async fn confirm_mobile_change(context: PageContext, Path(operator_id): Path<String>, Form(form): Form<MobileConfirmForm>) -> Response {
    let token = match context.session_for(ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/staff/operators/{operator_id}/mobile-change");
    let (status, state) = match confirm_override(&context, token, &path, &form.request_id, &form.new_code).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    operators_page(&context, token, &form.q, Some((&operator_id, state)), status).await
}
