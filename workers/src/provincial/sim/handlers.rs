//! Request handlers of the simulator, with authentication and fault injection.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use tracing::{debug, error, info, warn};

use super::store::{Admission, StoredRecord};
use super::{DUPLICATE_ACK_PROBABILITY, Shared, SimFaults, SimState, SimStats, increment};
use crate::provincial::record::{MAX_KEY_LEN, parse_record};
use crate::provincial::signature::{
    HEADER_IDEMPOTENCY_KEY, HEADER_KEY_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    TIMESTAMP_TOLERANCE_SECS, canonical_string, parse_signature_header, timestamp_in_window,
    verify,
};
use crate::provincial::wire::{AckBody, ErrorBody, codes};

/// Error code of an invalid `POST /sim/faults` body (simulator only).
const INVALID_FAULTS: &str = "invalid_faults";
/// Error code of an unknown path (simulator only).
const NOT_FOUND: &str = "not_found";

/// Builds the route table without state, which [`super::router`] attaches.
pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/v1/records", post(push_record))
        .route("/v1/counts", get(daily_counts))
        .route("/v1/certificates", get(certificates))
        .route("/sim/faults", get(get_faults).post(set_faults))
        .route("/sim/records", get(list_records))
        .route("/sim/stats", get(get_stats))
        .fallback(not_found)
}

