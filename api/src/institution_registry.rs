//! The register of training institutions as association staff read it: every
//! institution with its credit code, approved items, status and key id, and the
//! settings an institution's developers need to call certflow. The secret is never
//! listed; `POST /api/institutions` shows it once.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{Value, json};
use sqlx::Row;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::handoff::HANDOFF_MINUTES;
use crate::institutions::{KEY_ID_HEADER, SIGNATURE_HEADER, SIGNATURE_WINDOW_SECS, TIMESTAMP_HEADER};
use crate::AppState;

/// Paths an institution's server calls, relative to the site's address.
pub const HANDOFF_VERIFY_PATH: &str = "/api/institution/handoff/verify";
pub const SESSIONS_PATH: &str = "/api/institution/sessions";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/institutions/registered", get(list))
}

/// `GET /api/institutions/registered` (association staff): every institution, newest
/// first, with its items' names, and the integration settings shared by all of them.
#[utoipa::path(
    get,
    path = "/api/institutions/registered",
    tag = "institution",
    responses(
        (status = 200, description = "`{institutions: [...], integration: {...}}`; no secret is included", body = serde_json::Value),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let rows = sqlx::query("SELECT id, name, uscc, key_id, items, status, created_at FROM institutions ORDER BY created_at DESC, name")
        .fetch_all(&state.engine.db.pool)
        .await?;

    let mut institutions = Vec::new();
    for row in &rows {
        let codes: String = row.try_get("items")?;
        let items: Vec<Value> = codes
            .split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(|code| {
                let name = state.catalogue.item(code).map(|item| item.name.clone()).unwrap_or_default();
                json!({ "code": code, "name": name })
            })
            .collect();
        institutions.push(json!({
            "id": row.try_get::<String, _>("id")?,
            "name": row.try_get::<String, _>("name")?,
            "uscc": row.try_get::<String, _>("uscc")?,
            "key_id": row.try_get::<String, _>("key_id")?,
            "items": items,
            "status": row.try_get::<String, _>("status")?,
            "created_at": row.try_get::<i64, _>("created_at")?,
        }));
    }
    Ok(Json(json!({ "institutions": institutions, "integration": integration_settings() })))
}

/// Returns what every institution's developers configure: the two signed routes, the
/// signature headers and window, and the hand-off token's lifetime.
pub fn integration_settings() -> Value {
    json!({
        "handoff_verify_path": HANDOFF_VERIFY_PATH,
        "sessions_path": SESSIONS_PATH,
        "openapi_path": "/api/openapi.json",
        "signature_headers": [KEY_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
        "signature_algorithm": "hmac-sha256",
        "signature_window_secs": SIGNATURE_WINDOW_SECS,
        "handoff_minutes": HANDOFF_MINUTES,
    })
}
