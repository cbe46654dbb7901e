//! The association's register of units for staff: the newest units, or those whose
//! name contains a fragment or whose credit code starts with it.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::error::{ApiError, current_locale};
use crate::extract::{Json, Query};
use crate::unit_search::{MIN_QUERY_CHARS, search_patterns};
use crate::AppState;

/// Maximum units one listing returns.
pub const MAX_LISTED: i64 = 100;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
}

/// `GET /api/units?q=` (association staff): up to 100 units, newest first, or with `q`
/// those whose name contains it or whose credit code starts with it. Each unit carries
/// its region's name in the request's locale when the catalogue has one, and the
/// number of operators it currently employs.
pub(crate) async fn list(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let text = query.q.trim();
    let select = "SELECT u.id, u.uscc, u.name, u.region_code, u.status, u.created_at,
                         (SELECT COUNT(*) FROM operators o WHERE o.unit_id = u.id) AS operators
                  FROM units u";
    let rows = if text.is_empty() {
        sqlx::query(sqlx::AssertSqlSafe(format!("{select} ORDER BY u.created_at DESC, u.name LIMIT $1")))
            .bind(MAX_LISTED)
            .fetch_all(&state.engine.db.pool)
            .await?
    } else {
        if text.chars().count() < MIN_QUERY_CHARS {
            return Err(ApiError::invalid("units.search_too_short").field("q").arg("min", MIN_QUERY_CHARS));
        }
        let [half_width, full_width, code_prefix] = search_patterns(text);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{select} WHERE (u.name LIKE $1 ESCAPE '\\' OR u.name LIKE $2 ESCAPE '\\' OR u.uscc LIKE $3 ESCAPE '\\') ORDER BY u.name LIMIT $4"
        )))
        .bind(half_width)
        .bind(full_width)
        .bind(code_prefix)
        .bind(MAX_LISTED)
        .fetch_all(&state.engine.db.pool)
        .await?
    };

    let locale = current_locale();
    let mut units = Vec::with_capacity(rows.len());
    for row in rows {
        let region_code: Option<String> = row.try_get("region_code")?;
        let region_name = region_code.as_deref().and_then(|code| domain::messages::region_name(locale, code));
        units.push(json!({
            "id": row.try_get::<String, _>("id")?,
            "uscc": row.try_get::<String, _>("uscc")?,
            "name": row.try_get::<String, _>("name")?,
            "region_code": region_code,
            "region_name": region_name,
            "status": row.try_get::<String, _>("status")?,
            "created_at": row.try_get::<i64, _>("created_at")?,
            "operators": row.try_get::<i64, _>("operators")?,
        }));
    }
    Ok(Json(json!({ "units": units })))
}
