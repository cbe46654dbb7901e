//! Pipeline definitions (流程定义) for association staff: the list, one definition's
//! published versions with their label, author, time and instances by state, and the
//! state diagram of a version as the API draws it (SVG).

use axum::extract::{Path, Query};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use domain::messages::{self, Catalogue, Locale};
use serde_json::{Value, json};

use super::ops_common::{with_beijing_times};
use super::STAFF_ROLES;
use crate::backend::ApiProblem;
use crate::context::PageContext;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/definitions", get(list))
        .route("/staff/definitions/{definition_id}", get(show))
        .route("/staff/definitions/{definition_id}/diagram/{version}", get(diagram))
}

/// `GET /staff/definitions`.
async fn list(context: PageContext) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let reply = match context.state.backend.get("/api/definitions", Some(token), context.locale).await {
        Ok(reply) => with_beijing_times(reply, &["published_at"]),
        Err(problem) => return context.fail(problem),
    };
    let definitions: Vec<Value> = reply["definitions"].as_array().cloned().unwrap_or_default().into_iter().map(|definition| with_status_totals(definition, context.locale)).collect();
    context.render("staff_definitions", json!({ "title": "web.staff.definitions.title", "definitions": definitions }))
}

/// Returns the catalogue's name of instance status `status` (running, paused, terminal),
/// or the status itself when the catalogue has none.
fn instance_status_label(status: &str, locale: Locale) -> String {
    let code = format!("web.staff.definitions.instance_status.{status}");
    if Catalogue::global().contains(&code) { messages::text(locale, &code, &[]) } else { status.to_string() }
}

/// Adds `totals`, the definition's instances summed over versions by status.
fn with_status_totals(mut definition: Value, locale: Locale) -> Value {
    let mut totals: Vec<(String, i64)> = Vec::new();
    for row in definition["instances"].as_array().cloned().unwrap_or_default() {
        let status = row["status"].as_str().unwrap_or_default().to_string();
        let count = row["count"].as_i64().unwrap_or(0);
        match totals.iter_mut().find(|(known, _)| *known == status) {
            Some((_, total)) => *total += count,
            None => totals.push((status, count)),
        }
    }
    definition["totals"] = totals.into_iter().map(|(status, count)| json!({ "status": instance_status_label(&status, locale), "count": count })).collect();
    definition
}

#[derive(Deserialize)]
struct VersionQuery {
    /// The version whose diagram is shown; the latest when absent.
    version: Option<String>,
    /// The version just published, announced above the list.
    published: Option<String>,
}

/// Loads definition `definition_id`'s versions, latest first, through the API.
pub async fn load_versions(context: &PageContext, token: &str, definition_id: &str) -> Result<Vec<Value>, ApiProblem> {
    let path = format!("/api/definitions/{}/versions", encode(definition_id));
    let reply = context.state.backend.get(&path, Some(token), context.locale).await?;
    let versions = with_beijing_times(reply["versions"].clone(), &["published_at"]);
    Ok(versions.as_array().cloned().unwrap_or_default().into_iter().map(with_short_version).collect())
}

/// Adds `short`, the first 12 characters of the version hash, as the CLI prints it.
fn with_short_version(mut version: Value) -> Value {
    let short: String = version["version"].as_str().unwrap_or_default().chars().take(12).collect();
    version["short"] = json!(short);
    version
}

/// Returns `segment` percent-encoded for a path.
pub fn encode(segment: &str) -> String {
    segment.bytes().map(|byte| if byte.is_ascii_alphanumeric() || b"-_.".contains(&byte) { (byte as char).to_string() } else { format!("%{byte:02X}") }).collect()
}

/// `GET /staff/definitions/{definition_id}?version=`.
async fn show(context: PageContext, Path(definition_id): Path<String>, Query(query): Query<VersionQuery>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let mut versions = match load_versions(&context, token, &definition_id).await {
        Ok(versions) => versions,
        Err(problem) => return context.fail(problem),
    };
    let wanted = query.version.unwrap_or_default();
    let selected = versions.iter().position(|version| !wanted.is_empty() && version["version"].as_str().is_some_and(|full| full.starts_with(&wanted))).unwrap_or(0);
    for (index, version) in versions.iter_mut().enumerate() {
        version["selected"] = json!(index == selected);
        version["latest"] = json!(index == 0);
        for row in version["instances"].as_array_mut().into_iter().flatten() {
            row["status_label"] = json!(instance_status_label(row["status"].as_str().unwrap_or_default(), context.locale));
        }
    }
    let data = json!({
        "title": "web.staff.definitions.versions_title",
        "definition_id": definition_id,
        "versions": versions,
        "selected": versions.get(selected),
        "published": query.published.map(|version| version.chars().take(12).collect::<String>()),
    });
    context.render("staff_definition", data)
}

/// `GET /staff/definitions/{definition_id}/diagram/{version}`: the version's diagram as
/// SVG, for the page's `<img>`. The API escapes the labels; the policy header keeps
/// any script in a document opened on its own from running.
async fn diagram(context: PageContext, Path((definition_id, version)): Path<(String, String)>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/definitions/{}/versions/{}/diagram?format=svg", encode(&definition_id), encode(&version));
    match context.state.backend.get_raw(&path, Some(token), context.locale).await {
        Ok((_, svg)) => {
            let mut response = svg.into_response();
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("image/svg+xml; charset=utf-8"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
            headers.insert("content-security-policy", HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"));
            headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            response
        }
        Err(problem) => context.fail(problem),
    }
}
