//! Confirming a change request: checking its codes and making the change in one
//! transaction.

use domain::archive::Archive;
use serde_json::{Value, json};
use sqlx::Row;
use workers::archive::{self, NewEntry};
use workflows::db::is_unique_violation;
use workflows::runtime::instance::subject_key;
use workflows::runtime::{EngineError, EventIn, Rekey};

use super::request::mobile_change_instance;
use super::ChangeKind;
use crate::auth::code::{self, CodePurpose};
use crate::db::new_id;
use crate::error::ApiError;
use crate::operator::load_operator;
use crate::workflow::{self, REGISTRATION};
use crate::{AppState, mask};

/// A stored request that has not been confirmed yet.
pub struct PendingRequest {
    pub id: String,
    pub operator_id: String,
    pub new_mobile: String,
    pub kind: ChangeKind,
    pub reason: Option<String>,
    pub requested_by: String,
    pub old_code_id: Option<String>,
    pub new_code_id: String,
}

/// Loads open request `request_id` of operator `operator_id` and kind `kind`: 404 when
/// there is none (another operator's or another kind's looks the same), 409 when it
/// was confirmed already, 400 naming `request_id` when it has expired.
pub async fn load_pending(state: &AppState, request_id: &str, operator_id: &str, kind: ChangeKind) -> Result<PendingRequest, ApiError> {
    let row = sqlx::query(
        "SELECT id, operator_id, new_mobile, kind, reason, requested_by, old_code_id, new_code_id, expires_at, completed_at
         FROM mobile_change_requests WHERE id = $1 AND operator_id = $2 AND kind = $3",
    )
    .bind(request_id)
    .bind(operator_id)
    .bind(kind.as_str())
    .fetch_optional(&state.engine.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("mobile_change.request_not_found"))?;
    if row.try_get::<Option<i64>, _>("completed_at")?.is_some() {
        return Err(ApiError::conflict("mobile_change.request_completed"));
    }
    if row.try_get::<i64, _>("expires_at")? <= state.now_ms() {
        return Err(ApiError::invalid("mobile_change.request_expired").field("request_id"));
    }
    Ok(PendingRequest {
        id: row.try_get("id")?,
        operator_id: row.try_get("operator_id")?,
        new_mobile: row.try_get("new_mobile")?,
        kind,
        reason: row.try_get("reason")?,
        requested_by: row.try_get("requested_by")?,
        old_code_id: row.try_get("old_code_id")?,
        new_code_id: row.try_get("new_code_id")?,
    })
}

/// The codes the confirming person typed.
pub struct Codes<'a> {
    pub new_code: &'a str,
    /// Required when the request has a code for the old number.
    pub old_code: Option<&'a str>,
}

