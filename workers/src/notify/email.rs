//! Email delivery over SMTP, or into a directory of `.eml` files when no SMTP server is
//! configured.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as SmtpTls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tracing::{info, warn};

use super::message::{Channel, DeliveryError, DeliveryReceipt, EmailMessage};

/// Timeout for connecting to the SMTP server and for each SMTP command.
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Transport security of the SMTP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plaintext. Use it only for a relay on the same host or in tests.
    None,
    /// Plaintext first, then STARTTLS, which the server must support (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Implicit,
}

/// SMTP settings. The caller reads the credentials from the environment.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Sender mailbox, such as `继续教育平台 <noreply@example.org>`.
    pub from: String,
    pub timeout: Duration,
    /// PEM file of an extra trusted root certificate, for a server whose certificate a
    /// private CA issued. The public web roots are trusted as well.
    pub root_certificate: Option<PathBuf>,
}

impl SmtpConfig {
    /// Creates settings for STARTTLS on port 587 without credentials and with the
    /// default timeout.
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> Self {
        SmtpConfig {
            host: host.into(),
            port: 587,
            tls: Tls::StartTls,
            username: None,
            password: None,
            from: from.into(),
            timeout: DEFAULT_SMTP_TIMEOUT,
            root_certificate: None,
        }
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .field("root_certificate", &self.root_certificate)
            .finish()
    }
}

/// Invalid email settings, found when the sender is built.
#[derive(Debug, thiserror::Error)]
pub enum EmailConfigError {
    #[error("invalid sender address {from:?}: {message}")]
    InvalidFrom { from: String, message: String },

    #[error("SMTP username is set but the password is missing; set both or neither")]
    MissingPassword,

    #[error("SMTP password is set but the username is missing; set both or neither")]
    MissingUsername,

    #[error("invalid TLS settings for SMTP host {host}: {message}")]
    Tls { host: String, message: String },

