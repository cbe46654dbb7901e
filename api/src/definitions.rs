//! Definitions as staff manage them: published versions, publishing a new one,
//! diagrams, migrations of running instances between versions, and pausing.
//!
//! Reading is open to association staff (admins and reviewers); publishing, migrating
//! and pausing are for association admins. A published version is immutable; running
//! instances keep theirs until a checked migration moves them.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use domain::messages::{self, Locale};
use serde::Deserialize;
use serde_json::{Value, json};
use workers::environment::WorkerEnvironment;
use workflows::definition::set::DefinitionSet;
use workflows::definition::{diagram, svg};
use workflows::diagnostic::Diagnostic;
use workflows::runtime::migration::{MigrationPlan, MigrationRequest};

use crate::auth::allowed::{Admins, Staff};
use crate::auth::{Allowed, Caller, Role};
use crate::error::{ApiError, current_locale};
use crate::extract::{Json, Query};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/definitions", get(list).post(publish))
        .route("/api/definitions/validate", post(validate))
        .route("/api/definitions/{definition_id}/versions", get(versions))
        .route("/api/definitions/{definition_id}/versions/{version}", get(version_source))
        .route("/api/definitions/{definition_id}/versions/{version}/diagram", get(version_diagram))
        .route("/api/definitions/{definition_id}/versions/{version}/pause", post(pause_version))
        .route("/api/definitions/{definition_id}/versions/{version}/resume", post(resume_version))
        .route("/api/definitions/{definition_id}/migrations/plan", post(plan_migration))
        .route("/api/definitions/{definition_id}/migrations/apply", post(apply_migration))
}

/// `GET /api/definitions` (staff): each definition with its latest version and the
/// number of instances per version and status.
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT DISTINCT definition_id FROM wf_definitions ORDER BY definition_id")
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut definitions = Vec::new();
    for id in ids {
        let versions = state.engine.versions(&id).await?;
        let counts: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT version, status, COUNT(*) FROM wf_instances WHERE definition_id = $1 GROUP BY version, status ORDER BY version, status",
        )
        .bind(&id)
        .fetch_all(&state.engine.db.pool)
        .await?;
        let instances: Vec<Value> = counts.into_iter().map(|(version, status, n)| json!({ "version": version, "status": status, "count": n })).collect();
        definitions.push(json!({ "id": id, "latest": versions.first(), "versions": versions.len(), "instances": instances }));
    }
    Ok(Json(json!({ "definitions": definitions })))
}

/// `GET /api/definitions/{definition_id}/versions` (staff): versions, latest first,
/// each with its author's display name and its instances counted by state and status.
async fn versions(State(state): State<AppState>, caller: Caller, Path(definition_id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let versions = state.engine.versions(&definition_id).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found("definitions.not_found").arg("id", &definition_id));
    }

    let counts: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT version, state, status, COUNT(*) FROM wf_instances WHERE definition_id = $1 GROUP BY version, state, status ORDER BY version, state, status",
    )
    .bind(&definition_id)
    .fetch_all(&state.engine.db.pool)
    .await?;
    let mut described = Vec::new();
    for version in &versions {
        let definition = state.engine.definition_version(&version.version).await?;
        let instances: Vec<Value> = counts
            .iter()
            .filter(|(of_version, ..)| *of_version == version.version)
            .map(|(_, state_id, status, count)| {
                let label = definition.state(state_id).map(|found| found.label.clone()).unwrap_or_else(|| state_id.clone());
                json!({ "state": state_id, "state_label": label, "status": status, "count": count })
            })
            .collect();
        // Versions published at start-up name no account; they keep the stored author.
        let author: Option<String> = sqlx::query_scalar("SELECT display_name FROM accounts WHERE id = $1")
            .bind(&version.published_by)
            .fetch_optional(&state.engine.db.pool)
            .await?;
        let mut entry = serde_json::to_value(version)?;
        entry["published_by_name"] = json!(author.unwrap_or_else(|| version.published_by.clone()));
        entry["instances"] = json!(instances);
        described.push(entry);
    }
    Ok(Json(json!({ "definition_id": definition_id, "versions": described })))
}

/// `GET /api/definitions/{definition_id}/versions/{version}` (staff): the stored YAML.
async fn version_source(State(state): State<AppState>, caller: Caller, Path((definition_id, version)): Path<(String, String)>) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let version = resolve(&state, &definition_id, &version).await?;
    let source = state.engine.version_source(&version).await?;
    Ok(([(CONTENT_TYPE, "application/yaml; charset=utf-8")], source).into_response())
}

#[derive(Deserialize)]
struct DiagramQuery {
    format: Option<String>,
}

