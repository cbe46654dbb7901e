//! Supporting documents uploaded with an appeal or a manual verification request:
//! PDF, JPEG or PNG files, recognized by their first bytes, up to [`MAX_FILES`] files of
//! at most [`MAX_FILE_BYTES`] each, read from a multipart form beside its text fields.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::ApiError;

/// Files one request may carry.
pub const MAX_FILES: usize = 5;
/// Largest file accepted, in bytes (10 MiB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Body limit of a route that takes documents: every file at its maximum plus the form.
pub const MAX_BODY_BYTES: usize = MAX_FILES * MAX_FILE_BYTES + 64 * 1024;

/// An uploaded file that passed the checks.
pub struct Document {
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Returns the content type of a PDF, JPEG or PNG file from its first bytes, or `None`.
pub fn sniff_type(bytes: &[u8]) -> Option<&'static str> {
    domain::training::sniff_document(bytes)
}

/// Reads a multipart form: text fields by name (trimmed) and the checked files.
pub async fn read_form(form: &mut Multipart) -> Result<(HashMap<String, String>, Vec<Document>), ApiError> {
    let mut fields = HashMap::new();
    let mut files = Vec::new();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            None => {
                fields.insert(name, field.text().await?.trim().to_string());
            }
            Some(file_name) => {
                if files.len() == MAX_FILES {
                    return Err(ApiError::invalid("appeal.too_many_files").field("files").arg("max", MAX_FILES));
                }
                let bytes = field.bytes().await?;
                if bytes.len() > MAX_FILE_BYTES {
                    return Err(ApiError::invalid("appeal.file_too_large").field("files").arg("file", &file_name).arg("max_mb", MAX_FILE_BYTES / 1024 / 1024));
                }
                let content_type = sniff_type(&bytes).ok_or_else(|| ApiError::invalid("appeal.file_type").field("files").arg("file", &file_name))?;
                files.push(Document { file_name, content_type, bytes: bytes.to_vec() });
            }
        }
    }
    Ok((fields, files))
}

/// Builds the response that serves a stored file to staff: `content` with
/// `media_type`, kept out of caches and not type-sniffed by browsers.
pub fn private_file_response(content: Vec<u8>, media_type: HeaderValue) -> Response {
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, media_type);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Builds the response that serves a stored document to staff: as
/// [`private_file_response`], with `disposition`.
pub fn document_response(content: Vec<u8>, media_type: HeaderValue, disposition: HeaderValue) -> Response {
    let mut response = private_file_response(content, media_type);
    response.headers_mut().insert(CONTENT_DISPOSITION, disposition);
    response
}

/// Lists stored documents as `[{seq, file_name, content_type, size}]`, from rows that
/// carry these four columns, for the lists that link each document.
pub fn document_entries(rows: &[AnyRow]) -> Result<Vec<Value>, ApiError> {
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        entries.push(json!({
            "seq": row.try_get::<i64, _>("seq")?,
            "file_name": row.try_get::<String, _>("file_name")?,
            "content_type": row.try_get::<String, _>("content_type")?,
            "size": row.try_get::<i64, _>("size")?,
        }));
    }
    Ok(entries)
}

/// Returns `inline; filename*=UTF-8''<name>` with the name percent-encoded (RFC 6266 and
/// RFC 5987), so that a name with quotes, semicolons or line breaks cannot add a header
/// parameter.
pub fn inline_disposition(file_name: &str) -> HeaderValue {
    let value = format!("inline; filename*=UTF-8''{}", percent_encode(file_name));
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("inline"))
}

/// Percent-encodes every byte outside RFC 5987's attribute characters.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) { (byte as char).to_string() } else { format!("%{byte:02X}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_encodes_header_syntax() {
        let value = inline_disposition("a\"b;\r\nX-Evil: 1.pdf");
        assert_eq!(value, "inline; filename*=UTF-8''a%22b%3B%0D%0AX-Evil%3A%201.pdf");
    }

    #[test]
    fn disposition_encodes_chinese_name() {
        assert_eq!(inline_disposition("证明.png"), "inline; filename*=UTF-8''%E8%AF%81%E6%98%8E.png");
    }
}
