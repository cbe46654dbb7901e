//! Footer settings of the site: its name, ICP filing number (ICP备案号) and contact
//! line. A stored value overrides the start-up default (`CERTFLOW_SITE_NAME`,
//! `CERTFLOW_ICP_FILING`, `CERTFLOW_SITE_CONTACT`); a cleared one falls back to it.
//!
//! Everyone reads the stored values, because every page's layout shows them. Only the
//! association administrator changes them, and each change is logged with the old and
//! new value, the account and the time.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sqlx::Row;

use crate::auth::allowed::Admins;
use crate::auth::{Allowed, Caller, Role};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::Json;
use crate::site_text::checked;
use crate::AppState;

/// Each setting's name and maximum length in characters.
const SETTINGS: [(&str, usize); 3] = [("site_name", 40), ("icp_filing", 40), ("contact", 120)];
/// Number of log entries returned with the settings.
const LOG_ENTRIES: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/site/footer", get(footer))
        .route("/api/site/settings", get(show).put(update))
}

/// `GET /api/site/footer` (public): the stored values, `null` where the default applies.
#[utoipa::path(get, path = "/api/site/footer", tag = "site", responses((status = 200, description = "`{site_name, icp_filing, contact}`, `null` where the start-up default applies", body = serde_json::Value)))]
pub(crate) async fn footer(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Object(stored(&state).await?)))
}

/// `GET /api/site/settings` (association admin): the stored values and the latest
/// changes, newest first.
async fn show(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::AssociationAdmin])?;
    let settings = stored(&state).await?;

    let rows = sqlx::query("SELECT l.name, l.old_value, l.new_value, l.changed_by, l.changed_at, a.display_name FROM site_settings_log l LEFT JOIN accounts a ON a.id = l.changed_by ORDER BY l.changed_at DESC, l.id LIMIT $1")
        .bind(LOG_ENTRIES)
        .fetch_all(&state.engine.db.pool)
        .await?;
    let log = rows
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "name": row.try_get::<String, _>("name")?,
                "old_value": row.try_get::<Option<String>, _>("old_value")?,
                "new_value": row.try_get::<Option<String>, _>("new_value")?,
                "changed_by": row.try_get::<String, _>("changed_by")?,
                "changed_by_name": row.try_get::<Option<String>, _>("display_name")?,
                "changed_text": crate::beijing_text(row.try_get("changed_at")?),
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "settings": settings, "log": log })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    site_name: Option<String>,
    icp_filing: Option<String>,
    contact: Option<String>,
}

/// `PUT /api/site/settings {site_name, icp_filing, contact}` (association admin): sets
/// all three; a blank or absent value clears the setting so the default applies. Every
/// value that changes gets a log entry in the same transaction.
async fn update(State(state): State<AppState>, caller: Allowed<Admins>, Json(request): Json<SettingsRequest>) -> Result<Json<Value>, ApiError> {
    let account = caller.account_id.clone().unwrap_or_default();
    let requested = [request.site_name, request.icp_filing, request.contact];

    // Check every value before anything is written, so one bad field changes nothing.
    let mut checked_values: Vec<(&'static str, Option<String>)> = Vec::with_capacity(SETTINGS.len());
    for ((name, max), value) in SETTINGS.iter().zip(requested) {
        let value = match value.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
            Some(text) => Some(checked(text, name, *max, false)?),
            None => None,
        };
        checked_values.push((name, value));
    }

    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    for (name, value) in &checked_values {
        let old: Option<String> = sqlx::query_scalar("SELECT value FROM site_settings WHERE name = $1").bind(*name).fetch_optional(&mut *tx).await?;
        if old == *value {
            continue;
        }
        match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO site_settings (name, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                )
                .bind(*name)
                .bind(value)
                .bind(&account)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM site_settings WHERE name = $1").bind(*name).execute(&mut *tx).await?;
            }
        }
        sqlx::query("INSERT INTO site_settings_log (id, name, old_value, new_value, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(new_id())
            .bind(*name)
            .bind(&old)
            .bind(value)
            .bind(&account)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tracing::info!(setting = name, by = %account, "site setting changed");
    }
    tx.commit().await?;

    Ok(Json(Value::Object(stored(&state).await?)))
}

/// Returns every setting's stored value, `null` where none is stored.
async fn stored(state: &AppState) -> Result<Map<String, Value>, ApiError> {
    let rows = sqlx::query("SELECT name, value FROM site_settings").fetch_all(&state.engine.db.pool).await?;
    let mut settings: Map<String, Value> = SETTINGS.iter().map(|(name, _)| (name.to_string(), Value::Null)).collect();
    for row in rows {
        let name: String = row.try_get("name")?;
        if settings.contains_key(&name) {
            settings.insert(name, Value::String(row.try_get("value")?));
        }
    }
    Ok(settings)
}
