//! Notices (通知公告): association staff write, publish and withdraw them; everyone,
//! signed in or not, reads the published ones.
//!
//! A notice is public while its status is `published` and its publish time has come.
//! Withdrawing hides it again, and editing or publishing it anew brings it back. Title
//! and body are plain text, checked by [`crate::site_text`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::Row;
use workflows::clock::from_millis;

use crate::auth::allowed::Staff;
use crate::auth::{Allowed, Caller};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::site_text::{MAX_BODY_CHARS, MAX_TITLE_CHARS, checked};
use crate::AppState;

/// Default and maximum number of notices in the public list.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

const COLUMNS: &str = "id, title, body, status, publish_at, created_by, created_at, updated_by, updated_at";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/notices", get(list_public))
        .route("/api/notices/{notice_id}", get(show_public))
        .route("/api/site/notices", get(list_all).post(create))
        .route("/api/site/notices/{notice_id}", get(show_any).put(update))
        .route("/api/site/notices/{notice_id}/publish", post(publish))
        .route("/api/site/notices/{notice_id}/withdraw", post(withdraw))
}

#[derive(Deserialize)]
pub struct LimitQuery {
    limit: Option<i64>,
}

/// `GET /api/notices?limit=20` (public): published notices whose publish time has
/// come, newest first.
#[utoipa::path(
    get,
    path = "/api/notices",
    tag = "site",
    params(("limit" = Option<i64>, Query, description = "At most this many (1 to 100, default 20)")),
    responses((status = 200, description = "`{notices: [{id, title, body, publish_at, publish_text}]}`, newest first", body = serde_json::Value))
)]
pub(crate) async fn list_public(State(state): State<AppState>, Query(query): Query<LimitQuery>) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let sql = format!("SELECT {COLUMNS} FROM notices WHERE status = 'published' AND publish_at <= $1 ORDER BY publish_at DESC, id LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state.now_ms()).bind(limit).fetch_all(&state.engine.db.pool).await?;
    let notices = rows.iter().map(public_json).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "notices": notices })))
}

/// `GET /api/notices/{notice_id}` (public): one published notice; 404 for a draft, a
/// withdrawn notice or one whose publish time has not come.
#[utoipa::path(
    get,
    path = "/api/notices/{notice_id}",
    tag = "site",
    params(("notice_id" = String, Path, description = "The notice's id")),
    responses(
        (status = 200, description = "`{id, title, body, publish_at, publish_text}`; the body is plain text with blank lines between paragraphs", body = serde_json::Value),
        (status = 404, description = "No published notice has this id", body = crate::openapi::ErrorResponse),
    )
)]
pub(crate) async fn show_public(State(state): State<AppState>, Path(notice_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM notices WHERE id = $1 AND status = 'published' AND publish_at <= $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&notice_id)
        .bind(state.now_ms())
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("notice.not_found"))?;
    Ok(Json(public_json(&row)?))
}

/// `GET /api/site/notices` (association staff): every notice, drafts and withdrawn
/// ones included, most recently changed first.
async fn list_all(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let sql = format!("SELECT {COLUMNS} FROM notices ORDER BY updated_at DESC, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&state.engine.db.pool).await?;
    let notices = rows.iter().map(|row| staff_json(row, state.now_ms())).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "notices": notices })))
}

