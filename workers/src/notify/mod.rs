//! Notifications to operators and unit admins by SMS and email.
//!
//! [`Templates`] renders the texts in `definitions/templates/`, and [`EmailSender`] and
//! [`SmsSender`] deliver them. Every message carries an idempotency key, so a job that is
//! retried after a timeout does not notify the recipient twice through the file outboxes,
//! and the SMTP server or SMS provider can recognise the repeat.

mod email;
mod message;
mod mobile;
mod sms;
mod sms_gateway;
mod sms_provider;
mod template_usage;
mod templates;

pub use email::{
    DEFAULT_SMTP_TIMEOUT, EmailConfigError, EmailOutbox, EmailSender, SmtpConfig, Tls,
};
pub use message::{
    Channel, DeliveryError, DeliveryErrorKind, DeliveryReceipt, EmailAttachment, EmailMessage, SmsMessage,
};
pub use mobile::{InvalidMobile, mask_mobile, normalize_mobile};
pub use sms::{
    DEFAULT_SMS_SIGN, DEFAULT_SMS_TIMEOUT, MAX_SMS_CHARS, SINGLE_SMS_CHARS, SmsConfigError,
    SmsOutbox, SmsSender,
};
pub use sms_gateway::{HttpGateway, SmsGatewayConfig};
pub use sms_provider::{DEFAULT_MAX_PARAM_CHARS, SignedApiConfig, SignedTemplateApi, SmsProvider, sign_sms_request};
pub use templates::{
    DEFAULT_LOCALE, Rendered, TemplateError, TemplateProblem, TemplateProblemKind, Templates,
};
