//! Appeals (申诉): `GET /staff/appeals?status=` lists them with a decision form for each
//! open one, posted to `POST /staff/appeals/{appeal_id}/decision`. Only a reviewer
//! other than the one who decided the case may decide the appeal. The API enforces
//! this, and the page shows its error on the appeal in the visitor's language.

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
const DECISION_FIELDS: [&str; 2] = ["outcome", "reason"];

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/appeals", get(list))
        .route("/staff/appeals/{appeal_id}/decision", post(decide))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
}

/// The decision form of one appeal as typed, with its errors, for showing it again.
struct Typed<'a> {
    appeal_id: &'a str,
    form: &'a DecisionForm,
    errors: &'a FormErrors,
}

/// `GET /staff/appeals?status=open|upheld|overturned`. Each attached file links to
/// `GET /api/appeals/{appeal_id}/files?seq=`, which takes the session cookie.
async fn list(context: PageContext, Query(query): Query<ListQuery>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    list_page(&context, token, &query.status, StatusCode::OK, None).await
}

async fn list_page(context: &PageContext, token: &str, status_filter: &str, status: StatusCode, typed: Option<Typed<'_>>) -> Response {
    let path = format!("/api/appeals{}", query_string(&[("status", status_filter)]));
    let body = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(body) => body,
        Err(problem) => return context.fail(problem),
    };
    let mut appeals: Vec<Value> = body["appeals"].as_array().cloned().unwrap_or_default();
    let mut shown_on_appeal = false;
    for appeal in &mut appeals {
        appeal["is_open"] = json!(appeal["status"] == "open");
        appeal["status_text"] = json!(format!("web.staff.appeal_status.{}", appeal["status"].as_str().unwrap_or("open")));
        appeal["case_decision_text"] = json!(format!("web.staff.decision.{}", appeal["case_decision"].as_str().unwrap_or("accept")));
        appeal["case_kind_text"] = json!(format!("web.staff.kind.{}", appeal["case_kind"].as_str().unwrap_or("session")));
        appeal["files_shown"] = json!(files_shown(appeal));
        appeal["errors"] = FormErrors::default().to_json();
        if let Some(typed) = typed.as_ref().filter(|typed| appeal["id"] == typed.appeal_id) {
            appeal["errors"] = typed.errors.to_json();
            shown_on_appeal = true;
            appeal["reason_typed"] = json!(typed.form.reason);
            appeal["uphold_checked"] = json!(typed.form.outcome == "uphold");
            appeal["overturn_checked"] = json!(typed.form.outcome == "overturn");
        }
    }
    beijing_times(&mut appeals, &["created_at"]);
    // An error about an appeal no longer in the list, such as one decided meanwhile,
    // is shown above the list.
    let general = typed.filter(|_| !shown_on_appeal).map(|typed| typed.errors.to_json());
    let data = json!({
        "general": general,
        "title": "web.staff.appeals.title",
        "appeals": appeals,
        "status": if status_filter.is_empty() { "open" } else { status_filter },
    });
    context.render_status(status, "staff_appeals", data)
}

/// Returns the links to an appeal's files: `href`, `file_name` and the size in KiB.
fn files_shown(appeal: &Value) -> Vec<Value> {
    let appeal_id = appeal["id"].as_str().unwrap_or_default();
    appeal["file_list"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|file| {
            let seq = file["seq"].as_i64().unwrap_or(0);
            json!({ "href": format!("/api/appeals/{appeal_id}/files?seq={seq}"), "file_name": file["file_name"], "kib": file["size"].as_u64().unwrap_or(0).div_ceil(1024) })
        })
        .collect()
}

#[derive(Deserialize, Default)]
struct DecisionForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
}

/// `POST /staff/appeals/{appeal_id}/decision {outcome, reason}`.
async fn decide(context: PageContext, Path(appeal_id): Path<String>, Form(form): Form<DecisionForm>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    if form.outcome.is_empty() {
        let errors = FormErrors::from_problem(&local_problem(&context, "web.staff.appeals.outcome_required", "outcome"), &DECISION_FIELDS);
        return list_page(&context, token, "", StatusCode::BAD_REQUEST, Some(Typed { appeal_id: &appeal_id, form: &form, errors: &errors })).await;
    }
    let body = json!({ "outcome": form.outcome, "reason": form.reason });
    match context.state.backend.post(&format!("/api/appeals/{appeal_id}/decision"), Some(token), context.locale, body).await {
        Ok(decided) => redirect(&format!("/staff/appeals?status={}", decided["status"].as_str().unwrap_or("open"))),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            tracing::info!(appeal = %appeal_id, code = %problem.code, "appeal decision rejected by the API; shown on the appeal");
            let errors = FormErrors::from_problem(&problem, &DECISION_FIELDS);
            list_page(&context, token, "", problem.status, Some(Typed { appeal_id: &appeal_id, form: &form, errors: &errors })).await
        }
    }
}
