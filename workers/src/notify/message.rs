//! Messages handed to the senders, and the receipts and errors they return.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mobile::mask_mobile;

/// Delivery channel of a notification. The serialized form (`sms`, `email`) is also the
/// name of the template subdirectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Sms, Channel::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plain-text email to one recipient, with optional attachments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    /// Recipient address, optionally with a display name (`张伟 <zhang@example.com>`).
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Files sent after the text; names may be Chinese (encoded per RFC 2231).
    #[serde(default)]
    pub attachments: Vec<EmailAttachment>,
    /// Stable key of this notification. A re-send with the same key reuses the same
    /// Message-ID and, in the file outbox, the same file.
    pub idempotency_key: String,
}

/// A file attached to an email.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAttachment {
    /// File name as the recipient sees it, such as `2026年度学分卡.pdf`.
    pub filename: String,
    /// MIME type, such as `application/pdf`.
    pub content_type: String,
    pub content: Vec<u8>,
}

impl fmt::Debug for EmailAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailAttachment").field("filename", &self.filename).field("content_type", &self.content_type).field("bytes", &self.content.len()).finish()
    }
}

/// A text message to one mainland mobile number.
///
/// `Debug` masks the number and leaves out the body and parameters, because the body can
/// contain a login code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsMessage {
    /// Mainland mobile number, preferably in the 11-digit form returned by
    /// [`normalize_mobile`](super::normalize_mobile). The sender normalizes it again and
    /// rejects a number that is not a mainland mobile as a permanent error.
    pub to: String,
    /// Rendered text, without the sign.
    pub body: String,
    /// Template name, for gateways that send by registered template instead of free text.
    pub template: String,
    /// Values the template was rendered with.
    pub params: Value,
    /// Stable key of this notification. The file outbox writes one line per key, and the
    /// gateway receives it as `request_id` and in the `Idempotency-Key` header.
    pub idempotency_key: String,
}

impl fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &mask_mobile(&self.to))
            .field("body_chars", &self.body.chars().count())
            .field("template", &self.template)
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// Proof that a provider (or a file outbox) accepted a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReceipt {
    pub channel: Channel,
    /// Identifier assigned by the provider: the gateway's `message_id`, the email
    /// Message-ID, or the idempotency key for the SMS file outbox.
    pub provider_message_id: String,
    pub accepted_at: DateTime<Utc>,
}

/// Whether a failed delivery is worth retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryErrorKind {
    /// Timeouts, connection errors, SMTP 4xx replies, gateway 5xx, 408 and 429 responses.
    Retryable,
    /// Invalid recipients or content, SMTP 5xx replies and other gateway 4xx responses.
    /// Sending the same message again would fail the same way.
    Permanent,
}

impl fmt::Display for DeliveryErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryErrorKind::Retryable => f.write_str("retryable"),
            DeliveryErrorKind::Permanent => f.write_str("permanent"),
        }
    }
}

/// A failed delivery. The message never contains a full mobile number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({kind} delivery error)")]
pub struct DeliveryError {
    pub kind: DeliveryErrorKind,
    pub message: String,
}

impl DeliveryError {
    pub fn retryable(message: impl Into<String>) -> Self {
        DeliveryError {
            kind: DeliveryErrorKind::Retryable,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            kind: DeliveryErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == DeliveryErrorKind::Retryable
    }
}
