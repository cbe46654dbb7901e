//! `GET /api/reviews/{case_id}/evidence?field=&index=`: one image or audio clip of a
//! case's evidence as a file, so that the staff pages show it with `<img>` and
//! `<audio>` instead of copying data URLs into the page. Every call is written to the
//! evidence access log like the case view itself.

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sqlx::Row;

use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::documents::private_file_response;
use crate::error::ApiError;
use crate::evidence_log;
use crate::extract::Query;
use crate::AppState;

/// Evidence fields whose entries may carry an image or a clip, as the retention job
/// names them.
pub const MEDIA_FIELDS: &[&str] = workers::retention::SENSITIVE_FIELDS;

#[derive(Deserialize)]
pub struct MediaQuery {
    // Optional so that a caller without the role gets 403 before any 400 about them.
    field: Option<String>,
    index: Option<usize>,
}

/// `GET /api/reviews/{case_id}/evidence?field=snapshots&index=0` (association staff):
/// the image or audio clip of entry `index` (from 0) of evidence field `field`, with
/// its own media type. 404 when the entry has none, for example after the retention job.
#[utoipa::path(
    get,
    path = "/api/reviews/{case_id}/evidence",
    tag = "staff",
    params(
        ("case_id" = String, Path, description = "The review case"),
        ("field" = String, Query, description = "Evidence field: snapshots, random_checks, face_checks, face_images or audio"),
        ("index" = Option<usize>, Query, description = "Entry of that field, from 0 (the default)"),
    ),
    responses(
        (status = 200, description = "The image or audio clip, with its media type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "Unknown evidence field", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No such case, or the entry contains no image or clip", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn media(State(state): State<AppState>, caller: Allowed<Staff>, Path(case_id): Path<String>, Query(query): Query<MediaQuery>) -> Result<Response, ApiError> {
    let field = query.field.unwrap_or_default();
    if !MEDIA_FIELDS.contains(&field.as_str()) {
        return Err(ApiError::invalid("review.evidence_field_invalid").field("field").arg("value", &field));
    }
    let row = sqlx::query("SELECT kind, subject_id FROM review_cases WHERE id = $1")
        .bind(&case_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("review.not_found"))?;
    let kind: String = row.try_get("kind")?;
    let subject_id: String = row.try_get("subject_id")?;
    let sql = match kind.as_str() {
        "session" => "SELECT evidence FROM study_sessions WHERE id = $1",
        _ => "SELECT evidence FROM exam_attempts WHERE id = $1",
    };
    let evidence: String = sqlx::query_scalar(sql).bind(&subject_id).fetch_one(&state.engine.db.pool).await?;
    let evidence: Value = serde_json::from_str(&evidence).unwrap_or(Value::Null);
    let entry = &evidence[field.as_str()][query.index.unwrap_or(0)];
    let (media_type, bytes) = entry_media(entry).ok_or_else(|| ApiError::not_found("review.evidence_not_found"))?;

    evidence_log::record(&state, &caller, &kind, &subject_id, Some(&case_id), "review").await?;
    Ok(private_file_response(bytes, media_type))
}

/// Returns the media type and bytes of the first base64 data URL of an image or audio
/// type among the string values of an evidence entry, such as `image` of a snapshot
/// or `clip` of an audio entry.
pub fn entry_media(entry: &Value) -> Option<(HeaderValue, Vec<u8>)> {
    entry.as_object()?.values().filter_map(Value::as_str).find_map(decode_data_url)
}

/// Decodes `data:<image/… or audio/…>[;parameters];base64,<data>`.
fn decode_data_url(text: &str) -> Option<(HeaderValue, Vec<u8>)> {
    let (header, data) = text.strip_prefix("data:")?.split_once(',')?;
    let (media_type, parameters) = header.split_once(';')?;
    if !parameters.split(';').any(|parameter| parameter == "base64") {
        return None;
    }
    let allowed = media_type.starts_with("image/") || media_type.starts_with("audio/");
    let plain = media_type.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"/.+-".contains(&byte));
    if !allowed || !plain {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
    Some((HeaderValue::from_str(media_type).ok()?, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_url_of_snapshot_decodes() {
        let entry = json!({ "trigger": "start", "image": "data:image/jpeg;base64,/9j/2w==" });
        let (media_type, bytes) = entry_media(&entry).expect("an image");
        assert_eq!(media_type, "image/jpeg");
        assert_eq!(bytes, vec![0xff, 0xd8, 0xff, 0xdb]);
    }

    #[test]
    fn audio_with_codec_parameter_decodes() {
        let entry = json!({ "flagged": false, "clip": "data:audio/webm;codecs=opus;base64,AAEC" });
        let (media_type, bytes) = entry_media(&entry).expect("a clip");
        assert_eq!(media_type, "audio/webm");
        assert_eq!(bytes, vec![0, 1, 2]);
    }

    #[test]
    fn other_types_and_plain_text_are_not_media() {
        assert!(entry_media(&json!({ "page": "data:text/html;base64,PGI+" })).is_none());
        assert!(entry_media(&json!({ "image": "data:image/png,raw" })).is_none());
        assert!(entry_media(&json!({ "at": "2026-03-05T01:00:00Z", "result": "failed" })).is_none());
        assert!(entry_media(&json!("data:image/png;base64,AAAA")).is_none());
    }
}
