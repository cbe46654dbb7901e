//! Training institutions (施教机构) for association staff: the register with each
//! institution's approved items and key id, the settings its developers need, and the
//! registration form of association admins, after which the secret is shown once.

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{Value, json};

use super::ops_common::{with_beijing_times};
use super::STAFF_ROLES;
use crate::context::PageContext;
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().route("/staff/institutions", get(show).post(create))
}

/// The registration form's values, kept after an error.
#[derive(Default)]
struct Draft {
    name: String,
    uscc: String,
    items: Vec<String>,
}

/// `GET /staff/institutions`.
async fn show(context: PageContext) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    register_page(&context, token, StatusCode::OK, &Draft::default(), &FormErrors::default()).await
}

async fn register_page(context: &PageContext, token: &str, status: StatusCode, draft: &Draft, errors: &FormErrors) -> Response {
    let register = match context.state.backend.get("/api/institutions/registered", Some(token), context.locale).await {
        Ok(register) => with_beijing_times(register, &["created_at"]),
        Err(problem) => return context.fail(problem),
    };
    let open_items: Vec<Value> = context
        .state
        .app
        .catalogue
        .trial_items()
        .into_iter()
        .filter_map(|item| item.code.as_ref().map(|code| (code, &item.name)))
        .map(|(code, name)| json!({ "code": code, "name": name, "checked": draft.items.contains(code) }))
        .collect();
    let data = json!({
        "title": "web.staff.institutions.title",
        "institutions": register["institutions"],
        "integration": register["integration"],
        "base_url": api::card_pdf::public_base(&context.headers),
        "open_items": open_items,
        "draft": { "name": draft.name, "uscc": draft.uscc },
        "errors": errors.to_json(),
    });
    context.render_status(status, "staff_institutions", data)
}

/// `POST /staff/institutions {name, uscc, items…}` (association admin): registers the
/// institution and shows its key id and secret, this once.
async fn create(context: PageContext, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let mut draft = Draft::default();
    for (name, value) in fields {
        match name.as_str() {
            "name" => draft.name = value,
            "uscc" => draft.uscc = value,
            "items" => draft.items.push(value),
            _ => {}
        }
    }

    let body = json!({ "name": draft.name, "uscc": draft.uscc, "items": draft.items });
    match context.state.backend.post("/api/institutions", Some(token), context.locale, body).await {
        Ok(created) => {
            let data = json!({
                "title": "web.staff.institutions.created_title",
                "created": created,
                "base_url": api::card_pdf::public_base(&context.headers),
            });
            context.render_status(StatusCode::CREATED, "staff_institution_created", data)
        }
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["name", "uscc", "items"]);
            register_page(&context, token, problem.status, &draft, &errors).await
        }
    }
}
