//! The certificates (作业人员证) an operator holds, as the workers pulled them from the
//! provincial platform. The operator sees each with the date by which review (复审) must
//! be applied for, and the items they cover that are open for enrollment, which the
//! enrollment form offers first.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::{Months, NaiveDate};
use serde_json::{Value, json};
use sqlx::Row;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/operator/certificates", get(certificates))
}

/// `GET /api/operator/certificates` (operator): cached certificates, newest expiry first,
/// the last pull's time and status, and the enrollable items they cover.
#[utoipa::path(
    get,
    path = "/api/operator/certificates",
    tag = "operator",
    responses(
        (status = 200, description = "Cached certificates with review dates, the last pull, and enrollable items", body = serde_json::Value),
        (status = 403, description = "Caller is not an operator", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn certificates(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let operator_id = caller.operator_id()?;
    let pool = &state.engine.db.pool;
    let today = state.today();

    // Step 1: the cached certificates.
    let rows = sqlx::query("SELECT certificate_no, item_code, issued_on, expires_on FROM operator_certificates WHERE operator_id = $1 ORDER BY expires_on DESC, certificate_no")
        .bind(operator_id)
        .fetch_all(pool)
        .await?;
    let mut certificates = Vec::new();
    let mut enrollable: Vec<Value> = Vec::new();
    for row in rows {
        let item_code: String = row.try_get(1)?;
        let expires_on: String = row.try_get(3)?;
        let expiry = NaiveDate::parse_from_str(&expires_on, "%Y-%m-%d").ok();
        // TSG Z6001-2019: apply for review at least 1 month before the certificate expires.
        let review_apply_by = expiry.and_then(|date| date.checked_sub_months(Months::new(1)));
        let item = state.catalogue.item(&item_code);
        certificates.push(json!({
            "certificate_no": row.try_get::<String, _>(0)?,
            "item_code": item_code,
            "item_name": item.map(|item| item.name.clone()),
            "issued_on": row.try_get::<String, _>(2)?,
            "expires_on": expires_on,
            "expired": expiry.is_some_and(|date| date < today),
            "review_apply_by": review_apply_by.map(|date| date.to_string()),
        }));
        if let Some(code) = item.filter(|item| item.trial).and_then(|item| item.code.clone()) {
            if !enrollable.iter().any(|known| known["item_code"] == code.as_str()) {
                enrollable.push(json!({ "item_code": code, "item_name": item.map(|item| item.name.clone()) }));
            }
        }
    }

    // Step 2: when the cache was last refreshed.
    let pull = sqlx::query("SELECT pulled_at, status FROM certificate_pulls WHERE operator_id = $1").bind(operator_id).fetch_optional(pool).await?;
    let (pulled_at, pull_status) = match pull {
        Some(row) => (Some(row.try_get::<i64, _>(0)?), Some(row.try_get::<String, _>(1)?)),
        None => (None, None),
    };
    Ok(Json(json!({
        "certificates": certificates,
        "pulled_at": pulled_at,
        "pull_status": pull_status,
        "enrollable_items": enrollable,
    })))
}
