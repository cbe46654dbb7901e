//! Object storage for uploaded files (training attendance lists, lecture recordings,
//! teacher credentials): a local directory by default, or an S3-compatible bucket.
//!
//! Keys are relative paths of ASCII letters, digits, `-`, `_`, `.` and `/`, such as
//! `uploads/0191…/000003`. A put of an existing key replaces the object, so every
//! operation is idempotent and safe to retry.

pub mod local;
pub mod s3;
pub mod sigv4;

use async_trait::async_trait;

pub use local::LocalStore;
pub use s3::{S3Config, S3Store};

/// The failure of an object operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object {0} not found")]
    NotFound(String),
    #[error("object key {0:?} is invalid")]
    InvalidKey(String),
    #[error("object store failed: {0}")]
    Failed(String),
}

/// A place to keep whole objects by key.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key`, replacing an object already there.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// Returns the object under `key`, or [`StoreError::NotFound`].
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;

    /// Removes the object under `key`; a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Names the store for logs, without credentials.
    fn describe(&self) -> String;
}

/// Fails unless `key` is a relative path of safe characters with no `.` or `..` part.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let safe_chars = key.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'/'));
    let safe_parts = key.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
    if key.is_empty() || !safe_chars || !safe_parts {
        return Err(StoreError::InvalidKey(key.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn key_rules() {
        assert!(check_key("uploads/abc-1/000001").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("/etc/passwd").is_err());
        assert!(check_key("uploads/../secret").is_err());
        assert!(check_key("uploads//x").is_err());
        assert!(check_key("uploads/名单.xlsx").is_err());
    }
}
