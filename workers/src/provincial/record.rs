//! The record pushed to `POST /v1/records`, and the checks the receiver applies to it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Maximum length in bytes of `idempotency_key` and `operator_ref`.
pub const MAX_KEY_LEN: usize = 128;

/// Kind of a pushed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Operator (作业人员) master data.
    Operator,
    /// Employer unit (使用单位) master data.
    Unit,
    /// Operator's employment at a unit.
    Affiliation,
    /// Enrollment in a continuing-education course.
    Enrollment,
    /// One study session with its duration.
    StudySession,
    /// One exam attempt with its score.
    ExamAttempt,
    /// Anti-cheat finding against a session or attempt.
    Finding,
    /// Staff decision on a finding or an application.
    Decision,
    /// Continuing-education credit awarded.
    Credit,
    /// Operator card (作业人员证) issued.
    CardIssued,
    /// Operator card revoked.
    CardRevoked,
}

impl RecordKind {
    /// Every kind, in the order of the contract.
    pub const ALL: [RecordKind; 11] = [
        Self::Operator,
        Self::Unit,
        Self::Affiliation,
        Self::Enrollment,
        Self::StudySession,
        Self::ExamAttempt,
        Self::Finding,
        Self::Decision,
        Self::Credit,
        Self::CardIssued,
        Self::CardRevoked,
    ];

    /// Returns the wire name, for example `study_session`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Unit => "unit",
            Self::Affiliation => "affiliation",
            Self::Enrollment => "enrollment",
            Self::StudySession => "study_session",
            Self::ExamAttempt => "exam_attempt",
            Self::Finding => "finding",
            Self::Decision => "decision",
            Self::Credit => "credit",
            Self::CardIssued => "card_issued",
            Self::CardRevoked => "card_revoked",
        }
    }

    /// Looks up a kind by its wire name.
    pub fn from_wire(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record sent to the supervision platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub kind: RecordKind,
    /// Key under which the receiver stores the record. A repeat returns the first ack.
    pub idempotency_key: String,
    /// Masked or hashed operator id, never the plain id number. Records are ordered per
    /// `operator_ref`.
    pub operator_ref: String,
    /// Position of the record among the records of its `operator_ref`, starting at 1 and
    /// increasing by exactly 1.
    pub sequence: u64,
    /// Time of the event, serialized as RFC 3339 in UTC.
    pub occurred_at: DateTime<Utc>,
    /// Kind-specific content, a JSON object.
    pub body: Value,
}

/// Reason a record is invalid, sent back as `422 {"code": "invalid_record", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid record field {field}: {message}")]
pub struct InvalidRecord {
    /// Name of the offending field, or `record` when the document itself is wrong.
    pub field: String,
    pub message: String,
}

impl InvalidRecord {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl SyncRecord {
    /// Checks the fields that serde's types do not constrain: key lengths and characters,
    /// sequence start and body shape.
    pub fn validate(&self) -> Result<(), InvalidRecord> {
        check_key("idempotency_key", &self.idempotency_key)?;
        check_key("operator_ref", &self.operator_ref)?;
        if self.sequence == 0 {
            return Err(InvalidRecord::new("sequence", "must be 1 or greater"));
        }
        if !self.body.is_object() {
            return Err(InvalidRecord::new("body", "must be a JSON object"));
        }
        Ok(())
    }
}

/// Checks a key that also travels in a header or a query string: 1 to [`MAX_KEY_LEN`]
/// bytes of visible ASCII.
fn check_key(field: &str, value: &str) -> Result<(), InvalidRecord> {
    if value.is_empty() {
        return Err(InvalidRecord::new(field, "must not be empty"));
    }
    if value.len() > MAX_KEY_LEN {
        return Err(InvalidRecord::new(
            field,
            format!(
                "is {} bytes long, the maximum is {MAX_KEY_LEN}",
                value.len()
            ),
        ));
    }
    if !value.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(InvalidRecord::new(
            field,
            "must contain only visible ASCII characters (no spaces)",
        ));
    }
    Ok(())
}

