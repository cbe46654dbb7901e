//! Unit changes (变更单位): a unit, or the association by override, releases an
//! operator, who may then join another unit; and what each unit may see of an
//! operator it has or had.
//!
//! Credits and cards belong to the person: the operator's current unit sees the credits
//! and cards of the year, whoever's period they were earned in. Study sessions belong
//! to the unit of their period (`study_sessions.unit_id`): each unit sees only its own
//! period's sessions, so the previous unit no longer sees new activity. Evidence is
//! shown to reviewers only, never to units.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use chrono::Datelike;
use domain::archive::Archive;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workers::archive::{self, NewEntry};
use workflows::runtime::EventIn;

use crate::auth::allowed::{UnitAdminsAndAdmins, UnitAdminsAndStaff};
use crate::auth::{Allowed, Role};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::operator::load_operator;
use crate::workflow::registration_instance;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/units/{unit_id}/operators/{operator_id}/release", post(release))
        .route("/api/units/{unit_id}/operators/{operator_id}/records", get(records))
}

#[derive(Deserialize)]
pub struct ReleaseRequest {
    reason: String,
}

/// `POST /api/units/{unit_id}/operators/{operator_id}/release {reason}` (the unit's
/// admin, or association admin as an override): ends the operator's period at the unit.
/// The affiliation row keeps both dates; the operator and the unit's admins are
/// notified, and the operator may then join another unit.
async fn release(
    State(state): State<AppState>,
    caller: Allowed<UnitAdminsAndAdmins>,
    Path((unit_id, operator_id)): Path<(String, String)>,
    Json(request): Json<ReleaseRequest>,
) -> Result<Json<Value>, ApiError> {
    let kind = match caller.role {
        Role::AssociationAdmin => "override",
        _ if caller.is_admin_of_unit(&unit_id) => "release",
        _ => return Err(ApiError::forbidden("auth.forbidden")),
    };
    let by = caller.account_id.clone().unwrap_or_default();
    let released_at = release_operator(&state, &unit_id, &operator_id, kind, &request.reason, &by).await?;
    Ok(Json(json!({ "operator_id": operator_id, "unit_id": unit_id, "kind": kind, "released_at": released_at })))
}

/// Ends operator `operator_id`'s period at unit `unit_id` as `kind` (`release` by the
/// unit's admin, `override` by an association admin) by account `by`, and returns the
/// release time in unix milliseconds. The caller has checked that `by` may do so.
///
/// Fails with 400 for a blank reason, 404 for an operator who never belonged to the
/// unit (`release` only) and 409 for a former member.
pub async fn release_operator(state: &AppState, unit_id: &str, operator_id: &str, kind: &str, reason: &str, by: &str) -> Result<i64, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApiError::invalid("unit_change.reason_required").field("reason"));
    }
    // A unit admin learns nothing about an operator who never belonged to the unit, so
    // the response is 404 as for an unknown id. For a former member it is 409.
    let operator = load_operator(state, operator_id).await?;
    if operator.unit_id.as_deref() != Some(unit_id) {
        let had_period = sqlx::query("SELECT 1 FROM affiliations WHERE operator_id = $1 AND unit_id = $2")
            .bind(operator_id)
            .bind(unit_id)
            .fetch_optional(&state.engine.db.pool)
            .await?
            .is_some();
        if kind == "release" && !had_period {
            return Err(ApiError::not_found("unit_change.operator_not_found"));
        }
        return Err(ApiError::conflict("unit_change.not_in_unit"));
    }

    // Step 1: end the period and detach the operator, in one transaction with the archive entry.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let detached = sqlx::query("UPDATE operators SET unit_id = NULL, status = 'registered', updated_at = $1 WHERE id = $2 AND unit_id = $3")
        .bind(now_ms)
        .bind(operator_id)
        .bind(unit_id)
        .execute(&mut *tx)
        .await?;
    if detached.rows_affected() == 0 {
        return Err(ApiError::conflict("unit_change.not_in_unit"));
    }
    sqlx::query("UPDATE affiliations SET ended_at = $1, ended_by = $2, end_kind = $3, end_reason = $4 WHERE operator_id = $5 AND unit_id = $6 AND ended_at IS NULL")
        .bind(now_ms)
        .bind(by)
        .bind(kind)
        .bind(reason)
        .bind(operator_id)
        .bind(unit_id)
        .execute(&mut *tx)
        .await?;
    let body = json!({ "unit_id": unit_id, "kind": kind });
    let entry = NewEntry {
        recorded_by: by,
        reason: Some(reason),
        ..NewEntry::system(operator_id, Archive::ContinuingEducation, "unit_released", format!("unit_released:{unit_id}:{now_ms}"), body)
    };
    archive::append(&mut tx, state.engine.db.backend, entry, now_ms).await?;
    tx.commit().await?;
    tracing::info!(operator = %operator_id, unit = %unit_id, kind, by = %by, "operator released from unit");

    // Step 2: the registration instance goes back to info completion and notifies.
    let instance = registration_instance(state, &operator.mobile).await?;
    crate::workflow::send(state, &instance.id, EventIn::new(format!("released:{operator_id}:{now_ms}"), "unit_released")).await?;
    Ok(now_ms)
}

