//! A small JSON client for the demo: the real HTTP API on loopback, with a bearer token
//! per caller and signed requests for the training institution.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

/// A response the script may inspect: status and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// Returns the API error code of the body, or "" when it has none.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// Returns the body when the request succeeded, or an error naming the call.
    pub fn expect(self, what: &str) -> anyhow::Result<Value> {
        if !self.status.is_success() {
            bail!("{what} failed with {}: {}", self.status, self.body);
        }
        Ok(self.body)
    }
}

impl Client {
    pub fn new(base: String) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Client { http, base })
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> anyhow::Result<Reply> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).header("accept-language", "zh-CN");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("request to {path}"))?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    /// Uploads a file as the raw body, as the roster endpoint takes it.
    pub async fn upload(&self, path: &str, token: &str, bytes: Vec<u8>) -> anyhow::Result<Reply> {
        self.send_bytes(Method::POST, path, token, bytes).await
    }

    /// Sends `bytes` as the raw body with `method`, such as one chunk of a resumable upload.
    pub async fn send_bytes(&self, method: Method, path: &str, token: &str, bytes: Vec<u8>) -> anyhow::Result<Reply> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }

    /// Sends a request signed as a training institution with `secret` (hex).
    pub async fn post_signed(&self, path: &str, key_id: &str, secret_hex: &str, timestamp: i64, body: &Value) -> anyhow::Result<Reply> {
        let bytes = serde_json::to_vec(body)?;
        let key = hex::decode(secret_hex).context("institution secret is not hex")?;
        let signature = api::institutions::sign_request(&key, "POST", path, timestamp, &bytes);
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header(api::institutions::KEY_ID_HEADER, key_id)
            .header(api::institutions::TIMESTAMP_HEADER, timestamp.to_string())
            .header(api::institutions::SIGNATURE_HEADER, signature)
            .body(bytes)
            .send()
            .await?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }
}