    #[error("failed to create email outbox directory {}: {source}", dir.display())]
    OutboxDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Directory that receives one RFC 5322 `.eml` file per message.
#[derive(Clone, Debug)]
pub struct EmailOutbox {
    dir: PathBuf,
    from: Mailbox,
}

impl EmailOutbox {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the path of the `.eml` file for this idempotency key.
    pub fn path_for(&self, idempotency_key: &str) -> PathBuf {
        self.dir
            .join(format!("{}.eml", encode_key(idempotency_key)))
    }
}

/// Sends plain-text email.
pub enum EmailSender {
    /// An SMTP server, reached through a pool of reused connections.
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// A directory of `.eml` files, for development and for sites without SMTP.
    FileOutbox(EmailOutbox),
}

impl EmailSender {
    /// Builds a pooled SMTP sender. It connects on the first send, not here.
    ///
    /// Call it inside a Tokio runtime, because the pool starts a background task.
    pub fn smtp(config: SmtpConfig) -> Result<EmailSender, EmailConfigError> {
        let from = parse_from(&config.from)?;

        let tls = match config.tls {
            Tls::None => SmtpTls::None,
            Tls::StartTls => SmtpTls::Required(tls_parameters(&config.host, config.root_certificate.as_deref())?),
            Tls::Implicit => SmtpTls::Wrapper(tls_parameters(&config.host, config.root_certificate.as_deref())?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new());

        match (config.username, config.password) {
            (Some(username), Some(password)) => {
                if config.tls == Tls::None {
                    warn!(host = %config.host, "SMTP credentials will be sent without TLS");
                }
                builder = builder.credentials(Credentials::new(username, password));
            }
            (Some(_), None) => return Err(EmailConfigError::MissingPassword),
            (None, Some(_)) => return Err(EmailConfigError::MissingUsername),
            (None, None) => {}
        }

        info!(host = %config.host, port = config.port, tls = ?config.tls, "email sender uses SMTP");
        Ok(EmailSender::Smtp {
            transport: builder.build(),
            from,
        })
    }

    /// Builds a sender that writes `.eml` files into `dir`, creating it if needed.
    pub fn file_outbox(
        dir: impl Into<PathBuf>,
        from: &str,
    ) -> Result<EmailSender, EmailConfigError> {
        let dir = dir.into();
        let from = parse_from(from)?;
        std::fs::create_dir_all(&dir).map_err(|source| EmailConfigError::OutboxDir {
            dir: dir.clone(),
            source,
        })?;

        info!(dir = %dir.display(), "email sender writes to the file outbox");
        Ok(EmailSender::FileOutbox(EmailOutbox { dir, from }))
    }

    /// Builds an SMTP sender when `smtp` is set, and otherwise a file outbox in
    /// `outbox_dir` that sends as `outbox_from`.
    pub fn from_config(
        smtp: Option<SmtpConfig>,
        outbox_dir: impl Into<PathBuf>,
        outbox_from: &str,
    ) -> Result<EmailSender, EmailConfigError> {
        match smtp {
            Some(config) => EmailSender::smtp(config),
            None => EmailSender::file_outbox(outbox_dir, outbox_from),
        }
    }

    /// Sends one message. Its Message-ID is derived from the idempotency key, so a
    /// re-send carries the same Message-ID and the file outbox keeps a single file.
    pub async fn send(&self, message: &EmailMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let from = match self {
            EmailSender::Smtp { from, .. } => from,
            EmailSender::FileOutbox(outbox) => &outbox.from,
        };
        let (email, message_id) = build_message(from, message)?;

        match self {
            EmailSender::Smtp { transport, .. } => {
                send_smtp(transport, &email, &message_id, &message.idempotency_key).await
            }
            EmailSender::FileOutbox(outbox) => {
                write_outbox(outbox, &email, &message_id, &message.idempotency_key).await
            }
        }
    }

    /// Closes the pooled SMTP connections. The file outbox has nothing to close.
    pub async fn shutdown(&self) {
        if let EmailSender::Smtp { transport, .. } = self {
            transport.shutdown().await;
        }
    }
}

fn parse_from(from: &str) -> Result<Mailbox, EmailConfigError> {
    from.parse::<Mailbox>()
        .map_err(|error| EmailConfigError::InvalidFrom {
            from: from.to_string(),
            message: error.to_string(),
        })
}

fn tls_parameters(host: &str, root_certificate: Option<&Path>) -> Result<TlsParameters, EmailConfigError> {
    let tls_error = |message: String| EmailConfigError::Tls { host: host.to_string(), message };
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = root_certificate {
        let pem = std::fs::read(path).map_err(|error| tls_error(format!("cannot read root certificate {}: {error}", path.display())))?;
        let certificate = Certificate::from_pem(&pem).map_err(|error| tls_error(format!("root certificate {} is not valid PEM: {error}", path.display())))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|error| tls_error(error.to_string()))
}

/// Builds the RFC 5322 message and returns it with its Message-ID.
fn build_message(
    from: &Mailbox,
    message: &EmailMessage,
) -> Result<(Message, String), DeliveryError> {
    if message.idempotency_key.trim().is_empty() {
        return Err(DeliveryError::permanent("email idempotency key is empty"));
    }
    let to: Mailbox = message.to.parse().map_err(|error| {
        DeliveryError::permanent(format!(
            "invalid recipient address {:?}: {error}",
            message.to
        ))
    })?;

    let message_id = format!(
        "<{}@{}>",
        encode_key(&message.idempotency_key),
        from.email.domain()
    );
    let email = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.as_str())
        .message_id(Some(message_id.clone()));
    let email = if message.attachments.is_empty() {
        email.singlepart(SinglePart::plain(message.body.clone()))
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(message.body.clone()));
        for attachment in &message.attachments {
            let content_type = ContentType::parse(&attachment.content_type).map_err(|error| {
                DeliveryError::permanent(format!("attachment {:?} has an invalid content type {:?}: {error}", attachment.filename, attachment.content_type))
            })?;
            parts = parts.singlepart(Attachment::new(attachment.filename.clone()).body(attachment.content.clone(), content_type));
        }
        email.multipart(parts)
    }
    .map_err(|error| DeliveryError::permanent(format!("failed to build email: {error}")))?;

    Ok((email, message_id))
}

async fn send_smtp(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    email: &Message,
    message_id: &str,
    idempotency_key: &str,
) -> Result<DeliveryReceipt, DeliveryError> {
    match transport.send(email.clone()).await {
        Ok(response) => {
            let reply = response.first_line().unwrap_or("").to_string();
            info!(idempotency_key, message_id, code = %response.code(), reply, "email accepted by SMTP server");
            Ok(DeliveryReceipt {
                channel: Channel::Email,
                provider_message_id: message_id.to_string(),
                accepted_at: Utc::now(),
            })
        }
        Err(error) => {
            let delivery_error = classify_smtp_error(&error);
            warn!(idempotency_key, message_id, kind = %delivery_error.kind, %error, "SMTP send failed");
            Err(delivery_error)
        }
    }
}

/// Maps an SMTP failure to retryable or permanent.
///
/// 5xx replies (RFC 5321 permanent negative completion) and errors inside lettre, such as
/// an address it cannot encode, are permanent. Everything else is retryable: 4xx replies,
/// timeouts, refused or dropped connections, TLS failures and unparseable replies.
fn classify_smtp_error(error: &lettre::transport::smtp::Error) -> DeliveryError {
    let status = error.status().map(|code| code.to_string());
    let detail = match &status {
        Some(code) => format!("SMTP server replied {code}: {error}"),
        None if error.is_timeout() => format!("SMTP timed out: {error}"),
        None => format!("SMTP send failed: {error}"),
    };

    if error.is_permanent() || error.is_client() {
        DeliveryError::permanent(detail)
    } else {
        DeliveryError::retryable(detail)
    }
}

