//! Authentication: sessions, the [`Caller`] extractor and role checks.
//!
//! Operators log in with their mobile number and an SMS code ([`code`]), staff and
//! unit or institution accounts with a login and password ([`password`]). Either way
//! the server issues a random session token, stores only its SHA-256 in
//! `auth_sessions`, and returns it both in the body (for `Authorization: Bearer`) and
//! as the `certflow_session` cookie (HttpOnly, SameSite=Lax, Secure over HTTPS).
//! Institutions' servers do not use sessions: they sign each request (see
//! [`crate::institutions`]).

pub mod allowed;
pub mod attempts;
pub mod code;
pub mod password;

use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::json;
use sqlx::Row;

use crate::db::sha256_hex;
use crate::error::ApiError;
use crate::AppState;

pub use allowed::Allowed;
pub use password::{NewAccount, create_account};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "certflow_session";

/// How long a session lasts after login, by the engine clock.
pub const SESSION_HOURS: i64 = 12;

/// The role of a caller, which decides the routes it may use. Operators log in by SMS
/// code, and every other role is an account with a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Operator,
    /// Association staff with every right: units, institutions, reviews, incidents.
    AssociationAdmin,
    /// Association staff who decide review cases.
    Reviewer,
    /// An administrator of one unit (单位): its roster and its operators' progress.
    UnitAdmin,
    /// A training institution's (施教机构) staff account.
    Institution,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::AssociationAdmin => "association_admin",
            Role::Reviewer => "reviewer",
            Role::UnitAdmin => "unit_admin",
            Role::Institution => "institution",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "operator" => Some(Role::Operator),
            "association_admin" => Some(Role::AssociationAdmin),
            "reviewer" => Some(Role::Reviewer),
            "unit_admin" => Some(Role::UnitAdmin),
            "institution" => Some(Role::Institution),
            _ => None,
        }
    }

    /// Returns whether the role belongs to association staff.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::AssociationAdmin | Role::Reviewer)
    }
}

/// The authenticated caller of a request, from its session.
#[derive(Clone, Debug)]
pub struct Caller {
    pub role: Role,
    pub operator_id: Option<String>,
    pub account_id: Option<String>,
    /// The operator's current unit, or a unit admin's unit.
    pub unit_id: Option<String>,
    pub institution_id: Option<String>,
    /// SHA-256 of the session token, the `auth_sessions` key.
    pub token_hash: String,
}

impl Caller {
    /// Fails with 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            tracing::warn!(role = self.role.as_str(), "role not allowed for this route");
            Err(ApiError::forbidden("auth.forbidden"))
        }
    }

    /// Fails with 403 unless the caller is association staff.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        self.require(&[Role::AssociationAdmin, Role::Reviewer])
    }

    /// Returns the operator id, failing with 403 for any other role.
    pub fn operator_id(&self) -> Result<&str, ApiError> {
        self.require(&[Role::Operator])?;
        self.operator_id.as_deref().ok_or_else(|| ApiError::forbidden("auth.forbidden"))
    }

    /// Returns whether the caller administers unit `unit_id`.
    pub fn is_admin_of_unit(&self, unit_id: &str) -> bool {
        self.role == Role::UnitAdmin && self.unit_id.as_deref() == Some(unit_id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = session_token(&parts.headers).ok_or_else(|| ApiError::unauthenticated("auth.required"))?;
        let token_hash = sha256_hex(token.as_bytes());
        let row = sqlx::query("SELECT role, operator_id, account_id FROM auth_sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(&token_hash)
            .bind(state.now_ms())
            .fetch_optional(&state.engine.db.pool)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("auth.session_expired"))?;
        let role_text: String = row.try_get("role")?;
        let role = Role::parse(&role_text).ok_or_else(|| ApiError::unauthenticated("auth.session_expired"))?;
        let operator_id: Option<String> = row.try_get("operator_id")?;
        let account_id: Option<String> = row.try_get("account_id")?;

        let (unit_id, institution_id) = match (&operator_id, &account_id) {
            (Some(operator_id), _) => {
                let unit_id: Option<String> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1")
                    .bind(operator_id)
                    .fetch_optional(&state.engine.db.pool)
                    .await?
                    .flatten();
                (unit_id, None)
            }
            (None, Some(account_id)) => {
                let account = sqlx::query("SELECT unit_id, institution_id FROM accounts WHERE id = $1")
                    .bind(account_id)
                    .fetch_optional(&state.engine.db.pool)
                    .await?
                    .ok_or_else(|| ApiError::unauthenticated("auth.session_expired"))?;
                (account.try_get("unit_id")?, account.try_get("institution_id")?)
            }
            (None, None) => return Err(ApiError::unauthenticated("auth.session_expired")),
        };
        Ok(Caller { role, operator_id, account_id, unit_id, institution_id, token_hash })
    }
}

