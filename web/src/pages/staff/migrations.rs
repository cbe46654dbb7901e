//! Migrating running instances of a definition from one published version to another:
//! a form with the two versions and a target state for each state that contains
//! instances, the plan (instances per move, and every problem in zh-CN), and applying
//! a plan without problems (association admins).

use std::collections::BTreeMap;

use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use super::definitions::{encode, load_versions};
use super::STAFF_ROLES;
use crate::context::PageContext;
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/definitions/{definition_id}/migrate", get(show))
        .route("/staff/definitions/{definition_id}/migrate/plan", post(plan))
        .route("/staff/definitions/{definition_id}/migrate/apply", post(apply))
}

/// Instance statuses a migration moves.
const MOVABLE: [&str; 2] = ["running", "paused"];

/// Prefix of the form fields that map an old state to a new one: `map.{old}` = new.
const MAP_PREFIX: &str = "map.";

#[derive(Deserialize)]
struct ChoiceQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The migration form's values.
#[derive(Default)]
struct Request {
    from_version: String,
    to_version: String,
    /// Old state id to new state id, as typed; blank targets are left out.
    states: BTreeMap<String, String>,
}

impl Request {
    fn from_fields(fields: Vec<(String, String)>) -> Request {
        let mut request = Request::default();
        for (name, value) in fields {
            let value = value.trim().to_string();
            match name.as_str() {
                "from_version" => request.from_version = value,
                "to_version" => request.to_version = value,
                _ => {
                    if let Some(state) = name.strip_prefix(MAP_PREFIX).filter(|_| !value.is_empty()) {
                        request.states.insert(state.to_string(), value);
                    }
                }
            }
        }
        request
    }

    /// Builds the API's body, which lists only the states that change their id.
    fn body(&self) -> Value {
        let changed: BTreeMap<&String, &String> = self.states.iter().filter(|(old, new)| old != new).collect();
        json!({ "from_version": self.from_version, "to_version": self.to_version, "states": changed })
    }
}

/// `GET /staff/definitions/{definition_id}/migrate?from=&to=`.
async fn show(context: PageContext, Path(definition_id): Path<String>, Query(query): Query<ChoiceQuery>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let request = Request { from_version: query.from.unwrap_or_default(), to_version: query.to.unwrap_or_default(), states: BTreeMap::new() };
    migration_page(&context, token, &definition_id, &request, None, StatusCode::OK, &FormErrors::default()).await
}

