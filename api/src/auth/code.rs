//! Operator login by mobile number and SMS code.
//!
//! A code request stores the SHA-256 of a 6-digit code in `login_codes` and sends
//! `code_requested` to the mobile's `registration` instance. The notify worker texts
//! the code from that event's `secret_code`, and the engine keeps `secret_*` fields out
//! of history. The response never contains the code.
//!
//! [`issue_code`] and [`check_code`] also serve mobile changes
//! ([`crate::mobile_change`]), with their own [`CodePurpose`] and the same expiry,
//! attempt limit and per-number rate limits.
//!
//! The first successful login of an unknown mobile creates an `operators` row with
//! status `visitor`, so that the session has an operator from the start; registration
//! fills in name and ID number later. A person that a unit roster created
//! (`pre_registered`) is matched by mobile and goes straight to info completion.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use sqlx::{Any, Row, Transaction};
use workflows::clock::{beijing_date, beijing_midnight};
use workflows::db::is_unique_violation;
use workflows::runtime::EventIn;

use super::{Role, create_session, with_session_cookie};
use crate::db::{lock_key, new_id, sha256_hex};
use crate::error::ApiError;
use crate::extract::Json;
use crate::workflow::{self, registration_instance};
use crate::{AppState, mask};

/// Minutes a login code stays valid.
pub const CODE_MINUTES: i64 = 5;
/// Minimum seconds between two code requests for one mobile.
pub const CODE_INTERVAL_SECS: i64 = 60;
/// Maximum code requests per mobile and Beijing calendar day.
pub const CODES_PER_DAY: i64 = 10;
/// Wrong entries after which a code is void.
pub const MAX_CODE_FAILURES: i64 = 5;

#[derive(Deserialize)]
pub struct CodeRequest {
    mobile: String,
}

/// The purpose a code is issued for. A code of one purpose never passes the check of
/// another. The rate limits of a number count its codes of every purpose, so a change
/// request cannot text a number more often than login code requests can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePurpose {
    Login,
    /// Sent to the current number: its holder confirms a mobile change.
    MobileChangeOld,
    /// Sent to the new number: it proves the number reaches the operator.
    MobileChangeNew,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Login => "login",
            CodePurpose::MobileChangeOld => "mobile_change_old",
            CodePurpose::MobileChangeNew => "mobile_change_new",
        }
    }
}

/// A code just stored: its row id (the idempotency key of its SMS) and the digits to send.
pub struct IssuedCode {
    pub id: String,
    pub code: String,
}

/// `POST /api/auth/code {mobile}` (public): sends a login code by SMS. 202 `{sent: true}`.
pub async fn request_code(State(state): State<AppState>, Json(request): Json<CodeRequest>) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let mobile = domain::identity::normalize_mobile(&request.mobile)?.as_str().to_string();
    let mut tx = state.engine.db.begin_write().await?;
    let issued = issue_code(&state, &mut tx, &mobile, CodePurpose::Login).await?;
    tx.commit().await?;

    // The SMS leaves through the registration instance's outbox. The code row id is
    // the event id, so a repeated send of this request cannot text the code twice.
    let instance = registration_instance(&state, &mobile).await?;
    let event = EventIn::new(&issued.id, "code_requested").with("secret_code", issued.code).with("minutes", CODE_MINUTES);
    workflow::send(&state, &instance.id, event).await?;
    tracing::info!(mobile = %mask::mobile(&mobile), instance = %instance.id, "login code requested");

    Ok((StatusCode::ACCEPTED, Json(json!({ "sent": true, "expires_in_seconds": CODE_MINUTES * 60 }))))
}

