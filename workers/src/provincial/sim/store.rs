//! Durable record store of the simulator: one JSON line per accepted record in
//! `records.jsonl`, with the idempotency index and per-operator sequences rebuilt in memory
//! on open.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tracing::warn;

use crate::provincial::record::{RecordKind, SyncRecord};

/// File name of the record log inside the store directory.
pub const RECORDS_FILE: &str = "records.jsonl";

/// One accepted record as stored and as listed by `GET /sim/records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub ack_id: String,
    pub received_at: DateTime<Utc>,
    pub record: SyncRecord,
}

/// Outcome of checking a new record against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The record may be stored.
    Accept,
    /// The same record is already stored under its idempotency key.
    Duplicate { ack_id: String },
    /// The idempotency key is stored with different content.
    KeyConflict { ack_id: String },
    /// The sequence is not the next one for the operator.
    OutOfOrder { expected: u64 },
}

pub struct RecordStore {
    path: PathBuf,
    file: tokio::fs::File,
    records: Vec<StoredRecord>,
    /// Index into `records` by idempotency key.
    by_key: HashMap<String, usize>,
    last_sequence: HashMap<String, u64>,
}

impl RecordStore {
    /// Opens or creates `dir/records.jsonl` and loads every stored record.
    ///
    /// A final line without a newline is the remains of an interrupted write: it is logged
    /// and cut off so that the next append starts on a fresh line. Any other unreadable
    /// line is an error.
    pub async fn open(dir: &Path) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(dir).await.with_context(|| {
            format!(
                "failed to create simulator store directory {}",
                dir.display()
            )
        })?;
        let path = dir.join(RECORDS_FILE);

        let content = match tokio::fs::read(&path).await {
            Ok(content) => content,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                return Err(error).with_context(|| format!("failed to read {}", path.display()));
            }
        };
        let (records, complete_len) = parse_lines(&path, &content)?;

        if complete_len < content.len() {
            warn!(
                path = %path.display(),
                dropped_bytes = content.len() - complete_len,
                "simulator store ends with an incomplete line, cutting it off"
            );
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .with_context(|| format!("failed to open {} for truncation", path.display()))?;
            file.set_len(complete_len as u64)
                .with_context(|| format!("failed to truncate {}", path.display()))?;
        }

        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .with_context(|| format!("failed to open {} for appending", path.display()))?;

        let mut store = Self {
            path,
            file,
            records: Vec::with_capacity(records.len()),
            by_key: HashMap::new(),
            last_sequence: HashMap::new(),
        };
        for stored in records {
            store.index(stored);
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Decides whether `record` is new, a repeat, a reused key or out of order. The
    /// idempotency check comes first, so a repeat of a stored record is a duplicate even
    /// though its sequence is no longer the next one.
    pub fn admit(&self, record: &SyncRecord) -> Admission {
        if let Some(&index) = self.by_key.get(&record.idempotency_key) {
            let stored = &self.records[index];
            let ack_id = stored.ack_id.clone();
            return if stored.record == *record {
                Admission::Duplicate { ack_id }
            } else {
                Admission::KeyConflict { ack_id }
            };
        }

        let expected = self
            .last_sequence
            .get(&record.operator_ref)
            .copied()
            .unwrap_or(0)
            + 1;
        if record.sequence == expected {
            Admission::Accept
        } else {
            Admission::OutOfOrder { expected }
        }
    }

    /// Appends an admitted record to the file, then to the in-memory indexes.
    pub async fn append(&mut self, stored: StoredRecord) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(&stored).context("failed to serialize stored record")?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .await
            .with_context(|| format!("failed to append to {}", self.path.display()))?;
        self.file
            .flush()
            .await
            .with_context(|| format!("failed to flush {}", self.path.display()))?;
        self.index(stored);
        Ok(())
    }

    /// Lists stored records in arrival order, optionally for one operator.
    pub fn list(&self, operator_ref: Option<&str>) -> Vec<StoredRecord> {
        self.records
            .iter()
            .filter(|stored| operator_ref.is_none_or(|wanted| stored.record.operator_ref == wanted))
            .cloned()
            .collect()
    }

    /// Counts stored records per kind whose `occurred_at` falls on `date` in Beijing time
    /// (UTC+8). Every kind is present, with 0 when none was received.
    pub fn counts_on(&self, date: NaiveDate) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<String, u64> = RecordKind::ALL
            .iter()
            .map(|kind| (kind.as_str().to_owned(), 0))
            .collect();
        for stored in &self.records {
            if stored
                .record
                .occurred_at
                .with_timezone(&Shanghai)
                .date_naive()
                == date
            {
                *counts
                    .entry(stored.record.kind.as_str().to_owned())
                    .or_default() += 1;
            }
        }
        counts
    }

    fn index(&mut self, stored: StoredRecord) {
        let last = self
            .last_sequence
            .entry(stored.record.operator_ref.clone())
            .or_default();
        *last = (*last).max(stored.record.sequence);
        self.by_key
            .insert(stored.record.idempotency_key.clone(), self.records.len());
        self.records.push(stored);
    }
}

/// Parses the record log and returns the records with the byte length of the complete lines.
fn parse_lines(path: &Path, content: &[u8]) -> anyhow::Result<(Vec<StoredRecord>, usize)> {
    let mut records = Vec::new();
    let mut offset = 0;
    for (index, line) in content.split_inclusive(|&byte| byte == b'\n').enumerate() {
        let line_number = index + 1;
        if !line.ends_with(b"\n") {
            // An interrupted write, which `open` cuts off.
            return Ok((records, offset));
        }
        offset += line.len();

        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<StoredRecord>(text) {
            Ok(stored) => records.push(stored),
            Err(error) => bail!(
                "line {line_number} of {} is not a stored record: {error}; fix or remove the line, then restart",
                path.display()
            ),
        }
    }
    Ok((records, offset))
}