/// Error response in the contract's `{code, message, field?, expected?}` form.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<u64>,
    /// True when a fault setting caused the error.
    injected: bool,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                field: None,
                expected: None,
            },
            retry_after: None,
            injected: false,
        }
    }

    fn invalid_record(field: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::INVALID_RECORD,
            message,
        );
        error.body.field = Some(field.to_owned());
        error
    }

    fn invalid_query(field: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::BAD_REQUEST, codes::INVALID_QUERY, message);
        error.body.field = Some(field.to_owned());
        error
    }

    fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl Shared {
    /// Applies the delay, outage and random-error faults that every `/v1/*` request gets.
    async fn inject_faults(&self) -> Result<(), ApiError> {
        let faults = self.faults().clone();
        if faults.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
        }

        let fault = if let Some(remaining) = faults.down_for(self.clock.now().timestamp()) {
            let mut error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNAVAILABLE,
                format!("simulated outage, {remaining} s left"),
            );
            error.retry_after = Some(remaining);
            Some(error)
        } else if faults.error_rate > 0.0 && self.chance(faults.error_rate) {
            Some(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::INTERNAL_ERROR,
                "simulated server error",
            ))
        } else {
            None
        };

        match fault {
            Some(mut error) => {
                error.injected = true;
                Err(error)
            }
            None => Ok(()),
        }
    }

    /// Checks key id, timestamp window and signature of a `/v1/*` request.
    fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let key_id = header_str(headers, HEADER_KEY_ID).ok_or_else(|| {
            ApiError::unauthorized(codes::UNKNOWN_KEY_ID, "X-Certflow-Key-Id header is missing")
        })?;
        if key_id != self.key_id {
            return Err(ApiError::unauthorized(
                codes::UNKNOWN_KEY_ID,
                format!("key id {key_id:?} is not known"),
            ));
        }

        let timestamp: i64 = header_str(headers, HEADER_TIMESTAMP)
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    codes::BAD_SIGNATURE,
                    "X-Certflow-Timestamp header is missing or not an integer of unix seconds",
                )
            })?;
        let now = Utc::now().timestamp();
        if !timestamp_in_window(timestamp, now) {
            return Err(ApiError::unauthorized(
                codes::TIMESTAMP_OUT_OF_WINDOW,
                format!(
                    "timestamp {timestamp} differs from receiver time {now} by more than {TIMESTAMP_TOLERANCE_SECS} s; check the sender's clock"
                ),
            ));
        }

        let signature_header = header_str(headers, HEADER_SIGNATURE).ok_or_else(|| {
            ApiError::unauthorized(
                codes::BAD_SIGNATURE,
                "X-Certflow-Signature header is missing",
            )
        })?;
        let (algorithm, signature) = parse_signature_header(signature_header)
            .map_err(|error| ApiError::unauthorized(codes::BAD_SIGNATURE, error.to_string()))?;

        let path_and_query = uri
            .path_and_query()
            .map_or_else(|| uri.path(), |value| value.as_str());
        let canonical =
            canonical_string(algorithm, method.as_str(), path_and_query, timestamp, body);
        if !verify(algorithm, &self.secret, &canonical, &signature) {
            return Err(ApiError::unauthorized(
                codes::BAD_SIGNATURE,
                format!("{algorithm} signature does not match the request"),
            ));
        }
        Ok(())
    }

    /// Counts and logs an error response of `POST /v1/records`.
    fn push_error(&self, idempotency_key: &str, error: ApiError) -> Response {
        if error.injected {
            increment(&self.counters.errors_injected);
        }
        if error.status.is_client_error() {
            increment(&self.counters.rejected);
        }

        let status = error.status.as_u16();
        let code = error.body.code.as_str();
        let message = error.body.message.as_str();
        if error.injected {
            info!(
                idempotency_key,
                status, code, message, "provincial simulator injected a fault"
            );
        } else if error.status.is_server_error() {
            error!(
                idempotency_key,
                status, code, message, "provincial simulator failed to handle a record"
            );
        } else {
            warn!(
                idempotency_key,
                status, code, message, "provincial simulator rejected a record"
            );
        }
        error.into_response()
    }

    /// Counts and logs an error response of a `GET /v1/*` endpoint.
    fn query_error(&self, path: &str, error: ApiError) -> Response {
        if error.injected {
            increment(&self.counters.errors_injected);
        }
        let status = error.status.as_u16();
        let code = error.body.code.as_str();
        let message = error.body.message.as_str();
        if error.injected {
            info!(
                path,
                status, code, message, "provincial simulator injected a fault"
            );
        } else {
            warn!(
                path,
                status, code, message, "provincial simulator rejected a query"
            );
        }
        error.into_response()
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn push_record(
    State(state): State<SimState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &state.inner;
    increment(&shared.counters.received);
    let header_key = header_str(&headers, HEADER_IDEMPOTENCY_KEY)
        .unwrap_or_default()
        .to_owned();

    if let Err(error) = shared.inject_faults().await {
        return shared.push_error(&header_key, error);
    }
    if let Err(error) = shared.authenticate(&method, &uri, &headers, &body) {
        return shared.push_error(&header_key, error);
    }

    let record = match parse_record(&body) {
        Ok(record) => record,
        Err(invalid) => {
            return shared.push_error(
                &header_key,
                ApiError::invalid_record(&invalid.field, invalid.message),
            );
        }
    };
    let key = record.idempotency_key.as_str();
    if header_key.is_empty() {
        let error =
            ApiError::invalid_record("idempotency_key", "Idempotency-Key header is missing");
        return shared.push_error(key, error);
    }
    if header_key != key {
        let error = ApiError::invalid_record(
            "idempotency_key",
            format!(
                "Idempotency-Key header {header_key:?} does not match the record's idempotency_key"
            ),
        );
        return shared.push_error(key, error);
    }

    let (reject_kind, duplicate_acks) = {
        let faults = shared.faults();
        (
            faults.reject_kinds.contains(&record.kind),
            faults.duplicate_acks,
        )
    };
    if reject_kind {
        let mut error = ApiError::invalid_record(
            "kind",
            format!("records of kind {} are rejected (simulated)", record.kind),
        );
        error.injected = true;
        return shared.push_error(key, error);
    }

    if let Some((field, message)) = body_problem(&record) {
        return shared.push_error(key, ApiError::invalid_record(field, message));
    }

    // The lock spans the check and the append, so concurrent pushes for one operator are
    // admitted one at a time.
    let mut store = shared.store.lock().await;
    match store.admit(&record) {
        Admission::Duplicate { ack_id } => {
            increment(&shared.counters.duplicates);
            debug!(idempotency_key = key, %ack_id, "provincial simulator acknowledged a repeated record as duplicate");
            (
                StatusCode::OK,
                Json(AckBody {
                    ack_id,
                    duplicate: true,
                }),
            )
                .into_response()
        }
        Admission::KeyConflict { ack_id } => {
            let error = ApiError::new(
                StatusCode::CONFLICT,
                codes::IDEMPOTENCY_KEY_CONFLICT,
                format!("idempotency key is already stored with different content (ack {ack_id})"),
            );
            shared.push_error(key, error)
        }
        Admission::OutOfOrder { expected } => {
            let mut error = ApiError::new(
                StatusCode::CONFLICT,
                codes::OUT_OF_ORDER,
                format!(
                    "sequence {} for this operator_ref is out of order, expected {expected}",
                    record.sequence
                ),
            );
            error.body.expected = Some(expected);
            shared.push_error(key, error)
        }
        Admission::Accept => {
            let ack_id = uuid::Uuid::now_v7().to_string();
            let stored = StoredRecord {
                ack_id: ack_id.clone(),
                received_at: shared.clock.now(),
                record: record.clone(),
            };
            if let Err(store_error) = store.append(stored).await {
                let error = ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::INTERNAL_ERROR,
                    format!("failed to store the record: {store_error:#}"),
                );
                return shared.push_error(key, error);
            }
            increment(&shared.counters.accepted);

            let fake_duplicate = duplicate_acks && shared.chance(DUPLICATE_ACK_PROBABILITY);
            debug!(
                idempotency_key = key,
                %ack_id,
                operator_ref = %record.operator_ref,
                sequence = record.sequence,
                fake_duplicate,
                "provincial simulator stored a record"
            );
            let status = if fake_duplicate {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            (
                status,
                Json(AckBody {
                    ack_id,
                    duplicate: fake_duplicate,
                }),
            )
                .into_response()
        }
    }
}

/// Checks the body rules the contract sets for some kinds: an `operator` record needs
/// the 15 or 18 character `id_number` that certificates are matched by.
fn body_problem(record: &crate::provincial::SyncRecord) -> Option<(&'static str, String)> {
    if record.kind != crate::provincial::RecordKind::Operator {
        return None;
    }
    match record.body.get("id_number").and_then(serde_json::Value::as_str) {
        Some(id) if matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric()) => None,
        Some(_) => Some(("body.id_number", "id_number must be 15 or 18 letters and digits".to_owned())),
        None => Some(("body.id_number", "id_number is missing".to_owned())),
    }
}

