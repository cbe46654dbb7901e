//! Supporting documents uploaded with an appeal or a manual verification request:
//! PDF, JPEG or PNG files, recognized by their first bytes, up to [`MAX_FILES`] files of
//! at most [`MAX_FILE_BYTES`] each, read from a multipart form beside its text fields.

use std::collections::HashMap;

use axum::extract::Multipart;

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
