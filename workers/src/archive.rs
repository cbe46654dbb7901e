//! Storage of the operator archives (`domain::archive`): appending an entry inside the
//! caller's transaction, reading a chain, and verifying every chain.

use domain::archive::{Archive, ChainBreak, Entry, GENESIS_HASH, verify_chain};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Row, Transaction};
use workflows::db::Backend;

/// An entry to append; `seq`, the unit, the time and the hashes are filled in.
#[derive(Clone, Debug)]
pub struct NewEntry<'a> {
    pub operator_id: &'a str,
    pub archive: Archive,
    pub kind: &'a str,
    pub entry_key: String,
    pub body: Value,
    pub recorded_by: &'a str,
    pub approved_by: Option<&'a str>,
    pub supersedes: Option<i64>,
    pub reason: Option<&'a str>,
}

impl<'a> NewEntry<'a> {
    /// An entry recorded by the platform itself (`recorded_by = system`).
    pub fn system(operator_id: &'a str, archive: Archive, kind: &'a str, entry_key: String, body: Value) -> NewEntry<'a> {
        NewEntry { operator_id, archive, kind, entry_key, body, recorded_by: "system", approved_by: None, supersedes: None, reason: None }
    }
}

/// Appends `entry` to its chain inside `tx` and returns its `seq`, or `None` when an
/// entry with the same key was appended before (a repeated job or request).
pub async fn append(tx: &mut Transaction<'static, Any>, backend: Backend, entry: NewEntry<'_>, now_ms: i64) -> Result<Option<i64>, sqlx::Error> {
    let archive = entry.archive.as_str();
    lock_chain(tx, backend, entry.operator_id, archive).await?;
    let known = sqlx::query("SELECT seq FROM archive_entries WHERE operator_id = $1 AND archive = $2 AND entry_key = $3")
        .bind(entry.operator_id)
        .bind(archive)
        .bind(&entry.entry_key)
        .fetch_optional(&mut **tx)
        .await?;
    if known.is_some() {
        return Ok(None);
    }

    let last = sqlx::query("SELECT seq, hash FROM archive_entries WHERE operator_id = $1 AND archive = $2 ORDER BY seq DESC LIMIT 1")
        .bind(entry.operator_id)
        .bind(archive)
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev_hash) = match last {
        Some(row) => (row.get::<i64, _>(0) + 1, row.get::<String, _>(1)),
        None => (1, GENESIS_HASH.to_string()),
    };
    let unit_id: Option<String> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1").bind(entry.operator_id).fetch_optional(&mut **tx).await?.flatten();
    let mut stored = Entry {
        operator_id: entry.operator_id.to_string(),
        archive: archive.to_string(),
        seq,
        kind: entry.kind.to_string(),
        entry_key: entry.entry_key,
        unit_id,
        body: entry.body.to_string(),
        recorded_by: entry.recorded_by.to_string(),
        approved_by: entry.approved_by.map(str::to_string),
        supersedes: entry.supersedes,
        reason: entry.reason.map(str::to_string),
        recorded_at: now_ms,
        prev_hash,
        hash: String::new(),
    };
    stored.hash = stored.compute_hash();
    sqlx::query(
        "INSERT INTO archive_entries (operator_id, archive, seq, kind, entry_key, unit_id, body, recorded_by, approved_by, supersedes, reason, recorded_at, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&stored.operator_id)
    .bind(&stored.archive)
    .bind(stored.seq)
    .bind(&stored.kind)
    .bind(&stored.entry_key)
    .bind(&stored.unit_id)
    .bind(&stored.body)
    .bind(&stored.recorded_by)
    .bind(&stored.approved_by)
    .bind(stored.supersedes)
    .bind(&stored.reason)
    .bind(stored.recorded_at)
    .bind(&stored.prev_hash)
    .bind(&stored.hash)
    .execute(&mut **tx)
    .await?;
    Ok(Some(seq))
}

/// Serializes appends to one chain until `tx` ends. SQLite needs nothing, because its
/// write transactions already run one at a time (`BEGIN IMMEDIATE`); PostgreSQL takes a
/// transaction-level advisory lock on the chain's key.
async fn lock_chain(tx: &mut Transaction<'static, Any>, backend: Backend, operator_id: &str, archive: &str) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        let digest = Sha256::digest(format!("archive:{operator_id}:{archive}").as_bytes());
        let key = i64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"));
        // The lock function returns `void`, which the Any driver cannot decode.
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l").bind(key).fetch_one(&mut **tx).await?;
    }
    Ok(())
}

/// Returns the entries of one chain in `seq` order.
pub async fn load_chain(pool: &AnyPool, operator_id: &str, archive: Archive) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT operator_id, archive, seq, kind, entry_key, unit_id, body, recorded_by, approved_by, supersedes, reason, recorded_at, prev_hash, hash
         FROM archive_entries WHERE operator_id = $1 AND archive = $2 ORDER BY seq",
    )
    .bind(operator_id)
    .bind(archive.as_str())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| Entry {
            operator_id: row.get(0),
            archive: row.get(1),
            seq: row.get(2),
            kind: row.get(3),
            entry_key: row.get(4),
            unit_id: row.get(5),
            body: row.get(6),
            recorded_by: row.get(7),
            approved_by: row.get(8),
            supersedes: row.get(9),
            reason: row.get(10),
            recorded_at: row.get(11),
            prev_hash: row.get(12),
            hash: row.get(13),
        })
        .collect())
}

/// The result of verifying one chain.
#[derive(Clone, Debug, Serialize)]
pub struct ChainReport {
    pub operator_id: String,
    pub archive: Archive,
    pub entries: usize,
    /// The first entry that does not hold, if any.
    pub broken: Option<ChainBreak>,
}

/// Verifies every chain in the database, one chain in memory at a time.
pub async fn verify_all(pool: &AnyPool) -> Result<Vec<ChainReport>, sqlx::Error> {
    let chains: Vec<(String, String)> =
        sqlx::query_as("SELECT DISTINCT operator_id, archive FROM archive_entries ORDER BY operator_id, archive").fetch_all(pool).await?;
    let mut reports = Vec::with_capacity(chains.len());
    for (operator_id, archive_name) in chains {
        let Some(archive) = Archive::parse(&archive_name) else {
            tracing::warn!(operator = %operator_id, archive = %archive_name, "archive entries with an unknown archive name");
            continue;
        };
        let entries = load_chain(pool, &operator_id, archive).await?;
        let (count, broken) = match verify_chain(&entries) {
            Ok(count) => (count, None),
            Err(problem) => (entries.len(), Some(problem)),
        };
        reports.push(ChainReport { operator_id, archive, entries: count, broken });
    }
    Ok(reports)
}