async fn daily_counts(
    State(state): State<SimState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let shared = &state.inner;
    if let Err(error) = shared.inject_faults().await {
        return shared.query_error(uri.path(), error);
    }
    if let Err(error) = shared.authenticate(&method, &uri, &headers, &[]) {
        return shared.query_error(uri.path(), error);
    }

    let Some(date_text) = query.get("date") else {
        return shared.query_error(
            uri.path(),
            ApiError::invalid_query("date", "date is missing, expected YYYY-MM-DD"),
        );
    };
    let Ok(date) = NaiveDate::parse_from_str(date_text, "%Y-%m-%d") else {
        let error = ApiError::invalid_query(
            "date",
            format!("date {date_text:?} is not a valid YYYY-MM-DD date"),
        );
        return shared.query_error(uri.path(), error);
    };

    let counts = shared.store.lock().await.counts_on(date);
    Json(counts).into_response()
}

/// Maximum length of the `id_number` query parameter.
const MAX_ID_NUMBER_LEN: usize = MAX_KEY_LEN;

async fn certificates(
    State(state): State<SimState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let shared = &state.inner;
    if let Err(error) = shared.inject_faults().await {
        return shared.query_error(uri.path(), error);
    }
    if let Err(error) = shared.authenticate(&method, &uri, &headers, &[]) {
        return shared.query_error(uri.path(), error);
    }

    let id_number = query
        .get("id_number")
        .map(|value| value.trim())
        .unwrap_or_default();
    if id_number.is_empty() || id_number.len() > MAX_ID_NUMBER_LEN {
        let error = ApiError::invalid_query(
            "id_number",
            format!("id_number must be 1 to {MAX_ID_NUMBER_LEN} bytes long"),
        );
        return shared.query_error(uri.path(), error);
    }

    Json(shared.certificates.lookup(id_number)).into_response()
}

async fn get_faults(State(state): State<SimState>) -> Json<SimFaults> {
    Json(state.faults())
}

async fn set_faults(State(state): State<SimState>, body: Bytes) -> Response {
    let faults: SimFaults = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(error) => {
            warn!(%error, "provincial simulator received invalid faults");
            let message = format!("invalid faults: {error}");
            return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FAULTS, message)
                .into_response();
        }
    };
    match state.set_faults(faults.clone()) {
        Ok(()) => Json(faults).into_response(),
        Err(message) => {
            warn!(%message, "provincial simulator received invalid faults");
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FAULTS, message).into_response()
        }
    }
}

#[derive(Deserialize)]
struct RecordsQuery {
    operator_ref: Option<String>,
}

async fn list_records(
    State(state): State<SimState>,
    Query(query): Query<RecordsQuery>,
) -> Json<Vec<StoredRecord>> {
    Json(state.records(query.operator_ref.as_deref()).await)
}

async fn get_stats(State(state): State<SimState>) -> Json<SimStats> {
    Json(state.stats())
}

async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        NOT_FOUND,
        format!("no route for {}", uri.path()),
    )
}
