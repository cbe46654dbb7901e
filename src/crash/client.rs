//! The drill's HTTP client: every write carries an idempotency key, and a request that
//! fails because the server is down is sent again until the server responds, as a
//! phone app on a bad network does.

use std::time::Duration;

use anyhow::bail;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Transport failures tolerated for one request before the drill gives up: the server
/// is restarted within seconds, so two minutes means something else is wrong.
const RETRY_FOR: Duration = Duration::from_secs(120);

pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Requests sent again after a transport failure or a 5xx response.
    pub retries: u64,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

/// A training institution's credentials, for signed session reports.
pub struct Institution {
    pub id: String,
    pub key_id: String,
    pub secret: Vec<u8>,
}

impl Client {
    pub fn new(base: String) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build()?;
        Ok(Client { http, base, retries: 0 })
    }

    /// Sends a request until the server responds with anything but a 5xx, and returns
    /// that response. `key` is the idempotency key, the same on every resend.
    pub async fn send(&mut self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>, key: Option<&str>) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.base);
        let http = self.http.clone();
        self.until_answered(path, || {
            let mut request = http.request(method.clone(), &url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(key) = key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        })
        .await
    }

    /// Sends a signed institution request until the server responds with anything but
    /// a 5xx. Each send is signed afresh, since the signature carries its time.
    pub async fn send_signed(&mut self, path: &str, institution: &Institution, body: &Value) -> anyhow::Result<Reply> {
        let bytes = serde_json::to_vec(body)?;
        let url = format!("{}{path}", self.base);
        let http = self.http.clone();
        self.until_answered(path, || {
            let timestamp = chrono::Utc::now().timestamp();
            let signature = api::institutions::sign_request(&institution.secret, "POST", path, timestamp, &bytes);
            http.post(&url)
                .header("content-type", "application/json")
                .header(api::institutions::KEY_ID_HEADER, &institution.key_id)
                .header(api::institutions::TIMESTAMP_HEADER, timestamp.to_string())
                .header(api::institutions::SIGNATURE_HEADER, signature)
                .body(bytes.clone())
        })
        .await
    }

    async fn until_answered(&mut self, path: &str, build: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<Reply> {
        let started = std::time::Instant::now();
        loop {
            match build().send().await {
                Ok(response) if !response.status().is_server_error() => {
                    let status = response.status();
                    let body = response.json::<Value>().await.unwrap_or(Value::Null);
                    return Ok(Reply { status, body });
                }
                Ok(response) => tracing::debug!(path, status = %response.status(), "server error; sending again"),
                Err(error) => tracing::debug!(path, %error, "server unreachable; sending again"),
            }
            if started.elapsed() > RETRY_FOR {
                bail!("{path} failed for two minutes");
            }
            self.retries += 1;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}
