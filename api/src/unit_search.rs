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

    let [half_width, full_width, code_prefix] = search_patterns(text);
    let rows = sqlx::query(
        "SELECT id, uscc, name, status FROM units
         WHERE (name LIKE $1 ESCAPE '\\' OR name LIKE $2 ESCAPE '\\' OR uscc LIKE $3 ESCAPE '\\')
         ORDER BY name LIMIT $4",
    )
    .bind(half_width)
    .bind(full_width)
    .bind(code_prefix)
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

/// Returns the `LIKE` patterns (escape character `\`) that find `text` in unit names
/// and credit codes: the name fragment with half-width and with full-width brackets,
/// because names are stored as registered with either, and the code prefix in upper
/// case.
pub(crate) fn search_patterns(text: &str) -> [String; 3] {
    let escaped = |fragment: &str| fragment.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let half_width = text.replace('（', "(").replace('）', ")");
    let full_width = text.replace('(', "（").replace(')', "）");
    [format!("%{}%", escaped(&half_width)), format!("%{}%", escaped(&full_width)), format!("{}%", escaped(&text.to_ascii_uppercase()))]
}
