//! HTTP client for the provincial supervision platform.
//!
//! The client sends each request once and classifies the outcome. It never retries,
//! because the engine's outbox owns retries and their schedule.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use tracing::{debug, warn};

use super::record::SyncRecord;
use super::signature::{
    HEADER_IDEMPOTENCY_KEY, HEADER_KEY_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignatureAlgorithm,
    sign_request,
};
use super::wire::{AckBody, Certificate, ErrorBody, codes};

/// Default limit for one whole request, from connect to the end of the response body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Maximum number of characters of a response body copied into an error message.
const MAX_MESSAGE_CHARS: usize = 300;

/// Connection settings for [`ProvincialClient`].
#[derive(Clone)]
pub struct ProvincialConfig {
    /// Base URL such as `https://sync.example.gov.cn/certflow`; `/v1/...` is appended to its path.
    pub base_url: String,
    pub key_id: String,
    /// Shared secret for the signature, never logged.
    pub secret: Vec<u8>,
    pub algorithm: SignatureAlgorithm,
    /// Limit for one whole request.
    pub timeout: Duration,
}

impl ProvincialConfig {
    /// Creates a configuration with HMAC-SHA256 and [`DEFAULT_TIMEOUT`].
    pub fn new(
        base_url: impl Into<String>,
        key_id: impl Into<String>,
        secret: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            key_id: key_id.into(),
            secret: secret.into(),
            algorithm: SignatureAlgorithm::HmacSha256,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for ProvincialConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvincialConfig")
            .field("base_url", &self.base_url)
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Invalid [`ProvincialConfig`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid provincial base URL {url:?}: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("provincial key id is empty")]
    EmptyKeyId,
    #[error("provincial secret is empty")]
    EmptySecret,
    #[error("failed to build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Successful push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Receiver's acknowledgement id. A repeat of the same idempotency key returns the same id.
    pub ack_id: String,
    /// True when the receiver already held the idempotency key. The record counts as
    /// delivered either way.
    pub duplicate: bool,
}

/// Classification of a failed request, which decides the outbox's next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncErrorKind {
    /// Try again later: timeouts, connection errors, 408, 429, 5xx and `409 out_of_order`
    /// while an earlier sequence is missing.
    Retryable,
    /// Do not retry, but hold the record for staff: any other 4xx or an invalid record.
    Rejected,
}

/// Failed request, classified for the outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({kind:?}): {message}", status.map_or_else(|| "no response".to_owned(), |code| format!("HTTP {code}")))]
pub struct SyncError {
    pub kind: SyncErrorKind,
    /// HTTP status, or `None` when no response arrived or the request was never sent.
    pub status: Option<u16>,
    /// Receiver's error code from the response body, for example `bad_signature`.
    pub code: Option<String>,
    pub message: String,
    /// Wait the receiver asked for in `Retry-After` (seconds form only).
    pub retry_after: Option<Duration>,
}

impl SyncError {
    pub fn is_retryable(&self) -> bool {
        self.kind == SyncErrorKind::Retryable
    }

