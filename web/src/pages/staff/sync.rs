//! Provincial sync (省平台同步) for association staff: the backlog and state of the
//! outbound sync, and the dead letters (records that failed for good) with their error,
//! which staff replay or skip after a confirmation page.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ops_common::{Confirmation, action_session, back_with_outcome, field_text, render_confirmation, with_beijing_times};
use super::STAFF_ROLES;
use crate::backend::ApiProblem;
use crate::context::PageContext;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/sync", get(show))
        .route("/staff/sync/{incident_id}/{action}", get(confirm).post(resolve))
}

const ACTIONS: [&str; 2] = ["replay", "skip"];

/// Record kinds of `workers::provincial::RecordKind`, which have page names in the
/// catalogue. A kind missing here is shown as 其他记录.
const RECORD_KINDS: [&str; 11] = [
    "operator", "unit", "affiliation", "enrollment", "study_session", "exam_attempt", "finding", "decision", "credit", "card_issued", "card_revoked",
];

/// Unix-millisecond fields of the status and the dead letters.
const TIME_FIELDS: [&str; 3] = ["failed_at", "oldest_waiting_at", "last_delivered_at"];

#[derive(Deserialize)]
struct ListQuery {
    /// The action just taken, the dead letter's incident id and, after a skip, how many
    /// held records were released; shown above the list.
    done: Option<String>,
    incident: Option<String>,
    released: Option<u32>,
}

/// `GET /staff/sync`.
async fn show(context: PageContext, Query(query): Query<ListQuery>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let status = match context.state.backend.get("/api/sync/status", Some(token), context.locale).await {
        Ok(status) => with_beijing_times(status, &TIME_FIELDS),
        Err(problem) => return context.fail(problem),
    };
    let letters = match context.state.backend.get("/api/sync/dead-letters", Some(token), context.locale).await {
        Ok(reply) => reply["dead_letters"].as_array().cloned().unwrap_or_default(),
        Err(problem) => return context.fail(problem),
    };
    // The body text is taken first, so that times added for the page never show in it.
    let letters: Vec<Value> = letters.into_iter().map(|letter| with_beijing_times(with_pretty_body(letter), &TIME_FIELDS)).collect();

    let done = query.done.filter(|action| ACTIONS.contains(&action.as_str()));
    let data = json!({
        "title": "web.staff.sync.title",
        "status": status,
        "state_label": format!("web.staff.sync.state.{}", status["state"].as_str().unwrap_or("idle")),
        "dead_letters": letters,
        "done": done.map(|action| json!({
            "message": format!("web.staff.sync.done.{action}"),
            "incident": query.incident.unwrap_or_default(),
            "released": query.released.unwrap_or(0),
        })),
    });
    context.render("staff_sync", data)
}

/// Adds `body_text`, the record's body as indented JSON, and `kind_label`, the catalogue
/// code naming its kind, for reading on the page.
fn with_pretty_body(mut letter: Value) -> Value {
    letter["body_text"] = json!(serde_json::to_string_pretty(&letter["body"]).unwrap_or_default());
    letter["kind_label"] = json!(record_kind_label(letter["kind"].as_str().unwrap_or_default()));
    letter
}

/// Returns the catalogue code naming record kind `kind`.
fn record_kind_label(kind: &str) -> String {
    if RECORD_KINDS.contains(&kind) { format!("web.staff.sync.record.{kind}") } else { "web.staff.sync.record.other".to_string() }
}

/// Finds the open dead letter of `incident_id` through the API's list.
async fn dead_letter(context: &PageContext, token: &str, incident_id: &str) -> Result<Value, ApiProblem> {
    let reply = context.state.backend.get("/api/sync/dead-letters?limit=500", Some(token), context.locale).await?;
    reply["dead_letters"]
        .as_array()
        .and_then(|letters| letters.iter().find(|letter| letter["incident_id"] == incident_id))
        .cloned()
        .ok_or_else(|| ApiProblem {
            status: StatusCode::NOT_FOUND,
            code: "sync.dead_letter_not_found".into(),
            message: domain::messages::text(context.locale, "sync.dead_letter_not_found", &[]),
            field: None,
        })
}

/// `GET /staff/sync/{incident_id}/replay|skip`: what the action will do, and the button
/// that posts it.
async fn confirm(context: PageContext, Path((incident_id, action)): Path<(String, String)>) -> Response {
    let token = match action_session(&context, &action, &ACTIONS) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let letter = match dead_letter(&context, token, &incident_id).await {
        Ok(letter) => with_beijing_times(letter, &TIME_FIELDS),
        Err(problem) => return context.fail(problem),
    };
    let explanation = format!("web.staff.sync.explain.{action}");
    let confirm = format!("web.staff.sync.action.{action}");
    let confirmation = Confirmation {
        title: "web.staff.sync.confirm_title",
        explanation: &explanation,
        details: vec![
            ("web.staff.sync.kind", domain::messages::text(context.locale, &record_kind_label(&field_text(&letter, "kind")), &[])),
            ("web.staff.sync.operator_ref", field_text(&letter, "operator_ref")),
            ("web.staff.sync.sequence", field_text(&letter, "sequence")),
            ("web.staff.sync.error", field_text(&letter, "error")),
            ("web.staff.sync.attempts", field_text(&letter, "attempts")),
            ("web.staff.sync.held", field_text(&letter, "held_records")),
            ("web.staff.sync.failed_at", field_text(&letter, "failed_at_text")),
        ],
        action: format!("/staff/sync/{incident_id}/{action}"),
        confirm: &confirm,
        back: "/staff/sync",
    };
    render_confirmation(&context, confirmation)
}

/// `POST /staff/sync/{incident_id}/replay|skip`: replays or skips the record and returns
/// to the list, which shows the outcome.
async fn resolve(context: PageContext, Path((incident_id, action)): Path<(String, String)>) -> Response {
    let token = match action_session(&context, &action, &ACTIONS) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/sync/dead-letters/{incident_id}/{action}");
    match context.state.backend.post(&path, Some(token), context.locale, json!({})).await {
        Ok(reply) => {
            let released = reply["released"].as_u64().unwrap_or(0).to_string();
            back_with_outcome("/staff/sync", &[("done", action.as_str()), ("incident", incident_id.as_str()), ("released", released.as_str())])
        }
        Err(problem) => context.fail(problem),
    }
}
