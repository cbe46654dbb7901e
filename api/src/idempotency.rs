//! Idempotency keys: a client that retries a write with the same `Idempotency-Key`
//! header gets the first response again instead of a second effect.
//!
//! The middleware applies to POST, PUT, PATCH and DELETE requests with a valid
//! session. Requests without one (logins, code requests, institutions' signed
//! requests) skip it: login responses carry session tokens that must not be stored,
//! and the signed routes deduplicate by statement id or single-use token. The scope
//! of a key is the method, the request path and the caller, so keys never collide
//! across callers or records.
//!
//! Only successful (2xx) responses are stored, because a failed write changed nothing
//! and may be retried as it is. A key reused with a different body gets 400. Keys
//! are honoured for 24 hours.
//!
//! NOTE: two requests with the same key that arrive together both run, because the
//! key is only stored after the first response. The routes' own checks (unique
//! enrollments, one open exam attempt) keep that harmless, and the first stored
//! response is the one replayed later.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sqlx::Row;

use crate::auth::principal_for;
use crate::db::sha256_hex;
use crate::error::ApiError;
use crate::AppState;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Set on a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// How long a stored response is replayed.
const KEY_LIFETIME_MS: i64 = 24 * 3_600_000;
/// Maximum request body the middleware buffers, above every route's own limit.
const MAX_BUFFERED_BYTES: usize = 16 * 1024 * 1024;

/// Replays the stored response of a repeated `Idempotency-Key`, or runs the request
/// and stores its successful response.
pub async fn replay_or_record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match handle(&state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let is_write = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    let key = request.headers().get(IDEMPOTENCY_HEADER).and_then(|value| value.to_str().ok()).map(str::trim).map(str::to_string);
    let Some(key) = key.filter(|_| is_write) else {
        return Ok(next.run(request).await);
    };
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::invalid("idempotency.key_invalid").field(IDEMPOTENCY_HEADER));
    }
    let Some(principal) = principal_for(state, request.headers()).await? else {
        return Ok(next.run(request).await);
    };
    let scope = format!("{} {} {principal}", request.method(), request.uri().path());

    // Step 1: buffer the body to fingerprint it.
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BUFFERED_BYTES).await.map_err(|_| ApiError::TooLarge)?;
    let fingerprint = sha256_hex(&bytes);

    // Step 2: replay a stored response of the same request.
    let now_ms = state.now_ms();
    let stored = sqlx::query("SELECT status, response, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(&scope)
        .bind(&key)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    if let Some(row) = stored {
        let created_at: i64 = row.try_get("created_at")?;
        if now_ms - created_at < KEY_LIFETIME_MS {
            let record: serde_json::Value = serde_json::from_str(&row.try_get::<String, _>("response")?)?;
            if record["request_sha256"].as_str() != Some(fingerprint.as_str()) {
                return Err(ApiError::invalid("idempotency.key_reused").field(IDEMPOTENCY_HEADER));
            }
            let status = StatusCode::from_u16(row.try_get::<i64, _>("status")? as u16).unwrap_or(StatusCode::OK);
            let body = record["body"].as_str().unwrap_or_default().to_string();
            tracing::info!(scope = %scope, "idempotent request replayed");
            let mut response = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
            response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            return Ok(response);
        }
    }

    // Step 3: run the request and store a successful response.
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if !response.status().is_success() {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, MAX_BUFFERED_BYTES).await.map_err(|error| ApiError::internal(anyhow::anyhow!("response body unreadable: {error}")))?;
    let record = json!({ "request_sha256": fingerprint, "body": String::from_utf8_lossy(&body) });
    let saved = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, status, response, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, key) DO UPDATE SET status = excluded.status, response = excluded.response, created_at = excluded.created_at
         WHERE idempotency_keys.created_at < $6",
    )
    .bind(&scope)
    .bind(&key)
    .bind(i64::from(parts.status.as_u16()))
    .bind(record.to_string())
    .bind(now_ms)
    .bind(now_ms - KEY_LIFETIME_MS)
    .execute(&state.engine.db.pool)
    .await;
    if let Err(error) = saved {
        // The write itself succeeded; failing the request now would invite a retry
        // that repeats it, so the response goes out and the failure is logged.
        tracing::error!(scope = %scope, error = %error, "storing the idempotent response failed");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}
