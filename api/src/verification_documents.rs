//! `GET /api/verifications/{verification_id}/documents?seq=`: one document of a
//! manual verification request as a file, for staff who decide the request. The list
//! route gives each request's documents with their numbers, names and sizes.

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use sqlx::Row;

use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::documents::{document_entries, document_response};
use crate::error::ApiError;
use crate::extract::Query;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/verifications/{verification_id}/documents", get(document))
}

#[derive(Deserialize)]
pub struct DocumentQuery {
    /// The document's number from 0; 0 when absent.
    seq: Option<i64>,
}

/// `GET /api/verifications/{verification_id}/documents?seq=0` (association staff): the
/// document with its stored media type (PDF, JPEG or PNG, checked at upload), shown
/// inline by the browser.
#[utoipa::path(
    get,
    path = "/api/verifications/{verification_id}/documents",
    tag = "staff",
    params(
        ("verification_id" = String, Path, description = "The verification request"),
        ("seq" = Option<i64>, Query, description = "The document's number, from 0 (the default), as the list gives it"),
    ),
    responses(
        (status = 200, description = "The document", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No such request or document", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn document(State(state): State<AppState>, caller: Allowed<Staff>, Path(verification_id): Path<String>, Query(query): Query<DocumentQuery>) -> Result<Response, ApiError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM manual_verifications WHERE id = $1").bind(&verification_id).fetch_optional(&state.engine.db.pool).await?;
    if exists.is_none() {
        return Err(ApiError::not_found("verification.not_found"));
    }
    let seq = query.seq.unwrap_or(0);
    let row = sqlx::query("SELECT content_type, content FROM verification_documents WHERE verification_id = $1 AND seq = $2")
        .bind(&verification_id)
        .bind(seq)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("verification.document_not_found").arg("seq", seq))?;
    let content_type: String = row.try_get("content_type")?;
    let content: Vec<u8> = row.try_get("content")?;
    tracing::info!(verification = %verification_id, seq, account = caller.account_id.as_deref().unwrap_or_default(), "verification document viewed");

    let media_type = HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok(document_response(content, media_type, HeaderValue::from_static("inline")))
}

/// Returns the documents of each request in `ids`, by request id: `[{seq, file_name,
/// content_type, size}]` in upload order, without their content.
pub async fn document_lists(state: &AppState, ids: &[String]) -> Result<serde_json::Map<String, Value>, ApiError> {
    let mut lists = serde_json::Map::new();
    for id in ids {
        let rows = sqlx::query("SELECT seq, file_name, content_type, size FROM verification_documents WHERE verification_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&state.engine.db.pool)
            .await?;
        lists.insert(id.clone(), Value::Array(document_entries(&rows)?));
    }
    Ok(lists)
}
