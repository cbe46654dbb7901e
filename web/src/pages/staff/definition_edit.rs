//! Editing a definition: the YAML of a published version in a form, validation of the
//! edited text with each diagnostic at its line and column, and publishing it as the
//! new latest version (association admins).

use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::definitions::{encode, load_versions};
use super::STAFF_ROLES;
use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/definitions/{definition_id}/edit", get(edit))
        .route("/staff/definitions/{definition_id}/validate", post(validate))
        .route("/staff/definitions/{definition_id}/publish", post(publish))
}

#[derive(Deserialize)]
struct EditQuery {
    /// The version whose text the form starts from; the latest when absent.
    from: Option<String>,
}

#[derive(Deserialize)]
struct EditForm {
    source: String,
    #[serde(default)]
    label: String,
}

/// The edit page's content besides the form: the validator's verdict, or an error.
#[derive(Default)]
struct Outcome {
    validation: Option<Value>,
    errors: FormErrors,
}

/// `GET /staff/definitions/{definition_id}/edit?from=`.
async fn edit(context: PageContext, Path(definition_id): Path<String>, Query(query): Query<EditQuery>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let versions = match load_versions(&context, token, &definition_id).await {
        Ok(versions) => versions,
        Err(problem) => return context.fail(problem),
    };
    let wanted = query.from.unwrap_or_default();
    let from = versions
        .iter()
        .find(|version| !wanted.is_empty() && version["version"].as_str().is_some_and(|full| full.starts_with(&wanted)))
        .or(versions.first())
        .and_then(|version| version["version"].as_str())
        .unwrap_or_default()
        .to_string();
    let path = format!("/api/definitions/{}/versions/{}", encode(&definition_id), encode(&from));
    let source = match context.state.backend.get_raw(&path, Some(token), context.locale).await {
        Ok((_, bytes)) => String::from_utf8_lossy(&bytes).to_string(),
        Err(problem) => return context.fail(problem),
    };
    let short: String = from.chars().take(12).collect();
    edit_page(&context, &definition_id, &source, "", &short, StatusCode::OK, &Outcome::default())
}

fn edit_page(context: &PageContext, definition_id: &str, source: &str, label: &str, from: &str, status: StatusCode, outcome: &Outcome) -> Response {
    let data = json!({
        "title": "web.staff.definitions.edit_title",
        "definition_id": definition_id,
        "source": source,
        "label": label,
        "from": from,
        "validation": outcome.validation.as_ref().map(|validation| with_excerpts(validation.clone(), source)),
        "errors": outcome.errors.to_json(),
    });
    context.render_status(status, "staff_definition_edit", data)
}

/// Adds to each diagnostic the text of its line, so the page shows what it points at.
fn with_excerpts(mut validation: Value, source: &str) -> Value {
    let lines: Vec<&str> = source.lines().collect();
    if let Some(diagnostics) = validation["diagnostics"].as_array_mut() {
        for diagnostic in diagnostics {
            let line = diagnostic["line"].as_u64().unwrap_or(0) as usize;
            if let Some(text) = line.checked_sub(1).and_then(|index| lines.get(index)) {
                diagnostic["excerpt"] = json!(text);
            }
            diagnostic["is_error"] = json!(diagnostic["severity"] == "error");
        }
    }
    validation
}

/// Runs the API's validator on `source`.
async fn run_validation(context: &PageContext, token: &str, source: &str) -> Result<Value, crate::backend::ApiProblem> {
    context.state.backend.post("/api/definitions/validate", Some(token), context.locale, json!({ "source": source })).await
}

/// `POST /staff/definitions/{definition_id}/validate {source, label}`: shows the
/// validator's verdict on the edited text; nothing is stored.
async fn validate(context: PageContext, Path(definition_id): Path<String>, Form(form): Form<EditForm>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let outcome = match run_validation(&context, token, &form.source).await {
        Ok(validation) => Outcome { validation: Some(validation), errors: FormErrors::default() },
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => return context.fail(problem),
        Err(problem) => Outcome { validation: None, errors: FormErrors::from_problem(&problem, &["source"]) },
    };
    let status = match &outcome.validation {
        Some(validation) if validation["valid"] == true => StatusCode::OK,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    edit_page(&context, &definition_id, &form.source, &form.label, "", status, &outcome)
}

/// `POST /staff/definitions/{definition_id}/publish {source, label}` (association admin):
/// publishes the text as the latest version and shows its versions. Invalid text comes
/// back with its diagnostics and nothing is stored.
async fn publish(context: PageContext, Path(definition_id): Path<String>, Form(form): Form<EditForm>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let body = json!({ "source": form.source, "label": form.label });
    match context.state.backend.post("/api/definitions", Some(token), context.locale, body).await {
        Ok(published) => {
            let id = published["definition_id"].as_str().unwrap_or(&definition_id);
            let version = published["version"].as_str().unwrap_or_default();
            redirect(&format!("/staff/definitions/{}?published={}", encode(id), encode(version)))
        }
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) if problem.code == "definitions.invalid" => {
            // The error body of publishing lists the diagnostics, which the page's API
            // call does not keep, so the validator runs again to show them.
            let validation = run_validation(&context, token, &form.source).await.ok();
            let outcome = Outcome { validation, errors: FormErrors::from_problem(&problem, &[]) };
            edit_page(&context, &definition_id, &form.source, &form.label, "", StatusCode::UNPROCESSABLE_ENTITY, &outcome)
        }
        Err(problem) => {
            let outcome = Outcome { validation: None, errors: FormErrors::from_problem(&problem, &["source", "label"]) };
            edit_page(&context, &definition_id, &form.source, &form.label, "", problem.status, &outcome)
        }
    }
}
