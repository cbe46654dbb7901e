//! SMS provider adapters, and a signed template API of the kind Chinese SMS providers
//! offer: the provider stores each text as a registered template, and a request names the
//! template code, its parameters and the registered sign name (签名) instead of sending
//! free text.
//!
//! The wire format of [`SignedTemplateApi`] (certflow's own, for a provider-side proxy or
//! a provider with this shape):
//!
//! `POST <url>` with a JSON body
//! `{"phone_number", "sign_name", "template_code", "template_param": "<JSON text>", "out_id"}`
//! and headers `X-Sms-Key-Id`, `X-Sms-Timestamp` (unix seconds), `X-Sms-Nonce` and
//! `X-Sms-Signature: hmac-sha256=<hex>`, the MAC over
//! `POST "\n" PATH "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA-256(body))`. A reply
//! `{"code": "OK", "biz_id": "…"}` means accepted; any other `code` is an error, retried
//! when it is `throttled` or the status is 5xx, 408 or 429.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::message::{Channel, DeliveryError, DeliveryReceipt, SmsMessage};
use super::mobile::mask_mobile;

/// A way of sending one SMS to a normalized mainland mobile number.
#[async_trait]
pub trait SmsProvider: Send + Sync {
    /// Returns a short name for logs, such as `signed-template-api`.
    fn name(&self) -> &str;

    /// Returns the text the provider puts in front of every body, which counts towards
    /// the length limit. Providers that add their registered sign on their side return "".
    fn sign(&self) -> &str {
        ""
    }

    /// Sends `message` to `mobile`, which the caller has normalized.
    async fn send(&self, mobile: &str, message: &SmsMessage) -> Result<DeliveryReceipt, DeliveryError>;
}

/// Default maximum length of one template parameter value, in characters.
///
/// NOTE: providers set their own limit per variable (often a few dozen characters);
/// confirm it with the provider and set [`SignedApiConfig::max_param_chars`].
pub const DEFAULT_MAX_PARAM_CHARS: usize = 35;

/// Settings of the signed template API.
#[derive(Clone)]
pub struct SignedApiConfig {
    pub url: String,
    pub key_id: String,
    /// Shared secret, never logged.
    pub secret: Vec<u8>,
    /// The sign name registered with the provider, such as `特种设备继续教育`.
    pub sign_name: String,
    /// Provider template code for each certflow template name.
    pub template_codes: BTreeMap<String, String>,
    pub max_param_chars: usize,
    pub timeout: Duration,
}

impl SignedApiConfig {
    pub fn new(url: impl Into<String>, key_id: impl Into<String>, secret: impl Into<Vec<u8>>, sign_name: impl Into<String>) -> Self {
        SignedApiConfig {
            url: url.into(),
            key_id: key_id.into(),
            secret: secret.into(),
            sign_name: sign_name.into(),
            template_codes: BTreeMap::new(),
            max_param_chars: DEFAULT_MAX_PARAM_CHARS,
            timeout: super::DEFAULT_SMS_TIMEOUT,
        }
    }

    /// Parses `name=CODE,name=CODE` (the form of `CERTFLOW_SMS_TEMPLATE_CODES`).
    pub fn parse_template_codes(text: &str) -> Result<BTreeMap<String, String>, String> {
        let mut codes = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let (name, code) = pair.split_once('=').ok_or_else(|| format!("template code entry {pair:?} is not name=CODE"))?;
            codes.insert(name.trim().to_string(), code.trim().to_string());
        }
        Ok(codes)
    }
}

impl std::fmt::Debug for SignedApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedApiConfig")
            .field("url", &self.url)
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .field("sign_name", &self.sign_name)
            .field("template_codes", &self.template_codes)
            .finish_non_exhaustive()
    }
}

/// The signed template API client.
pub struct SignedTemplateApi {
    config: SignedApiConfig,
    url: reqwest::Url,
    http: reqwest::Client,
}

impl SignedTemplateApi {
    pub fn new(config: SignedApiConfig) -> Result<SignedTemplateApi, super::SmsConfigError> {
        let url = reqwest::Url::parse(&config.url).map_err(|error| super::SmsConfigError::InvalidUrl { url: config.url.clone(), message: error.to_string() })?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| super::SmsConfigError::HttpClient { message: error.to_string() })?;
        info!(host = url.host_str().unwrap_or(""), templates = config.template_codes.len(), "SMS sender uses the signed template API");
        Ok(SignedTemplateApi { config, url, http })
    }

    /// Checks the message against the template's registration: a code must exist, and
    /// every parameter must be a string or number, shortened to the provider's limit.
    fn template_request(&self, message: &SmsMessage) -> Result<(String, String), DeliveryError> {
        let code = self
            .config
            .template_codes
            .get(&message.template)
            .ok_or_else(|| DeliveryError::permanent(format!("no provider template code is configured for template {}; add it to CERTFLOW_SMS_TEMPLATE_CODES", message.template)))?;
        let params = message.params.as_object().ok_or_else(|| DeliveryError::permanent(format!("parameters of template {} are not an object", message.template)))?;
        let mut values = serde_json::Map::new();
        for (name, value) in params {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                other => return Err(DeliveryError::permanent(format!("parameter {name} of template {} is {other}, not text or a number", message.template))),
            };
            values.insert(name.clone(), Value::String(fit_param(&message.template, name, text, self.config.max_param_chars)));
        }
        Ok((code.clone(), Value::Object(values).to_string()))
    }
}

