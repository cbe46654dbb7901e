//! Roster import (花名册导入) at `/unit/roster`: upload, the preview of every row's
//! change, the confirmation, and the progress of the import, which refreshes itself
//! with a meta refresh while it runs, so no script is needed.

use axum::body::to_bytes;
use axum::extract::{Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Value, json};

use super::{beijing, unit_session};
use crate::context::{PageContext, redirect};
use crate::csrf::MAX_UPLOAD_BYTES;
use crate::WebState;

/// Seconds between two refreshes of a running import's page.
const REFRESH_SECONDS: u32 = 2;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/unit/roster", get(show).post(upload))
        .route("/unit/roster/{import_id}", get(progress))
        .route("/unit/roster/{import_id}/confirm", post(confirm))
}

/// `GET /unit/roster`: the upload form.
async fn show(context: PageContext) -> Response {
    if let Err(response) = unit_session(&context).await {
        return response;
    }
    context.render("unit_roster", json!({ "title": "web.unit.roster.title" }))
}

/// `POST /unit/roster` (multipart, field `file`): the preview of the uploaded file.
/// The form goes to the API's preview route as it came.
async fn upload(context: PageContext, request: Request) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default().to_string();
    let Ok(bytes) = to_bytes(request.into_body(), MAX_UPLOAD_BYTES).await else {
        let message = domain::messages::text(context.locale, "web.unit.roster.too_large", &[]);
        return context.render_status(StatusCode::PAYLOAD_TOO_LARGE, "unit_roster", json!({ "title": "web.unit.roster.title", "error": message }));
    };
    let path = format!("/api/units/{}/roster/preview", unit["id"].as_str().unwrap_or_default());
    let checked = match context.state.backend.post_bytes(&path, Some(token), context.locale, &content_type, bytes.to_vec()).await {
        Ok(checked) => checked,
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => return context.fail(problem),
        Err(problem) => {
            return context.render_status(StatusCode::BAD_REQUEST, "unit_roster", json!({ "title": "web.unit.roster.title", "error": problem.message }));
        }
    };
    let data = json!({
        "title": "web.unit.roster.preview_title",
        "preview": checked,
        "has_errors": checked["changes"]["error"].as_u64().unwrap_or(0) > 0,
    });
    context.render("unit_roster", data)
}

/// `POST /unit/roster/{import_id}/confirm`: starts the import and shows its progress.
async fn confirm(context: PageContext, Path(import_id): Path<String>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let path = format!("/api/units/{}/roster/imports/{import_id}/confirm", unit["id"].as_str().unwrap_or_default());
    match context.state.backend.post(&path, Some(token), context.locale, json!({})).await {
        Ok(_) => redirect(&format!("/unit/roster/{import_id}")),
        Err(problem) => context.fail(problem),
    }
}

/// `GET /unit/roster/{import_id}`: done rows of the total while the import runs, then
/// the counts and every rejected row with its reason.
async fn progress(context: PageContext, Path(import_id): Path<String>) -> Response {
    let (token, unit) = match unit_session(&context).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let path = format!("/api/units/{}/roster/imports/{import_id}", unit["id"].as_str().unwrap_or_default());
    let import = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(import) => import,
        Err(problem) => return context.fail(problem),
    };
    let status = import["status"].as_str().unwrap_or_default().to_string();
    let rejected_rows: Vec<Value> = import["rows"].as_array().map(|rows| rows.iter().filter(|row| row["change"] == "error").cloned().collect()).unwrap_or_default();
    let count = |change: &str| import["rows"].as_array().map_or(0, |rows| rows.iter().filter(|row| row["change"] == change).count());
    let changes = json!({ "new": count("new"), "updated": count("updated"), "unchanged": count("unchanged"), "error": count("error") });
    let data = json!({
        "title": "web.unit.roster.progress_title",
        "import": import,
        "running": status == "running",
        "done": status == "done",
        "failed": status == "failed",
        "previewed": status == "previewed",
        "refresh_seconds": if status == "running" { Some(REFRESH_SECONDS) } else { None },
        "rejected_rows": rejected_rows,
        "changes": changes,
        "checked_at": beijing(&json!(context.state.app.now_ms())),
    });
    context.render("unit_roster_import", data)
}
