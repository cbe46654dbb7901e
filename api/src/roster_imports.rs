//! Roster import in two steps: a preview that checks the uploaded file and writes
//! nothing, then, once the unit admin confirms, the import itself, which runs in the
//! background in chunks, reports how many rows are done and resumes after a restart
//! (`crate::roster_import_runs`).
//!
//! The file waits in the object store between the two steps. At confirmation it is
//! parsed and checked again, because the records may have changed since the preview,
//! and the import's rows are what count. Each row is written in its own transaction,
//! so a rejected row writes nothing and the good rows around it are imported.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::auth::allowed::UnitAdminsAndStaff;
use crate::auth::{Allowed, Caller};
use crate::db::new_id;
use crate::error::{ApiError, current_locale};
use crate::extract::{Json, Query};
use crate::roster::{parse_for_unit, preview_roster};
use crate::roster_import_runs;
use crate::units::{MAX_ROSTER_BYTES, read_upload};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/units/{unit_id}/roster/preview", post(preview).layer(DefaultBodyLimit::max(MAX_ROSTER_BYTES)))
        .route("/api/units/{unit_id}/roster/imports/{import_id}", get(status))
        .route("/api/units/{unit_id}/roster/imports/{import_id}/confirm", post(confirm))
}

/// Fails with 403 unless the caller is the admin of `unit_id` or association staff.
fn require_unit_or_staff(caller: &Caller, unit_id: &str) -> Result<(), ApiError> {
    if caller.is_admin_of_unit(unit_id) {
        return Ok(());
    }
    caller.require_staff()
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    file_name: Option<String>,
}