/// Checks the per-number rate limits of `mobile` and stores a new code for `purpose` in
/// `tx`, serialized per number so that parallel requests cannot both pass the limits.
/// The caller commits `tx` and then sends the code.
pub async fn issue_code(state: &AppState, tx: &mut Transaction<'static, Any>, mobile: &str, purpose: CodePurpose) -> Result<IssuedCode, ApiError> {
    let now = state.now();
    let now_ms = now.timestamp_millis();
    lock_key(tx, state.engine.db.backend, &format!("login_code:{mobile}")).await?;

    let last_at: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM login_codes WHERE mobile = $1")
        .bind(mobile)
        .fetch_one(&mut **tx)
        .await?;
    if let Some(last_at) = last_at {
        let wait_secs = CODE_INTERVAL_SECS - (now_ms - last_at) / 1000;
        if wait_secs > 0 {
            return Err(ApiError::rate_limited("login_code.too_soon", wait_secs).arg("seconds", wait_secs));
        }
    }
    let today = beijing_date(now);
    let day_start = beijing_midnight(today).timestamp_millis();
    let sent_today: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM login_codes WHERE mobile = $1 AND created_at >= $2")
        .bind(mobile)
        .bind(day_start)
        .fetch_one(&mut **tx)
        .await?;
    if sent_today >= CODES_PER_DAY {
        let next_day_start = beijing_midnight(today + Duration::days(1)).timestamp_millis();
        return Err(ApiError::rate_limited("login_code.daily_limit", (next_day_start - now_ms) / 1000).arg("max", CODES_PER_DAY));
    }

    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let id = new_id();
    sqlx::query(
        "INSERT INTO login_codes (id, mobile, code_hash, expires_at, failures, used_at, created_at, purpose)
         VALUES ($1, $2, $3, $4, 0, NULL, $5, $6)",
    )
    .bind(&id)
    .bind(mobile)
    .bind(code_hash(&id, &code))
    .bind(now_ms + CODE_MINUTES * 60_000)
    .bind(now_ms)
    .bind(purpose.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(IssuedCode { id, code })
}

/// Returns the stored hash of `code`, salted with the code row's id.
fn code_hash(code_id: &str, code: &str) -> String {
    sha256_hex(format!("{code_id}:{code}").as_bytes())
}

/// Checks `code` against the latest unused code of `mobile` for `purpose` and returns
/// that code's row id; errors name `field`. A wrong entry counts towards
/// [`MAX_CODE_FAILURES`] and a right one does not. The code stays unused until the
/// caller marks it with [`use_code`], so a request that needs two codes can check both
/// before spending either.
pub async fn check_code(state: &AppState, mobile: &str, purpose: CodePurpose, code: &str, field: &'static str) -> Result<String, ApiError> {
    let code = code.trim();
    let now_ms = state.now_ms();
    let pool = &state.engine.db.pool;

    // Step 1: find the latest unused code of this number and purpose.
    let row = sqlx::query(
        "SELECT id, code_hash, expires_at FROM login_codes WHERE mobile = $1 AND purpose = $2 AND used_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(mobile)
    .bind(purpose.as_str())
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::invalid("login.code_missing").field(field))?;
    let code_id: String = row.try_get("id")?;
    let stored_hash: String = row.try_get("code_hash")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if expires_at <= now_ms {
        return Err(ApiError::invalid("login.code_expired").field(field));
    }

    // Step 2: count this try before comparing. The update is atomic, so parallel
    // guesses cannot exceed the limit; a correct code gives its try back below.
    let counted = sqlx::query("UPDATE login_codes SET failures = failures + 1 WHERE id = $1 AND failures < $2 AND used_at IS NULL")
        .bind(&code_id)
        .bind(MAX_CODE_FAILURES)
        .execute(pool)
        .await?;
    if counted.rows_affected() == 0 {
        return Err(ApiError::invalid("login.code_locked").field(field));
    }
    if code_hash(&code_id, code) != stored_hash {
        let failures: i64 = sqlx::query_scalar("SELECT failures FROM login_codes WHERE id = $1").bind(&code_id).fetch_one(pool).await?;
        tracing::warn!(mobile = %mask::mobile(mobile), purpose = purpose.as_str(), failures, "wrong code");
        let remaining = MAX_CODE_FAILURES - failures;
        if remaining <= 0 {
            return Err(ApiError::invalid("login.code_locked").field(field));
        }
        return Err(ApiError::invalid("login.code_wrong").field(field).arg("remaining", remaining));
    }
    sqlx::query("UPDATE login_codes SET failures = failures - 1 WHERE id = $1").bind(&code_id).execute(pool).await?;
    Ok(code_id)
}

/// Marks code `code_id` used; returns `false` when a parallel request used it first.
pub async fn use_code<'e, E: sqlx::Executor<'e, Database = Any>>(executor: E, code_id: &str, now_ms: i64) -> Result<bool, ApiError> {
    let used = sqlx::query("UPDATE login_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL").bind(now_ms).bind(code_id).execute(executor).await?;
    Ok(used.rows_affected() > 0)
}

#[derive(Deserialize)]
pub struct LoginRequest {
    mobile: String,
    code: String,
}

/// `POST /api/auth/login {mobile, code}` (public): checks the latest code of the
/// mobile and logs the operator in. The response's `next` names the page that comes
/// next: `register`, `complete_info` or `home`.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, Json(request): Json<LoginRequest>) -> Result<Response, ApiError> {
    let mobile = domain::identity::normalize_mobile(&request.mobile)?.as_str().to_string();
    // Step 1: check the code and spend it.
    let code_id = check_code(&state, &mobile, CodePurpose::Login, &request.code, "code").await?;
    if !use_code(&state.engine.db.pool, &code_id, state.now_ms()).await? {
        return Err(ApiError::invalid("login.code_missing").field("code"));
    }

    // Step 2: find or create the operator, and move a roster-created person on.
    let (operator_id, status) = find_or_create_operator(&state, &mobile).await?;
    if status == "pre_registered" {
        let instance = registration_instance(&state, &mobile).await?;
        if instance.state == "visitor" {
            let event = EventIn::new(format!("roster_matched:{operator_id}"), "roster_matched");
            workflow::send(&state, &instance.id, event).await?;
        }
    }

    // Step 3: open a fresh session; one presented with the request ends.
    super::end_presented_session(&state, &headers).await?;
    let session = create_session(&state, Role::Operator, Some(&operator_id), None).await?;
    tracing::info!(operator = %operator_id, mobile = %mask::mobile(&mobile), status = %status, "operator logged in");
    let body = json!({
        "token": session.token,
        "expires_at": session.expires_at,
        "role": Role::Operator.as_str(),
        "operator_id": operator_id,
        "status": status,
        "next": next_step(&status),
    });
    Ok(with_session_cookie(&headers, &session, body))
}

