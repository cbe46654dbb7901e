//! xAPI statements (Experience API 1.0.3) as session reports from training institutions.
//!
//! An institution may send, at the signed session webhook, one xAPI statement instead of
//! certflow's JSON. The mapping:
//!
//! | statement | session report |
//! |---|---|
//! | `id` | `statement_id` |
//! | `context.registration` | `enrollment_id` (xAPI's registration is the enrollment) |
//! | `verb.id` | one of [`STUDY_VERBS`]; other verbs are rejected |
//! | `object.id` | the course code is its last path segment |
//! | `timestamp` | `ended_at` |
//! | `result.duration` | `started_at` = `timestamp` − duration |
//! | extension `…/face_check` in `result` or `context` | `face_check` (`missing` when absent) |
//! | `actor` | kept in the evidence, with the statement's `authority` |

use chrono::Duration;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::sessions::{FaceCheck, SessionReport};

/// Verbs that report study time.
pub const STUDY_VERBS: &[&str] = &["http://adlnet.gov/expapi/verbs/completed", "http://adlnet.gov/expapi/verbs/attended", "http://adlnet.gov/expapi/verbs/experienced"];

/// Returns whether `body` is an xAPI statement rather than certflow's JSON report.
pub fn is_statement(body: &Value) -> bool {
    body.get("verb").is_some() && body.get("actor").is_some() && body.get("object").is_some()
}

/// Maps an xAPI statement onto a session report, with errors that name the xAPI field.
pub(crate) fn to_report(statement: &Value) -> Result<SessionReport, ApiError> {
    let text = |pointer: &'static str, field: &'static str| -> Result<String, ApiError> {
        statement
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ApiError::invalid("xapi.field_missing").field(field).arg("field", field))
    };

    let statement_id = text("/id", "id")?;
    let enrollment_id = text("/context/registration", "context.registration")?;
    let verb = text("/verb/id", "verb.id")?;
    if !STUDY_VERBS.contains(&verb.as_str()) {
        return Err(ApiError::invalid("xapi.verb_unsupported").field("verb.id").arg("verb", &verb).arg("verbs", STUDY_VERBS.join("、")));
    }
    let object_id = text("/object/id", "object.id")?;
    let course_code = object_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|segment| !segment.is_empty() && !segment.contains(':'))
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid("xapi.object_invalid").field("object.id").arg("value", &object_id))?;

    // The end is the statement's timestamp; the start follows from the duration.
    let timestamp = text("/timestamp", "timestamp")?;
    let ended_at = chrono::DateTime::parse_from_rfc3339(&timestamp).map_err(|_| ApiError::invalid("session.time_invalid").field("timestamp").arg("value", &timestamp))?;
    let duration_text = text("/result/duration", "result.duration")?;
    let duration = parse_duration(&duration_text).ok_or_else(|| ApiError::invalid("xapi.duration_invalid").field("result.duration").arg("value", &duration_text))?;
    let started_at = ended_at - duration;

    let mut evidence = Map::new();
    for key in ["actor", "authority"] {
        if let Some(value) = statement.get(key) {
            evidence.insert(key.to_string(), value.clone());
        }
    }
    evidence.insert("format".into(), Value::from("xapi"));

    Ok(SessionReport {
        statement_id,
        enrollment_id,
        course_code,
        started_at: started_at.to_rfc3339(),
        ended_at: ended_at.to_rfc3339(),
        face_check: face_check(statement),
        evidence,
    })
}

/// Reads the face check from an extension whose IRI ends in `/face_check`.
fn face_check(statement: &Value) -> FaceCheck {
    let extensions = ["/result/extensions", "/context/extensions"].into_iter().filter_map(|pointer| statement.pointer(pointer).and_then(Value::as_object));
    for map in extensions {
        for (iri, value) in map {
            if iri.ends_with("/face_check") {
                return match value.as_str() {
                    Some("passed") => FaceCheck::Passed,
                    Some("failed") => FaceCheck::Failed,
                    _ => FaceCheck::Missing,
                };
            }
        }
    }
    FaceCheck::Missing
}

/// Parses the time part of an ISO 8601 duration as xAPI uses it: `PT#H#M#S`, with
/// fractional seconds. Day, month and year parts are not accepted, because no study
/// session lasts that long.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix("PT")?;
    if rest.is_empty() {
        return None;
    }
    let mut total_ms: f64 = 0.0;
    let mut number = String::new();
    for ch in rest.chars() {
        match ch {
            '0'..='9' | '.' => number.push(ch),
            'H' | 'M' | 'S' => {
                let value: f64 = number.parse().ok()?;
                number.clear();
                total_ms += value * match ch {
                    'H' => 3_600_000.0,
                    'M' => 60_000.0,
                    _ => 1_000.0,
                };
            }
            _ => return None,
        }
    }
    if !number.is_empty() {
        return None;
    }
    Some(Duration::milliseconds(total_ms.round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        let cases = [("PT45M", Some(45 * 60_000)), ("PT1H5M30S", Some(3_930_000)), ("PT0.5S", Some(500)), ("PT", None), ("P1D", None), ("PT5X", None), ("PT5", None), ("45M", None)];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text).map(|d| d.num_milliseconds()), expected, "{text}");
        }
    }
}
