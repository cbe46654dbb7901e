//! Continuing education of one enrollment: course progress, the choice of institution
//! and the hand-off to it.

use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::backend::ApiProblem;
use crate::context::PageContext;
use crate::forms::FormErrors;
use crate::pages::home::with_next_step;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/study/{enrollment_id}", get(show))
        .route("/study/{enrollment_id}/handoff", post(handoff))
}

/// Loads the caller's enrollment `id` through the API's list, with its next step.
pub async fn load_enrollment(context: &PageContext, token: &str, id: &str) -> Result<Value, ApiProblem> {
    let reply = context.state.backend.get("/api/enrollments", Some(token), context.locale).await?;
    reply["enrollments"]
        .as_array()
        .and_then(|list| list.iter().find(|enrollment| enrollment["id"] == id))
        .cloned()
        .map(with_next_step)
        .ok_or_else(|| ApiProblem {
            status: StatusCode::NOT_FOUND,
            code: "enrollment.not_found".into(),
            message: domain::messages::text(context.locale, "enrollment.not_found", &[]),
            field: None,
        })
}

/// `GET /study/{enrollment_id}`.
async fn show(context: PageContext, Path(enrollment_id): Path<String>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    study_page(&context, token, &enrollment_id, StatusCode::OK, &FormErrors::default()).await
}

async fn study_page(context: &PageContext, token: &str, enrollment_id: &str, status: StatusCode, errors: &FormErrors) -> Response {
    let enrollment = match load_enrollment(context, token, enrollment_id).await {
        Ok(enrollment) => enrollment,
        Err(problem) => return context.fail(problem),
    };
    let item_code = enrollment["item_code"].as_str().unwrap_or_default();
    let path = format!("/api/institutions?{}", serde_urlencoded::to_string([("item_code", item_code)]).unwrap_or_default());
    let institutions = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(reply) => reply["institutions"].clone(),
        Err(problem) => return context.fail(problem),
    };
    // The institution form stays while the operator may still study; the next-step
    // button then points at it rather than at this page again.
    let state = enrollment["state"].as_str().unwrap_or_default();
    let choose_institution = matches!(state, "enrolled" | "studying" | "credited");
    let mut enrollment = enrollment;
    if enrollment["next_link"].as_str() == Some(format!("/study/{enrollment_id}").as_str()) {
        enrollment["next_link"] = if choose_institution { json!("#handoff-form") } else { Value::Null };
    }
    let data = json!({
        "title": "web.study.title",
        "enrollment": enrollment,
        "institutions": institutions,
        "choose_institution": choose_institution,
        "errors": errors.to_json(),
    });
    context.render_status(status, "study", data)
}

#[derive(Deserialize)]
struct HandoffForm {
    #[serde(default)]
    institution_id: String,
}

/// `POST /study/{enrollment_id}/handoff {institution_id}`: hands the operator off to
/// the institution and shows the hand-off.
async fn handoff(context: PageContext, Path(enrollment_id): Path<String>, Form(form): Form<HandoffForm>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/enrollments/{enrollment_id}/handoff");
    match context.state.backend.post(&path, Some(token), context.locale, json!({ "institution_id": form.institution_id })).await {
        // NOTE: institutions have no study-site address in the database yet, so the page
        // names the institution and its hand-off code instead of redirecting there.
        Ok(reply) => context.render("handoff", json!({ "title": "web.handoff.title", "handoff": reply, "enrollment_id": enrollment_id })),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["institution_id"]);
            study_page(&context, token, &enrollment_id, StatusCode::BAD_REQUEST, &errors).await
        }
    }
}
