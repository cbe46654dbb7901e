//! The credit card (学分卡): issued once the year's credits reach the requirement; at
//! most one valid card per operator, year and item (a unique index enforces it), and a
//! revoked card may later be followed by a new one.

use domain::archive::Archive;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use workflows::runtime::outbox::OutboxEntry;

use crate::actions::ActionError;
use crate::archive::{self, NewEntry};
use crate::records;
use crate::services::Services;

pub async fn issue_card(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let enrollment = records::enrollment_of_instance(pool, &entry.instance_id).await?.ok_or_else(|| ActionError::rejected("instance has no enrollment"))?;
    let required = entry.action.pointer("/context/required_credits").and_then(Value::as_i64).unwrap_or(20);
    let credits = records::credit_count(pool, &enrollment.id).await?;
    if credits < required {
        return Err(ActionError::rejected(format!("{credits} credits are fewer than the {required} required")));
    }

    let existing: Option<String> = sqlx::query_scalar("SELECT card_no FROM cards WHERE operator_id = $1 AND year = $2 AND item_code = $3 AND revoked_at IS NULL")
        .bind(&enrollment.operator_id)
        .bind(enrollment.year)
        .bind(&enrollment.item_code)
        .fetch_optional(pool)
        .await?;
    if let Some(card_no) = existing {
        return Ok(json!({ "card_no": card_no, "repeat": true }));
    }

    // The card number is derived from the outbox entry, so a repeated run computes the
    // same number and the unique index keeps one row.
    let issued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE operator_id = $1 AND year = $2 AND item_code = $3")
        .bind(&enrollment.operator_id)
        .bind(enrollment.year)
        .bind(&enrollment.item_code)
        .fetch_one(pool)
        .await?;
    let digest = hex::encode(Sha256::digest(entry.id.as_bytes())).to_uppercase();
    let card_no = format!("XF{}{}{}{:02}", enrollment.year, enrollment.item_code, &digest[..8], issued + 1);
    let unit_name: Option<String> = sqlx::query_scalar("SELECT u.name FROM operators o JOIN units u ON u.id = o.unit_id WHERE o.id = $1")
        .bind(&enrollment.operator_id)
        .fetch_optional(pool)
        .await?;

    let now_ms = services.engine.now_ms();
    let mut tx = services.engine.db.begin_write().await?;
    let result = sqlx::query(
        "INSERT INTO cards (id, card_no, operator_id, enrollment_id, year, item_code, unit_name, credits, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&card_no)
    .bind(&enrollment.operator_id)
    .bind(&enrollment.id)
    .bind(enrollment.year)
    .bind(&enrollment.item_code)
    .bind(&unit_name)
    .bind(credits)
    .bind(now_ms)
    .execute(&mut *tx)
    .await;
    match result {
        Ok(_) => {
            let body = json!({ "card_no": card_no, "year": enrollment.year, "item_code": enrollment.item_code, "unit_name": unit_name, "credits": credits });
            let entry = NewEntry::system(&enrollment.operator_id, Archive::ContinuingEducation, "card_issued", format!("card_issued:{card_no}"), body);
            archive::append(&mut tx, services.engine.db.backend, entry, now_ms).await?;
            tx.commit().await?;
            tracing::info!(card = %card_no, enrollment = %enrollment.id, "credit card issued");
            Ok(json!({ "card_no": card_no }))
        }
        Err(error) if workflows::db::is_unique_violation(&error) => Ok(json!({ "repeat": true })),
        Err(error) => Err(error.into()),
    }
}

pub async fn revoke_card(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let enrollment = records::enrollment_of_instance(pool, &entry.instance_id).await?.ok_or_else(|| ActionError::rejected("instance has no enrollment"))?;
    let reason = super::payload_str(entry, "reason").unwrap_or("credits withdrawn");
    let now_ms = services.engine.now_ms();
    let mut tx = services.engine.db.begin_write().await?;
    let valid: Vec<String> = sqlx::query_scalar("SELECT card_no FROM cards WHERE operator_id = $1 AND year = $2 AND item_code = $3 AND revoked_at IS NULL")
        .bind(&enrollment.operator_id)
        .bind(enrollment.year)
        .bind(&enrollment.item_code)
        .fetch_all(&mut *tx)
        .await?;
    for card_no in &valid {
        sqlx::query("UPDATE cards SET revoked_at = $1, revoke_reason = $2 WHERE card_no = $3").bind(now_ms).bind(reason).bind(card_no).execute(&mut *tx).await?;
        let body = json!({ "card_no": card_no, "year": enrollment.year, "item_code": enrollment.item_code, "reason": reason });
        let entry = NewEntry::system(&enrollment.operator_id, Archive::ContinuingEducation, "card_revoked", format!("card_revoked:{card_no}"), body);
        archive::append(&mut tx, services.engine.db.backend, entry, now_ms).await?;
    }
    tx.commit().await?;
    tracing::info!(enrollment = %enrollment.id, revoked = valid.len(), "credit card revoked");
    Ok(json!({ "revoked": valid.len() }))
}
