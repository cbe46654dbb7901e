//! Small database helpers shared by the handlers.

use sha2::{Digest, Sha256};
use sqlx::{Any, Transaction};
use workflows::db::Backend;

/// A write transaction as returned by `Db::begin_write`.
pub type Tx = Transaction<'static, Any>;

/// Serializes the transactions that take the same `key` until they end.
///
/// SQLite needs nothing: `Db::begin_write` starts with `BEGIN IMMEDIATE`, so write
/// transactions already run one at a time. PostgreSQL takes a transaction-level
/// advisory lock on the first 64 bits of the key's SHA-256. Checks such as "at most one
/// code per minute" then see every earlier writer's row.
pub async fn lock_key(tx: &mut Tx, backend: Backend, key: &str) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // The lock function returns `void`, which the Any driver cannot decode, so the
        // query selects a constant over it.
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
            .bind(i64::from_be_bytes(first))
            .fetch_one(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Returns the hex SHA-256 of `value`.
pub fn sha256_hex(value: &[u8]) -> String {
    hex::encode(Sha256::digest(value))
}

/// Returns a new record id (UUID v7, so ids sort by creation time).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
