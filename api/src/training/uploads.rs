//! Resumable uploads of a training event's files into the object store.
//!
//! The client declares the file (purpose, name, size, SHA-256) and gets an upload id
//! and a chunk size. It sends chunk `i` with `PUT …/chunks/{i}`. A chunk is stored only
//! when its body arrived whole, and its own SHA-256 is checked when the client sends
//! `x-chunk-sha256`. After a lost connection the client reads `GET …/{upload_id}` to
//! learn which chunks arrived and sends the missing ones. `POST …/complete` checks the
//! whole file's SHA-256 over the stored chunks. The file type is read from the first
//! bytes of chunk 0, before anything is stored.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::training::FilePurpose;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use workers::object_store::StoreError;

use super::attendance;
use super::events::EventRow;
use crate::auth::allowed::UnitAdmins;
use crate::auth::{Allowed, Caller};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::Json;
use crate::AppState;

/// Chunk size when the client does not ask for one (8 MiB).
pub const DEFAULT_CHUNK_BYTES: u64 = 8 * 1024 * 1024;
/// Smallest chunk size a client may ask for (64 KiB).
pub const MIN_CHUNK_BYTES: u64 = 64 * 1024;
/// Largest chunk size a client may ask for (16 MiB); the chunk route's body limit.
pub const MAX_CHUNK_BYTES: u64 = 16 * 1024 * 1024;
/// Maximum file name length, in characters.
const MAX_FILE_NAME_CHARS: usize = 200;

#[derive(Deserialize)]
pub struct StartRequest {
    purpose: String,
    file_name: String,
    /// Size of the whole file in bytes.
    size: u64,
    /// Hex SHA-256 of the whole file.
    sha256: String,
    chunk_bytes: Option<u64>,
}

/// An upload as stored.
struct UploadRow {
    id: String,
    owner_id: String,
    purpose: FilePurpose,
    file_name: String,
    size: u64,
    chunk_bytes: u64,
    sha256: String,
    content_type: Option<String>,
    status: String,
}

impl UploadRow {
    async fn load(state: &AppState, upload_id: &str) -> Result<UploadRow, ApiError> {
        let row = sqlx::query("SELECT id, owner_id, purpose, file_name, size, chunk_bytes, sha256, content_type, status FROM uploads WHERE id = $1 AND owner_kind = 'training_event'")
            .bind(upload_id)
            .fetch_optional(&state.engine.db.pool)
            .await?
            .ok_or_else(|| ApiError::not_found("upload.not_found"))?;
        let purpose: String = row.try_get("purpose")?;
        Ok(UploadRow {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            purpose: FilePurpose::parse(&purpose).ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored upload purpose {purpose}")))?,
            file_name: row.try_get("file_name")?,
            size: row.try_get::<i64, _>("size")? as u64,
            chunk_bytes: row.try_get::<i64, _>("chunk_bytes")? as u64,
            sha256: row.try_get("sha256")?,
            content_type: row.try_get("content_type")?,
            status: row.try_get("status")?,
        })
    }

    fn chunk_count(&self) -> u64 {
        self.size.div_ceil(self.chunk_bytes)
    }

    /// Size chunk `index` must have: `chunk_bytes`, or the rest for the last one.
    fn expected_len(&self, index: u64) -> u64 {
        if index + 1 == self.chunk_count() { self.size - index * self.chunk_bytes } else { self.chunk_bytes }
    }

    /// Loads the upload's event and checks that the caller may change it.
    async fn editable_event(&self, state: &AppState, caller: &Caller) -> Result<EventRow, ApiError> {
        let event = EventRow::load(&state.engine.db.pool, &self.owner_id).await?;
        event.check_editable(caller)?;
        if self.status != "receiving" {
            return Err(ApiError::conflict("upload.not_receiving").arg("status", &self.status));
        }
        Ok(event)
    }
}

/// Object key of chunk `index` of upload `upload_id`.
fn chunk_key(upload_id: &str, index: u64) -> String {
    format!("uploads/{upload_id}/{index:06}")
}

fn store_error(error: StoreError) -> ApiError {
    ApiError::internal(anyhow::anyhow!(error))
}

