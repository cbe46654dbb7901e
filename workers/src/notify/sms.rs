//! SMS delivery through a provider adapter, or into a JSON Lines file when no provider
//! is configured.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

use super::message::{Channel, DeliveryError, DeliveryReceipt, SmsMessage};
use super::mobile::{mask_mobile, normalize_mobile};
use super::sms_gateway::{HttpGateway, SmsGatewayConfig};
use super::sms_provider::SmsProvider;

/// Sign that the generic gateway puts in front of every text. Providers that send by
/// registered template add their own sign instead.
pub const DEFAULT_SMS_SIGN: &str = "【特种设备作业人员继续教育】";

/// Timeout for one gateway request, connecting included.
pub const DEFAULT_SMS_TIMEOUT: Duration = Duration::from_secs(10);

/// Characters that fit one SMS in UCS-2, the encoding a text with Chinese characters
/// uses (3GPP TS 23.038). Longer texts go out as several linked parts.
pub const SINGLE_SMS_CHARS: usize = 70;

/// Characters per part of a multi-part UCS-2 SMS: 70 less the header that links the
/// parts.
const MULTIPART_SEGMENT_CHARS: usize = 67;

/// Maximum text length in characters, sign included. Longer texts are rejected as permanent errors
/// because a notification that long is a template or data mistake.
pub const MAX_SMS_CHARS: usize = 500;

const OUTBOX_FILE: &str = "sms-outbox.jsonl";

/// Invalid SMS settings, found when the sender is built.
#[derive(Debug, thiserror::Error)]
pub enum SmsConfigError {
    #[error("invalid SMS gateway URL {url:?}: {message}")]
    InvalidUrl { url: String, message: String },

    #[error("failed to build the HTTP client for the SMS gateway: {message}")]
    HttpClient { message: String },