/// Returns the session token from `Authorization: Bearer …` or else the session cookie.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty());
    if bearer.is_some() {
        return bearer;
    }
    cookie_value(headers, SESSION_COOKIE).filter(|token| !token.is_empty())
}

/// Returns the value of cookie `name` from the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// Returns whether the request came over HTTPS, directly or through a proxy that set
/// `X-Forwarded-Proto: https`.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').next().unwrap_or("").trim().eq_ignore_ascii_case("https"))
}

/// Returns `operator:<id>` or `account:<id>` for the session in `headers`, or `None`
/// when there is no valid session. Idempotency keys are scoped by this value.
pub async fn principal_for(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(token) = session_token(headers) else { return Ok(None) };
    let row = sqlx::query("SELECT operator_id, account_id FROM auth_sessions WHERE token_hash = $1 AND expires_at > $2")
        .bind(sha256_hex(token.as_bytes()))
        .bind(state.now_ms())
        .fetch_optional(&state.engine.db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let operator_id: Option<String> = row.try_get("operator_id")?;
    let account_id: Option<String> = row.try_get("account_id")?;
    Ok(operator_id.map(|id| format!("operator:{id}")).or_else(|| account_id.map(|id| format!("account:{id}"))))
}

/// Returns the role of the valid session whose token is `token`, or `None` when it has
/// expired or never existed. Pages use it to choose their menu; routes check roles
/// through [`Caller`].
pub async fn session_role(state: &AppState, token: &str) -> Result<Option<Role>, ApiError> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM auth_sessions WHERE token_hash = $1 AND expires_at > $2")
        .bind(sha256_hex(token.as_bytes()))
        .bind(state.now_ms())
        .fetch_optional(&state.engine.db.pool)
        .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

/// A session just created: the token to hand out once and its expiry (unix ms).
pub struct IssuedSession {
    pub token: String,
    pub expires_at: i64,
}

/// Creates a session for an operator or an account.
pub async fn create_session(
    state: &AppState,
    role: Role,
    operator_id: Option<&str>,
    account_id: Option<&str>,
) -> Result<IssuedSession, ApiError> {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let now_ms = state.now_ms();
    let expires_at = now_ms + SESSION_HOURS * 3_600_000;
    sqlx::query(
        "INSERT INTO auth_sessions (token_hash, account_id, operator_id, role, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(sha256_hex(token.as_bytes()))
    .bind(account_id)
    .bind(operator_id)
    .bind(role.as_str())
    .bind(expires_at)
    .bind(now_ms)
    .execute(&state.engine.db.pool)
    .await?;
    Ok(IssuedSession { token, expires_at })
}

/// Deletes the session whose token came with a login request, so that a login rotates
/// the session id: the new token replaces the old one, which stops working at once
/// instead of staying valid until it expires.
pub async fn end_presented_session(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = session_token(headers) else { return Ok(()) };
    let ended = sqlx::query("DELETE FROM auth_sessions WHERE token_hash = $1").bind(sha256_hex(token.as_bytes())).execute(&state.engine.db.pool).await?;
    if ended.rows_affected() > 0 {
        tracing::info!("session presented at login ended");
    }
    Ok(())
}

/// Builds the `Set-Cookie` value for `token`. The cookie is `Secure` when the request
/// came over HTTPS, directly or through a proxy that set `X-Forwarded-Proto: https`,
/// so that plain-HTTP development still works.
pub fn session_cookie(request_headers: &HeaderMap, token: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if is_https(request_headers) { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&cookie).expect("a hex token makes a valid header value")
}

/// Returns a JSON response with the session cookie set.
pub fn with_session_cookie(request_headers: &HeaderMap, session: &IssuedSession, body: serde_json::Value) -> Response {
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    let cookie = session_cookie(request_headers, &session.token, SESSION_HOURS * 3600);
    response.headers_mut().insert(SET_COOKIE, cookie);
    response
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/code", post(code::request_code))
        .route("/api/auth/login", post(code::login))
        .route("/api/auth/password-login", post(password::password_login))
        .route("/api/auth/logout", post(logout))
}

/// `POST /api/auth/logout` (any session): ends the session and clears the cookie.
async fn logout(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> Result<Response, ApiError> {
    sqlx::query("DELETE FROM auth_sessions WHERE token_hash = $1")
        .bind(&caller.token_hash)
        .execute(&state.engine.db.pool)
        .await?;
    let mut response = (StatusCode::OK, axum::Json(json!({ "logged_out": true }))).into_response();
    response.headers_mut().insert(SET_COOKIE, session_cookie(&headers, "", 0));
    Ok(response)
}
