//! Response bodies of the supervision platform API, shared by the client and the simulator.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Body of `201` (first delivery) and `200` (repeat of a stored idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckBody {
    pub ack_id: String,
    pub duplicate: bool,
}

/// Body of every 4xx and 5xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable reason, for example `invalid_record` or `out_of_order`.
    pub code: String,
    pub message: String,
    /// Offending record field, sent with `invalid_record`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Sequence the receiver expects next for the operator, sent with `out_of_order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
}

/// One certificate returned by `GET /v1/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Work item code (作业项目代号), for example `Q2` or `N1`.
    pub item_code: String,
    /// Certificate number (证书编号).
    pub certificate_no: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
}

/// Error codes that the contract defines.
pub mod codes {
    pub const INVALID_RECORD: &str = "invalid_record";
    pub const OUT_OF_ORDER: &str = "out_of_order";
    pub const IDEMPOTENCY_KEY_CONFLICT: &str = "idempotency_key_conflict";
    pub const UNKNOWN_KEY_ID: &str = "unknown_key_id";
    pub const TIMESTAMP_OUT_OF_WINDOW: &str = "timestamp_out_of_window";
    pub const BAD_SIGNATURE: &str = "bad_signature";
    pub const INVALID_QUERY: &str = "invalid_query";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const INTERNAL_ERROR: &str = "internal_error";
}
