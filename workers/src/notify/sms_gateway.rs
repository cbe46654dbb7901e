//! The generic HTTP SMS gateway: each message is one `POST` of
//! `{"mobile", "content", "template", "params", "request_id"}` with an `Idempotency-Key`
//! header, and a 2xx reply must carry `{"message_id": "…"}`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};

use super::message::{Channel, DeliveryError, DeliveryReceipt, SmsMessage};
use super::mobile::mask_mobile;
use super::sms::{DEFAULT_SMS_SIGN, DEFAULT_SMS_TIMEOUT, SmsConfigError};
use super::sms_provider::SmsProvider;

/// Settings of the generic HTTP gateway.
#[derive(Clone)]
pub struct SmsGatewayConfig {
    /// URL that receives `POST` requests with the JSON message.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// Text put in front of every message body.
    pub sign: String,
    pub timeout: Duration,
}

impl SmsGatewayConfig {
    /// Creates settings with the default sign and timeout and no token.
    pub fn new(url: impl Into<String>) -> Self {
        SmsGatewayConfig {
            url: url.into(),
            token: None,
            sign: DEFAULT_SMS_SIGN.to_string(),
            timeout: DEFAULT_SMS_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for SmsGatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGatewayConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("sign", &self.sign)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The generic HTTP gateway as an [`SmsProvider`].
pub struct HttpGateway {
    url: reqwest::Url,
    token: Option<String>,
    sign: String,
    http: reqwest::Client,
}

impl HttpGateway {
    /// Builds the gateway adapter. The URL must be `http` or `https`.
    pub fn new(config: SmsGatewayConfig) -> Result<HttpGateway, SmsConfigError> {
        let url = reqwest::Url::parse(&config.url).map_err(|error| SmsConfigError::InvalidUrl {
            url: config.url.clone(),
            message: error.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SmsConfigError::InvalidUrl {
                url: config.url.clone(),
                message: "the scheme must be http or https".to_string(),
            });
        }

        // Redirects are not followed, because a redirected POST can lose its body and
        // headers; a 3xx reply is reported as a permanent error instead.
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| SmsConfigError::HttpClient {
                message: error.to_string(),
            })?;

        // Only host and path are logged, because the query string may carry a token.
        info!(
            host = url.host_str().unwrap_or(""),
            path = url.path(),
            "SMS sender uses the HTTP gateway"
        );
        Ok(HttpGateway {
            url,
            token: config.token,
            sign: config.sign,
            http,
        })
    }
}

#[async_trait]
impl SmsProvider for HttpGateway {
    fn name(&self) -> &str {
        "http-gateway"
    }

    fn sign(&self) -> &str {
        &self.sign
    }

    async fn send(&self, mobile: &str, message: &SmsMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let content = format!("{}{}", self.sign, message.body);
        post_to_gateway(&self.http, &self.url, self.token.as_deref(), mobile, &content, message).await
    }
}

#[derive(Deserialize)]
struct GatewayReply {
    message_id: String,
}

async fn post_to_gateway(
    http: &reqwest::Client,
    url: &reqwest::Url,
    token: Option<&str>,
    mobile: &str,
    content: &str,
    message: &SmsMessage,
) -> Result<DeliveryReceipt, DeliveryError> {
    let masked = mask_mobile(mobile);
    let key = message.idempotency_key.as_str();
    let payload = json!({
        "mobile": mobile,
        "content": content,
        "template": message.template,
        "params": message.params,
        "request_id": key,
    });

    let mut request = http
        .post(url.clone())
        .header("Idempotency-Key", key)
        .json(&payload);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }

    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let reason = if error.is_timeout() {
                "timed out"
            } else {
                "failed"
            };
            // `without_url` keeps query-string tokens out of the message.
            let error = error.without_url();
            warn!(mobile = %masked, idempotency_key = key, %error, "SMS gateway request {reason}");
            return Err(DeliveryError::retryable(format!(
                "SMS gateway request {reason}: {error}"
            )));
        }
    };

    let status = response.status();
    if status.is_success() {
        let reply: GatewayReply = response.json().await.map_err(|error| {
            warn!(mobile = %masked, idempotency_key = key, %status, error = %error.without_url(), "SMS gateway reply has no message_id");
            // NOTE: the gateway may have sent the SMS already. The error is permanent so
            // that a gateway which ignores Idempotency-Key does not send it twice.
            DeliveryError::permanent(format!(
                "SMS gateway replied {status} without a JSON message_id; the message may have been sent"
            ))
        })?;
        info!(mobile = %masked, idempotency_key = key, message_id = %reply.message_id, "SMS accepted by gateway");
        return Ok(DeliveryReceipt {
            channel: Channel::Sms,
            provider_message_id: reply.message_id,
            accepted_at: Utc::now(),
        });
    }

    // Gateways often echo the number in their error text, so it is masked here.
    let body = response.text().await.unwrap_or_default();
    let excerpt: String = body
        .chars()
        .take(200)
        .collect::<String>()
        .replace(mobile, &masked);
    let detail = format!("SMS gateway replied {status}: {excerpt}");
    let error = if is_retryable_status(status) {
        DeliveryError::retryable(detail)
    } else {
        DeliveryError::permanent(detail)
    };
    warn!(mobile = %masked, idempotency_key = key, %status, kind = %error.kind, "SMS gateway rejected the message");
    Err(error)
}

/// 5xx means the gateway failed, and 408 and 429 ask the client to come back later.
/// Every other non-2xx status, such as 400 for a bad number or 401 for a wrong token,
/// fails the same way on a retry.
fn is_retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}
