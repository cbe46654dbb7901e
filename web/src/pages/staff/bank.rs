//! Question bank review (题库审核): `GET /staff/bank` lists the course versions and
//! question versions under review, each with approve and reject buttons posted to
//! `POST /staff/bank/{courses|questions}/{id}/review`, and offers the xlsx export
//! links and the import form (`POST /staff/bank/import`, multipart).
//!
//! The API decides who may review: never the author or the submitter of a version.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Form, Path};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::staff_session;
use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::WebState;

/// Maximum body of the import form: the API's sheet limit plus room for the form's
/// other fields and multipart headers.
const MAX_IMPORT_BODY_BYTES: usize = api::bank::MAX_SHEET_BYTES + 64 * 1024;

/// Fields of the review form that API errors may name.
const REVIEW_FIELDS: [&str; 2] = ["action", "reason"];

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/bank", get(show))
        .route("/staff/bank/{subject}/{id}/review", post(review))
        .route("/staff/bank/import", post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY_BYTES)))
}

/// Extra content of the bank page besides the lists: the errors of one review form, or
/// the report or errors of an import.
#[derive(Default)]
struct Outcome {
    /// The version whose form had errors, with them.
    review_errors: Option<(String, FormErrors)>,
    import_report: Option<Value>,
    import_errors: Option<FormErrors>,
}

/// `GET /staff/bank`.
async fn show(context: PageContext) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    bank_page(&context, token, StatusCode::OK, &Outcome::default()).await
}

async fn bank_page(context: &PageContext, token: &str, status: StatusCode, outcome: &Outcome) -> Response {
    let backend = &context.state.backend;
    let courses = match backend.get("/api/bank/courses?status=under_review", Some(token), context.locale).await {
        Ok(body) => body["courses"].as_array().cloned().unwrap_or_default(),
        Err(problem) => return context.fail(problem),
    };
    let questions = match backend.get("/api/bank/questions?status=under_review", Some(token), context.locale).await {
        Ok(body) => body["questions"].as_array().cloned().unwrap_or_default(),
        Err(problem) => return context.fail(problem),
    };
    let courses: Vec<Value> = courses.into_iter().map(|course| with_errors(course, outcome)).collect();
    let questions: Vec<Value> = questions.into_iter().map(|question| with_errors(with_answer_text(question, context), outcome)).collect();
    let data = json!({
        "title": "web.staff.bank.title",
        "courses": courses,
        "questions": questions,
        "import_report": outcome.import_report,
        "import_errors": outcome.import_errors.as_ref().map(FormErrors::to_json),
    });
    context.render_status(status, "staff_bank", data)
}

/// Adds the review form's errors to the version they concern.
fn with_errors(mut version: Value, outcome: &Outcome) -> Value {
    version["errors"] = FormErrors::default().to_json();
    if let Some((id, errors)) = &outcome.review_errors {
        if version["id"] == id.as_str() {
            version["errors"] = errors.to_json();
        }
    }
    version
}

/// Adds the options with their letters and the answer in words to a question version.
fn with_answer_text(mut question: Value, context: &PageContext) -> Value {
    let letter = |index: u64| char::from(b'A' + (index.min(25) as u8)).to_string();
    let options: Vec<Value> = question["options"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, text)| json!({ "letter": letter(index as u64), "text": text }))
        .collect();
    let answer = &question["answer"];
    let answer_text = if let Some(index) = answer["single"].as_u64() {
        letter(index)
    } else if let Some(indices) = answer["multiple"].as_array() {
        indices.iter().filter_map(Value::as_u64).map(letter).collect()
    } else if let Some(value) = answer["true_false"].as_bool() {
        domain::messages::text(context.locale, if value { "web.exam.true" } else { "web.exam.false" }, &[])
    } else {
        String::new()
    };
    question["options_shown"] = json!(options);
    question["answer_text"] = json!(answer_text);
    question
}

#[derive(Deserialize, Default)]
struct ReviewForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// `POST /staff/bank/{courses|questions}/{id}/review {action: approve|reject, reason}`.
async fn review(context: PageContext, Path((subject, id)): Path<(String, String)>, Form(form): Form<ReviewForm>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    if subject != "courses" && subject != "questions" {
        return context.fail(crate::backend::ApiProblem {
            status: StatusCode::NOT_FOUND,
            code: "web.not_found".into(),
            message: domain::messages::text(context.locale, "web.staff.bank.not_found", &[]),
            field: None,
        });
    }
    let body = json!({ "action": form.action, "reason": form.reason });
    let path = format!("/api/bank/{subject}/{id}/review");
    match context.state.backend.post(&path, Some(token), context.locale, body).await {
        Ok(_) => redirect("/staff/bank"),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            tracing::info!(subject = %subject, version = %id, code = %problem.code, "bank review step rejected by the API; shown on the version");
            let outcome = Outcome { review_errors: Some((id, FormErrors::from_problem(&problem, &REVIEW_FIELDS))), ..Outcome::default() };
            bank_page(&context, token, problem.status, &outcome).await
        }
    }
}

/// `POST /staff/bank/import` (multipart with the `file` field): imports the sheet
/// through the API, which takes the same multipart body and skips the CSRF field, and
/// shows the report of accepted and rejected rows.
async fn import(context: PageContext, body: Bytes) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let content_type = context.headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default().to_string();
    match context.state.backend.post_bytes("/api/bank/import", Some(token), context.locale, &content_type, body.to_vec()).await {
        Ok(report) => bank_page(&context, token, StatusCode::OK, &Outcome { import_report: Some(report), ..Outcome::default() }).await,
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            tracing::info!(code = %problem.code, "bank sheet import rejected by the API; shown on the form");
            let outcome = Outcome { import_errors: Some(FormErrors::from_problem(&problem, &["file"])), ..Outcome::default() };
            bank_page(&context, token, problem.status, &outcome).await
        }
    }
}
