//! Public notices (通知公告): the list, one notice, and the newest few on the login pages.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{Value, json};

use crate::context::PageContext;
use crate::plain_text::paragraphs;
use crate::WebState;

/// Number of notices the login pages show.
const LOGIN_NOTICES: usize = 3;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/notices", get(list))
        .route("/notices/{notice_id}", get(show))
}

/// `GET /notices` (public): published notices, newest first.
async fn list(context: PageContext) -> Response {
    match context.state.backend.get("/api/notices?limit=100", None, context.locale).await {
        Ok(reply) => context.render("notices", json!({ "title": "web.notices.title", "notices": reply["notices"] })),
        Err(problem) => context.fail(problem),
    }
}

/// `GET /notices/{notice_id}` (public): one published notice; 404 otherwise.
async fn show(context: PageContext, Path(notice_id): Path<String>) -> Response {
    let id: String = notice_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    match context.state.backend.get(&format!("/api/notices/{id}"), None, context.locale).await {
        Ok(notice) => {
            let body = paragraphs(notice["body"].as_str().unwrap_or_default());
            context.render("notice", json!({ "title": "web.notices.title", "notice": notice, "paragraphs": body }))
        }
        Err(problem) if problem.status == StatusCode::NOT_FOUND => {
            context.state.views.error_page(context.locale, &context.site, StatusCode::NOT_FOUND, &problem.message)
        }
        Err(problem) => context.fail(problem),
    }
}

/// Returns the newest published notices for a login page, or none when the API
/// call fails, so that a failure never blocks logging in.
pub async fn latest(context: &PageContext) -> Value {
    let path = format!("/api/notices?limit={LOGIN_NOTICES}");
    match context.state.backend.get(&path, None, context.locale).await {
        Ok(reply) => reply["notices"].clone(),
        Err(problem) => {
            tracing::warn!(code = %problem.code, "notices for the login page unavailable");
            Value::Array(Vec::new())
        }
    }
}
