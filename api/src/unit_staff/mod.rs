//! The unit admin's (单位管理员) view of the unit's operators for one year: the staff
//! list with counts by state, and its xlsx export. Bulk actions act on selected
//! operators: enrollment on their behalf and reminders. The year's valid cards of the
//! unit download as one zip.
//!
//! Only operators who belong to the unit now are listed or acted on. Their enrollments,
//! credits and cards of the year are shown whichever period they were earned in, as the
//! current unit sees them (docs/unit-changes.md). Last activity counts only study
//! sessions of this unit's periods and exams since the current period began, so work
//! done for an earlier unit stays with that unit. The unit's admin and association
//! staff may call these routes.

pub(crate) mod bulk_enroll;
pub(crate) mod cards_zip;
pub(crate) mod export;
pub(crate) mod list;
pub(crate) mod remind;

use std::collections::HashMap;

use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use sqlx::Row;

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::operator::{UnitRecord, find_unit};
use crate::AppState;

pub use list::{NOT_ENROLLED, PAGE_SIZE};

/// Maximum number of operators one bulk request may name.
pub const MAX_BULK_OPERATORS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/units/{unit_id}/staff", get(list::list))
        .route("/api/units/{unit_id}/staff/export", get(export::export))
        .route("/api/units/{unit_id}/staff/enroll", post(bulk_enroll::enroll))
        .route("/api/units/{unit_id}/staff/remind", post(remind::remind))
        .route("/api/units/{unit_id}/staff/cards", get(cards_zip::download))
}

/// Returns the unit of the unit admin whose session token is `token`, or `None` for
/// another role or an expired session. The `/unit` pages use it to build their API paths.
pub async fn session_unit(state: &AppState, token: &str) -> Result<Option<String>, ApiError> {
    let unit_id: Option<Option<String>> = sqlx::query_scalar(
        "SELECT a.unit_id FROM auth_sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.role = $3",
    )
    .bind(crate::db::sha256_hex(token.as_bytes()))
    .bind(state.now_ms())
    .bind(Role::UnitAdmin.as_str())
    .fetch_optional(&state.engine.db.pool)
    .await?;
    Ok(unit_id.flatten())
}

/// Loads unit `unit_id` after checking that the caller administers it or is
/// association staff: 403 for anyone else, 404 for an unknown unit.
async fn authorized_unit(state: &AppState, caller: &Caller, unit_id: &str) -> Result<UnitRecord, ApiError> {
    if !caller.is_admin_of_unit(unit_id) && !caller.role.is_staff() {
        tracing::warn!(role = caller.role.as_str(), unit = %unit_id, "unit staff route rejected for a caller outside the unit");
        return Err(ApiError::forbidden("auth.forbidden"));
    }
    find_unit(state, unit_id).await?.ok_or_else(|| ApiError::not_found("units.not_found"))
}

/// The operators a bulk request acts on.
#[derive(Deserialize)]
struct Selection {
    operator_ids: Vec<String>,
}

impl Selection {
    /// Returns the distinct ids in the order given: 400 when none or more than
    /// [`MAX_BULK_OPERATORS`] are named.
    fn distinct_ids(&self) -> Result<Vec<String>, ApiError> {
        let mut ids: Vec<String> = Vec::with_capacity(self.operator_ids.len());
        for id in &self.operator_ids {
            let id = id.trim();
            if !id.is_empty() && !ids.iter().any(|seen| seen == id) {
                ids.push(id.to_string());
            }
        }
        if ids.is_empty() {
            return Err(ApiError::invalid("unit_staff.selection_empty").field("operator_ids"));
        }
        if ids.len() > MAX_BULK_OPERATORS {
            return Err(ApiError::invalid("unit_staff.selection_too_large").field("operator_ids").arg("count", ids.len()).arg("max", MAX_BULK_OPERATORS));
        }
        Ok(ids)
    }
}

/// Returns the name of each operator among `ids` who belongs to unit `unit_id` now.
/// Other ids, unknown or of another unit, are left out alike so that a unit learns
/// nothing about them.
async fn current_members(state: &AppState, unit_id: &str, ids: &[String]) -> Result<HashMap<String, String>, ApiError> {
    let mut members = HashMap::new();
    for chunk in ids.chunks(MAX_BULK_OPERATORS) {
        let sql = format!("SELECT id, name FROM operators WHERE unit_id = $1 AND id IN ({})", placeholders(2, chunk.len()));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(unit_id);
        for id in chunk {
            query = query.bind(id);
        }
        for row in query.fetch_all(&state.engine.db.pool).await? {
            members.insert(row.try_get::<String, _>("id")?, row.try_get::<Option<String>, _>("name")?.unwrap_or_default());
        }
    }
    Ok(members)
}

/// Returns `$first, $first+1, …` for `count` bind parameters of an `IN` list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|index| format!("${index}")).collect::<Vec<_>>().join(", ")
}