/// `POST /api/training/events/{event_id}/uploads {purpose, file_name, size, sha256,
/// chunk_bytes?}` (the unit's admin): declares a file. 201 with the upload id, chunk
/// size and chunk count.
pub async fn start(State(state): State<AppState>, caller: Allowed<UnitAdmins>, Path(event_id): Path<String>, Json(request): Json<StartRequest>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let event = EventRow::load(&state.engine.db.pool, &event_id).await?;
    event.check_editable(&caller)?;
    let purpose = FilePurpose::parse(&request.purpose).ok_or_else(|| ApiError::invalid("upload.purpose_invalid").field("purpose").arg("value", &request.purpose))?;
    let file_name = request.file_name.trim().to_string();
    if file_name.is_empty() || file_name.chars().count() > MAX_FILE_NAME_CHARS || file_name.contains(['/', '\\']) {
        return Err(ApiError::invalid("upload.file_name_invalid").field("file_name").arg("max", MAX_FILE_NAME_CHARS));
    }
    if request.size == 0 || request.size > purpose.max_bytes() {
        return Err(ApiError::invalid("upload.size_invalid").field("size").arg("max_mb", purpose.max_bytes() / 1024 / 1024));
    }
    let sha256 = request.sha256.trim().to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(ApiError::invalid("upload.sha256_invalid").field("sha256"));
    }
    let chunk_bytes = request.chunk_bytes.unwrap_or(DEFAULT_CHUNK_BYTES);
    if !(MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES).contains(&chunk_bytes) {
        return Err(ApiError::invalid("upload.chunk_bytes_invalid").field("chunk_bytes").arg("min_kb", MIN_CHUNK_BYTES / 1024).arg("max_mb", MAX_CHUNK_BYTES / 1024 / 1024));
    }

    let upload_id = new_id();
    sqlx::query(
        "INSERT INTO uploads (id, owner_kind, owner_id, purpose, file_name, size, chunk_bytes, sha256, status, created_by, created_at)
         VALUES ($1, 'training_event', $2, $3, $4, $5, $6, $7, 'receiving', $8, $9)",
    )
    .bind(&upload_id)
    .bind(&event_id)
    .bind(purpose.as_str())
    .bind(&file_name)
    .bind(request.size as i64)
    .bind(chunk_bytes as i64)
    .bind(&sha256)
    .bind(caller.account_id.clone().unwrap_or_default())
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await?;
    tracing::info!(upload = %upload_id, event = %event_id, purpose = purpose.as_str(), size = request.size, "upload started");
    let chunks = request.size.div_ceil(chunk_bytes);
    Ok((StatusCode::CREATED, Json(json!({ "upload_id": upload_id, "chunk_bytes": chunk_bytes, "chunks": chunks, "missing": (0..chunks).collect::<Vec<_>>() }))))
}

/// `PUT /api/training/uploads/{upload_id}/chunks/{index}` with the chunk's bytes as the
/// body and optionally `x-chunk-sha256` (the unit's admin). Sending a chunk again
/// replaces it.
pub async fn put_chunk(State(state): State<AppState>, caller: Allowed<UnitAdmins>, Path((upload_id, index)): Path<(String, u64)>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let upload = UploadRow::load(&state, &upload_id).await?;
    upload.editable_event(&state, &caller).await?;
    if index >= upload.chunk_count() {
        return Err(ApiError::invalid("upload.chunk_index_invalid").field("index").arg("index", index).arg("chunks", upload.chunk_count()));
    }
    let expected = upload.expected_len(index);
    if body.len() as u64 != expected {
        return Err(ApiError::invalid("upload.chunk_size").arg("index", index).arg("expected", expected).arg("received", body.len()));
    }
    let digest = hex::encode(Sha256::digest(&body));
    if let Some(claimed) = headers.get("x-chunk-sha256").and_then(|value| value.to_str().ok()) {
        if !claimed.trim().eq_ignore_ascii_case(&digest) {
            return Err(ApiError::invalid("upload.chunk_checksum").arg("index", index));
        }
    }
    if index == 0 {
        let content_type = upload.purpose.sniff(&body).ok_or_else(|| ApiError::invalid("upload.type_invalid").arg("file", &upload.file_name).arg("purpose", upload.purpose.as_str()))?;
        sqlx::query("UPDATE uploads SET content_type = $1 WHERE id = $2").bind(content_type).bind(&upload_id).execute(&state.engine.db.pool).await?;
    }

    // The object first, then its row: a row always names a stored chunk.
    state.objects.put(&chunk_key(&upload_id, index), body.to_vec()).await.map_err(store_error)?;
    sqlx::query(
        "INSERT INTO upload_chunks (upload_id, idx, size, sha256, received_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (upload_id, idx) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, received_at = excluded.received_at",
    )
    .bind(&upload_id)
    .bind(index as i64)
    .bind(body.len() as i64)
    .bind(&digest)
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await?;
    Ok(Json(status_json(&state, &upload).await?))
}