/// Writes the message to `<key>.eml` unless a file for the key already exists.
///
/// The file is written under a temporary name and then hard-linked to its final name.
/// Linking fails when the name exists, so two concurrent sends of one key keep exactly
/// one complete file, and a crash never leaves a partial `.eml` behind.
async fn write_outbox(
    outbox: &EmailOutbox,
    email: &Message,
    message_id: &str,
    idempotency_key: &str,
) -> Result<DeliveryReceipt, DeliveryError> {
    let final_path = outbox.path_for(idempotency_key);
    let temp_path = outbox.dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let bytes = email.formatted();

    let write_path = final_path.clone();
    let outcome =
        tokio::task::spawn_blocking(move || link_new_file(&temp_path, &write_path, &bytes))
            .await
            .map_err(|error| {
                DeliveryError::retryable(format!("email outbox task failed: {error}"))
            })?;

    let file = final_path.display().to_string();
    match outcome {
        Ok(LinkOutcome::Created) => {
            info!(idempotency_key, message_id, file, "email written to outbox");
            Ok(DeliveryReceipt {
                channel: Channel::Email,
                provider_message_id: message_id.to_string(),
                accepted_at: Utc::now(),
            })
        }
        Ok(LinkOutcome::AlreadyPresent(accepted_at)) => {
            info!(
                idempotency_key,
                message_id, file, "email already in outbox, not written again"
            );
            Ok(DeliveryReceipt {
                channel: Channel::Email,
                provider_message_id: message_id.to_string(),
                accepted_at,
            })
        }
        Err(error) => {
            warn!(idempotency_key, file, %error, "failed to write email to outbox");
            Err(DeliveryError::retryable(format!(
                "failed to write email outbox file {file}: {error}"
            )))
        }
    }
}

enum LinkOutcome {
    Created,
    /// The file existed. Holds its modification time.
    AlreadyPresent(DateTime<Utc>),
}

fn link_new_file(
    temp_path: &Path,
    final_path: &Path,
    bytes: &[u8],
) -> std::io::Result<LinkOutcome> {
    if let Ok(metadata) = std::fs::metadata(final_path) {
        return Ok(LinkOutcome::AlreadyPresent(modified_at(&metadata)));
    }

    let mut file = std::fs::File::create_new(temp_path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    let linked = written.and_then(|()| std::fs::hard_link(temp_path, final_path));
    let _ = std::fs::remove_file(temp_path);

    match linked {
        Ok(()) => Ok(LinkOutcome::Created),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let metadata = std::fs::metadata(final_path)?;
            Ok(LinkOutcome::AlreadyPresent(modified_at(&metadata)))
        }
        Err(error) => Err(error),
    }
}

fn modified_at(metadata: &std::fs::Metadata) -> DateTime<Utc> {
    metadata
        .modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now())
}

/// Encodes an idempotency key for use as a file name and as the local part of a
/// Message-ID: ASCII letters, digits, `-` and `_` stay, and every other byte becomes
/// `=XX`. The encoding is injective, so distinct keys never share a file.
fn encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("={byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_key_keeps_safe_characters() {
        assert_eq!(encode_key("enrolled-2025_42"), "enrolled-2025_42");
        assert_eq!(encode_key("card/JX.1"), "card=2FJX=2E1");
        assert_eq!(encode_key("a=b"), "a=3Db");
        assert_eq!(encode_key("学"), "=E5=AD=A6");
    }

    #[test]
    fn message_id_derives_from_key() {
        let from: Mailbox = "平台 <noreply@edu.example.org>".parse().unwrap();
        let message = EmailMessage {
            to: "zhang@example.com".to_string(),
            subject: "测试".to_string(),
            body: "正文".to_string(),
            attachments: Vec::new(),
            idempotency_key: "enrolled:42".to_string(),
        };
        let (_, message_id) = build_message(&from, &message).unwrap();
        assert_eq!(message_id, "<enrolled=3A42@edu.example.org>");
    }

    #[test]
    fn invalid_recipient_is_permanent() {
        let from: Mailbox = "noreply@edu.example.org".parse().unwrap();
        let message = EmailMessage {
            to: "not an address".to_string(),
            subject: "测试".to_string(),
            body: "正文".to_string(),
            attachments: Vec::new(),
            idempotency_key: "k1".to_string(),
        };
        let error = build_message(&from, &message).unwrap_err();
        assert!(!error.is_retryable(), "{error}");
    }
}