/// Parses and validates a request body as the receiver does, naming the first invalid field.
/// Fields outside the contract are ignored.
pub fn parse_record(bytes: &[u8]) -> Result<SyncRecord, InvalidRecord> {
    let document: Value = serde_json::from_slice(bytes).map_err(|error| {
        InvalidRecord::new("record", format!("body is not valid JSON: {error}"))
    })?;
    let Value::Object(fields) = document else {
        return Err(InvalidRecord::new("record", "body must be a JSON object"));
    };

    let kind_name = required_str(&fields, "kind")?;
    let kind = RecordKind::from_wire(kind_name)
        .ok_or_else(|| InvalidRecord::new("kind", format!("unknown kind {kind_name:?}")))?;

    let idempotency_key = required_str(&fields, "idempotency_key")?.to_owned();
    let operator_ref = required_str(&fields, "operator_ref")?.to_owned();

    let sequence = fields
        .get("sequence")
        .ok_or_else(|| InvalidRecord::new("sequence", "is missing"))?
        .as_u64()
        .ok_or_else(|| InvalidRecord::new("sequence", "must be a non-negative integer"))?;

    let occurred_at_text = required_str(&fields, "occurred_at")?;
    let occurred_at = DateTime::parse_from_rfc3339(occurred_at_text)
        .map_err(|error| InvalidRecord::new("occurred_at", format!("is not RFC 3339: {error}")))?;
    if occurred_at.offset().local_minus_utc() != 0 {
        return Err(InvalidRecord::new(
            "occurred_at",
            format!("must be in UTC (Z or +00:00), got {occurred_at_text:?}"),
        ));
    }

    let body = fields
        .get("body")
        .cloned()
        .ok_or_else(|| InvalidRecord::new("body", "is missing"))?;

    let record = SyncRecord {
        kind,
        idempotency_key,
        operator_ref,
        sequence,
        occurred_at: occurred_at.with_timezone(&Utc),
        body,
    };
    record.validate()?;
    Ok(record)
}

fn required_str<'a>(
    fields: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<&'a str, InvalidRecord> {
    match fields.get(field) {
        None => Err(InvalidRecord::new(field, "is missing")),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(InvalidRecord::new(field, "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid_document() -> Value {
        json!({
            "kind": "study_session",
            "idempotency_key": "ss-0001",
            "operator_ref": "op-3f9a",
            "sequence": 1,
            "occurred_at": "2026-03-01T02:30:00Z",
            "body": {"minutes": 45}
        })
    }

    fn parse_with(field: &str, value: Value) -> Result<SyncRecord, InvalidRecord> {
        let mut document = valid_document();
        document[field] = value;
        parse_record(&serde_json::to_vec(&document).unwrap())
    }

    #[test]
    fn record_wire_format() {
        let record = parse_record(&serde_json::to_vec(&valid_document()).unwrap()).unwrap();
        assert_eq!(record.kind, RecordKind::StudySession);
        assert_eq!(record.sequence, 1);

        let wire = serde_json::to_value(&record).unwrap();
        assert_eq!(wire, valid_document());
    }

    #[test]
    fn kind_names_match_serde() {
        for kind in RecordKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
            assert_eq!(RecordKind::from_wire(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn parse_record_names_invalid_field() {
        let cases = [
            ("kind", json!("lecture")),
            ("kind", json!(3)),
            ("idempotency_key", json!("")),
            ("idempotency_key", json!("has space")),
            ("idempotency_key", json!("k".repeat(MAX_KEY_LEN + 1))),
            ("operator_ref", json!(null)),
            ("sequence", json!(0)),
            ("sequence", json!(-1)),
            ("sequence", json!("1")),
            ("occurred_at", json!("2026-03-01 02:30:00")),
            ("occurred_at", json!("2026-03-01T10:30:00+08:00")),
            ("body", json!([1, 2])),
        ];
        for (field, value) in cases {
            let error = parse_with(field, value.clone()).unwrap_err();
            assert_eq!(error.field, field, "value {value}");
        }
    }

    #[test]
    fn parse_record_rejects_non_object() {
        assert_eq!(parse_record(b"[1]").unwrap_err().field, "record");
        assert_eq!(parse_record(b"{").unwrap_err().field, "record");
    }

    #[test]
    fn parse_record_missing_field() {
        let mut document = valid_document();
        document.as_object_mut().unwrap().remove("operator_ref");
        let error = parse_record(&serde_json::to_vec(&document).unwrap()).unwrap_err();
        assert_eq!(error, InvalidRecord::new("operator_ref", "is missing"));
    }
}
