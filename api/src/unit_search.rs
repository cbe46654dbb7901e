//! Unit search for info completion: an operator finds the employer by part of its
//! name or by its unified social credit code.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::AppState;

/// Maximum units one search returns.
pub const MAX_RESULTS: i64 = 20;

/// Shortest name fragment searched, in characters, so that one character does not list
/// half the province.
pub const MIN_QUERY_CHARS: usize = 2;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/units/search", get(search))
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
}

/// `GET /api/units/search?q=…` (any session): units whose name
/// contains `q` or whose credit code starts with it, by name.
async fn search(State(state): State<AppState>, _caller: Caller, Query(query): Query<SearchQuery>) -> Result<Json<Value>, ApiError> {
    let text = query.q.trim();
    if text.chars().count() < MIN_QUERY_CHARS {
        return Err(ApiError::invalid("units.search_too_short").field("q").arg("min", MIN_QUERY_CHARS));
    }

    // Names are stored as registered, with either full-width or half-width brackets,
    // so the fragment is searched in both forms.
    let half_width = text.replace('（', "(").replace('）', ")");
    let full_width = text.replace('(', "（").replace(')', "）");
    let escaped = |fragment: &str| fragment.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let rows = sqlx::query(
        "SELECT id, uscc, name, status FROM units
         WHERE (name LIKE $1 ESCAPE '\\' OR name LIKE $2 ESCAPE '\\' OR uscc LIKE $3 ESCAPE '\\')
         ORDER BY name LIMIT $4",
    )
    .bind(format!("%{}%", escaped(&half_width)))
    .bind(format!("%{}%", escaped(&full_width)))
    .bind(format!("{}%", escaped(&text.to_ascii_uppercase())))
    .bind(MAX_RESULTS)
    .fetch_all(&state.engine.db.pool)
    .await?;

    let mut units = Vec::with_capacity(rows.len());
    for row in rows {
        units.push(json!({
            "id": row.try_get::<String, _>("id")?,
            "uscc": row.try_get::<String, _>("uscc")?,
            "name": row.try_get::<String, _>("name")?,
            "status": row.try_get::<String, _>("status")?,
        }));
    }
    Ok(Json(json!({ "units": units })))
}
