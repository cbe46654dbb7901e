//! Help pages (帮助): association staff write them under a slug; everyone reads them.
//!
//! The slug names the page in its address (`/help/{slug}`), so it is unique and made of
//! lower-case ASCII letters, digits and hyphens. Pages are listed by `position`, then
//! slug. Title and body are plain text, checked by [`crate::site_text`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::auth::allowed::Staff;
use crate::auth::{Allowed, Caller};
use crate::error::ApiError;
use crate::extract::Json;
use crate::site_text::{MAX_BODY_CHARS, MAX_TITLE_CHARS, checked};
use crate::AppState;

/// Maximum length of a slug, in characters.
const MAX_SLUG_CHARS: usize = 60;
/// Allowed range of `position`.
const MAX_POSITION: i64 = 9999;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/help", get(list))
        .route("/api/help/{slug}", get(show))
        .route("/api/site/help", post(create))
        .route("/api/site/help/{slug}", put(update).delete(remove))
}

/// `GET /api/help` (public): every help page's slug, title and position, in order.
#[utoipa::path(get, path = "/api/help", tag = "site", responses((status = 200, description = "`{pages: [{slug, title, position}]}` in order", body = serde_json::Value)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let rows = sqlx::query("SELECT slug, title, position FROM help_pages ORDER BY position, slug").fetch_all(&state.engine.db.pool).await?;
    let pages = rows
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({ "slug": row.try_get::<String, _>("slug")?, "title": row.try_get::<String, _>("title")?, "position": row.try_get::<i64, _>("position")? }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "pages": pages })))
}

/// `GET /api/help/{slug}` (public): one page with its body.
#[utoipa::path(
    get,
    path = "/api/help/{slug}",
    tag = "site",
    params(("slug" = String, Path, description = "The page's slug")),
    responses(
        (status = 200, description = "`{slug, title, body, position, updated_text}`", body = serde_json::Value),
        (status = 404, description = "No help page has this slug", body = crate::openapi::ErrorResponse),
    )
)]
pub(crate) async fn show(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Json<Value>, ApiError> {
    let row = load(&state, &slug).await?;
    Ok(Json(page_json(&row)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelpRequest {
    /// Required on create; on update the path names the page.
    slug: Option<String>,
    title: String,
    body: String,
    position: Option<i64>,
}

/// `POST /api/site/help {slug, title, body, position?}` (association staff): adds a
/// page. 409 when the slug is taken.
async fn create(State(state): State<AppState>, caller: Allowed<Staff>, Json(request): Json<HelpRequest>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let slug = checked_slug(request.slug.as_deref().unwrap_or(""))?;
    let (title, body, position) = checked_fields(&request)?;
    let account = caller.account_id.clone().unwrap_or_default();

    let inserted = sqlx::query("INSERT INTO help_pages (slug, title, body, position, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&slug)
        .bind(&title)
        .bind(&body)
        .bind(position)
        .bind(&account)
        .bind(state.now_ms())
        .execute(&state.engine.db.pool)
        .await;
    match inserted {
        Err(error) if workflows::db::is_unique_violation(&error) => return Err(ApiError::conflict("help.slug_taken").field("slug").arg("slug", &slug)),
        other => other?,
    };
    tracing::info!(slug = %slug, by = %account, "help page added");

    let row = load(&state, &slug).await?;
    Ok((StatusCode::CREATED, Json(page_json(&row)?)))
}

/// `PUT /api/site/help/{slug} {title, body, position?}` (association staff): changes a
/// page. A `slug` in the body must equal the path's: a slug cannot be renamed, because
/// links to the page use it.
async fn update(State(state): State<AppState>, caller: Allowed<Staff>, Path(slug): Path<String>, Json(request): Json<HelpRequest>) -> Result<Json<Value>, ApiError> {
    if request.slug.as_deref().is_some_and(|body_slug| body_slug.trim() != slug) {
        return Err(ApiError::invalid("help.slug_fixed").field("slug"));
    }
    let (title, body, position) = checked_fields(&request)?;
    let account = caller.account_id.clone().unwrap_or_default();

    let updated = sqlx::query("UPDATE help_pages SET title = $1, body = $2, position = $3, updated_by = $4, updated_at = $5 WHERE slug = $6")
        .bind(&title)
        .bind(&body)
        .bind(position)
        .bind(&account)
        .bind(state.now_ms())
        .bind(&slug)
        .execute(&state.engine.db.pool)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::not_found("help.not_found"));
    }
    tracing::info!(slug = %slug, by = %account, "help page edited");

    let row = load(&state, &slug).await?;
    Ok(Json(page_json(&row)?))
}

/// `DELETE /api/site/help/{slug}` (association staff): removes a page. 204.
async fn remove(State(state): State<AppState>, caller: Caller, Path(slug): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_staff()?;
    let deleted = sqlx::query("DELETE FROM help_pages WHERE slug = $1").bind(&slug).execute(&state.engine.db.pool).await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::not_found("help.not_found"));
    }
    tracing::info!(slug = %slug, by = caller.account_id.as_deref().unwrap_or(""), "help page removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Returns the trimmed slug, or an error when it is not 1 to 60 lower-case letters,
/// digits and inner hyphens.
fn checked_slug(slug: &str) -> Result<String, ApiError> {
    let slug = slug.trim();
    let well_formed = !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && slug.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !well_formed {
        return Err(ApiError::invalid("help.slug_invalid").field("slug").arg("max", MAX_SLUG_CHARS));
    }
    Ok(slug.to_string())
}

fn checked_fields(request: &HelpRequest) -> Result<(String, String, i64), ApiError> {
    let title = checked(&request.title, "title", MAX_TITLE_CHARS, false)?;
    let body = checked(&request.body, "body", MAX_BODY_CHARS, true)?;
    let position = request.position.unwrap_or(0);
    if !(0..=MAX_POSITION).contains(&position) {
        return Err(ApiError::invalid("help.position_invalid").field("position").arg("max", MAX_POSITION));
    }
    Ok((title, body, position))
}

async fn load(state: &AppState, slug: &str) -> Result<AnyRow, ApiError> {
    sqlx::query("SELECT slug, title, body, position, updated_at FROM help_pages WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("help.not_found"))
}

fn page_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "slug": row.try_get::<String, _>("slug")?,
        "title": row.try_get::<String, _>("title")?,
        "body": row.try_get::<String, _>("body")?,
        "position": row.try_get::<i64, _>("position")?,
        "updated_text": crate::beijing_text(row.try_get("updated_at")?),
    }))
}