    fn without_response(kind: SyncErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Classifies an HTTP error status: 408, 429, 5xx and `409 out_of_order` are retryable,
/// every other status is rejected.
///
/// [`ProvincialClient::push`] further rejects an `out_of_order` response whose `expected`
/// sequence is above the record's own, because no retry can make a used sequence valid.
pub fn classify_status(status: u16, code: Option<&str>) -> SyncErrorKind {
    match status {
        408 | 429 | 500..=599 => SyncErrorKind::Retryable,
        409 if code == Some(codes::OUT_OF_ORDER) => SyncErrorKind::Retryable,
        _ => SyncErrorKind::Rejected,
    }
}

/// Record counts by kind name for one Beijing date, as returned by `GET /v1/counts`.
/// Keys stay strings so that a kind this build does not know still reaches reconciliation.
pub type DailyCounts = BTreeMap<String, u64>;

/// Client of the supervision platform. It is cheap to clone and safe to share between tasks.
#[derive(Clone)]
pub struct ProvincialClient {
    http: reqwest::Client,
    base_url: Url,
    key_id: String,
    secret: Vec<u8>,
    algorithm: SignatureAlgorithm,
}

impl fmt::Debug for ProvincialClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvincialClient")
            .field("base_url", &self.base_url.as_str())
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Raw response of one request.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl ProvincialClient {
    /// Checks the configuration and builds the HTTP client. Redirects are not followed,
    /// because the signature covers the original path.
    pub fn new(config: ProvincialConfig) -> Result<Self, ConfigError> {
        let base_url =
            Url::parse(&config.base_url).map_err(|error| ConfigError::InvalidBaseUrl {
                url: config.base_url.clone(),
                reason: error.to_string(),
            })?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(ConfigError::InvalidBaseUrl {
                url: config.base_url,
                reason: "scheme must be http or https".to_owned(),
            });
        }
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(ConfigError::InvalidBaseUrl {
                url: config.base_url,
                reason: "must not contain a query or a fragment".to_owned(),
            });
        }
        if config.key_id.is_empty() {
            return Err(ConfigError::EmptyKeyId);
        }
        if config.secret.is_empty() {
            return Err(ConfigError::EmptySecret);
        }

        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("certflow/", env!("CARGO_PKG_VERSION")))
            .build()?;

        Ok(Self {
            http,
            base_url,
            key_id: config.key_id,
            secret: config.secret,
            algorithm: config.algorithm,
        })
    }

    /// Sends one record to `POST /v1/records`.
    ///
    /// Returns [`Delivered`] on any 2xx, including `duplicate: true` responses. An invalid
    /// record is rejected before anything is sent.
    pub async fn push(&self, record: &SyncRecord) -> Result<Delivered, SyncError> {
        let result = self.push_once(record).await;
        match &result {
            Ok(delivered) => debug!(
                idempotency_key = %record.idempotency_key,
                operator_ref = %record.operator_ref,
                sequence = record.sequence,
                ack_id = %delivered.ack_id,
                duplicate = delivered.duplicate,
                "provincial record delivered"
            ),
            Err(error) => warn!(
                idempotency_key = %record.idempotency_key,
                operator_ref = %record.operator_ref,
                sequence = record.sequence,
                kind = %record.kind,
                status = error.status,
                code = error.code.as_deref(),
                retryable = error.is_retryable(),
                error = %error.message,
                "provincial record push failed"
            ),
        }
        result
    }

    async fn push_once(&self, record: &SyncRecord) -> Result<Delivered, SyncError> {
        record.validate().map_err(|invalid| {
            SyncError::without_response(
                SyncErrorKind::Rejected,
                format!("record not sent: {invalid}"),
            )
        })?;
        let body = serde_json::to_vec(record).map_err(|error| {
            SyncError::without_response(
                SyncErrorKind::Rejected,
                format!("failed to serialize record: {error}"),
            )
        })?;

        let url = self.endpoint("/v1/records");
        let reply = self
            .send(Method::POST, url, body, Some(&record.idempotency_key))
            .await?;

        if reply.status.is_success() {
            let ack: AckBody = parse_success_body(&reply)?;
            return Ok(Delivered {
                ack_id: ack.ack_id,
                duplicate: ack.duplicate,
            });
        }

        let mut error = error_from_reply(&reply);
        if let Some(expected) = out_of_order_expected(&reply) {
            if record.sequence < expected {
                // The receiver already stores another record at this sequence, so waiting
                // for earlier records cannot help.
                error.kind = SyncErrorKind::Rejected;
                error.message = format!(
                    "sequence {} is already used for this operator_ref, the receiver expects {expected}: {}",
                    record.sequence, error.message
                );
            }
        }
        Err(error)
    }

    /// Fetches the counts of records the receiver stores for one Beijing date.
    pub async fn counts(&self, date: NaiveDate) -> Result<DailyCounts, SyncError> {
        let mut url = self.endpoint("/v1/counts");
        url.query_pairs_mut()
            .append_pair("date", &date.format("%Y-%m-%d").to_string());

        let result = self.get_json::<DailyCounts>(url).await;
        if let Err(error) = &result {
            warn!(%date, status = error.status, code = error.code.as_deref(), error = %error.message, "provincial counts request failed");
        }
        result
    }

    /// Fetches the certificates issued to an operator, by resident id number (身份证号).
    /// The id number is sent in the query string and is never logged.
    pub async fn certificates(&self, id_number: &str) -> Result<Vec<Certificate>, SyncError> {
        let mut url = self.endpoint("/v1/certificates");
        url.query_pairs_mut().append_pair("id_number", id_number);

        let result = self.get_json::<Vec<Certificate>>(url).await;
        if let Err(error) = &result {
            warn!(status = error.status, code = error.code.as_deref(), error = %error.message, "provincial certificates request failed");
        }
        result
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: Url) -> Result<T, SyncError> {
        let reply = self.send(Method::GET, url, Vec::new(), None).await?;
        if reply.status.is_success() {
            parse_success_body(&reply)
        } else {
            Err(error_from_reply(&reply))
        }
    }

    /// Appends `suffix` to the base URL's path, keeping any path prefix of the base URL.
    fn endpoint(&self, suffix: &str) -> Url {
        let mut url = self.base_url.clone();
        let path = format!("{}{}", self.base_url.path().trim_end_matches('/'), suffix);
        url.set_path(&path);
        url
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> Result<Reply, SyncError> {
        let path_and_query = match url.query() {
            Some(query) => format!("{}?{}", url.path(), query),
            None => url.path().to_owned(),
        };
        let signature = sign_request(
            self.algorithm,
            &self.key_id,
            &self.secret,
            method.as_str(),
            &path_and_query,
            Utc::now().timestamp(),
            &body,
        );

        let mut request = self
            .http
            .request(method, url)
            .header(HEADER_KEY_ID, signature.key_id)
            .header(HEADER_TIMESTAMP, signature.timestamp.to_string())
            .header(HEADER_SIGNATURE, signature.signature);
        if let Some(key) = idempotency_key {
            request = request.header(HEADER_IDEMPOTENCY_KEY, key);
        }
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }

        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport_error)?.to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// Classifies a failure to send the request or to read the response. Everything except a
