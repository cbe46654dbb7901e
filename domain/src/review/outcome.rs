//! The outcome of screening one record: pass, sample for review, or require review.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::finding::Finding;
use super::settings::Sampling;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Clean and not sampled: the record counts.
    Pass,
    /// Clean but drawn for review: the record counts now, and a reviewer checks it later.
    Sample,
    /// At least one finding: the record waits for a reviewer before it counts.
    Review,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Sample => "sample",
            Outcome::Review => "review",
        }
    }
}

/// Decides the outcome of a record from its findings. The sample draw depends only on
/// the salt and `record_id`, so screening the same record again gives the same answer.
pub fn decide(findings: &[Finding], sampling: &Sampling, record_id: &str) -> Outcome {
    if !findings.is_empty() {
        Outcome::Review
    } else if is_sampled(sampling, record_id) {
        Outcome::Sample
    } else {
        Outcome::Pass
    }
}

/// Returns whether `record_id` falls in the sampled share: the first 8 bytes of
/// SHA-256(salt ":" id), read as a fraction of 2^64, below the share.
pub fn is_sampled(sampling: &Sampling, record_id: &str) -> bool {
    let digest = Sha256::digest(format!("{}:{record_id}", sampling.salt).as_bytes());
    let draw = u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"));
    let fraction = draw as f64 / u64::MAX as f64;
    fraction * 100.0 < sampling.clean_share_percent
}