/// `GET /api/training/uploads/{upload_id}` (association staff or the unit's admin): the
/// upload with the chunks received (index, size, SHA-256) and those still missing.
pub async fn status(State(state): State<AppState>, caller: Caller, Path(upload_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let upload = UploadRow::load(&state, &upload_id).await?;
    EventRow::load(&state.engine.db.pool, &upload.owner_id).await?.check_visible(&caller)?;
    Ok(Json(status_json(&state, &upload).await?))
}

async fn status_json(state: &AppState, upload: &UploadRow) -> Result<Value, ApiError> {
    let rows = sqlx::query("SELECT idx, size, sha256 FROM upload_chunks WHERE upload_id = $1 ORDER BY idx").bind(&upload.id).fetch_all(&state.engine.db.pool).await?;
    let mut received = Vec::with_capacity(rows.len());
    let mut present = std::collections::HashSet::new();
    for row in rows {
        let index: i64 = row.try_get("idx")?;
        present.insert(index as u64);
        received.push(json!({ "index": index, "size": row.try_get::<i64, _>("size")?, "sha256": row.try_get::<String, _>("sha256")? }));
    }
    let missing: Vec<u64> = (0..upload.chunk_count()).filter(|index| !present.contains(index)).collect();
    Ok(json!({
        "upload_id": upload.id,
        "event_id": upload.owner_id,
        "purpose": upload.purpose.as_str(),
        "file_name": upload.file_name,
        "size": upload.size,
        "sha256": upload.sha256,
        "chunk_bytes": upload.chunk_bytes,
        "chunks": upload.chunk_count(),
        "status": upload.status,
        "received": received,
        "missing": missing,
    }))
}

/// `POST /api/training/uploads/{upload_id}/complete` (the unit's admin): checks that
/// every chunk arrived and that the stored file has the declared SHA-256. An
/// attendance list is then read and matched to the unit's operators, and replaces the
/// event's earlier list.
pub async fn complete(State(state): State<AppState>, caller: Caller, Path(upload_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let upload = UploadRow::load(&state, &upload_id).await?;
    let event = upload.editable_event(&state, &caller).await?;
    let received: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload_chunks WHERE upload_id = $1").bind(&upload_id).fetch_one(&state.engine.db.pool).await?;
    if received as u64 != upload.chunk_count() {
        return Err(ApiError::conflict("upload.chunks_missing").arg("missing", upload.chunk_count() - received as u64));
    }

    // Hash the chunks as stored, in order; the attendance list is also kept whole.
    let mut hasher = Sha256::new();
    let mut whole = Vec::new();
    for index in 0..upload.chunk_count() {
        let bytes = state.objects.get(&chunk_key(&upload_id, index)).await.map_err(store_error)?;
        hasher.update(&bytes);
        if upload.purpose == FilePurpose::Attendance {
            whole.extend_from_slice(&bytes);
        }
    }
    let digest = hex::encode(hasher.finalize());
    if digest != upload.sha256 {
        tracing::warn!(upload = %upload_id, declared = %upload.sha256, stored = %digest, "upload checksum mismatch");
        return Err(ApiError::invalid("upload.checksum_mismatch").field("sha256"));
    }

    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let attendance = if upload.purpose == FilePurpose::Attendance {
        let rows = domain::training::parse_attendance(&whole).map_err(attendance::read_error)?;
        let outcome = attendance::replace(&state, &mut tx, &event, &rows).await?;
        // Only the latest list counts.
        sqlx::query("UPDATE uploads SET status = 'discarded' WHERE owner_kind = 'training_event' AND owner_id = $1 AND purpose = 'attendance' AND status = 'complete'")
            .bind(&event.id)
            .execute(&mut *tx)
            .await?;
        Some(outcome)
    } else {
        None
    };
    let completed = sqlx::query("UPDATE uploads SET status = 'complete', completed_at = $1 WHERE id = $2 AND status = 'receiving'").bind(now_ms).bind(&upload_id).execute(&mut *tx).await?;
    if completed.rows_affected() == 0 {
        return Err(ApiError::conflict("upload.not_receiving").arg("status", "complete"));
    }
    tx.commit().await?;
    tracing::info!(upload = %upload_id, event = %event.id, purpose = upload.purpose.as_str(), size = upload.size, "upload complete");

    let upload = UploadRow::load(&state, &upload_id).await?;
    let mut body = status_json(&state, &upload).await?;
    body["content_type"] = json!(upload.content_type);
    if let Some(outcome) = attendance {
        body["attendance"] = outcome;
    }
    Ok(Json(body))
}

/// `DELETE /api/training/uploads/{upload_id}` (the unit's admin, while the event may be
/// changed): discards a file and removes its chunks from the object store.
pub async fn discard(State(state): State<AppState>, caller: Caller, Path(upload_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let upload = UploadRow::load(&state, &upload_id).await?;
    let event = EventRow::load(&state.engine.db.pool, &upload.owner_id).await?;
    event.check_editable(&caller)?;
    if upload.status == "discarded" {
        return Err(ApiError::conflict("upload.not_receiving").arg("status", &upload.status));
    }
    let mut tx = state.engine.db.begin_write().await?;
    sqlx::query("UPDATE uploads SET status = 'discarded' WHERE id = $1").bind(&upload_id).execute(&mut *tx).await?;
    if upload.purpose == FilePurpose::Attendance && upload.status == "complete" {
        sqlx::query("DELETE FROM training_attendees WHERE event_id = $1").bind(&event.id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    for index in 0..upload.chunk_count() {
        if let Err(error) = state.objects.delete(&chunk_key(&upload_id, index)).await {
            tracing::warn!(upload = %upload_id, index, %error, "chunk of a discarded upload not removed");
        }
    }
    tracing::info!(upload = %upload_id, event = %event.id, "upload discarded");
    Ok(Json(json!({ "upload_id": upload_id, "status": "discarded" })))
}

/// `GET /api/training/uploads/{upload_id}/content` (association staff or the unit's
/// admin): the complete file, read chunk by chunk from the object store.
pub async fn content(State(state): State<AppState>, caller: Caller, Path(upload_id): Path<String>) -> Result<Response, ApiError> {
    let upload = UploadRow::load(&state, &upload_id).await?;
    EventRow::load(&state.engine.db.pool, &upload.owner_id).await?.check_visible(&caller)?;
    if upload.status != "complete" {
        return Err(ApiError::conflict("upload.not_complete").arg("status", &upload.status));
    }
    tracing::info!(upload = %upload_id, account = caller.account_id.as_deref().unwrap_or_default(), "training file downloaded");

    let objects = state.objects.clone();
    let chunks = upload.chunk_count();
    let id = upload.id.clone();
    let stream = futures::stream::unfold(0u64, move |index| {
        let objects = objects.clone();
        let id = id.clone();
        async move {
            if index >= chunks {
                return None;
            }
            let chunk = objects.get(&chunk_key(&id, index)).await.map(Bytes::from).map_err(|error| std::io::Error::other(error.to_string()));
            Some((chunk, index + 1))
        }
    });
    let disposition = format!("attachment; filename*=UTF-8''{}", crate::documents::percent_encode(&upload.file_name));
    let headers = [
        (header::CONTENT_TYPE, upload.content_type.clone().unwrap_or_else(|| "application/octet-stream".into())),
        (header::CONTENT_LENGTH, upload.size.to_string()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, Body::from_stream(stream)).into_response())
}
