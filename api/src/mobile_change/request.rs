//! Opening a change request: checking the new number, storing the request with its
//! codes, and texting the codes.

use serde_json::{Value, json};
use workflows::runtime::EventIn;
use workflows::runtime::instance::subject_key;

use super::{ChangeKind, MOBILE_CHANGE};
use crate::auth::code::{self, CODE_MINUTES, CodePurpose, IssuedCode};
use crate::db::new_id;
use crate::error::ApiError;
use crate::operator::OperatorRecord;
use crate::workflow::{self, REGISTRATION};
use crate::{AppState, mask};

/// A change request about to be opened.
pub struct NewRequest<'a> {
    pub operator: &'a OperatorRecord,
    /// As typed; normalized here.
    pub new_mobile: &'a str,
    pub kind: ChangeKind,
    pub reason: Option<&'a str>,
    /// `operator:<id>` or the admin's account id.
    pub requested_by: &'a str,
}

/// Returns `new_mobile` normalized, or an error on the field `new_mobile` when the
/// number is invalid, the current one, another operator's, or has a registration of
/// its own.
pub async fn check_new_mobile(state: &AppState, operator: &OperatorRecord, new_mobile: &str) -> Result<String, ApiError> {
    let mobile = domain::identity::normalize_mobile(new_mobile)
        .map_err(|_| ApiError::invalid("mobile_change.new_mobile_invalid").field("new_mobile").arg("value", new_mobile.trim()))?
        .as_str()
        .to_string();
    if mobile == operator.mobile {
        return Err(ApiError::invalid("mobile_change.same_number").field("new_mobile"));
    }
    let owner: Option<String> = sqlx::query_scalar("SELECT id FROM operators WHERE mobile = $1").bind(&mobile).fetch_optional(&state.engine.db.pool).await?;
    if owner.is_some() {
        return Err(ApiError::conflict("mobile_change.mobile_taken").field("new_mobile").arg("mobile", mask::mobile(&mobile)));
    }
    if state.engine.find_instance(REGISTRATION, &subject_key(&[("mobile", mobile.clone())])).await?.is_some() {
        return Err(ApiError::conflict("mobile_change.mobile_registered").field("new_mobile").arg("mobile", mask::mobile(&mobile)));
    }
    Ok(mobile)
}

/// Opens the request: checks the new number, stores a code for it (and, for the
/// operator's own request, one for the current number) with the request row in one
/// transaction, then texts the codes. Returns the response body (202).
pub async fn open(state: &AppState, new: NewRequest<'_>) -> Result<Value, ApiError> {
    let operator = new.operator;
    let new_mobile = check_new_mobile(state, operator, new.new_mobile).await?;
    let reason = new.reason.map(str::trim).filter(|reason| !reason.is_empty());
    if new.kind != ChangeKind::SelfService && reason.is_none() {
        return Err(ApiError::invalid("mobile_change.reason_required").field("reason"));
    }
    let with_old = new.kind == ChangeKind::SelfService;

    // The per-number locks are taken in number order, so two requests that swap two
    // numbers cannot wait on each other.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let (new_code, old_code) = if with_old && operator.mobile < new_mobile {
        let old_code = code::issue_code(state, &mut tx, &operator.mobile, CodePurpose::MobileChangeOld).await?;
        (code::issue_code(state, &mut tx, &new_mobile, CodePurpose::MobileChangeNew).await?, Some(old_code))
    } else {
        let new_code = code::issue_code(state, &mut tx, &new_mobile, CodePurpose::MobileChangeNew).await?;
        let old_code = if with_old { Some(code::issue_code(state, &mut tx, &operator.mobile, CodePurpose::MobileChangeOld).await?) } else { None };
        (new_code, old_code)
    };
    let request_id = new_id();
    sqlx::query(
        "INSERT INTO mobile_change_requests (id, operator_id, new_mobile, kind, reason, requested_by, old_code_id, new_code_id, expires_at, completed_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)",
    )
    .bind(&request_id)
    .bind(&operator.id)
    .bind(&new_mobile)
    .bind(new.kind.as_str())
    .bind(reason)
    .bind(new.requested_by)
    .bind(old_code.as_ref().map(|code| code.id.clone()))
    .bind(&new_code.id)
    .bind(now_ms + CODE_MINUTES * 60_000)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    send_code(state, &new_mobile, "new_number_code", new_code).await?;
    if let Some(old_code) = old_code {
        send_code(state, &operator.mobile, "old_number_code", old_code).await?;
    }
    tracing::info!(request = %request_id, operator = %operator.id, kind = new.kind.as_str(), new_mobile = %mask::mobile(&new_mobile), by = %new.requested_by, "mobile change requested");
    Ok(json!({
        "request_id": request_id,
        "kind": new.kind.as_str(),
        "expires_in_seconds": CODE_MINUTES * 60,
        "new_mobile_masked": mask::mobile(&new_mobile),
        "old_mobile_masked": mask::mobile(&operator.mobile),
        "old_code_sent": with_old,
    }))
}

/// Texts `code` to `mobile` through that number's `mobile_change` instance. The code
/// row id is the event id, so a repeated send cannot text it twice.
async fn send_code(state: &AppState, mobile: &str, event: &str, code: IssuedCode) -> Result<(), ApiError> {
    let instance = mobile_change_instance(state, mobile).await?;
    let event = EventIn::new(&code.id, event).with("secret_code", code.code).with("minutes", CODE_MINUTES);
    workflow::send(state, &instance, event).await?;
    Ok(())
}

/// Starts (or finds) the `mobile_change` instance of `mobile`; returns its id.
pub async fn mobile_change_instance(state: &AppState, mobile: &str) -> Result<String, ApiError> {
    Ok(state.engine.start(MOBILE_CHANGE, &[("mobile", mobile.to_string())], Default::default()).await?.id)
}
