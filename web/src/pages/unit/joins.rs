//! Join requests (调入申请) at `/unit/joins`: the unit asks for an operator of another
//! unit by ID number and name, and decides the requests for its own operators.

use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{beijing, unit_session};
use crate::context::{PageContext, redirect};
use crate::backend::ApiProblem;
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/unit/joins", get(show).post(request_operator))
        .route("/unit/joins/{request_id}/decision", post(decide))
}

/// The values typed into the page's forms, kept when it is shown again with errors.
#[derive(Deserialize, Default)]
struct RequestForm {
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    reason: String,
}

/// `GET /unit/joins`.
async fn show(context: PageContext) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    joins_page(&context, token, &unit, &RequestForm::default(), &FormErrors::default(), None, StatusCode::OK).await
}

/// Renders the request form and both lists. `decision_error` is the request id and the
/// API's error of a decision it refused. An error on the reason is shown beside that
/// field, any other above the decision form.
async fn joins_page(context: &PageContext, token: &str, unit: &Value, form: &RequestForm, errors: &FormErrors, decision_error: Option<(&str, &ApiProblem)>, status: StatusCode) -> Response {
    let path = format!("/api/units/{}/join-requests", unit["id"].as_str().unwrap_or_default());
    let mut lists = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(lists) => lists,
        Err(problem) => return context.fail(problem),
    };
    for list in ["incoming", "outgoing"] {
        if let Some(rows) = lists[list].as_array_mut() {
            for row in rows {
                row["created_at_text"] = beijing(&row["created_at"]);
                row["decided_at_text"] = beijing(&row["decided_at"]);
                row["pending"] = json!(row["status"] == "pending");
                row["status_code"] = json!(format!("web.unit.joins.status.{}", row["status"].as_str().unwrap_or("pending")));
                if let Some((_, problem)) = decision_error.filter(|(id, _)| row["id"] == *id) {
                    let key = if problem.field.as_deref() == Some("reason") { "reason_error" } else { "error" };
                    row[key] = json!(problem.message);
                }
            }
        }
    }
    let data = json!({
        "title": "web.unit.joins.title",
        "unit_name": unit["name"],
        "incoming": lists["incoming"],
        "outgoing": lists["outgoing"],
        "id_number": form.id_number,
        "name": form.name,
        "reason": form.reason,
        "errors": errors.to_json(),
    });
    context.render_status(status, "unit_joins", data)
}

/// `POST /unit/joins {id_number, name, reason}`: asks for an operator of another unit.
async fn request_operator(context: PageContext, Form(form): Form<RequestForm>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let path = format!("/api/units/{}/join-requests", unit["id"].as_str().unwrap_or_default());
    let body = json!({ "id_number": form.id_number, "name": form.name, "reason": form.reason });
    match context.state.backend.post(&path, Some(token), context.locale, body).await {
        Ok(_) => redirect("/unit/joins"),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["id_number", "name", "reason"]);
            joins_page(&context, token, &unit, &form, &errors, None, StatusCode::BAD_REQUEST).await
        }
    }
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /unit/joins/{request_id}/decision {decision, reason}`: releases or declines.
async fn decide(context: PageContext, Path(request_id): Path<String>, Form(form): Form<DecisionForm>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let path = format!("/api/units/{}/join-requests/{request_id}/decision", unit["id"].as_str().unwrap_or_default());
    let body = json!({ "decision": form.decision, "reason": form.reason });
    match context.state.backend.post(&path, Some(token), context.locale, body).await {
        Ok(_) => redirect("/unit/joins"),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED || problem.status == StatusCode::NOT_FOUND => context.fail(problem),
        Err(problem) => joins_page(&context, token, &unit, &RequestForm::default(), &FormErrors::default(), Some((&request_id, &problem)), StatusCode::BAD_REQUEST).await,
    }
}
