//! `GET /api/appeals/{appeal_id}/files?seq=`: one file an operator attached to an
//! appeal, for the staff who decide it. `GET /api/appeals` lists each appeal's files
//! with their numbers, names and sizes. Every view is written to the evidence access
//! log, because the files are the operator's personal documents.

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
use crate::documents::{document_entries, document_response, inline_disposition, sniff_type};
use crate::error::ApiError;
use crate::evidence_log;
use crate::extract::Query;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/appeals/{appeal_id}/files", get(file))
}

#[derive(Deserialize)]
pub struct FileQuery {
    /// The file's number from 0; 0 when absent.
    seq: Option<i64>,
}

/// `GET /api/appeals/{appeal_id}/files?seq=0` (association staff): the file with the
/// media type recognized at upload (PDF, JPEG or PNG), shown inline by the browser.
#[utoipa::path(
    get,
    path = "/api/appeals/{appeal_id}/files",
    tag = "staff",
    params(
        ("appeal_id" = String, Path, description = "The appeal"),
        ("seq" = Option<i64>, Query, description = "The file's number, from 0 (the default), as `GET /api/appeals` lists it"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No such appeal or file", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn file(State(state): State<AppState>, caller: Allowed<Staff>, Path(appeal_id): Path<String>, Query(query): Query<FileQuery>) -> Result<Response, ApiError> {
    let case_id: String = sqlx::query_scalar("SELECT case_id FROM review_appeals WHERE id = $1")
        .bind(&appeal_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("appeal.not_found"))?;
    let seq = query.seq.unwrap_or(0);
    let row = sqlx::query("SELECT file_name, content FROM appeal_files WHERE appeal_id = $1 AND seq = $2")
        .bind(&appeal_id)
        .bind(seq)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("appeal.file_not_found").arg("seq", seq))?;
    let file_name: String = row.try_get("file_name")?;
    let content: Vec<u8> = row.try_get("content")?;

    evidence_log::record(&state, &caller, "appeal", &appeal_id, Some(&case_id), "appeal").await?;
    tracing::info!(appeal = %appeal_id, seq, account = caller.account_id.as_deref().unwrap_or_default(), "appeal file viewed");

    // The type is read from the bytes served, not taken from the stored column, so the
    // browser renders only PDF, JPEG and PNG. Other bytes go out as a download type.
    let media_type = HeaderValue::from_static(sniff_type(&content).unwrap_or("application/octet-stream"));
    Ok(document_response(content, media_type, inline_disposition(&file_name)))
}

/// Returns the files of `appeal_id` as `[{seq, file_name, content_type, size}]` in
/// upload order, without their content.
pub async fn file_list(state: &AppState, appeal_id: &str) -> Result<Value, ApiError> {
    let rows = sqlx::query("SELECT seq, file_name, content_type, size FROM appeal_files WHERE appeal_id = $1 ORDER BY seq")
        .bind(appeal_id)
        .fetch_all(&state.engine.db.pool)
        .await?;
    Ok(Value::Array(document_entries(&rows)?))
}