#[derive(Deserialize)]
struct ApiReply {
    code: String,
    #[serde(default)]
    biz_id: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Returns `hmac-sha256=<hex>` over the canonical request.
pub fn sign_sms_request(secret: &[u8], path: &str, timestamp: i64, nonce: &str, body: &[u8]) -> String {
    let canonical = format!("POST\n{path}\n{timestamp}\n{nonce}\n{}", hex::encode(Sha256::digest(body)));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(canonical.as_bytes());
    format!("hmac-sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl SmsProvider for SignedTemplateApi {
    fn name(&self) -> &str {
        "signed-template-api"
    }

    async fn send(&self, mobile: &str, message: &SmsMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let masked = mask_mobile(mobile);
        let key = message.idempotency_key.as_str();
        let (code, params) = self.template_request(message)?;
        let body = json!({
            "phone_number": mobile,
            "sign_name": self.config.sign_name,
            "template_code": code,
            "template_param": params,
            "out_id": key,
        })
        .to_string();
        let timestamp = Utc::now().timestamp();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let signature = sign_sms_request(&self.config.secret, self.url.path(), timestamp, &nonce, body.as_bytes());

        let request = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("X-Sms-Key-Id", &self.config.key_id)
            .header("X-Sms-Timestamp", timestamp.to_string())
            .header("X-Sms-Nonce", &nonce)
            .header("X-Sms-Signature", signature)
            .header("Idempotency-Key", key)
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let error = error.without_url();
                warn!(mobile = %masked, idempotency_key = key, %error, "SMS API request failed");
                return Err(DeliveryError::retryable(format!("SMS API request failed: {error}")));
            }
        };

        let status = response.status();
        let reply: Option<ApiReply> = response.json().await.ok();
        match reply {
            Some(ApiReply { code, biz_id: Some(biz_id), .. }) if status.is_success() && code == "OK" => {
                info!(mobile = %masked, idempotency_key = key, biz_id = %biz_id, "SMS accepted by the template API");
                Ok(DeliveryReceipt { channel: Channel::Sms, provider_message_id: biz_id, accepted_at: Utc::now() })
            }
            reply => {
                let (code, text) = reply.map(|reply| (reply.code, reply.message.unwrap_or_default())).unwrap_or_else(|| ("unreadable".to_string(), String::new()));
                let detail = format!("SMS API replied {status} {code}: {}", text.replace(mobile, &masked));
                let retryable = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 || code == "throttled";
                warn!(mobile = %masked, idempotency_key = key, %status, code = %code, retryable, "SMS API rejected the message");
                Err(if retryable { DeliveryError::retryable(detail) } else { DeliveryError::permanent(detail) })
            }
        }
    }
}

/// Returns `text` when it fits in `max_chars`, else its first `max_chars - 1` characters
/// and "…". Only free text such as a reviewer's reason grows that long, and the operator
/// reads it in full by email and on the platform, so a shortened SMS beats none.
fn fit_param(template: &str, name: &str, text: String, max_chars: usize) -> String {
    let chars = text.chars().count();
    if chars <= max_chars {
        return text;
    }
    tracing::warn!(template, parameter = name, chars, max_chars, "SMS parameter shortened to the provider's limit");
    let mut shortened: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    shortened.push('…');
    shortened
}

#[cfg(test)]
mod tests {
    use super::fit_param;

    #[test]
    fn long_param_shortened_with_ellipsis() {
        let reason = "清除该课程学时，理由：人脸核验未通过，疑似他人代学，请重新学习该课程后再参加考试".to_string();
        let shortened = fit_param("review_decided", "reason", reason, 35);
        assert_eq!(shortened.chars().count(), 35);
        assert!(shortened.ends_with('…'));
        assert!(shortened.starts_with("清除该课程学时"));
    }

    #[test]
    fn short_param_kept() {
        assert_eq!(fit_param("login_code", "code", "615243".to_string(), 35), "615243");
    }
}
