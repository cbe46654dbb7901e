//! Unit qualifications (单位资质) that the association grants, such as internal
//! training. A qualification is in force from its grant until `valid_until` (a Beijing date,
//! inclusive) or until it is revoked.

use axum::extract::{Path, State};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::QUALIFICATION;
use crate::auth::allowed::Admins;
use crate::auth::{Allowed, Caller, Role};
use crate::error::ApiError;
use crate::extract::Json;
use crate::operator::find_unit;
use crate::AppState;

#[derive(Deserialize)]
pub struct GrantRequest {
    qualification: String,
    /// Last Beijing date the qualification holds; none means until revoked.
    valid_until: Option<NaiveDate>,
}

/// `POST /api/units/{unit_id}/qualifications {qualification, valid_until?}`
/// (association admin): grants or renews a qualification.
pub async fn grant(State(state): State<AppState>, caller: Allowed<Admins>, Path(unit_id): Path<String>, Json(request): Json<GrantRequest>) -> Result<Json<Value>, ApiError> {
    if request.qualification != QUALIFICATION {
        return Err(ApiError::invalid("training.qualification_invalid").field("qualification").arg("value", &request.qualification));
    }
    if let Some(until) = request.valid_until.filter(|until| *until < state.today()) {
        return Err(ApiError::invalid("training.valid_until_past").field("valid_until").arg("date", until));
    }
    find_unit(&state, &unit_id).await?.ok_or_else(|| ApiError::not_found("units.not_found"))?;
    let by = caller.account_id.clone().unwrap_or_default();
    let now_ms = state.now_ms();
    sqlx::query(
        "INSERT INTO unit_qualifications (unit_id, qualification, valid_until, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (unit_id, qualification) DO UPDATE SET valid_until = excluded.valid_until, granted_by = excluded.granted_by,
             granted_at = excluded.granted_at, revoked_by = NULL, revoked_at = NULL",
    )
    .bind(&unit_id)
    .bind(&request.qualification)
    .bind(request.valid_until.map(|date| date.to_string()))
    .bind(&by)
    .bind(now_ms)
    .execute(&state.engine.db.pool)
    .await?;
    tracing::info!(unit = %unit_id, qualification = %request.qualification, by = %by, "qualification granted");
    Ok(Json(json!({ "unit_id": unit_id, "qualification": request.qualification, "valid_until": request.valid_until, "granted_at": now_ms })))
}

/// `DELETE /api/units/{unit_id}/qualifications/{qualification}` (association admin).
/// Events already submitted stay under review; new submissions are refused.
pub async fn revoke(State(state): State<AppState>, caller: Caller, Path((unit_id, qualification)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::AssociationAdmin])?;
    let by = caller.account_id.clone().unwrap_or_default();
    let now_ms = state.now_ms();
    let revoked = sqlx::query("UPDATE unit_qualifications SET revoked_by = $1, revoked_at = $2 WHERE unit_id = $3 AND qualification = $4 AND revoked_at IS NULL")
        .bind(&by)
        .bind(now_ms)
        .bind(&unit_id)
        .bind(&qualification)
        .execute(&state.engine.db.pool)
        .await?;
    if revoked.rows_affected() == 0 {
        return Err(ApiError::not_found("training.qualification_not_found"));
    }
    tracing::info!(unit = %unit_id, qualification = %qualification, by = %by, "qualification revoked");
    Ok(Json(json!({ "unit_id": unit_id, "qualification": qualification, "revoked_at": now_ms })))
}

/// `GET /api/units/{unit_id}/qualifications` (association staff or the unit's admin).
pub async fn list(State(state): State<AppState>, caller: Caller, Path(unit_id): Path<String>) -> Result<Json<Value>, ApiError> {
    if !caller.role.is_staff() && !caller.is_admin_of_unit(&unit_id) {
        return Err(ApiError::forbidden("auth.forbidden"));
    }
    let rows = sqlx::query("SELECT qualification, valid_until, granted_at, revoked_at FROM unit_qualifications WHERE unit_id = $1 ORDER BY qualification")
        .bind(&unit_id)
        .fetch_all(&state.engine.db.pool)
        .await?;
    let today = state.today();
    let mut listed = Vec::with_capacity(rows.len());
    for row in rows {
        let valid_until: Option<String> = row.try_get("valid_until")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        listed.push(json!({
            "qualification": row.try_get::<String, _>("qualification")?,
            "valid_until": valid_until,
            "granted_at": row.try_get::<i64, _>("granted_at")?,
            "revoked_at": revoked_at,
            "in_force": holds_on(valid_until.as_deref(), revoked_at, today),
        }));
    }
    Ok(Json(json!({ "unit_id": unit_id, "qualifications": listed })))
}

/// Returns whether a qualification with these dates holds on Beijing date `today`.
fn holds_on(valid_until: Option<&str>, revoked_at: Option<i64>, today: NaiveDate) -> bool {
    revoked_at.is_none() && valid_until.and_then(|text| text.parse::<NaiveDate>().ok()).is_none_or(|until| today <= until)
}

/// Fails with 403 `training.not_qualified` unless unit `unit_id` has the internal
/// training qualification in force today.
pub async fn require_qualified(state: &AppState, unit_id: &str) -> Result<(), ApiError> {
    let row = sqlx::query("SELECT valid_until, revoked_at FROM unit_qualifications WHERE unit_id = $1 AND qualification = $2")
        .bind(unit_id)
        .bind(QUALIFICATION)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    let holds = match row {
        Some(row) => holds_on(row.try_get::<Option<String>, _>("valid_until")?.as_deref(), row.try_get("revoked_at")?, state.today()),
        None => false,
    };
    if !holds {
        return Err(ApiError::forbidden("training.not_qualified"));
    }
    Ok(())
}
