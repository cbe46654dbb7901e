//! Public help pages (帮助): the list, linked from every page's footer, and one page.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::context::PageContext;
use crate::plain_text::paragraphs;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/help", get(list))
        .route("/help/{slug}", get(show))
}

/// `GET /help` (public): every help page by its order.
async fn list(context: PageContext) -> Response {
    match context.state.backend.get("/api/help", None, context.locale).await {
        Ok(reply) => context.render("help", json!({ "title": "web.help.title", "pages": reply["pages"] })),
        Err(problem) => context.fail(problem),
    }
}

/// `GET /help/{slug}` (public): one help page.
async fn show(context: PageContext, Path(slug): Path<String>) -> Response {
    let slug: String = slug.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    match context.state.backend.get(&format!("/api/help/{slug}"), None, context.locale).await {
        Ok(page) => {
            let body = paragraphs(page["body"].as_str().unwrap_or_default());
            context.render("help_page", json!({ "title": "web.help.title", "page": page, "paragraphs": body }))
        }
        Err(problem) if problem.status == StatusCode::NOT_FOUND => {
            context.state.views.error_page(context.locale, &context.site, StatusCode::NOT_FOUND, &problem.message)
        }
        Err(problem) => context.fail(problem),
    }
}
