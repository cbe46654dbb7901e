//! Screening rules over one exam attempt, from the evidence the exam page uploaded and
//! the server's own times.
//!
//! The attempt's `evidence` object holds lists: `face_checks: [{result}]`,
//! `focus_loss: [..]`, `audio: [{flagged: bool}]`, `snapshots: [..]`.

use serde_json::{Value, json};

use super::finding::{Finding, Rule};
use super::settings::ExamThresholds;

/// What the exam rules read.
#[derive(Clone, Debug)]
pub struct ExamFacts<'a> {
    pub evidence: &'a Value,
    /// Server times of the start and the submission, unix ms.
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// Questions that received an answer.
    pub answered: usize,
}

/// Applies every exam rule and returns the findings, in rule order.
pub fn screen_exam(facts: &ExamFacts, limits: &ExamThresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    let list = |name: &str| facts.evidence.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();

    let failed = list("face_checks").iter().filter(|check| check.get("result").and_then(Value::as_str).is_some_and(|result| result != "passed")).count();
    if failed > limits.face_failures_allowed as usize {
        findings.push(Finding::new(Rule::ExamFaceMismatch, json!({ "failed_checks": failed, "allowed": limits.face_failures_allowed })));
    }

    let focus_losses = list("focus_loss").len();
    if focus_losses > limits.focus_losses_allowed as usize {
        findings.push(Finding::new(Rule::FocusLostRepeatedly, json!({ "count": focus_losses, "allowed": limits.focus_losses_allowed })));
    }

    let flagged_audio = list("audio").iter().filter(|segment| segment.get("flagged") == Some(&Value::Bool(true))).count();
    if flagged_audio > limits.audio_flags_allowed as usize {
        findings.push(Finding::new(Rule::AudioFlagged, json!({ "flagged": flagged_audio, "allowed": limits.audio_flags_allowed })));
    }

    if let (Some(finished), true) = (facts.finished_at_ms, facts.answered > 0) {
        let seconds = (finished - facts.started_at_ms).max(0) as f64 / 1000.0;
        let per_question = seconds / facts.answered as f64;
        if per_question < f64::from(limits.min_seconds_per_question) {
            findings.push(Finding::new(
                Rule::ImpossibleTiming,
                json!({ "seconds": seconds, "answered": facts.answered, "seconds_per_question": (per_question * 10.0).round() / 10.0, "minimum": limits.min_seconds_per_question }),
            ));
        }
    }
    findings
}
