//! Accounts with a login and password: association staff, unit admins and institution
//! staff. Passwords are stored as argon2id PHC strings.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;
use workflows::db::{Db, is_unique_violation};

use super::{Role, create_session, with_session_cookie};
use crate::db::{Tx, new_id};
use crate::error::ApiError;
use crate::extract::Json;
use crate::AppState;

/// Minimum password length in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// An account to create.
#[derive(Clone, Debug)]
pub struct NewAccount<'a> {
    /// Any role but [`Role::Operator`].
    pub role: Role,
    pub login: &'a str,
    pub password: &'a str,
    pub display_name: &'a str,
    /// Required for [`Role::UnitAdmin`].
    pub unit_id: Option<&'a str>,
    /// Required for [`Role::Institution`].
    pub institution_id: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// Creates an account and returns its id. The CLI's `certflow admin create` calls this.
///
/// Fails when a value is invalid, the login is taken, or the unit or institution does
/// not exist. `now_ms` is the creation instant in unix milliseconds.
pub async fn create_account(db: &Db, account: &NewAccount<'_>, now_ms: i64) -> Result<String, ApiError> {
    let checked = check_account(account)?;
    let password_hash = hash_password(account.password.to_string()).await?;
    let mut tx = db.begin_write().await?;
    let id = insert_account(&mut tx, &checked, &password_hash, now_ms).await?;
    tx.commit().await?;
    tracing::info!(account = %id, role = account.role.as_str(), login = %checked.login, "account created");
    Ok(id)
}

/// An account whose values passed [`check_account`], normalized.
pub struct CheckedAccount {
    pub role: Role,
    pub login: String,
    pub display_name: String,
    pub unit_id: Option<String>,
    pub institution_id: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
}

/// Validates and normalizes the values of a new account. The login is lowercased.
pub fn check_account(account: &NewAccount<'_>) -> Result<CheckedAccount, ApiError> {
    if account.role == Role::Operator {
        return Err(ApiError::invalid("account.role_invalid").field("role").arg("role", account.role.as_str()));
    }

    let login = account.login.trim().to_lowercase();
    let login_ok = (3..=64).contains(&login.chars().count())
        && login.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !login_ok {
        return Err(ApiError::invalid("account.login_invalid").field("login").arg("value", &login));
    }

    if account.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid("account.password_short").field("password").arg("min", MIN_PASSWORD_CHARS));
    }
    let display_name = account.display_name.trim().to_string();
    if display_name.is_empty() || display_name.chars().count() > 100 {
        return Err(ApiError::invalid("account.display_name_invalid").field("display_name"));
    }

    if account.role == Role::UnitAdmin && account.unit_id.is_none() {
        return Err(ApiError::invalid("account.unit_required").field("unit_id"));
    }
    if account.role == Role::Institution && account.institution_id.is_none() {
        return Err(ApiError::invalid("account.institution_required").field("institution_id"));
    }

    let mobile = match account.mobile.map(str::trim).filter(|value| !value.is_empty()) {
        Some(mobile) => Some(domain::identity::normalize_mobile(mobile)?.as_str().to_string()),
        None => None,
    };
    let email = match account.email.map(str::trim).filter(|value| !value.is_empty()) {
        Some(email) => Some(check_email(email)?),
        None => None,
    };
    Ok(CheckedAccount {
        role: account.role,
        login,
        display_name,
        unit_id: account.unit_id.map(str::to_string),
        institution_id: account.institution_id.map(str::to_string),
        mobile,
        email,
    })
}

/// Checks the shape of an email address (one `@`, a dot in the domain, no spaces) and
/// returns it trimmed. Whether it receives mail is only known when mail is sent.
pub fn check_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
                && email.len() <= 254
        }
        None => false,
    };
    if valid { Ok(email.to_string()) } else { Err(ApiError::invalid("account.email_invalid").field("email").arg("value", email)) }
}

