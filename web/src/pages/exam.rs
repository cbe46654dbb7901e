//! The exam pages: the proctoring consent screen, start, the paper with a countdown
//! from the server's deadline, camera snapshots and audio (`static/proctor.js`),
//! saving (by the button without scripts, by autosave with them), resuming after a
//! reload, submitting and the result.
//!
//! Form fields of a paper are `q.<question id>`: one letter for a single choice, one
//! field per ticked letter for a multiple choice, `true` or `false` for a judgement.

use std::collections::BTreeMap;

use axum::extract::{Form, Path};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value, json};

use crate::context::{PageContext, redirect};
use crate::csrf::CSRF_HEADER;
use crate::forms::FormErrors;
use crate::pages::study::load_enrollment;
use crate::WebState;

/// Prefix of the form fields that carry answers.
const ANSWER_PREFIX: &str = "q.";

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/exam/{enrollment_id}", get(show_start))
        .route("/exam/{enrollment_id}/consent", post(consent))
        .route("/exam/{enrollment_id}/start", post(start))
        .route("/exam/attempt/{attempt_id}", get(show_attempt))
        .route("/exam/attempt/{attempt_id}/save", post(save))
        .route("/exam/attempt/{attempt_id}/submit", post(submit))
}

/// `GET /exam/{enrollment_id}`: the start page, or the open attempt when there is one.
async fn show_start(context: PageContext, Path(enrollment_id): Path<String>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    start_page(&context, token, &enrollment_id, StatusCode::OK, &FormErrors::default()).await
}

async fn start_page(context: &PageContext, token: &str, enrollment_id: &str, status: StatusCode, errors: &FormErrors) -> Response {
    let enrollment = match load_enrollment(context, token, enrollment_id).await {
        Ok(enrollment) => enrollment,
        Err(problem) => return context.fail(problem),
    };
    let consent = match context.state.backend.get(&consent_path(enrollment_id), Some(token), context.locale).await {
        Ok(consent) => consent,
        Err(problem) => return context.fail(problem),
    };
    let consented_at = consent["consented_at"].as_i64().map(api::beijing_text);
    let data = json!({ "title": "web.exam.title", "enrollment": enrollment, "consent": consent, "consented_at": consented_at, "errors": errors.to_json() });
    context.render_status(status, "exam_start", data)
}

fn consent_path(enrollment_id: &str) -> String {
    format!("/api/enrollments/{enrollment_id}/proctoring-consent")
}

#[derive(serde::Deserialize)]
struct ConsentForm {
    #[serde(default)]
    agree: String,
    #[serde(default)]
    notice_version: String,
}

/// `POST /exam/{enrollment_id}/consent {agree, notice_version}`: records the operator's
/// consent to proctoring, which the box must be ticked for.
async fn consent(context: PageContext, Path(enrollment_id): Path<String>, Form(form): Form<ConsentForm>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    if form.agree != "yes" {
        let problem = crate::backend::ApiProblem {
            status: StatusCode::BAD_REQUEST,
            code: "web.exam.consent_required".into(),
            message: domain::messages::text(context.locale, "web.exam.consent_required", &[]),
            field: Some("agree".into()),
        };
        return start_page(&context, token, &enrollment_id, StatusCode::BAD_REQUEST, &FormErrors::from_problem(&problem, &["agree"])).await;
    }
    let body = json!({ "notice_version": form.notice_version });
    match context.state.backend.post(&consent_path(&enrollment_id), Some(token), context.locale, body).await {
        Ok(_) => redirect(&format!("/exam/{enrollment_id}")),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => start_page(&context, token, &enrollment_id, StatusCode::CONFLICT, &FormErrors::from_problem(&problem, &["agree"])).await,
    }
}

/// `POST /exam/{enrollment_id}/start`: starts or resumes the attempt. A refusal, such
/// as the daily limit, is shown on the start page with its reason.
async fn start(context: PageContext, Path(enrollment_id): Path<String>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    // NOTE: the consent is checked here, not by the API's start route, so API clients
    // without a camera (and the API tests) can still start exams.
    let consented = match context.state.backend.get(&consent_path(&enrollment_id), Some(token), context.locale).await {
        Ok(consent) => consent["consented"] == true,
        Err(problem) => return context.fail(problem),
    };
    if !consented {
        return redirect(&format!("/exam/{enrollment_id}"));
    }
    let path = format!("/api/enrollments/{enrollment_id}/exam/start");
    match context.state.backend.post(&path, Some(token), context.locale, json!({})).await {
        Ok(attempt) => redirect(&format!("/exam/attempt/{}", attempt["attempt_id"].as_str().unwrap_or_default())),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let status = if problem.status == StatusCode::TOO_MANY_REQUESTS { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::CONFLICT };
            start_page(&context, token, &enrollment_id, status, &FormErrors::from_problem(&problem, &[])).await
        }
    }
}