/// `GET /api/definitions/{definition_id}/versions/{version}/diagram?format=svg|mermaid`
/// (staff): the state diagram of a published version, SVG by default.
async fn version_diagram(
    State(state): State<AppState>,
    _caller: Allowed<Staff>,
    Path((definition_id, version)): Path<(String, String)>,
    Query(query): Query<DiagramQuery>,
) -> Result<Response, ApiError> {
    let version = resolve(&state, &definition_id, &version).await?;
    let definition = state.engine.definition_version(&version).await?;
    match query.format.as_deref().unwrap_or("svg") {
        "svg" => Ok(([(CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg::svg(&definition)).into_response()),
        "mermaid" => Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], diagram::mermaid(&definition)).into_response()),
        _ => Err(ApiError::invalid("definitions.diagram_format").field("format")),
    }
}

#[derive(Deserialize)]
struct PublishRequest {
    /// The YAML text of one pipeline definition.
    source: String,
    /// The change note shown beside the version; the definition's label when empty.
    #[serde(default)]
    label: String,
}

/// `POST /api/definitions` (association admin): validates one definition and publishes
/// it as the latest version. Invalid text is refused with 422 and every diagnostic
/// (code, line, column, message); nothing is stored.
async fn publish(State(state): State<AppState>, caller: Allowed<Admins>, Json(request): Json<PublishRequest>) -> Result<Response, ApiError> {
    let author = caller.account_id.clone().unwrap_or_default();

    let checked = check_source(&state, request.source);
    if checked.set.has_errors() {
        let body = json!({
            "code": "definitions.invalid",
            "message": messages::text(checked.locale, "definitions.invalid", &[("errors", &checked.error_count().to_string())]),
            "field": "source",
            "diagnostics": checked.diagnostics,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response());
    }

    let versioned = checked.set.definitions.into_iter().next().expect("a definition without errors was parsed");
    let outcome = state.engine.publish(&versioned, &author, &request.label).await?;
    tracing::info!(definition = %versioned.definition.id, version = %&versioned.version[..12], author = %author, ?outcome, "definition published through the API");
    let body = json!({
        "definition_id": versioned.definition.id,
        "version": versioned.version,
        "outcome": format!("{outcome:?}").to_lowercase(),
        "warnings": checked.diagnostics,
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
struct ValidateRequest {
    /// The YAML text of one pipeline definition.
    source: String,
}

/// `POST /api/definitions/validate {source}` (staff): runs the checks of publishing
/// and stores nothing. 200 with `valid`, the definition id and version hash when the
/// text parsed, and every diagnostic with its line, column and localized message.
async fn validate(State(state): State<AppState>, _caller: Allowed<Staff>, Json(request): Json<ValidateRequest>) -> Result<Json<Value>, ApiError> {
    let checked = check_source(&state, request.source);
    let parsed = checked.set.definitions.first();
    Ok(Json(json!({
        "valid": !checked.set.has_errors(),
        "errors": checked.error_count(),
        "definition_id": parsed.map(|versioned| versioned.definition.id.clone()),
        "version": parsed.map(|versioned| versioned.version.clone()),
        "diagnostics": checked.diagnostics,
    })))
}

/// A definition text after the validator ran, with its diagnostics in the caller's locale.
struct CheckedSource {
    set: DefinitionSet,
    diagnostics: Vec<Value>,
    locale: Locale,
}

impl CheckedSource {
    fn error_count(&self) -> usize {
        self.set.diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).count()
    }
}

/// Validates `source` as the one file of a definition set, against the templates the
/// server sends, as publishing does.
fn check_source(state: &AppState, source: String) -> CheckedSource {
    let environment = WorkerEnvironment { templates: &state.templates };
    let set = DefinitionSet::from_sources(vec![("pipelines/submitted.yaml".to_string(), source)], &environment);
    let locale = current_locale();
    let diagnostics = set.diagnostics.iter().map(|diagnostic| diagnostic_json(diagnostic, locale)).collect();
    CheckedSource { set, diagnostics, locale }
}

#[derive(Deserialize)]
struct MigrationBody {
    from_version: String,
    /// The latest version when absent.
    to_version: Option<String>,
    #[serde(default)]
    states: std::collections::BTreeMap<String, String>,
}

/// `POST /api/definitions/{definition_id}/migrations/plan` (staff): how many running
/// instances in each state would move where, and every problem; changes nothing.
async fn plan_migration(
    State(state): State<AppState>,
    _caller: Allowed<Staff>,
    Path(definition_id): Path<String>,
    Json(body): Json<MigrationBody>,
) -> Result<Json<Value>, ApiError> {
    let request = migration_request(&state, &definition_id, body).await?;
    let plan = state.engine.plan_migration(&request).await?;
    let mut body = serde_json::to_value(&plan)?;
    add_problem_messages(&mut body, &plan);
    Ok(Json(body))
}

/// Adds the zh-CN sentence of each problem's code beside it, as the CLI prints it.
fn add_problem_messages(plan_json: &mut Value, plan: &MigrationPlan) {
    let Some(problems) = plan_json["problems"].as_array_mut() else { return };
    for (json, problem) in problems.iter_mut().zip(&plan.problems) {
        let target = problem.to_state.clone().unwrap_or_default();
        let instances = problem.instances.to_string();
        let args = [("state", problem.from_state.as_str()), ("target", target.as_str()), ("instances", instances.as_str())];
        json["message"] = json!(crate::error::text(&format!("engine.{}", problem.code), &args));
    }
}

/// `POST /api/definitions/{definition_id}/migrations/apply` (association admin): applies
/// a migration whose plan has no problems. A plan with problems gets 409 with the plan,
/// and nothing moves.
async fn apply_migration(
    State(state): State<AppState>,
    caller: Allowed<Admins>,
    Path(definition_id): Path<String>,
    Json(body): Json<MigrationBody>,
) -> Result<Response, ApiError> {
    let request = migration_request(&state, &definition_id, body).await?;
    let by = caller.account_id.clone().unwrap_or_default();
    let outcome = state.engine.apply_migration(&request, &by).await?;
    let status = if outcome.plan.is_safe() { StatusCode::OK } else { StatusCode::CONFLICT };
    let mut body = serde_json::to_value(&outcome)?;
    add_problem_messages(&mut body["plan"], &outcome.plan);
    if !outcome.plan.is_safe() {
        body["code"] = json!("definitions.migration_refused");
        body["message"] = json!(crate::error::text("definitions.migration_refused", &[("problems", &outcome.plan.problems.len().to_string())]));
    }
    Ok((status, axum::Json(body)).into_response())
}

#[derive(Deserialize, Default)]
struct PauseBody {
    #[serde(default)]
    reason: String,
}

/// `POST /api/definitions/{definition_id}/versions/{version}/pause` (association admin):
/// pauses every running instance of the version.
async fn pause_version(
    State(state): State<AppState>,
    caller: Allowed<Admins>,
    Path((definition_id, version)): Path<(String, String)>,
    Json(body): Json<PauseBody>,
) -> Result<Json<Value>, ApiError> {
    let version = resolve(&state, &definition_id, &version).await?;
    let reason = body.reason;
    let paused = state.engine.pause_version(&definition_id, &version, caller.account_id.as_deref().unwrap_or_default(), &reason).await?;
    Ok(Json(json!({ "definition_id": definition_id, "version": version, "paused": paused })))
}

/// `POST /api/definitions/{definition_id}/versions/{version}/resume` (association admin).
async fn resume_version(State(state): State<AppState>, caller: Caller, Path((definition_id, version)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::AssociationAdmin])?;
    let version = resolve(&state, &definition_id, &version).await?;
    let resumed = state.engine.resume_version(&definition_id, &version, caller.account_id.as_deref().unwrap_or_default()).await?;
    Ok(Json(json!({ "definition_id": definition_id, "version": version, "resumed": resumed })))
}

async fn migration_request(state: &AppState, definition_id: &str, body: MigrationBody) -> Result<MigrationRequest, ApiError> {
    let from_version = resolve(state, definition_id, &body.from_version).await.map_err(|e| e.field("from_version"))?;
    let to_version = match body.to_version {
        Some(version) => resolve(state, definition_id, &version).await.map_err(|e| e.field("to_version"))?,
        None => state.engine.latest_definition(definition_id).await?.0,
    };
    Ok(MigrationRequest { definition_id: definition_id.to_string(), from_version, to_version, states: body.states })
}

/// Resolves a full version or a prefix of at least 8 characters.
async fn resolve(state: &AppState, definition_id: &str, version: &str) -> Result<String, ApiError> {
    state
        .engine
        .resolve_version(definition_id, version)
        .await?
        .ok_or_else(|| ApiError::not_found("definitions.version_not_found").arg("id", definition_id).arg("version", version))
}

fn diagnostic_json(diagnostic: &Diagnostic, locale: Locale) -> Value {
    let args: Vec<(&str, &str)> = diagnostic.args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut value = serde_json::to_value(diagnostic).unwrap_or_default();
    value["message"] = json!(messages::text(locale, &format!("engine.{}", diagnostic.code), &args));
    value
}