/// `POST /api/units/{unit_id}/roster/preview` (that unit's admin, or association
/// staff): checks a roster file, sent like `POST /api/units/{unit_id}/roster`, and
/// returns each row's change (`new`, `updated`, `unchanged`, `error`) without writing
/// any operator. Returns the `import_id` to confirm.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/roster/preview",
    tag = "unit",
    params(("unit_id" = String, Path, description = "The unit whose roster this is"), ("file_name" = Option<String>, Query, description = "File name when the body is the raw file")),
    request_body(content = Vec<u8>, description = "CSV (UTF-8 or GBK) or xlsx, as multipart field `file` or the raw body", content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The rows' changes and the import id", body = serde_json::Value),
        (status = 400, description = "The file cannot be read at all", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is neither the unit's admin nor association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn preview(
    State(state): State<AppState>,
    Path(unit_id): Path<String>,
    caller: Allowed<UnitAdminsAndStaff>,
    Query(query): Query<PreviewQuery>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_unit_or_staff(&caller, &unit_id)?;
    let (bytes, file_name) = read_upload(&state, request, query.file_name).await?;
    let parsed = parse_for_unit(&state, &unit_id, &bytes, &file_name).await?;
    let checked = preview_roster(&state, &parsed).await?;

    // The file waits for the confirmation in the object store.
    let import_id = new_id();
    let object_key = format!("roster-imports/{import_id}");
    state.objects.put(&object_key, bytes).await.map_err(|error| ApiError::Internal(error.into()))?;
    let now_ms = state.now_ms();
    sqlx::query(
        "INSERT INTO roster_imports (id, unit_id, created_by, file_name, object_key, status, total_rows, done_rows, accepted, rejected, encoding_used, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'previewed', $6, 0, 0, 0, $7, $8, $8)",
    )
    .bind(&import_id)
    .bind(&unit_id)
    .bind(caller.account_id.clone().unwrap_or_default())
    .bind(&file_name)
    .bind(&object_key)
    .bind(parsed.report.rows.len() as i64)
    .bind(parsed.report.encoding_used.map(|encoding| encoding.as_str()))
    .bind(now_ms)
    .execute(&state.engine.db.pool)
    .await?;
    tracing::info!(unit = %unit_id, import = %import_id, rows = parsed.report.rows.len(), rejected = checked.rejected, "roster previewed");

    let mut body = checked.to_json(current_locale());
    body["import_id"] = json!(import_id);
    body["file_name"] = json!(file_name);
    body["total_rows"] = json!(parsed.report.rows.len());
    Ok((StatusCode::CREATED, Json(body)))
}

/// `POST /api/units/{unit_id}/roster/imports/{import_id}/confirm` (that unit's admin,
/// or association staff): starts the import of a previewed file, or resumes one that
/// failed after the rows it recorded, and returns 202. `GET …/imports/{import_id}` then
/// reports the progress.
#[utoipa::path(
    post,
    path = "/api/units/{unit_id}/roster/imports/{import_id}/confirm",
    tag = "unit",
    params(("unit_id" = String, Path, description = "The unit"), ("import_id" = String, Path, description = "The id the preview returned")),
    responses(
        (status = 202, description = "The import runs; progress as in GET", body = serde_json::Value),
        (status = 404, description = "No such import of this unit", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The import runs already or has ended", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn confirm(State(state): State<AppState>, Path((unit_id, import_id)): Path<(String, String)>, caller: Caller) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_unit_or_staff(&caller, &unit_id)?;
    load_import(&state, &unit_id, &import_id).await?;

    // The status guard lets one confirmation start the import when two arrive together.
    if !roster_import_runs::start(&state, &unit_id, &import_id).await? {
        return Err(ApiError::conflict("roster_import.not_confirmable"));
    }
    tracing::info!(unit = %unit_id, import = %import_id, by = ?caller.account_id, "roster import confirmed");
    let progress = load_import(&state, &unit_id, &import_id).await?;
    Ok((StatusCode::ACCEPTED, Json(progress)))
}

/// `GET /api/units/{unit_id}/roster/imports/{import_id}` (that unit's admin, or
/// association staff): the import's status (`previewed`, `running`, `done`,
/// `failed`), rows done of the total, and, once done, every row's result.
#[utoipa::path(
    get,
    path = "/api/units/{unit_id}/roster/imports/{import_id}",
    tag = "unit",
    params(("unit_id" = String, Path, description = "The unit"), ("import_id" = String, Path, description = "The id the preview returned")),
    responses(
        (status = 200, description = "Status, done_rows of total_rows, accepted, rejected, rows when done", body = serde_json::Value),
        (status = 404, description = "No such import of this unit", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn status(State(state): State<AppState>, Path((unit_id, import_id)): Path<(String, String)>, caller: Caller) -> Result<Json<Value>, ApiError> {
    require_unit_or_staff(&caller, &unit_id)?;
    Ok(Json(load_import(&state, &unit_id, &import_id).await?))
}

/// Returns import `import_id` of unit `unit_id` as the API shows it, or 404.
async fn load_import(state: &AppState, unit_id: &str, import_id: &str) -> Result<Value, ApiError> {
    let row = sqlx::query("SELECT file_name, status, total_rows, done_rows, accepted, rejected, encoding_used, result, error FROM roster_imports WHERE id = $1 AND unit_id = $2")
        .bind(import_id)
        .bind(unit_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("roster_import.not_found"))?;
    let result: Option<String> = row.try_get("result")?;
    let rows = match result {
        Some(text) => stored_rows(&text),
        None => Value::Null,
    };
    let error: Option<String> = row.try_get("error")?;
    Ok(json!({
        "import_id": import_id,
        "unit_id": unit_id,
        "file_name": row.try_get::<String, _>("file_name")?,
        "status": row.try_get::<String, _>("status")?,
        "total_rows": row.try_get::<i64, _>("total_rows")?,
        "done_rows": row.try_get::<i64, _>("done_rows")?,
        "accepted": row.try_get::<i64, _>("accepted")?,
        "rejected": row.try_get::<i64, _>("rejected")?,
        "encoding_used": row.try_get::<Option<String>, _>("encoding_used")?,
        "error": error.map(|code| crate::error::text(&code, &[])),
        "rows": rows,
    }))
}

/// Renders the stored rows, kept with both locales' messages, in the request's locale.
fn stored_rows(text: &str) -> Value {
    let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(text) else {
        return Value::Null;
    };
    let english = current_locale() == domain::messages::Locale::En;
    let rows = rows
        .into_iter()
        .map(|mut row| {
            let message = if english { row["message_en"].take() } else { row["message_zh"].take() };
            if let Some(object) = row.as_object_mut() {
                object.remove("message_zh");
                object.remove("message_en");
                object.insert("message".into(), message);
            }
            row
        })
        .collect();
    Value::Array(rows)
}