#[derive(Deserialize)]
pub struct RecordsQuery {
    year: Option<i32>,
}

/// `GET /api/units/{unit_id}/operators/{operator_id}/records?year=` (the unit's admin,
/// or association staff): the operator's credits and cards of the year when the operator
/// belongs to the unit now, and the study sessions of the unit's own periods.
async fn records(
    State(state): State<AppState>,
    caller: Allowed<UnitAdminsAndStaff>,
    Path((unit_id, operator_id)): Path<(String, String)>,
    Query(query): Query<RecordsQuery>,
) -> Result<Json<Value>, ApiError> {
    if !caller.role.is_staff() && !caller.is_admin_of_unit(&unit_id) {
        return Err(ApiError::forbidden("auth.forbidden"));
    }
    let year = query.year.unwrap_or_else(|| state.today().year());
    let operator = load_operator(&state, &operator_id).await?;
    let current = operator.unit_id.as_deref() == Some(unit_id.as_str());
    let periods = sqlx::query("SELECT started_at, ended_at, end_kind FROM affiliations WHERE operator_id = $1 AND unit_id = $2 ORDER BY started_at")
        .bind(&operator_id)
        .bind(&unit_id)
        .fetch_all(&state.engine.db.pool)
        .await?;
    if periods.is_empty() {
        return Err(ApiError::not_found("unit_change.operator_not_found"));
    }
    let periods: Vec<Value> = periods
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({ "started_at": row.try_get::<i64, _>("started_at")?, "ended_at": row.try_get::<Option<i64>, _>("ended_at")?, "end_kind": row.try_get::<Option<String>, _>("end_kind")? }))
        })
        .collect::<Result<_, _>>()?;

    // Sessions of this unit's periods only, without evidence.
    let rows = sqlx::query(
        "SELECT s.id, s.course_code, s.started_at, s.ended_at, s.status, e.item_code FROM study_sessions s JOIN enrollments e ON e.id = s.enrollment_id
         WHERE s.operator_id = $1 AND s.unit_id = $2 AND e.year = $3 ORDER BY s.started_at, s.id",
    )
    .bind(&operator_id)
    .bind(&unit_id)
    .bind(i64::from(year))
    .fetch_all(&state.engine.db.pool)
    .await?;
    let sessions: Vec<Value> = rows
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "id": row.try_get::<String, _>("id")?, "item_code": row.try_get::<String, _>("item_code")?, "course_code": row.try_get::<String, _>("course_code")?,
                "started_at": row.try_get::<i64, _>("started_at")?, "ended_at": row.try_get::<i64, _>("ended_at")?, "status": row.try_get::<String, _>("status")?,
            }))
        })
        .collect::<Result<_, _>>()?;

    // Credits and cards stay with the person: shown to the current unit only.
    let (credits, cards) = if current { person_records(&state, &operator_id, year).await? } else { (Value::Null, Value::Null) };
    Ok(Json(json!({
        "operator_id": operator_id,
        "name": operator.name,
        "id_number_masked": operator.id_number.as_deref().map(crate::mask::id_number),
        "unit_id": unit_id,
        "year": year,
        "current_unit": current,
        "periods": periods,
        "sessions": sessions,
        "credits": credits,
        "cards": cards,
    })))
}

/// Returns the year's credits per item and the year's cards (with the unit named at issue).
async fn person_records(state: &AppState, operator_id: &str, year: i32) -> Result<(Value, Value), ApiError> {
    let credits = sqlx::query(
        "SELECT e.item_code, COUNT(c.course_code) AS credits FROM enrollments e LEFT JOIN credits c ON c.enrollment_id = e.id AND c.withdrawn_at IS NULL
         WHERE e.operator_id = $1 AND e.year = $2 GROUP BY e.item_code ORDER BY e.item_code",
    )
    .bind(operator_id)
    .bind(i64::from(year))
    .fetch_all(&state.engine.db.pool)
    .await?;
    let credits: Vec<Value> = credits
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> { Ok(json!({ "item_code": row.try_get::<String, _>("item_code")?, "credits": row.try_get::<i64, _>("credits")? })) })
        .collect::<Result<_, _>>()?;
    let cards = sqlx::query("SELECT card_no, item_code, unit_name, credits, issued_at, revoked_at FROM cards WHERE operator_id = $1 AND year = $2 ORDER BY issued_at, card_no")
        .bind(operator_id)
        .bind(i64::from(year))
        .fetch_all(&state.engine.db.pool)
        .await?;
    let cards: Vec<Value> = cards
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "card_no": row.try_get::<String, _>("card_no")?, "item_code": row.try_get::<String, _>("item_code")?, "unit_name": row.try_get::<Option<String>, _>("unit_name")?,
                "credits": row.try_get::<i64, _>("credits")?, "issued_at": row.try_get::<i64, _>("issued_at")?, "revoked_at": row.try_get::<Option<i64>, _>("revoked_at")?,
            }))
        })
        .collect::<Result<_, _>>()?;
    Ok((Value::Array(credits), Value::Array(cards)))
}