/// `GET /api/site/notices/{notice_id}` (association staff): one notice in any status.
async fn show_any(State(state): State<AppState>, caller: Caller, Path(notice_id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let row = load(&state, &notice_id).await?;
    Ok(Json(staff_json(&row, state.now_ms())?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeRequest {
    title: String,
    body: String,
    /// RFC 3339 instant from which the notice is public once published; now when absent.
    publish_at: Option<String>,
}

/// The checked fields of a notice request.
struct NoticeFields {
    title: String,
    body: String,
    /// Unix milliseconds.
    publish_at: Option<i64>,
}

fn check(request: &NoticeRequest) -> Result<NoticeFields, ApiError> {
    let title = checked(&request.title, "title", MAX_TITLE_CHARS, false)?;
    let body = checked(&request.body, "body", MAX_BODY_CHARS, true)?;
    let publish_at = parse_publish_at(request.publish_at.as_deref())?;
    Ok(NoticeFields { title, body, publish_at })
}

/// Parses an optional RFC 3339 publish time into unix milliseconds; blank is absent.
fn parse_publish_at(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(text)
        .map(|instant| Some(instant.with_timezone(&Utc).timestamp_millis()))
        .map_err(|_| ApiError::invalid("notice.publish_at_invalid").field("publish_at").arg("value", text))
}

/// `POST /api/site/notices {title, body, publish_at?}` (association staff): saves a
/// draft. 201 with the notice.
async fn create(State(state): State<AppState>, caller: Allowed<Staff>, Json(request): Json<NoticeRequest>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let fields = check(&request)?;
    let account = caller.account_id.clone().unwrap_or_default();
    let now_ms = state.now_ms();

    let id = new_id();
    let publish_at = fields.publish_at.unwrap_or(now_ms);
    sqlx::query(
        "INSERT INTO notices (id, title, body, status, publish_at, created_by, created_at, updated_by, updated_at) VALUES ($1, $2, $3, 'draft', $4, $5, $6, $5, $6)",
    )
    .bind(&id)
    .bind(&fields.title)
    .bind(&fields.body)
    .bind(publish_at)
    .bind(&account)
    .bind(now_ms)
    .execute(&state.engine.db.pool)
    .await?;
    tracing::info!(notice = %id, by = %account, "notice drafted");

    let row = load(&state, &id).await?;
    Ok((StatusCode::CREATED, Json(staff_json(&row, now_ms)?)))
}

/// `PUT /api/site/notices/{notice_id} {title, body, publish_at?}` (association staff):
/// changes the text and publish time; the status stays as it is. Without `publish_at`
/// the stored publish time is kept.
async fn update(State(state): State<AppState>, caller: Allowed<Staff>, Path(notice_id): Path<String>, Json(request): Json<NoticeRequest>) -> Result<Json<Value>, ApiError> {
    let fields = check(&request)?;
    let account = caller.account_id.clone().unwrap_or_default();
    let now_ms = state.now_ms();

    let current = load(&state, &notice_id).await?;
    let publish_at = match fields.publish_at {
        Some(ms) => ms,
        None => current.try_get("publish_at")?,
    };
    sqlx::query("UPDATE notices SET title = $1, body = $2, publish_at = $3, updated_by = $4, updated_at = $5 WHERE id = $6")
        .bind(&fields.title)
        .bind(&fields.body)
        .bind(publish_at)
        .bind(&account)
        .bind(now_ms)
        .bind(&notice_id)
        .execute(&state.engine.db.pool)
        .await?;
    tracing::info!(notice = %notice_id, by = %account, "notice edited");

    let row = load(&state, &notice_id).await?;
    Ok(Json(staff_json(&row, now_ms)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// RFC 3339 instant; the stored publish time when absent.
    publish_at: Option<String>,
}

/// `POST /api/site/notices/{notice_id}/publish {publish_at?}` (association staff):
/// makes the notice public from its publish time. Publishing a withdrawn notice
/// brings it back.
async fn publish(State(state): State<AppState>, caller: Allowed<Staff>, Path(notice_id): Path<String>, Json(request): Json<PublishRequest>) -> Result<Json<Value>, ApiError> {
    let publish_at = parse_publish_at(request.publish_at.as_deref())?;
    set_status(&state, &caller, &notice_id, "published", publish_at).await
}

/// `POST /api/site/notices/{notice_id}/withdraw` (association staff): hides a notice
/// from the public pages; it stays in the staff list.
async fn withdraw(State(state): State<AppState>, caller: Caller, Path(notice_id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    set_status(&state, &caller, &notice_id, "withdrawn", None).await
}

async fn set_status(state: &AppState, caller: &Caller, notice_id: &str, status: &str, publish_at: Option<i64>) -> Result<Json<Value>, ApiError> {
    let account = caller.account_id.clone().unwrap_or_default();
    let now_ms = state.now_ms();
    let current = load(state, notice_id).await?;
    let publish_at = match publish_at {
        Some(ms) => ms,
        None => current.try_get("publish_at")?,
    };

    sqlx::query("UPDATE notices SET status = $1, publish_at = $2, updated_by = $3, updated_at = $4 WHERE id = $5")
        .bind(status)
        .bind(publish_at)
        .bind(&account)
        .bind(now_ms)
        .bind(notice_id)
        .execute(&state.engine.db.pool)
        .await?;
    tracing::info!(notice = %notice_id, status, by = %account, "notice status changed");

    let row = load(state, notice_id).await?;
    Ok(Json(staff_json(&row, now_ms)?))
}

async fn load(state: &AppState, notice_id: &str) -> Result<AnyRow, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM notices WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(notice_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("notice.not_found"))
}

/// Describes a notice for everyone: no account ids.
fn public_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    let publish_at: i64 = row.try_get("publish_at")?;
    Ok(json!({
        "id": row.try_get::<String, _>("id")?,
        "title": row.try_get::<String, _>("title")?,
        "body": row.try_get::<String, _>("body")?,
        "publish_at": from_millis(publish_at).to_rfc3339(),
        "publish_text": crate::beijing_text(publish_at),
    }))
}

/// Describes a notice for staff: status, whether it is public now, and who changed
/// it last.
fn staff_json(row: &AnyRow, now_ms: i64) -> Result<Value, sqlx::Error> {
    let mut notice = public_json(row)?;
    let status: String = row.try_get("status")?;
    let publish_at: i64 = row.try_get("publish_at")?;
    notice["status"] = json!(status);
    notice["visible"] = json!(status == "published" && publish_at <= now_ms);
    notice["created_by"] = json!(row.try_get::<String, _>("created_by")?);
    notice["updated_by"] = json!(row.try_get::<String, _>("updated_by")?);
    notice["updated_text"] = json!(crate::beijing_text(row.try_get("updated_at")?));
    Ok(notice)
}
