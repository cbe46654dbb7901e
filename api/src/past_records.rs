//! Past-year records (往年继续教育记录): earlier years' continuing-education credits
//! that units or staff upload for an operator. They count only after association staff
//! approve them, and only for years before the current Beijing year: from the current
//! year on, only records made on the platform count.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::Datelike;
use domain::archive::Archive;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workers::archive::{self, NewEntry};

use crate::auth::allowed::{Staff, UnitAdminsAndStaff};
use crate::auth::{Allowed, Role};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::AppState;

/// Maximum credits one item earns in a year.
const MAX_CREDITS: i64 = 20;
/// The earliest year a record may be uploaded for.
const FIRST_YEAR: i64 = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/past-records", post(submit).get(list))
        .route("/api/past-records/{record_id}/decision", post(decide))
}

#[derive(Deserialize)]
pub struct PastRecord {
    operator_id: String,
    year: i64,
    item_code: String,
    credits: i64,
    source: String,
}

/// `POST /api/past-records {operator_id, year, item_code, credits, source}` (the admin
/// of the operator's current unit, or association staff): uploads one year's record for
/// review. 201.
async fn submit(State(state): State<AppState>, caller: Allowed<UnitAdminsAndStaff>, Json(request): Json<PastRecord>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let current_unit: Option<Option<String>> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1").bind(&request.operator_id).fetch_optional(&state.engine.db.pool).await?;
    let current_unit = current_unit.ok_or_else(|| ApiError::not_found("past_record.operator_not_found").field("operator_id"))?;
    let allowed = caller.role.is_staff() || (caller.role == Role::UnitAdmin && current_unit.is_some() && current_unit == caller.unit_id);
    if !allowed {
        return Err(ApiError::forbidden("auth.forbidden"));
    }
    let this_year = i64::from(state.today().year());
    if request.year >= this_year || request.year < FIRST_YEAR {
        return Err(ApiError::invalid("past_record.year_invalid").field("year").arg("first", FIRST_YEAR).arg("last", this_year - 1));
    }
    if !(0..=MAX_CREDITS).contains(&request.credits) {
        return Err(ApiError::invalid("past_record.credits_invalid").field("credits").arg("max", MAX_CREDITS));
    }
    if state.catalogue.item(&request.item_code).is_none() {
        return Err(ApiError::invalid("past_record.item_unknown").field("item_code").arg("item", &request.item_code));
    }
    let source = request.source.trim();
    if source.is_empty() {
        return Err(ApiError::invalid("past_record.source_required").field("source"));
    }

    let id = new_id();
    let submitted_by = caller.account_id.clone().unwrap_or_default();
    let inserted = sqlx::query(
        "INSERT INTO past_year_records (id, operator_id, year, item_code, credits, source, status, submitted_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
    )
    .bind(&id)
    .bind(&request.operator_id)
    .bind(request.year)
    .bind(&request.item_code)
    .bind(request.credits)
    .bind(source)
    .bind(&submitted_by)
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await;
    match inserted {
        Err(error) if workflows::db::is_unique_violation(&error) => return Err(ApiError::conflict("past_record.exists")),
        other => other?,
    };
    tracing::info!(record = %id, operator = %request.operator_id, year = request.year, item = %request.item_code, by = %submitted_by, "past-year record submitted");
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "status": "pending" }))))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

/// `GET /api/past-records?status=pending|approved|rejected` (association staff).
async fn list(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let rows = sqlx::query("SELECT id, operator_id, year, item_code, credits, source, status, submitted_by, reason FROM past_year_records WHERE status = $1 ORDER BY created_at, id")
        .bind(query.status.unwrap_or_else(|| "pending".into()))
        .fetch_all(&state.engine.db.pool)
        .await?;
    let records = rows
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "id": row.try_get::<String, _>("id")?, "operator_id": row.try_get::<String, _>("operator_id")?, "year": row.try_get::<i64, _>("year")?,
                "item_code": row.try_get::<String, _>("item_code")?, "credits": row.try_get::<i64, _>("credits")?, "source": row.try_get::<String, _>("source")?,
                "status": row.try_get::<String, _>("status")?, "submitted_by": row.try_get::<String, _>("submitted_by")?, "reason": row.try_get::<Option<String>, _>("reason")?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "records": records })))
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Approve,
    Reject,
}

#[derive(Deserialize)]
pub struct DecisionRequest {
    decision: Verdict,
    reason: String,
}

/// `POST /api/past-records/{id}/decision {decision: approve|reject, reason}`
/// (association staff). An approved record is appended to the operator's
/// continuing-education archive, where it counts for its year.
async fn decide(State(state): State<AppState>, caller: Allowed<Staff>, Path(record_id): Path<String>, Json(request): Json<DecisionRequest>) -> Result<Json<Value>, ApiError> {
    let decided_by = caller.account_id.clone().unwrap_or_default();
    let reason = request.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::invalid("past_record.reason_required").field("reason"));
    }

    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let row = sqlx::query("SELECT operator_id, year, item_code, credits, source, status FROM past_year_records WHERE id = $1")
        .bind(&record_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("past_record.not_found"))?;
    if row.try_get::<String, _>("status")? != "pending" {
        return Err(ApiError::conflict("past_record.already_decided"));
    }
    let operator_id: String = row.try_get("operator_id")?;
    let status = if request.decision == Verdict::Approve { "approved" } else { "rejected" };
    sqlx::query("UPDATE past_year_records SET status = $1, decided_by = $2, decided_at = $3, reason = $4 WHERE id = $5")
        .bind(status)
        .bind(&decided_by)
        .bind(now_ms)
        .bind(&reason)
        .bind(&record_id)
        .execute(&mut *tx)
        .await?;
    if request.decision == Verdict::Approve {
        let body = json!({
            "record_id": record_id, "year": row.try_get::<i64, _>("year")?, "item_code": row.try_get::<String, _>("item_code")?,
            "credits": row.try_get::<i64, _>("credits")?, "source": row.try_get::<String, _>("source")?,
        });
        let entry = NewEntry { recorded_by: &decided_by, reason: Some(&reason), ..NewEntry::system(&operator_id, Archive::ContinuingEducation, "past_year_record", format!("past_year_record:{record_id}"), body) };
        archive::append(&mut tx, state.engine.db.backend, entry, now_ms).await?;
    }
    tx.commit().await?;
    tracing::info!(record = %record_id, operator = %operator_id, status, by = %decided_by, "past-year record decided");
    Ok(Json(json!({ "id": record_id, "status": status })))
}
