//! Screening rules over one study session (学习记录), applied to facts the worker
//! gathers: the session as reported, the course minimum, and the operator's and the
//! device's other sessions at the same time.
//!
//! The institution's `evidence` object may carry (all optional):
//! `device`, `ip`, `media_seconds` (seconds of course media played),
//! `course_completed` (bool), `random_checks: [{at, result: passed|failed|missed}]`,
//! `snapshots: [{at, same_person: bool}]`, and
//! `resumes: [{paused_at, resumed_at, face_check: passed|failed|missing}]` with RFC 3339 times.

use chrono::DateTime;
use serde_json::{Value, json};

use super::finding::{Finding, Rule};
use super::settings::SessionThresholds;

/// Another session that overlaps the one screened.
#[derive(Clone, Debug, PartialEq)]
pub struct Overlap {
    pub session_id: String,
    pub operator_id: String,
    /// Minutes the two sessions share.
    pub minutes: i64,
}

/// What the session rules read.
#[derive(Clone, Debug)]
pub struct SessionFacts<'a> {
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    /// passed | failed | missing
    pub face_check: &'a str,
    pub evidence: &'a Value,
    /// The course's minimum study minutes, when the course is known.
    pub course_minutes: Option<u32>,
    /// Minutes of the same course's earlier sessions that still count.
    pub earlier_course_minutes: i64,
    /// The operator's other sessions overlapping this one.
    pub own_overlaps: Vec<Overlap>,
    /// Other operators' sessions on the same device at the same time.
    pub device_overlaps: Vec<Overlap>,
    /// Other operators' sessions from the same IP address at the same time.
    pub ip_overlaps: Vec<Overlap>,
}

/// Applies every session rule and returns the findings, in rule order.
pub fn screen_session(facts: &SessionFacts, limits: &SessionThresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    let evidence = facts.evidence;
    let session_minutes = (facts.ended_at_ms - facts.started_at_ms) / 60_000;

    if facts.face_check != "passed" {
        findings.push(Finding::new(Rule::FaceCheckStart, json!({ "face_check": facts.face_check })));
    }

    let failed_checks: Vec<&Value> = list(evidence, "random_checks").filter(|check| text(check, "result") != Some("passed")).collect();
    if failed_checks.len() > limits.random_check_failures_allowed as usize {
        findings.push(Finding::new(
            Rule::RandomCheckFailures,
            json!({ "failed": failed_checks.len(), "allowed": limits.random_check_failures_allowed, "checks": failed_checks }),
        ));
    }

    let other_person: Vec<&Value> = list(evidence, "snapshots").filter(|snapshot| snapshot.get("same_person") == Some(&Value::Bool(false))).collect();
    if !other_person.is_empty() {
        findings.push(Finding::new(Rule::DifferentPerson, json!({ "snapshots": other_person })));
    }

    let completes = evidence.get("course_completed").and_then(Value::as_bool).unwrap_or(false);
    if let (true, Some(course_minutes)) = (completes, facts.course_minutes) {
        let counted = facts.earlier_course_minutes + session_minutes;
        let required = i64::from(course_minutes) * i64::from(limits.min_duration_percent) / 100;
        if counted < required {
            findings.push(Finding::new(
                Rule::ShorterThanCourse,
                json!({ "minutes": session_minutes, "earlier_minutes": facts.earlier_course_minutes, "required": required }),
            ));
        }
    }

    let seconds = (facts.ended_at_ms - facts.started_at_ms) as f64 / 1000.0;
    if let Some(media_seconds) = evidence.get("media_seconds").and_then(Value::as_f64) {
        if seconds > 0.0 && media_seconds / seconds > limits.max_playback_rate {
            let rate = (media_seconds / seconds * 100.0).round() / 100.0;
            findings.push(Finding::new(
                Rule::FasterThanRealTime,
                json!({ "media_seconds": media_seconds, "session_seconds": seconds, "rate": rate, "allowed": limits.max_playback_rate }),
            ));
        }
    }

    let overlaps: Vec<&Overlap> = facts.own_overlaps.iter().filter(|o| o.minutes > i64::from(limits.overlap_allowed_minutes)).collect();
    if !overlaps.is_empty() {
        let sessions: Vec<Value> = overlaps.iter().map(|o| json!({ "session_id": o.session_id, "minutes": o.minutes })).collect();
        findings.push(Finding::new(Rule::OverlappingSessions, json!({ "sessions": sessions })));
    }

    if let Some(finding) = crowd(Rule::SharedDevice, "device", evidence, &facts.device_overlaps, limits.max_operators_per_device) {
        findings.push(finding);
    }
    if let Some(finding) = crowd(Rule::SharedIp, "ip", evidence, &facts.ip_overlaps, limits.max_operators_per_ip) {
        findings.push(finding);
    }

    let gaps: Vec<Value> = list(evidence, "resumes")
        .filter_map(|resume| {
            let paused = instant_ms(resume, "paused_at")?;
            let resumed = instant_ms(resume, "resumed_at")?;
            let gap_minutes = (resumed - paused) / 60_000;
            let checked = text(resume, "face_check") == Some("passed");
            (gap_minutes > i64::from(limits.max_resume_gap_minutes) && !checked).then(|| json!({ "gap_minutes": gap_minutes, "resume": resume }))
        })
        .collect();
    if !gaps.is_empty() {
        findings.push(Finding::new(Rule::ResumeGap, json!({ "gaps": gaps, "allowed_minutes": limits.max_resume_gap_minutes })));
    }

    findings
}

/// Builds the finding for a device or IP address that served more operators at once
/// than `max_operators` (this session's operator included).
fn crowd(rule: Rule, key: &str, evidence: &Value, overlaps: &[Overlap], max_operators: u32) -> Option<Finding> {
    let value = text(evidence, key)?;
    let mut others: Vec<&str> = overlaps.iter().map(|o| o.operator_id.as_str()).collect();
    others.sort_unstable();
    others.dedup();
    let operators = others.len() + 1;
    (operators > max_operators as usize).then(|| {
        let sessions: Vec<&str> = overlaps.iter().map(|o| o.session_id.as_str()).collect();
        Finding::new(rule, json!({ key: value, "operators": operators, "allowed": max_operators, "sessions": sessions }))
    })
}

fn list<'a>(evidence: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    evidence.get(name).and_then(Value::as_array).into_iter().flatten()
}

fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

fn instant_ms(value: &Value, name: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text(value, name)?).ok().map(|instant| instant.timestamp_millis())
}

/// Returns the evidence's `device` and `ip` values, which the worker looks up across
/// operators.
pub fn device_and_ip(evidence: &Value) -> (Option<&str>, Option<&str>) {
    (text(evidence, "device").filter(|v| !v.is_empty()), text(evidence, "ip").filter(|v| !v.is_empty()))
}
