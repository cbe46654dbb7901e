//! Objects in an S3-compatible bucket (Amazon S3, MinIO, Ceph RGW, OSS or COS in S3
//! mode), addressed path-style as `{endpoint}/{bucket}/{key}` and signed with SigV4.
//!
//! Each request has a timeout. Connection failures, timeouts, 429 and 5xx responses are
//! retried up to [`MAX_ATTEMPTS`] times with doubling pauses; PUT, GET and DELETE of a
//! key are idempotent, so a retry never stores or removes anything twice.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use sha2::{Digest, Sha256};

use super::sigv4::{self, Credentials, EMPTY_PAYLOAD_SHA256};
use super::{ObjectStore, StoreError, check_key};

/// Attempts per operation, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Pause before the first retry; each further retry waits twice as long.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The bucket's address and signing credentials.
#[derive(Clone)]
pub struct S3Config {
    /// Base URL of the service, such as `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub bucket: String,
    /// Signing region, `us-east-1` for most S3-compatible servers.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Timeout of one request, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct S3Store {
    config: S3Config,
    endpoint: Url,
    http: reqwest::Client,
}

impl S3Store {
    pub fn new(config: S3Config) -> Result<S3Store, StoreError> {
        let endpoint = Url::parse(&config.endpoint).map_err(|error| StoreError::Failed(format!("S3 endpoint {}: {error}", config.endpoint)))?;
        if endpoint.host_str().is_none() {
            return Err(StoreError::Failed(format!("S3 endpoint {} has no host", config.endpoint)));
        }
        check_key(&config.bucket).map_err(|_| StoreError::Failed(format!("S3 bucket name {:?} is invalid", config.bucket)))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|error| StoreError::Failed(format!("HTTP client: {error}")))?;
        Ok(S3Store { config, endpoint, http })
    }

    /// Sends one signed request, retrying transient failures; returns status and body.
    async fn send(&self, method: Method, key: &str, body: Vec<u8>) -> Result<(StatusCode, Vec<u8>), StoreError> {
        check_key(key)?;
        let base_path = self.endpoint.path().trim_end_matches('/');
        let path = sigv4::encode_path(&format!("{base_path}/{}/{key}", self.config.bucket));
        let mut url = self.endpoint.clone();
        url.set_path(&path);
        let host = match self.endpoint.port() {
            Some(port) => format!("{}:{port}", self.endpoint.host_str().unwrap_or_default()),
            None => self.endpoint.host_str().unwrap_or_default().to_string(),
        };
        let payload_sha256 = if body.is_empty() { EMPTY_PAYLOAD_SHA256.to_string() } else { hex::encode(Sha256::digest(&body)) };

        let mut pause = FIRST_RETRY_PAUSE;
        for attempt in 1..=MAX_ATTEMPTS {
            // The signature must carry the real time, because the server compares it
            // with its own clock (within 15 minutes on Amazon S3).
            let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
            let request = sigv4::Request { method: method.as_str(), host: &host, path: &path, query: "", headers: &[], payload_sha256: &payload_sha256, amz_date: &amz_date };
            let credentials = Credentials {
                access_key_id: &self.config.access_key_id,
                secret_access_key: &self.config.secret_access_key,
                region: &self.config.region,
                service: "s3",
            };
            let result = self
                .http
                .request(method.clone(), url.clone())
                .header("x-amz-date", &amz_date)
                .header("x-amz-content-sha256", &payload_sha256)
                .header("authorization", sigv4::authorization(&request, &credentials))
                .body(body.clone())
                .send()
                .await;
            let failure = match result {
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS || response.status().is_server_error() => format!("status {}", response.status()),
                Ok(response) => {
                    let status = response.status();
                    let bytes = response.bytes().await.map_err(|error| StoreError::Failed(format!("{method} {key}: reading the body: {error}")))?;
                    return Ok((status, bytes.to_vec()));
                }
                Err(error) => error.to_string(),
            };
            if attempt == MAX_ATTEMPTS {
                return Err(StoreError::Failed(format!("{method} {key} failed after {MAX_ATTEMPTS} attempts: {failure}")));
            }
            tracing::warn!(%method, key, attempt, failure = %failure, "S3 request failed; retrying");
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        unreachable!("the loop returns on its last attempt")
    }
}

fn unexpected(method: &str, key: &str, status: StatusCode, body: &[u8]) -> StoreError {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
    StoreError::Failed(format!("{method} {key}: status {status}: {text}"))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let (status, body) = self.send(Method::PUT, key, bytes).await?;
        if !status.is_success() {
            return Err(unexpected("PUT", key, status, &body));
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let (status, body) = self.send(Method::GET, key, Vec::new()).await?;
        match status {
            StatusCode::NOT_FOUND => Err(StoreError::NotFound(key.to_string())),
            status if status.is_success() => Ok(body),
            status => Err(unexpected("GET", key, status, &body)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (status, body) = self.send(Method::DELETE, key, Vec::new()).await?;
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            return Err(unexpected("DELETE", key, status, &body));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("S3 bucket {} at {}", self.config.bucket, self.config.endpoint)
    }
}