/// Renders the form for `request`, with `result` (a plan or an applied migration) below.
async fn migration_page(
    context: &PageContext,
    token: &str,
    definition_id: &str,
    request: &Request,
    result: Option<Value>,
    status: StatusCode,
    errors: &FormErrors,
) -> Response {
    let versions = match load_versions(context, token, definition_id).await {
        Ok(versions) => versions,
        Err(problem) => return context.fail(problem),
    };
    // A single published version has nowhere to migrate to; the form would offer that
    // version on both sides.
    if versions.len() < 2 {
        let data = json!({
            "title": "web.staff.migrations.title",
            "definition_id": definition_id,
            "only_version": versions.first(),
            "errors": errors.to_json(),
        });
        return context.render_status(status, "staff_migration", data);
    }
    let full = |wanted: &str| versions.iter().find(|version| !wanted.is_empty() && version["version"].as_str().is_some_and(|text| text.starts_with(wanted))).cloned();

    // Without a choice, the migration goes from the newest older version with instances
    // to move, to the latest.
    let has_movable = |version: &Value| version["instances"].as_array().is_some_and(|rows| rows.iter().any(is_movable));
    let from = full(&request.from_version).or_else(|| versions.iter().skip(1).find(|version| has_movable(version)).cloned()).or_else(|| versions.get(1).cloned());
    let from_id = from.as_ref().and_then(|version| version["version"].as_str()).unwrap_or_default().to_string();
    let is_other = |version: &Value| version["version"].as_str() != Some(from_id.as_str());
    let to = full(&request.to_version).filter(is_other).or_else(|| versions.iter().find(|version| is_other(version)).cloned());
    let to_id = to.as_ref().and_then(|version| version["version"].as_str()).unwrap_or_default().to_string();

    let states: Vec<Value> = from
        .as_ref()
        .and_then(|version| version["instances"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|row| is_movable(row))
        .fold(Vec::<Value>::new(), |mut states, row| {
            let state = row["state"].as_str().unwrap_or_default();
            let count = row["count"].as_i64().unwrap_or(0);
            match states.iter_mut().find(|known| known["state"] == state) {
                Some(known) => known["count"] = json!(known["count"].as_i64().unwrap_or(0) + count),
                None => states.push(json!({
                    "state": state,
                    "state_label": row["state_label"],
                    "count": count,
                    "target": request.states.get(state).cloned().unwrap_or_else(|| state.to_string()),
                })),
            }
            states
        });
    let options = |selected: &str, excluded: &str| -> Vec<Value> {
        versions
            .iter()
            .filter(|version| version["version"].as_str() != Some(excluded))
            .map(|version| {
                json!({ "version": version["version"], "short": version["short"], "label": version["label"], "latest": version["latest"] == true, "selected": version["version"] == selected })
            })
            .collect()
    };

    let data = json!({
        "title": "web.staff.migrations.title",
        "definition_id": definition_id,
        "from_options": options(&from_id, ""),
        "to_options": options(&to_id, &from_id),
        "from_version": from_id,
        "to_version": to_id,
        "same_version": from_id == to_id,
        "states": states,
        "result": result,
        "errors": errors.to_json(),
    });
    context.render_status(status, "staff_migration", data)
}

fn is_movable(row: &Value) -> bool {
    row["status"].as_str().is_some_and(|status| MOVABLE.contains(&status))
}

/// `POST /staff/definitions/{definition_id}/migrate/plan {from_version, to_version,
/// map.*}`: how many instances would move where, and every problem; changes nothing.
async fn plan(context: PageContext, Path(definition_id): Path<String>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let request = Request::from_fields(fields);
    let path = format!("/api/definitions/{}/migrations/plan", encode(&definition_id));
    match context.state.backend.post(&path, Some(token), context.locale, request.body()).await {
        Ok(plan) => {
            let safe = plan["problems"].as_array().is_none_or(Vec::is_empty);
            let result = json!({ "plan": plan, "safe": safe, "applied": false });
            migration_page(&context, token, &definition_id, &request, Some(result), StatusCode::OK, &FormErrors::default()).await
        }
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["from_version", "to_version"]);
            migration_page(&context, token, &definition_id, &request, None, problem.status, &errors).await
        }
    }
}

/// `POST /staff/definitions/{definition_id}/migrate/apply {…}` (association admin): moves
/// the instances when the plan has no problems; a refused plan is shown again with them.
async fn apply(context: PageContext, Path(definition_id): Path<String>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let request = Request::from_fields(fields);
    let path = format!("/api/definitions/{}/migrations/apply", encode(&definition_id));
    match context.state.backend.post(&path, Some(token), context.locale, request.body()).await {
        Ok(outcome) => {
            let result = json!({ "plan": outcome["plan"], "safe": true, "applied": true, "migrated": outcome["migrated"], "skipped": outcome["skipped"] });
            migration_page(&context, token, &definition_id, &request, Some(result), StatusCode::OK, &FormErrors::default()).await
        }
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            // A refused plan's problems are in the error body, which the page's API call
            // does not keep, so the plan is drawn again to show them.
            let plan_path = format!("/api/definitions/{}/migrations/plan", encode(&definition_id));
            let plan = context.state.backend.post(&plan_path, Some(token), context.locale, request.body()).await.ok();
            let result = plan.map(|plan| json!({ "plan": plan, "safe": false, "applied": false }));
            let errors = FormErrors::from_problem(&problem, &["from_version", "to_version"]);
            migration_page(&context, token, &definition_id, &request, result, problem.status, &errors).await
        }
    }
}
