//! Manual verifications (人工核验): `GET /staff/verifications?status=` lists the requests
//! with links to their documents and, for open ones, a decision form posted to
//! `POST /staff/verifications/{verification_id}/decision`.

use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::reviews::local_problem;
use super::{beijing_times, query_string, staff_session};
use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::WebState;

/// Fields of the decision form that API errors may name.
const DECISION_FIELDS: [&str; 2] = ["decision", "reason"];

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/verifications", get(list))
        .route("/staff/verifications/{verification_id}/decision", post(decide))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
}

#[derive(Deserialize, Default)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `GET /staff/verifications?status=open|approved|rejected`.
async fn list(context: PageContext, Query(query): Query<ListQuery>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    list_page(&context, token, &query.status, StatusCode::OK, None).await
}

async fn list_page(context: &PageContext, token: &str, status_filter: &str, status: StatusCode, typed: Option<(&str, &DecisionForm, &FormErrors)>) -> Response {
    let path = format!("/api/verifications{}", query_string(&[("status", status_filter)]));
    let body = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(body) => body,
        Err(problem) => return context.fail(problem),
    };
    let mut requests: Vec<Value> = body["verifications"].as_array().cloned().unwrap_or_default();
    let mut shown_on_request = false;
    for request in &mut requests {
        let id = request["id"].as_str().unwrap_or_default().to_string();
        request["is_open"] = json!(request["status"] == "open");
        request["kind_text"] = json!(format!("web.staff.verification_kind.{}", request["kind"].as_str().unwrap_or("unit_credit_code")));
        request["status_text"] = json!(format!("web.staff.verification_status.{}", request["status"].as_str().unwrap_or("open")));
        let documents: Vec<Value> = request["document_files"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|document| {
                let seq = document["seq"].as_i64().unwrap_or(0);
                json!({ "href": format!("/api/verifications/{id}/documents?seq={seq}"), "file_name": document["file_name"], "kib": (document["size"].as_u64().unwrap_or(0)).div_ceil(1024) })
            })
            .collect();
        request["documents_shown"] = json!(documents);
        request["errors"] = FormErrors::default().to_json();
        if let Some((_, form, errors)) = typed.filter(|(typed_id, _, _)| *typed_id == id) {
            request["errors"] = errors.to_json();
            request["reason_typed"] = json!(form.reason);
            request["approve_checked"] = json!(form.decision == "approve");
            request["reject_checked"] = json!(form.decision == "reject");
            shown_on_request = true;
        }
    }
    beijing_times(&mut requests, &["created_at"]);
    let general = typed.filter(|_| !shown_on_request).map(|(_, _, errors)| errors.to_json());
    let data = json!({
        "title": "web.staff.verifications.title",
        "general": general,
        "requests": requests,
        "status": if status_filter.is_empty() { "open" } else { status_filter },
    });
    context.render_status(status, "staff_verifications", data)
}

/// `POST /staff/verifications/{verification_id}/decision {decision, reason}`.
async fn decide(context: PageContext, Path(verification_id): Path<String>, Form(form): Form<DecisionForm>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    if form.decision.is_empty() {
        let errors = FormErrors::from_problem(&local_problem(&context, "web.staff.verifications.decision_required", "decision"), &DECISION_FIELDS);
        return list_page(&context, token, "", StatusCode::BAD_REQUEST, Some((&verification_id, &form, &errors))).await;
    }
    let body = json!({ "decision": form.decision, "reason": form.reason });
    match context.state.backend.post(&format!("/api/verifications/{verification_id}/decision"), Some(token), context.locale, body).await {
        Ok(decided) => redirect(&format!("/staff/verifications?status={}", decided["status"].as_str().unwrap_or("open"))),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            tracing::info!(verification = %verification_id, code = %problem.code, "verification decision rejected by the API; shown on the request");
            let errors = FormErrors::from_problem(&problem, &DECISION_FIELDS);
            list_page(&context, token, "", problem.status, Some((&verification_id, &form, &errors))).await
        }
    }
}