/// request that could not be built is retryable, because the receiver may not have seen it.
fn transport_error(error: reqwest::Error) -> SyncError {
    let kind = if error.is_builder() {
        SyncErrorKind::Rejected
    } else {
        SyncErrorKind::Retryable
    };
    let failure = if error.is_timeout() {
        "request timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };

    // The URL is dropped because the certificates query carries the id number.
    let error = error.without_url();
    let mut message = format!("{failure}: {error}");
    // reqwest's Display omits the causes, which name the actual problem
    // (for example "Connection refused").
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    SyncError::without_response(kind, message)
}

/// Parses a 2xx body. An unreadable success body is retryable: the receiver's idempotency
/// turns a repeat into a duplicate acknowledgement.
fn parse_success_body<T: serde::de::DeserializeOwned>(reply: &Reply) -> Result<T, SyncError> {
    serde_json::from_slice(&reply.body).map_err(|error| SyncError {
        kind: SyncErrorKind::Retryable,
        status: Some(reply.status.as_u16()),
        code: None,
        message: format!(
            "invalid response body: {error}; body starts with {:?}",
            body_excerpt(&reply.body)
        ),
        retry_after: None,
    })
}

fn error_from_reply(reply: &Reply) -> SyncError {
    let status = reply.status.as_u16();
    let parsed: Option<ErrorBody> = serde_json::from_slice(&reply.body).ok();
    let code = parsed.as_ref().map(|body| body.code.clone());
    let message = match &parsed {
        Some(ErrorBody {
            message,
            field: Some(field),
            ..
        }) => format!("{message} (field {field})"),
        Some(body) => body.message.clone(),
        None if reply.body.is_empty() => reply
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_owned(),
        None => body_excerpt(&reply.body),
    };
    let retry_after = reply
        .headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);

    SyncError {
        kind: classify_status(status, code.as_deref()),
        status: Some(status),
        code,
        message,
        retry_after,
    }
}

