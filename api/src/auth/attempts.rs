//! The limit on password login attempts: at most [`MAX_PASSWORD_ATTEMPTS`] per login
//! name in any [`PASSWORD_WINDOW_MINUTES`]-minute window.
//!
//! An attempt is stored before the password is checked, in a transaction serialized per
//! login, so parallel guesses cannot pass the limit together. A correct password deletes
//! the login's attempts; a wrong one leaves its row until the window has passed. Unknown
//! logins are counted the same way, so the response does not reveal which logins exist.

use crate::AppState;
use crate::db::{lock_key, new_id};
use crate::error::ApiError;

/// Attempts allowed per login name within the window.
pub const MAX_PASSWORD_ATTEMPTS: i64 = 5;
/// Length of the window, in minutes.
pub const PASSWORD_WINDOW_MINUTES: i64 = 15;

/// Records an attempt for `login`, or fails with 429 `login.password_locked` when the
/// window already contains [`MAX_PASSWORD_ATTEMPTS`] attempts.
pub async fn record_attempt(state: &AppState, login: &str) -> Result<(), ApiError> {
    let now_ms = state.now_ms();
    let window_start = now_ms - PASSWORD_WINDOW_MINUTES * 60_000;
    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, &format!("password_login:{login}")).await?;

    sqlx::query("DELETE FROM password_attempts WHERE login = $1 AND attempted_at <= $2")
        .bind(login)
        .bind(window_start)
        .execute(&mut *tx)
        .await?;
    let (count, oldest): (i64, Option<i64>) = sqlx::query_as("SELECT COUNT(*), MIN(attempted_at) FROM password_attempts WHERE login = $1")
        .bind(login)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_PASSWORD_ATTEMPTS {
        let retry_after_secs = (oldest.unwrap_or(now_ms) - window_start) / 1000;
        tracing::warn!(login = %login, attempts = count, retry_after_secs, "password login rejected: too many attempts");
        return Err(ApiError::rate_limited("login.password_locked", retry_after_secs).arg("minutes", PASSWORD_WINDOW_MINUTES));
    }

    sqlx::query("INSERT INTO password_attempts (id, login, attempted_at) VALUES ($1, $2, $3)")
        .bind(new_id())
        .bind(login)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the attempts of `login` after a correct password.
pub async fn clear_attempts(state: &AppState, login: &str) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM password_attempts WHERE login = $1").bind(login).execute(&state.engine.db.pool).await?;
    Ok(())
}