    #[error("failed to open SMS outbox in {}: {source}", dir.display())]
    Outbox {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Sends SMS.
pub enum SmsSender {
    /// A JSON Lines file, for development and for sites without a gateway.
    FileOutbox(SmsOutbox),
    /// A provider adapter: the generic HTTP gateway or the signed template API. The
    /// length check counts the provider's sign with the body.
    Provider(Arc<dyn SmsProvider>),
}

impl SmsSender {
    /// Builds a sender for the generic HTTP gateway. The URL must be `http` or `https`.
    pub fn gateway(config: SmsGatewayConfig) -> Result<SmsSender, SmsConfigError> {
        Ok(SmsSender::Provider(Arc::new(HttpGateway::new(config)?)))
    }

    /// Builds a sender that appends to `sms-outbox.jsonl` in `dir`, creating both if
    /// needed, and loads the idempotency keys already in the file.
    pub fn file_outbox(dir: impl AsRef<Path>) -> Result<SmsSender, SmsConfigError> {
        let dir = dir.as_ref();
        let outbox = SmsOutbox::open(dir).map_err(|source| SmsConfigError::Outbox {
            dir: dir.to_path_buf(),
            source,
        })?;
        info!(file = %outbox.path.display(), "SMS sender writes to the file outbox");
        Ok(SmsSender::FileOutbox(outbox))
    }

    /// Builds a gateway sender when `gateway` is set, and otherwise a file outbox in
    /// `outbox_dir`.
    pub fn from_config(
        gateway: Option<SmsGatewayConfig>,
        outbox_dir: impl AsRef<Path>,
    ) -> Result<SmsSender, SmsConfigError> {
        match gateway {
            Some(config) => SmsSender::gateway(config),
            None => SmsSender::file_outbox(outbox_dir),
        }
    }

    /// Sends one message after normalizing the mobile number and checking the length.
    pub async fn send(&self, message: &SmsMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let mobile = normalize_mobile(&message.to)
            .map_err(|error| DeliveryError::permanent(error.to_string()))?;
        if message.idempotency_key.trim().is_empty() {
            return Err(DeliveryError::permanent("SMS idempotency key is empty"));
        }

        match self {
            SmsSender::FileOutbox(outbox) => {
                check_length(&message.body, &mobile, message)?;
                outbox.append(&mobile, message).await
            }
            SmsSender::Provider(provider) => {
                check_length(&format!("{}{}", provider.sign(), message.body), &mobile, message)?;
                provider.send(&mobile, message).await
            }
        }
    }
}

fn check_length(content: &str, mobile: &str, message: &SmsMessage) -> Result<(), DeliveryError> {
    let chars = content.chars().count();
    if chars > MAX_SMS_CHARS {
        return Err(DeliveryError::permanent(format!(
            "SMS text of template {} has {chars} characters, more than the maximum of {MAX_SMS_CHARS}",
            message.template
        )));
    }
    if chars > SINGLE_SMS_CHARS {
        info!(
            mobile = %mask_mobile(mobile),
            template = %message.template,
            chars,
            parts = chars.div_ceil(MULTIPART_SEGMENT_CHARS),
            "SMS text exceeds {SINGLE_SMS_CHARS} characters and will be sent in several parts"
        );
    }
    Ok(())
}

/// One line of `sms-outbox.jsonl`.
#[derive(Serialize, Deserialize)]
struct OutboxLine {
    to: String,
    body: String,
    template: String,
    params: Value,
    idempotency_key: String,
    at: DateTime<Utc>,
}

/// `sms-outbox.jsonl`, with an index of the idempotency keys it holds.
#[derive(Clone, Debug)]
pub struct SmsOutbox {
    path: PathBuf,
    index: Arc<Mutex<OutboxIndex>>,
}

#[derive(Debug, Default)]
struct OutboxIndex {
    /// Acceptance time of each key in the file.
    accepted: HashMap<String, DateTime<Utc>>,
    /// Bytes of the file already read into `accepted`, always at a line boundary.
    read_to: u64,
}

impl SmsOutbox {
    /// Opens or creates `sms-outbox.jsonl` in `dir` and loads its keys.
    pub fn open(dir: &Path) -> std::io::Result<SmsOutbox> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(OUTBOX_FILE);
        let mut file = open_for_append(&path)?;
        let mut index = OutboxIndex::default();
        file.lock_shared()?;
        let loaded = index.read_new_lines(&mut file, &path);
        file.unlock()?;
        loaded?;

        Ok(SmsOutbox {
            path,
            index: Arc::new(Mutex::new(index)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn append(
        &self,
        mobile: &str,
        message: &SmsMessage,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        let line = OutboxLine {
            to: mobile.to_string(),
            body: message.body.clone(),
            template: message.template.clone(),
            params: message.params.clone(),
            idempotency_key: message.idempotency_key.clone(),
            at: Utc::now(),
        };
        let outbox = self.clone();
        let outcome = tokio::task::spawn_blocking(move || outbox.append_blocking(&line))
            .await
            .map_err(|error| {
                DeliveryError::retryable(format!("SMS outbox task failed: {error}"))
            })?;

        let masked = mask_mobile(mobile);
        let key = message.idempotency_key.as_str();
        match outcome {
            Ok((accepted_at, true)) => {
                info!(mobile = %masked, idempotency_key = key, template = %message.template, "SMS written to outbox");
                Ok(outbox_receipt(key, accepted_at))
            }
            Ok((accepted_at, false)) => {
                info!(mobile = %masked, idempotency_key = key, "SMS already in outbox, not written again");
                Ok(outbox_receipt(key, accepted_at))
            }
            Err(error) => {
                warn!(mobile = %masked, idempotency_key = key, file = %self.path.display(), %error, "failed to write SMS to outbox");
                Err(DeliveryError::retryable(format!(
                    "failed to write SMS outbox {}: {error}",
                    self.path.display()
                )))
            }
        }
    }

    /// Appends the line unless its key is already in the file. Returns the acceptance
    /// time and whether a line was written.
    ///
    /// The index mutex serializes senders in this process, and an exclusive file lock
    /// serializes them across processes. Under the lock the index first reads lines that
    /// other processes appended since the last read.
    fn append_blocking(&self, line: &OutboxLine) -> std::io::Result<(DateTime<Utc>, bool)> {
        let mut index = self
            .index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = open_for_append(&self.path)?;
        file.lock()?;

        index.read_new_lines(&mut file, &self.path)?;
        if let Some(accepted_at) = index.accepted.get(&line.idempotency_key) {
            return Ok((*accepted_at, false));
        }

        let mut bytes = Vec::new();
        let length = file.seek(SeekFrom::End(0))?;
        if length > index.read_to {
            // A process died in the middle of a line. Start a new line so that the
            // partial one stays separate and is skipped when the file is read.
            bytes.push(b'\n');
        }
        serde_json::to_writer(&mut bytes, line)?;
        bytes.push(b'\n');
        file.write_all(&bytes)?;
        file.sync_data()?;

        index.read_to = length + bytes.len() as u64;
        index.accepted.insert(line.idempotency_key.clone(), line.at);
        Ok((line.at, true))
    }
}

impl OutboxIndex {
    /// Reads complete lines after `read_to` and adds their keys. A line that is not
    /// valid JSON is logged and skipped.
    fn read_new_lines(&mut self, file: &mut File, path: &Path) -> std::io::Result<()> {
        file.seek(SeekFrom::Start(self.read_to))?;
        let mut buffer = Vec::new();
        file.read_to_end(&mut buffer)?;

        let Some(last_newline) = buffer.iter().rposition(|&byte| byte == b'\n') else {
            return Ok(());
        };
        for (number, raw) in buffer[..last_newline]
            .split(|&byte| byte == b'\n')
            .enumerate()
        {
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<OutboxLine>(raw) {
                Ok(line) => {
                    self.accepted.entry(line.idempotency_key).or_insert(line.at);
                }
                Err(error) => {
                    warn!(file = %path.display(), offset = self.read_to, line_after_offset = number + 1, %error, "skipped invalid line in SMS outbox");
                }
            }
        }
        self.read_to += last_newline as u64 + 1;
        Ok(())
    }
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

fn outbox_receipt(idempotency_key: &str, accepted_at: DateTime<Utc>) -> DeliveryReceipt {
    DeliveryReceipt {
        channel: Channel::Sms,
        provider_message_id: idempotency_key.to_string(),
        accepted_at,
    }
}
