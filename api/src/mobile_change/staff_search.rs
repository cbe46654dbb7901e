//! Finding an operator for a staff override: by full mobile number, full ID number or
//! exact name, with the masked numbers and the operator's recorded changes.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::auth::allowed::Admins;
use crate::auth::Allowed;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::{AppState, mask};

/// Most operators one search returns; a name shared by more needs the mobile or ID.
const MAX_RESULTS: i64 = 20;
/// Recorded changes shown per operator, newest first.
const CHANGES_SHOWN: i64 = 5;

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `GET /api/staff/operators?q=` (association admin): operators whose mobile or ID
/// number is `q`, or whose name is `q`. Numbers appear masked.
#[utoipa::path(
    get,
    path = "/api/staff/operators",
    tag = "staff",
    params(("q" = String, Query, description = "手机号码、身份证号码或姓名 / mobile, ID number or name")),
    responses(
        (status = 200, description = "Matching operators with masked numbers and their recorded mobile changes", body = serde_json::Value),
        (status = 400, description = "The search text is empty", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not an association admin", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn search(State(state): State<AppState>, _caller: Allowed<Admins>, Query(query): Query<SearchQuery>) -> Result<Json<Value>, ApiError> {
    let text = query.q.as_deref().map(str::trim).unwrap_or_default().to_uppercase();
    if text.is_empty() {
        return Err(ApiError::invalid("mobile_change.search_empty").field("q"));
    }
    let pool = &state.engine.db.pool;
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.mobile, o.id_number, o.status, u.name AS unit_name FROM operators o LEFT JOIN units u ON u.id = o.unit_id
         WHERE o.mobile = $1 OR o.id_number = $1 OR o.name = $1 ORDER BY o.name, o.id LIMIT $2",
    )
    .bind(&text)
    .bind(MAX_RESULTS)
    .fetch_all(pool)
    .await?;

    let mut operators = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let changes = sqlx::query(
            "SELECT kind, old_mobile_masked, new_mobile_masked, reason, changed_by, changed_at FROM mobile_changes
             WHERE operator_id = $1 ORDER BY changed_at DESC LIMIT $2",
        )
        .bind(&id)
        .bind(CHANGES_SHOWN)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|change| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "kind": change.try_get::<String, _>("kind")?,
                "old_mobile_masked": change.try_get::<String, _>("old_mobile_masked")?,
                "new_mobile_masked": change.try_get::<String, _>("new_mobile_masked")?,
                "reason": change.try_get::<Option<String>, _>("reason")?,
                "changed_by": change.try_get::<String, _>("changed_by")?,
                "changed_at": change.try_get::<i64, _>("changed_at")?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
        operators.push(json!({
            "id": id,
            "name": row.try_get::<Option<String>, _>("name")?,
            "mobile_masked": mask::mobile(&row.try_get::<String, _>("mobile")?),
            "id_number_masked": row.try_get::<Option<String>, _>("id_number")?.as_deref().map(mask::id_number),
            "status": row.try_get::<String, _>("status")?,
            "unit_name": row.try_get::<Option<String>, _>("unit_name")?,
            "mobile_changes": changes,
        }));
    }
    Ok(Json(json!({ "operators": operators })))
}
