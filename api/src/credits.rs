//! Credits (学分) and credit cards (学分卡): the operator's own view per year, and the
//! public check of a card number.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workflows::clock::{beijing_date, from_millis};

use crate::auth::allowed::Operators;
use crate::auth::Allowed;
use crate::card_pdf::{SignedFields, sign, signing_key};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::workflow::context_int;
use crate::{AppState, mask};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/credits", get(my_credits))
        .route("/api/cards/{card_no}/verify", get(verify_card))
}

#[derive(Deserialize)]
struct CreditsQuery {
    year: Option<i32>,
}

/// `GET /api/credits?year=2026` (operator): credits and cards per item for the year,
/// the current Beijing year by default, and the year's approved past-year records.
async fn my_credits(State(state): State<AppState>, caller: Allowed<Operators>, Query(query): Query<CreditsQuery>) -> Result<Json<Value>, ApiError> {
    let operator_id = caller.operator_id()?;
    let year = query.year.unwrap_or_else(|| state.today().year());

    let enrollments = sqlx::query("SELECT id, item_code, instance_id FROM enrollments WHERE operator_id = $1 AND year = $2 ORDER BY item_code")
        .bind(operator_id)
        .bind(i64::from(year))
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut items = Vec::with_capacity(enrollments.len());
    for enrollment in enrollments {
        let enrollment_id: String = enrollment.try_get("id")?;
        let item_code: String = enrollment.try_get("item_code")?;
        let instance = state.engine.instance(&enrollment.try_get::<String, _>("instance_id")?).await?;

        let credit_rows = sqlx::query("SELECT course_code, attempt_id, awarded_at FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL ORDER BY course_code")
            .bind(&enrollment_id)
            .fetch_all(&state.engine.db.pool)
            .await?;
        let mut courses = Vec::with_capacity(credit_rows.len());
        for row in credit_rows {
            courses.push(json!({
                "course_code": row.try_get::<String, _>("course_code")?,
                "attempt_id": row.try_get::<String, _>("attempt_id")?,
                "awarded_at": row.try_get::<i64, _>("awarded_at")?,
            }));
        }

        // The valid card if there is one, else the latest revoked one.
        let card = sqlx::query(
            "SELECT card_no, unit_name, credits, issued_at, revoked_at, revoke_reason FROM cards
             WHERE enrollment_id = $1 ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, issued_at DESC LIMIT 1",
        )
        .bind(&enrollment_id)
        .fetch_optional(&state.engine.db.pool)
        .await?;
        let card = match card {
            Some(row) => json!({
                "card_no": row.try_get::<String, _>("card_no")?,
                "unit_name": row.try_get::<Option<String>, _>("unit_name")?,
                "credits": row.try_get::<i64, _>("credits")?,
                "issued_at": row.try_get::<i64, _>("issued_at")?,
                "revoked_at": row.try_get::<Option<i64>, _>("revoked_at")?,
                "revoke_reason": row.try_get::<Option<String>, _>("revoke_reason")?,
            }),
            None => Value::Null,
        };

        items.push(json!({
            "enrollment_id": enrollment_id,
            "item_code": item_code,
            "item_name": state.catalogue.item(&item_code).map(|item| item.name.clone()),
            "credits": courses.len(),
            "required_credits": context_int(&instance, "required_credits", 20),
            "courses": courses,
            "card": card,
        }));
    }

    // Earlier years' records count once staff approved them; they have no courses or
    // card on this platform.
    let past = sqlx::query("SELECT item_code, credits, source, decided_at FROM past_year_records WHERE operator_id = $1 AND year = $2 AND status = 'approved' ORDER BY item_code")
        .bind(operator_id)
        .bind(i64::from(year))
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut past_records = Vec::with_capacity(past.len());
    for row in past {
        let item_code: String = row.try_get("item_code")?;
        past_records.push(json!({
            "item_code": item_code,
            "item_name": state.catalogue.item(&item_code).map(|item| item.name.clone()),
            "credits": row.try_get::<i64, _>("credits")?,
            "source": row.try_get::<String, _>("source")?,
            "approved_at": row.try_get::<Option<i64>, _>("decided_at")?,
        }));
    }
    Ok(Json(json!({ "year": year, "items": items, "past_records": past_records })))
}

#[derive(Deserialize)]
pub(crate) struct VerifyQuery {
    /// The signature from a card's printed link.
    s: Option<String>,
}

/// `GET /api/cards/{card_no}/verify?s=…` (public): whether a card is valid, with the
/// holder's name masked, and whether the signature `s` from the card's link matches
/// (`signature`: `valid`, `invalid` or `absent`).
#[utoipa::path(
    get,
    path = "/api/cards/{card_no}/verify",
    tag = "regulator",
    params(
        ("card_no" = String, Path, description = "学分卡编号 / credit card number"),
        ("s" = Option<String>, Query, description = "卡面二维码链接中的签名 / signature from the card's QR link"),
    ),
    responses(
        (status = 200, description = "The card, whether it is valid, and the holder's masked name", body = serde_json::Value),
        (status = 404, description = "No card has this number", body = crate::openapi::ErrorResponse),
    )
)]
pub(crate) async fn verify_card(State(state): State<AppState>, Path(card_no): Path<String>, Query(query): Query<VerifyQuery>) -> Result<Json<Value>, ApiError> {
    let row = sqlx::query(
        "SELECT c.card_no, c.year, c.item_code, c.unit_name, c.credits, c.issued_at, c.revoked_at, o.name
         FROM cards c JOIN operators o ON o.id = c.operator_id WHERE c.card_no = $1",
    )
    .bind(card_no.trim())
    .fetch_optional(&state.engine.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("card.not_found"))?;

    let item_code: String = row.try_get("item_code")?;
    let issued_at: i64 = row.try_get("issued_at")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let card_no: String = row.try_get("card_no")?;
    let year: i64 = row.try_get("year")?;
    let credits: i64 = row.try_get("credits")?;
    let issued_on = beijing_date(from_millis(issued_at)).to_string();

    // The signature of a printed card's link, when the check came from its QR code.
    let signature = match query.s.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => "absent",
        Some(given) => {
            let key = signing_key(&state).await?;
            let expected = sign(&key, &SignedFields { card_no: &card_no, year, item_code: &item_code, credits, issued_on: &issued_on });
            if given.eq_ignore_ascii_case(&expected) { "valid" } else { "invalid" }
        }
    };
    if signature == "invalid" {
        tracing::warn!(card = %card_no, "card check with a wrong signature");
    }
    Ok(Json(json!({
        "card_no": card_no,
        "signature": signature,
        "valid": revoked_at.is_none(),
        "revoked": revoked_at.is_some(),
        "revoked_on": revoked_at.map(|at| beijing_date(from_millis(at)).to_string()),
        "holder": mask::name(&row.try_get::<Option<String>, _>("name")?.unwrap_or_default()),
        "year": year,
        "item_code": item_code,
        "item_name": state.catalogue.item(&item_code).map(|item| item.name.clone()),
        "credits": credits,
        "unit_name": row.try_get::<Option<String>, _>("unit_name")?,
        "issued_on": issued_on,
    })))
}
