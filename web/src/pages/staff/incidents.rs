//! Incidents (异常事项) for association staff: actions that failed for good and
//! instances that are stuck, filtered by status and kind. Association admins retry,
//! skip or cancel an open incident after a confirmation page; the list then shows the
//! outcome.

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
        .route("/staff/incidents", get(show))
        .route("/staff/incidents/{incident_id}/{action}", get(confirm).post(resolve))
}

const STATUSES: [&str; 4] = ["open", "retried", "skipped", "cancelled"];
const KINDS: [&str; 2] = ["action_failed", "stuck_instance"];
const ACTIONS: [&str; 3] = ["retry", "skip", "cancel"];

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    /// The incident just resolved and how, shown above the list.
    done: Option<String>,
    incident: Option<String>,
}

/// `GET /staff/incidents?status=open&kind=`.
async fn show(context: PageContext, Query(query): Query<ListQuery>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let status = query.status.filter(|status| STATUSES.contains(&status.as_str())).unwrap_or_else(|| "open".to_string());
    let kind = query.kind.filter(|kind| KINDS.contains(&kind.as_str())).unwrap_or_default();
    let path = format!("/api/incidents?{}", serde_urlencoded::to_string([("status", status.as_str()), ("kind", kind.as_str())]).unwrap_or_default());
    let incidents = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(reply) => with_beijing_times(reply["incidents"].clone(), &["created_at"]),
        Err(problem) => return context.fail(problem),
    };
    let incidents: Vec<Value> = incidents.as_array().cloned().unwrap_or_default().into_iter().map(with_kind_label).collect();

    let done = query.done.filter(|action| ACTIONS.contains(&action.as_str()));
    let data = json!({
        "title": "web.staff.incidents.title",
        "incidents": incidents,
        "is_open": status == "open",
        "statuses": options(&STATUSES, &status, "web.staff.incidents.status."),
        "kinds": options(&KINDS, &kind, "web.staff.incidents.kind."),
        "done": done.map(|action| json!({ "message": format!("web.staff.incidents.done.{action}"), "incident": query.incident.unwrap_or_default() })),
    });
    context.render("staff_incidents", data)
}

/// Adds `kind_label`, the catalogue code of the incident's kind.
fn with_kind_label(mut incident: Value) -> Value {
    incident["kind_label"] = json!(kind_label(incident["kind"].as_str().unwrap_or_default()));
    incident
}

/// Returns the catalogue code naming incident kind `kind`.
fn kind_label(kind: &str) -> String {
    if KINDS.contains(&kind) { format!("web.staff.incidents.kind.{kind}") } else { "web.staff.incidents.kind.other".to_string() }
}

/// Returns `[{value, label, selected}]` for a filter's select, `label` a catalogue code.
fn options(values: &[&str], selected: &str, label_prefix: &str) -> Vec<Value> {
    values.iter().map(|value| json!({ "value": value, "label": format!("{label_prefix}{value}"), "selected": *value == selected })).collect()
}

/// Finds open incident `incident_id` through the API's list.
async fn open_incident(context: &PageContext, token: &str, incident_id: &str) -> Result<Value, ApiProblem> {
    let reply = context.state.backend.get("/api/incidents?status=open&limit=500", Some(token), context.locale).await?;
    reply["incidents"]
        .as_array()
        .and_then(|incidents| incidents.iter().find(|incident| incident["id"] == incident_id))
        .cloned()
        .ok_or_else(|| ApiProblem {
            status: StatusCode::NOT_FOUND,
            code: "engine.incident_not_found".into(),
            message: domain::messages::text(context.locale, "web.staff.incidents.not_open", &[("incident", incident_id)]),
            field: None,
        })
}

/// `GET /staff/incidents/{incident_id}/retry|skip|cancel`: what the action will do, and
/// the button that posts it.
async fn confirm(context: PageContext, Path((incident_id, action)): Path<(String, String)>) -> Response {
    let token = match action_session(&context, &action, &ACTIONS) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let incident = match open_incident(&context, token, &incident_id).await {
        Ok(incident) => with_beijing_times(incident, &["created_at"]),
        Err(problem) => return context.fail(problem),
    };
    let kind_name = domain::messages::text(context.locale, &kind_label(&field_text(&incident, "kind")), &[]);
    let explanation = format!("web.staff.incidents.explain.{action}");
    let confirm = format!("web.staff.incidents.action.{action}");
    let confirmation = Confirmation {
        title: "web.staff.incidents.confirm_title",
        explanation: &explanation,
        details: vec![
            ("web.staff.incidents.id", field_text(&incident, "id")),
            ("web.staff.incidents.kind_label", kind_name),
            ("web.staff.incidents.instance", field_text(&incident, "instance_id")),
            ("web.staff.incidents.error", field_text(&incident, "error")),
            ("web.staff.incidents.attempts", field_text(&incident, "attempts")),
            ("web.staff.incidents.raised_at", field_text(&incident, "created_at_text")),
        ],
        action: format!("/staff/incidents/{incident_id}/{action}"),
        confirm: &confirm,
        back: "/staff/incidents",
    };
    render_confirmation(&context, confirmation)
}

/// `POST /staff/incidents/{incident_id}/retry|skip|cancel` (association admin): resolves
/// the incident and returns to the list, which shows the outcome.
async fn resolve(context: PageContext, Path((incident_id, action)): Path<(String, String)>) -> Response {
    let token = match action_session(&context, &action, &ACTIONS) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/incidents/{incident_id}/{action}");
    match context.state.backend.post(&path, Some(token), context.locale, json!({})).await {
        Ok(_) => back_with_outcome("/staff/incidents", &[("done", action.as_str()), ("incident", incident_id.as_str())]),
        Err(problem) => context.fail(problem),
    }
}