/// `GET /exam/attempt/{attempt_id}`: the paper with the saved answers while the attempt
/// runs, else its outcome.
async fn show_attempt(context: PageContext, Path(attempt_id): Path<String>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let attempt = match context.state.backend.get(&format!("/api/exams/{attempt_id}"), Some(token), context.locale).await {
        Ok(attempt) => attempt,
        Err(problem) => return context.fail(problem),
    };
    let open = attempt["status"] == "in_progress" && attempt["remaining_seconds"].as_i64().unwrap_or(0) > 0;
    if !open {
        return context.render("exam_result", json!({ "title": "web.exam.result_title", "result": attempt, "per_question": [] }));
    }
    let questions = paper_questions(&attempt);
    context.render("exam_paper", json!({ "title": "web.exam.title", "attempt": attempt, "questions": questions }))
}

/// Returns the questions of an attempt with each option marked when saved as chosen.
fn paper_questions(attempt: &Value) -> Vec<Value> {
    let answers = &attempt["answers"];
    let mut questions = Vec::new();
    for (index, question) in attempt["questions"].as_array().into_iter().flatten().enumerate() {
        let id = question["question_id"].as_str().unwrap_or_default();
        let saved = &answers[id];
        let saved_letters = saved.as_str().unwrap_or_default().to_ascii_uppercase();
        let options: Vec<Value> = question["options"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|option| {
                let letter = option["letter"].as_str().unwrap_or_default();
                json!({ "letter": letter, "text": option["text"], "checked": !letter.is_empty() && saved_letters.contains(letter) })
            })
            .collect();
        let mut question = question.clone();
        question["number"] = json!(index + 1);
        question["field"] = json!(format!("{ANSWER_PREFIX}{id}"));
        question["options"] = json!(options);
        question["judged_true"] = json!(saved == &Value::Bool(true));
        question["judged_false"] = json!(saved == &Value::Bool(false));
        questions.push(question);
    }
    questions
}

/// Collects the answers of a submitted paper form, by question id, in the API's form.
fn answers_from_form(fields: &[(String, String)]) -> Map<String, Value> {
    let mut letters: BTreeMap<String, String> = BTreeMap::new();
    let mut answers = Map::new();
    for (name, value) in fields {
        let Some(question_id) = name.strip_prefix(ANSWER_PREFIX) else { continue };
        match value.as_str() {
            "true" => {
                answers.insert(question_id.to_string(), Value::Bool(true));
            }
            "false" => {
                answers.insert(question_id.to_string(), Value::Bool(false));
            }
            letter => letters.entry(question_id.to_string()).or_default().push_str(letter),
        }
    }
    for (question_id, chosen) in letters {
        answers.insert(question_id, Value::String(chosen));
    }
    answers
}

/// Saves the answers of the form through the API.
async fn save_answers(context: &PageContext, token: &str, attempt_id: &str, fields: &[(String, String)]) -> Result<(), crate::backend::ApiProblem> {
    let answers = answers_from_form(fields);
    if answers.is_empty() {
        return Ok(());
    }
    let path = format!("/api/exams/{attempt_id}/answers");
    context.state.backend.call(Method::PUT, &path, Some(token), context.locale, Some(json!({ "answers": answers }))).await?;
    Ok(())
}

/// Returns the rows of the result table: the question's number and its outcome in
/// words. The answer key is not shown, because a failed operator retakes the exam.
fn result_rows(result: &Value, locale: domain::messages::Locale) -> Vec<Value> {
    result["per_question"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, question)| {
            let outcome = question["outcome"].as_str().unwrap_or("invalid");
            let outcome = domain::messages::text(locale, &format!("web.exam.outcome.{outcome}"), &[]);
            json!({ "number": index + 1, "outcome": outcome })
        })
        .collect()
}

/// Returns whether the request came from the autosave script rather than a button.
fn from_script(headers: &HeaderMap) -> bool {
    headers.contains_key(CSRF_HEADER)
}

/// `POST /exam/attempt/{attempt_id}/save`: saves the answers. The autosave script gets
/// 204 or the error as JSON; the button comes back to the paper.
async fn save(context: PageContext, Path(attempt_id): Path<String>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let saved = save_answers(&context, token, &attempt_id, &fields).await;
    match (saved, from_script(&context.headers)) {
        (Ok(()), true) => StatusCode::NO_CONTENT.into_response(),
        (Err(problem), true) => (problem.status, axum::Json(json!({ "code": problem.code, "message": problem.message }))).into_response(),
        (Ok(()), false) => redirect(&format!("/exam/attempt/{attempt_id}")),
        (Err(problem), false) => context.fail(problem),
    }
}

/// `POST /exam/attempt/{attempt_id}/submit`: saves the last answers, submits and shows
/// the result. Answers that arrive after the deadline are not saved, and the attempt
/// is graded with those saved before it.
async fn submit(context: PageContext, Path(attempt_id): Path<String>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    if let Err(problem) = save_answers(&context, token, &attempt_id, &fields).await {
        tracing::info!(attempt = %attempt_id, code = %problem.code, "answers sent with the submission not saved; grading uses those saved before");
    }
    let path = format!("/api/exams/{attempt_id}/submit");
    match context.state.backend.post(&path, Some(token), context.locale, json!({})).await {
        Ok(result) => {
            let per_question = result_rows(&result, context.locale);
            context.render("exam_result", json!({ "title": "web.exam.result_title", "result": result, "per_question": per_question }))
        }
        Err(problem) => context.fail(problem),
    }
}
