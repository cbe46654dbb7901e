//! Operator archives (作业人员档案): append-only chains of entries, one training archive
//! (培训档案) and one continuing-education archive (继续教育档案) per operator.
//!
//! Each entry stores the SHA-256 of the entry before it (`prev_hash`, 64 zeros for the
//! first) and its own hash over all its fields, so changing, removing or reordering any
//! stored entry breaks the chain at that entry. A correction is a new entry that names
//! the entry it supersedes, with a reason and an approver; nothing is updated in place.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of a chain's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The two archives of an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Archive {
    /// Training (培训): internal training by units and other training events attended.
    Training,
    /// Continuing education (继续教育): study sessions at institutions, exams, findings,
    /// review decisions, appeals, credits and credit cards of the annual pipeline.
    ContinuingEducation,
}

impl Archive {
    pub fn as_str(self) -> &'static str {
        match self {
            Archive::Training => "training",
            Archive::ContinuingEducation => "continuing_education",
        }
    }

    pub fn parse(text: &str) -> Option<Archive> {
        match text {
            "training" => Some(Archive::Training),
            "continuing_education" => Some(Archive::ContinuingEducation),
            _ => None,
        }
    }
}

/// One archive entry as stored. `seq` counts from 1 within the operator's archive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub operator_id: String,
    pub archive: String,
    pub seq: i64,
    /// session | exam | finding | decision | appeal | credit | card_issued | card_revoked | correction | …
    pub kind: String,
    /// Key that makes appending idempotent, such as `decision:<case id>`.
    pub entry_key: String,
    /// The operator's unit when the entry was recorded.
    pub unit_id: Option<String>,
    /// JSON text of the entry's content.
    pub body: String,
    /// Account id of the person who recorded or decided it, or `system`.
    pub recorded_by: String,
    pub approved_by: Option<String>,
    /// `seq` of the entry a correction supersedes.
    pub supersedes: Option<i64>,
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub recorded_at: i64,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// Computes the entry's hash over every field but `hash`. Each field is written as
    /// its byte length, a colon and the bytes, so no two field lists encode alike.
    pub fn compute_hash(&self) -> String {
        let fields: [Option<String>; 13] = [
            Some(self.operator_id.clone()),
            Some(self.archive.clone()),
            Some(self.seq.to_string()),
            Some(self.kind.clone()),
            Some(self.entry_key.clone()),
            self.unit_id.clone(),
            Some(self.body.clone()),
            Some(self.recorded_by.clone()),
            self.approved_by.clone(),
            self.supersedes.map(|seq| seq.to_string()),
            self.reason.clone(),
            Some(self.recorded_at.to_string()),
            Some(self.prev_hash.clone()),
        ];
        let mut hasher = Sha256::new();
        for field in &fields {
            match field {
                Some(text) => hasher.update(format!("{}:{text};", text.len())),
                None => hasher.update("-;"),
            }
        }
        hex::encode(hasher.finalize())
    }
}

/// The first entry of a chain that does not hold, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ChainBreak {
    /// The stored hash differs from the hash of the stored fields: the entry was changed.
    HashMismatch { seq: i64 },
    /// The entry's `prev_hash` is not the previous entry's hash: an entry before it was
    /// removed, inserted or changed together with its hash.
    PreviousMismatch { seq: i64 },
    /// The sequence skips or repeats a number.
    SequenceGap { expected: i64, found: i64 },
}

impl ChainBreak {
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::HashMismatch { seq } | ChainBreak::PreviousMismatch { seq } => *seq,
            ChainBreak::SequenceGap { found, .. } => *found,
        }
    }
}

/// Checks one chain, given in `seq` order. Returns the number of entries, or the first
/// break.
pub fn verify_chain(entries: &[Entry]) -> Result<usize, ChainBreak> {
    let mut previous = GENESIS_HASH.to_string();
    for (index, entry) in entries.iter().enumerate() {
        let expected = index as i64 + 1;
        if entry.seq != expected {
            return Err(ChainBreak::SequenceGap { expected, found: entry.seq });
        }
        if entry.prev_hash != previous {
            return Err(ChainBreak::PreviousMismatch { seq: entry.seq });
        }
        if entry.compute_hash() != entry.hash {
            return Err(ChainBreak::HashMismatch { seq: entry.seq });
        }
        previous = entry.hash.clone();
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut entries = Vec::new();
        let mut previous = GENESIS_HASH.to_string();
        for seq in 1..=n {
            let mut entry = Entry {
                operator_id: "op-1".into(),
                archive: "continuing_education".into(),
                seq,
                kind: "session".into(),
                entry_key: format!("session:s-{seq}"),
                unit_id: Some("u1".into()),
                body: format!("{{\"minutes\":{seq}}}"),
                recorded_by: "system".into(),
                approved_by: None,
                supersedes: None,
                reason: None,
                recorded_at: seq * 1000,
                prev_hash: previous.clone(),
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            previous = entry.hash.clone();
            entries.push(entry);
        }
        entries
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(4)), Ok(4));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn changed_body_breaks_at_entry() {
        let mut entries = chain(4);
        entries[2].body = "{\"minutes\":300}".into();
        assert_eq!(verify_chain(&entries), Err(ChainBreak::HashMismatch { seq: 3 }));
    }

    #[test]
    fn rehashed_change_breaks_next_entry() {
        let mut entries = chain(4);
        entries[1].reason = Some("edited".into());
        entries[1].hash = entries[1].compute_hash();
        assert_eq!(verify_chain(&entries), Err(ChainBreak::PreviousMismatch { seq: 3 }));
    }

    #[test]
    fn removed_entry_is_gap() {
        let mut entries = chain(4);
        entries.remove(1);
        assert_eq!(verify_chain(&entries), Err(ChainBreak::SequenceGap { expected: 2, found: 3 }));
    }

    #[test]
    fn absent_and_empty_fields_differ() {
        let mut entries = chain(1);
        let original = entries[0].compute_hash();
        entries[0].approved_by = Some(String::new());
        assert_ne!(entries[0].compute_hash(), original);
    }
}