/// Checks the request's codes and makes the change, by `changed_by` (`operator:<id>`
/// or an account id). Sessions of the operator end, except `keep_session` (the token
/// hash of the operator's own request). Returns the response body.
pub async fn confirm(state: &AppState, request: &PendingRequest, codes: Codes<'_>, changed_by: &str, keep_session: Option<&str>) -> Result<Value, ApiError> {
    let operator = load_operator(state, &request.operator_id).await?;
    let old_mobile = operator.mobile.clone();

    // Step 1: both codes must be right before either is spent, and each must be the
    // latest of its number: a newer request replaces this one.
    let new_code_id = code::check_code(state, &request.new_mobile, CodePurpose::MobileChangeNew, codes.new_code, "new_code").await?;
    if new_code_id != request.new_code_id {
        return Err(ApiError::conflict("mobile_change.request_replaced"));
    }
    if let Some(expected) = &request.old_code_id {
        let typed = codes.old_code.unwrap_or_default();
        if typed.trim().is_empty() {
            return Err(ApiError::invalid("mobile_change.old_code_required").field("old_code"));
        }
        let old_code_id = code::check_code(state, &old_mobile, CodePurpose::MobileChangeOld, typed, "old_code").await?;
        if &old_code_id != expected {
            return Err(ApiError::conflict("mobile_change.request_replaced"));
        }
    }

    // Step 2: the notice to the old number is recorded with the change and sent after
    // the commit; its instance must exist before the transaction.
    let notice_instance = mobile_change_instance(state, &old_mobile).await?;
    let notice = EventIn::new(format!("mobile_changed:{}", request.id), "mobile_changed").with("new_mobile_masked", mask::mobile(&request.new_mobile));

    // Step 3: the change, in one transaction.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let moved = sqlx::query("UPDATE operators SET mobile = $1, updated_at = $2 WHERE id = $3 AND mobile = $4")
        .bind(&request.new_mobile)
        .bind(now_ms)
        .bind(&operator.id)
        .bind(&old_mobile)
        .execute(&mut *tx)
        .await;
    match moved {
        Err(error) if is_unique_violation(&error) => {
            return Err(ApiError::conflict("mobile_change.mobile_taken").field("new_mobile").arg("mobile", mask::mobile(&request.new_mobile)));
        }
        Err(error) => return Err(error.into()),
        Ok(result) if result.rows_affected() == 0 => return Err(ApiError::conflict("mobile_change.request_replaced")),
        Ok(_) => {}
    }

    let new_subject = [("mobile", request.new_mobile.clone())];
    let rekey = Rekey {
        definition_id: REGISTRATION,
        old_key: &subject_key(&[("mobile", old_mobile.clone())]),
        new_subject: &new_subject,
        by: changed_by,
        reason: request.reason.as_deref().unwrap_or(request.kind.as_str()),
    };
    match state.engine.rekey_instance(&mut tx, &rekey).await {
        Ok(_) => {}
        Err(EngineError::SubjectTaken(_)) => {
            return Err(ApiError::conflict("mobile_change.mobile_registered").field("new_mobile").arg("mobile", mask::mobile(&request.new_mobile)));
        }
        Err(error) => return Err(error.into()),
    }

    let code_ids = std::iter::once(&request.new_code_id).chain(request.old_code_id.as_ref());
    for code_id in code_ids {
        if !code::use_code(&mut *tx, code_id, now_ms).await? {
            return Err(ApiError::conflict("mobile_change.request_completed"));
        }
    }
    let completed = sqlx::query("UPDATE mobile_change_requests SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL")
        .bind(now_ms)
        .bind(&request.id)
        .execute(&mut *tx)
        .await?;
    if completed.rows_affected() == 0 {
        return Err(ApiError::conflict("mobile_change.request_completed"));
    }

    let old_masked = mask::mobile(&old_mobile);
    let new_masked = mask::mobile(&request.new_mobile);
    sqlx::query(
        "INSERT INTO mobile_changes (id, operator_id, request_id, kind, old_mobile_masked, new_mobile_masked, reason, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(&operator.id)
    .bind(&request.id)
    .bind(request.kind.as_str())
    .bind(&old_masked)
    .bind(&new_masked)
    .bind(request.reason.as_deref())
    .bind(changed_by)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;

    let body = json!({ "old_mobile": old_masked, "new_mobile": new_masked, "change_kind": request.kind.as_str() });
    let entry = NewEntry {
        recorded_by: changed_by,
        reason: request.reason.as_deref(),
        ..NewEntry::system(&operator.id, Archive::ContinuingEducation, "mobile_changed", format!("mobile_changed:{}", request.id), body)
    };
    archive::append(&mut tx, state.engine.db.backend, entry, now_ms).await?;

    let ended = sqlx::query("DELETE FROM auth_sessions WHERE operator_id = $1 AND token_hash <> $2")
        .bind(&operator.id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
    let event_ids = workflow::record_all(&mut tx, &[(notice_instance, notice)], now_ms).await?;
    tx.commit().await?;
    workflow::deliver_recorded(state, &event_ids).await;

    tracing::info!(
        request = %request.id, operator = %operator.id, kind = request.kind.as_str(), old_mobile = %old_masked, new_mobile = %new_masked,
        by = %changed_by, sessions_ended = ended.rows_affected(), "mobile number changed"
    );
    Ok(json!({
        "changed": true,
        "operator_id": operator.id,
        "kind": request.kind.as_str(),
        "old_mobile_masked": old_masked,
        "new_mobile_masked": new_masked,
        "sessions_ended": ended.rows_affected(),
        "changed_at": now_ms,
    }))
}