/// Returns `expected` from a `409 out_of_order` response.
fn out_of_order_expected(reply: &Reply) -> Option<u64> {
    if reply.status != StatusCode::CONFLICT {
        return None;
    }
    let body: ErrorBody = serde_json::from_slice(&reply.body).ok()?;
    if body.code == codes::OUT_OF_ORDER {
        body.expected
    } else {
        None
    }
}

fn body_excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_status_table() {
        let cases = [
            (400, None, SyncErrorKind::Rejected),
            (401, Some(codes::BAD_SIGNATURE), SyncErrorKind::Rejected),
            (
                401,
                Some(codes::TIMESTAMP_OUT_OF_WINDOW),
                SyncErrorKind::Rejected,
            ),
            (404, None, SyncErrorKind::Rejected),
            (408, None, SyncErrorKind::Retryable),
            (409, Some(codes::OUT_OF_ORDER), SyncErrorKind::Retryable),
            (
                409,
                Some(codes::IDEMPOTENCY_KEY_CONFLICT),
                SyncErrorKind::Rejected,
            ),
            (409, None, SyncErrorKind::Rejected),
            (422, Some(codes::INVALID_RECORD), SyncErrorKind::Rejected),
            (429, None, SyncErrorKind::Retryable),
            (500, None, SyncErrorKind::Retryable),
            (502, None, SyncErrorKind::Retryable),
            (503, Some(codes::UNAVAILABLE), SyncErrorKind::Retryable),
            (302, None, SyncErrorKind::Rejected),
        ];
        for (status, code, expected) in cases {
            assert_eq!(
                classify_status(status, code),
                expected,
                "status {status} code {code:?}"
            );
        }
    }

    fn client_with_base(base_url: &str) -> ProvincialClient {
        ProvincialClient::new(ProvincialConfig::new(base_url, "dev", b"secret".to_vec())).unwrap()
    }

    #[test]
    fn endpoint_keeps_base_path() {
        assert_eq!(
            client_with_base("http://127.0.0.1:9/")
                .endpoint("/v1/records")
                .as_str(),
            "http://127.0.0.1:9/v1/records"
        );
        assert_eq!(
            client_with_base("https://sync.example.test/prov/")
                .endpoint("/v1/counts")
                .as_str(),
            "https://sync.example.test/prov/v1/counts"
        );
        assert_eq!(
            client_with_base("https://sync.example.test/prov")
                .endpoint("/v1/counts")
                .as_str(),
            "https://sync.example.test/prov/v1/counts"
        );
    }

    #[test]
    fn new_rejects_bad_config() {
        let bad_scheme = ProvincialClient::new(ProvincialConfig::new(
            "ftp://127.0.0.1",
            "dev",
            b"s".to_vec(),
        ));
        assert!(matches!(
            bad_scheme,
            Err(ConfigError::InvalidBaseUrl { .. })
        ));

        let with_query = ProvincialClient::new(ProvincialConfig::new(
            "http://127.0.0.1/?a=1",
            "dev",
            b"s".to_vec(),
        ));
        assert!(matches!(
            with_query,
            Err(ConfigError::InvalidBaseUrl { .. })
        ));

        let no_key =
            ProvincialClient::new(ProvincialConfig::new("http://127.0.0.1", "", b"s".to_vec()));
        assert!(matches!(no_key, Err(ConfigError::EmptyKeyId)));

        let no_secret =
            ProvincialClient::new(ProvincialConfig::new("http://127.0.0.1", "dev", Vec::new()));
        assert!(matches!(no_secret, Err(ConfigError::EmptySecret)));
    }

    #[test]
    fn config_debug_hides_secret() {
        let config = ProvincialConfig::new("http://127.0.0.1", "dev", b"top-secret-value".to_vec());
        let printed = format!("{config:?}");
        let secret_bytes = format!("{:?}", config.secret);
        assert!(!printed.contains("top-secret-value"), "{printed}");
        assert!(!printed.contains(&secret_bytes), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}
