//! `/staff/help`: association staff add, edit and remove help pages (帮助), which the
//! public reads at `/help`.

use axum::extract::{Form, Path};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::STAFF_ROLES;
use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::WebState;

const FIELDS: [&str; 4] = ["slug", "title", "body", "position"];

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/help", get(list).post(create))
        .route("/staff/help/{slug}", get(edit).post(save))
        .route("/staff/help/{slug}/delete", post(remove))
}

#[derive(Deserialize, Default)]
struct HelpForm {
    #[serde(default)]
    slug: String,
    title: String,
    body: String,
    #[serde(default)]
    position: String,
}

impl HelpForm {
    fn to_json(&self) -> Value {
        json!({ "slug": self.slug, "title": self.title, "body": self.body, "position": self.position })
    }

    /// Builds the API request. A position that is not a whole number is sent as -1,
    /// which the API rejects on its field.
    fn request(&self, with_slug: bool) -> Value {
        let position = self.position.trim();
        let position = if position.is_empty() { Value::Null } else { position.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(-1)) };
        let mut body = json!({ "title": self.title, "body": self.body, "position": position });
        if with_slug {
            body["slug"] = json!(self.slug);
        }
        body
    }
}

/// `GET /staff/help`: the pages in order, and the form for a new one.
async fn list(context: PageContext) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    render_list(&context, token, StatusCode::OK, &HelpForm::default(), &FormErrors::default()).await
}

async fn render_list(context: &PageContext, token: &str, status: StatusCode, form: &HelpForm, errors: &FormErrors) -> Response {
    let pages = match context.state.backend.get("/api/help", Some(token), context.locale).await {
        Ok(reply) => reply["pages"].clone(),
        Err(problem) => return context.fail(problem),
    };
    let data = json!({ "title": "web.staff.help.title", "pages": pages, "form": form.to_json(), "errors": errors.to_json() });
    context.render_status(status, "staff_help", data)
}

/// `POST /staff/help {slug, title, body, position}`: adds a page.
async fn create(context: PageContext, Form(form): Form<HelpForm>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    match context.state.backend.post("/api/site/help", Some(token), context.locale, form.request(true)).await {
        Ok(_) => redirect("/staff/help"),
        Err(problem) if matches!(problem.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) => {
            let errors = FormErrors::from_problem(&problem, &FIELDS);
            render_list(&context, token, StatusCode::BAD_REQUEST, &form, &errors).await
        }
        Err(problem) => context.fail(problem),
    }
}

/// `GET /staff/help/{slug}`: the edit form of one page.
async fn edit(context: PageContext, Path(slug): Path<String>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let page = match context.state.backend.get(&format!("/api/help/{}", clean_slug(&slug)), Some(token), context.locale).await {
        Ok(page) => page,
        Err(problem) => return context.fail(problem),
    };
    let form = HelpForm {
        slug: page["slug"].as_str().unwrap_or_default().to_string(),
        title: page["title"].as_str().unwrap_or_default().to_string(),
        body: page["body"].as_str().unwrap_or_default().to_string(),
        position: page["position"].to_string(),
    };
    context.render("staff_help_edit", json!({ "title": "web.staff.help.edit_title", "form": form.to_json(), "errors": FormErrors::default().to_json() }))
}

/// `POST /staff/help/{slug} {title, body, position}`: saves the changes.
async fn save(context: PageContext, Path(slug): Path<String>, Form(mut form): Form<HelpForm>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    form.slug = clean_slug(&slug);
    let path = format!("/api/site/help/{}", form.slug);
    match context.state.backend.call(Method::PUT, &path, Some(token), context.locale, Some(form.request(false))).await {
        Ok(_) => redirect("/staff/help"),
        Err(problem) if problem.status == StatusCode::BAD_REQUEST => {
            let errors = FormErrors::from_problem(&problem, &FIELDS);
            context.render_status(StatusCode::BAD_REQUEST, "staff_help_edit", json!({ "title": "web.staff.help.edit_title", "form": form.to_json(), "errors": errors.to_json() }))
        }
        Err(problem) => context.fail(problem),
    }
}

/// `POST /staff/help/{slug}/delete`: removes the page.
async fn remove(context: PageContext, Path(slug): Path<String>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    match context.state.backend.call(Method::DELETE, &format!("/api/site/help/{}", clean_slug(&slug)), Some(token), context.locale, None).await {
        Ok(_) => redirect("/staff/help"),
        Err(problem) => context.fail(problem),
    }
}

/// Keeps only the characters a slug may have, so the API path cannot be changed.
fn clean_slug(slug: &str) -> String {
    slug.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}
