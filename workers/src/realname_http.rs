//! A real-name check provider reached over HTTP (实名核验): the deployment's own bridge
//! to the service it contracts, serving two JSON routes. No commercial
//! service is bundled; docs/verification.md gives the contract.
//!
//! - `POST {url}/identity {id_number, name}`
//! - `POST {url}/face {id_number, image_base64}` (a JPEG)
//!
//! Each returns 200 with `{result: "match" | "mismatch" | "unsupported"}`. Requests carry
//! `X-Certflow-Timestamp` (unix seconds), `X-Certflow-Signature` (hex HMAC-SHA256 over
//! `"{timestamp}\n{body}"` with the shared secret) and `Idempotency-Key` (hex SHA-256 of
//! the body, so a retried check is recognisable). A request times out after 10 seconds;
//! connection failures, timeouts, 429 and 5xx are retried up to 3 attempts in all, after
//! 300 ms and then 600 ms. Neither the ID number nor the image is ever logged.

use std::time::Duration;

use base64::Engine as _;
use domain::realname::{CheckResult, ProviderError, ProviderFuture, RealNameProvider};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: u32 = 3;
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(300);

/// The provider's address and the secret both sides sign with.
#[derive(Clone)]
pub struct RealNameHttpConfig {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for RealNameHttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealNameHttpConfig").field("url", &self.url).field("secret", &"***").finish()
    }
}

pub struct HttpRealNameProvider {
    config: RealNameHttpConfig,
    http: reqwest::Client,
}

impl HttpRealNameProvider {
    pub fn new(config: RealNameHttpConfig) -> Result<HttpRealNameProvider, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| ProviderError { message: format!("building the HTTP client: {error}"), retryable: false })?;
        tracing::info!(url = %config.url, "real-name checks use the HTTP provider");
        Ok(HttpRealNameProvider { config, http })
    }

    /// Posts `body` to `{url}/{path}`, retrying transient failures, and reads `result`.
    async fn check(&self, path: &str, body: Value) -> Result<CheckResult, ProviderError> {
        let url = format!("{}/{path}", self.config.url.trim_end_matches('/'));
        let bytes = body.to_string().into_bytes();
        let idempotency_key = hex::encode(Sha256::digest(&bytes));

        let mut pause = FIRST_RETRY_PAUSE;
        for attempt in 1..=MAX_ATTEMPTS {
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let result = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-certflow-timestamp", &timestamp)
                .header("x-certflow-signature", sign(&self.config.secret, &timestamp, &bytes))
                .header("idempotency-key", &idempotency_key)
                .body(bytes.clone())
                .send()
                .await;
            let failure = match result {
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS || response.status().is_server_error() => format!("status {}", response.status()),
                Ok(response) if response.status().is_success() => {
                    let answer: Value = response.json().await.map_err(|error| permanent(path, format!("reading the answer: {error}")))?;
                    return parse_result(path, &answer);
                }
                Ok(response) => return Err(permanent(path, format!("status {}", response.status()))),
                Err(error) => error.to_string(),
            };
            if attempt == MAX_ATTEMPTS {
                return Err(ProviderError { message: format!("{path} failed after {MAX_ATTEMPTS} attempts: {failure}"), retryable: true });
            }
            tracing::warn!(path, attempt, failure = %failure, "real-name provider request failed; retrying");
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        unreachable!("the loop returns on its last attempt")
    }
}

impl RealNameProvider for HttpRealNameProvider {
    fn check_identity<'a>(&'a self, id_number: &'a str, name: &'a str) -> ProviderFuture<'a, CheckResult> {
        Box::pin(self.check("identity", json!({ "id_number": id_number, "name": name })))
    }

    fn match_face<'a>(&'a self, id_number: &'a str, face_jpeg: &'a [u8]) -> ProviderFuture<'a, CheckResult> {
        let image = base64::engine::general_purpose::STANDARD.encode(face_jpeg);
        Box::pin(self.check("face", json!({ "id_number": id_number, "image_base64": image })))
    }
}

/// Returns the hex HMAC-SHA256 of `"{timestamp}\n{body}"` under `secret`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn parse_result(path: &str, answer: &Value) -> Result<CheckResult, ProviderError> {
    match answer.get("result").and_then(Value::as_str) {
        Some("match") => Ok(CheckResult::Match),
        Some("mismatch") => Ok(CheckResult::Mismatch),
        Some("unsupported") => Ok(CheckResult::Unsupported),
        other => Err(permanent(path, format!("unknown result {other:?}"))),
    }
}

fn permanent(path: &str, message: String) -> ProviderError {
    ProviderError { message: format!("{path}: {message}"), retryable: false }
}