/// Inserts a checked account inside `tx` and returns its id. A taken login gives 409.
pub async fn insert_account(tx: &mut Tx, account: &CheckedAccount, password_hash: &str, now_ms: i64) -> Result<String, ApiError> {
    if let Some(unit_id) = &account.unit_id {
        let exists = sqlx::query("SELECT 1 FROM units WHERE id = $1").bind(unit_id).fetch_optional(&mut **tx).await?;
        if exists.is_none() {
            return Err(ApiError::not_found("units.not_found").field("unit_id"));
        }
    }
    if let Some(institution_id) = &account.institution_id {
        let exists = sqlx::query("SELECT 1 FROM institutions WHERE id = $1").bind(institution_id).fetch_optional(&mut **tx).await?;
        if exists.is_none() {
            return Err(ApiError::not_found("institutions.not_found").field("institution_id"));
        }
    }

    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, role, login, password_hash, display_name, unit_id, institution_id, mobile, email, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(account.role.as_str())
    .bind(&account.login)
    .bind(password_hash)
    .bind(&account.display_name)
    .bind(&account.unit_id)
    .bind(&account.institution_id)
    .bind(&account.mobile)
    .bind(&account.email)
    .bind(now_ms)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(id),
        Err(error) if is_unique_violation(&error) => {
            Err(ApiError::conflict("account.login_taken").field("login").arg("login", &account.login))
        }
        Err(error) => Err(error.into()),
    }
}

/// Hashes `password` with argon2id and a fresh salt. Hashing takes tens of
/// milliseconds of CPU on purpose, so it runs on the blocking pool instead of stalling
/// the async workers.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("argon2 hashing failed: {error}"))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::Internal)
}

/// Checks `password` against a stored PHC string on the blocking pool.
async fn verify_password(password: String, stored_hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || Argon2::default().verify_password(password.as_bytes(), stored_hash.as_str()).is_ok())
        .await
        .map_err(ApiError::internal)
}

/// Returns a hash of a random password. It is checked when the login does not exist, so
/// that an unknown login takes as long to reject as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let password = hex::encode(rand::random::<[u8; 16]>());
        Argon2::default().hash_password(password.as_bytes()).map(|hash| hash.to_string()).unwrap_or_default()
    })
}

#[derive(Deserialize)]
pub struct PasswordLoginRequest {
    login: String,
    password: String,
}

/// `POST /api/auth/password-login {login, password}` (public): logs an account in.
/// Attempts per login name are limited (see [`super::attempts`]); a session presented
/// with the request ends, so a login always starts a fresh session.
pub async fn password_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<PasswordLoginRequest>,
) -> Result<Response, ApiError> {
    let login = request.login.trim().to_lowercase();
    super::attempts::record_attempt(&state, &login).await?;

    let row = sqlx::query("SELECT id, role, password_hash, display_name, unit_id, institution_id FROM accounts WHERE login = $1")
        .bind(&login)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    let stored_hash = match &row {
        Some(row) => row.try_get::<String, _>("password_hash")?,
        None => tokio::task::spawn_blocking(|| dummy_hash().to_string()).await.map_err(ApiError::internal)?,
    };
    let matches = verify_password(request.password, stored_hash).await?;
    let Some(row) = row.filter(|_| matches) else {
        tracing::warn!(login = %login, "password login failed");
        return Err(ApiError::unauthenticated("login.password_wrong"));
    };

    super::attempts::clear_attempts(&state, &login).await?;

    let account_id: String = row.try_get("id")?;
    let role_text: String = row.try_get("role")?;
    let role = Role::parse(&role_text).ok_or_else(|| ApiError::internal(anyhow::anyhow!("account {account_id} has unknown role {role_text}")))?;
    super::end_presented_session(&state, &headers).await?;
    let session = create_session(&state, role, None, Some(&account_id)).await?;
    tracing::info!(account = %account_id, role = role.as_str(), "account logged in");

    let body = json!({
        "token": session.token,
        "expires_at": session.expires_at,
        "role": role.as_str(),
        "account_id": account_id,
        "display_name": row.try_get::<String, _>("display_name")?,
        "unit_id": row.try_get::<Option<String>, _>("unit_id")?,
        "institution_id": row.try_get::<Option<String>, _>("institution_id")?,
    });
    Ok(with_session_cookie(&headers, &session, body))
}