/// Returns the page an operator with `status` goes to next.
pub fn next_step(status: &str) -> &'static str {
    match status {
        "visitor" => "register",
        "pre_registered" | "registered" => "complete_info",
        _ => "home",
    }
}

/// Returns the id and status of the operator with `mobile`, creating a `visitor` row
/// on the first login of an unknown number.
async fn find_or_create_operator(state: &AppState, mobile: &str) -> Result<(String, String), ApiError> {
    let select = || sqlx::query("SELECT id, status FROM operators WHERE mobile = $1").bind(mobile.to_string());
    if let Some(row) = select().fetch_optional(&state.engine.db.pool).await? {
        return Ok((row.try_get("id")?, row.try_get("status")?));
    }

    let id = new_id();
    let now_ms = state.now_ms();
    let inserted = sqlx::query("INSERT INTO operators (id, mobile, status, created_at, updated_at) VALUES ($1, $2, 'visitor', $3, $3)")
        .bind(&id)
        .bind(mobile)
        .bind(now_ms)
        .execute(&state.engine.db.pool)
        .await;
    match inserted {
        Ok(_) => {
            tracing::info!(operator = %id, mobile = %mask::mobile(mobile), "visitor operator created at first login");
            Ok((id, "visitor".to_string()))
        }
        // A parallel first login of the same number created the row first.
        Err(error) if is_unique_violation(&error) => {
            let row = select().fetch_one(&state.engine.db.pool).await?;
            Ok((row.try_get("id")?, row.try_get("status")?))
        }
        Err(error) => Err(error.into()),
    }
}
