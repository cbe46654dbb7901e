//! The API's one error type, mapped once to an HTTP status and a JSON body
//! `{ "code": "stable.code", "message": "…", "field": "name" | null }`.
//!
//! Messages come from the message catalogue (`definitions/messages/*.yaml`) in the
//! locale of the request's `Accept-Language` header, zh-CN by default. The locale is
//! held in a task-local that [`scope_locale`] sets around every request, so an error
//! can render itself wherever it is turned into a response.

use std::borrow::Cow;

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::multipart::MultipartError;
use axum::extract::Request;
use axum::http::header::{ACCEPT_LANGUAGE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::exam::ExamError;
use domain::identity::IdentityError;
use domain::messages::{self, Catalogue, Locale};
use domain::roster::RosterError;
use serde_json::json;
use workflows::runtime::EngineError;

tokio::task_local! {
    static LOCALE: Locale;
}

/// Runs the rest of the request with the locale named by its `Accept-Language` header.
pub async fn scope_locale(request: Request, next: Next) -> Response {
    let locale = request
        .headers()
        .get(ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .map(Locale::parse)
        .unwrap_or_default();
    LOCALE.scope(locale, next.run(request)).await
}

/// Returns the locale of the current request, or zh-CN outside a request.
pub fn current_locale() -> Locale {
    LOCALE.try_with(|locale| *locale).unwrap_or_default()
}

/// Renders catalogue message `code` in the current request's locale.
pub fn text(code: &str, args: &[(&str, &str)]) -> String {
    messages::text(current_locale(), code, args)
}

/// A message code with the field it concerns and the arguments of its text.
#[derive(Clone, Debug)]
pub struct Problem {
    pub code: &'static str,
    pub field: Option<&'static str>,
    pub args: Vec<(&'static str, String)>,
}

impl Problem {
    fn new(code: &'static str) -> Problem {
        Problem { code, field: None, args: Vec::new() }
    }

    fn render(&self, locale: Locale) -> String {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(name, value)| (*name, value.as_str())).collect();
        messages::text(locale, self.code, &args)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An identity value (mobile, ID number, name, credit code) failed validation: 400.
    #[error("invalid identity value: {}", .0.code())]
    Identity(IdentityError),
    /// A roster file that cannot be read at all: 400.
    #[error("roster file rejected: {}", .0.code())]
    Roster(RosterError),
    /// Any other invalid input: 400.
    #[error("invalid request: {}", .0.code)]
    Invalid(Problem),
    /// No valid session or signature: 401.
    #[error("not authenticated: {}", .0.code)]
    Unauthenticated(Problem),
    /// Authenticated, but the role or scope does not allow it: 403.
    #[error("forbidden: {}", .0.code)]
    Forbidden(Problem),
    /// 404. Also returned for records that exist but belong to someone else, so that
    /// ids cannot be probed.
    #[error("not found: {}", .0.code)]
    NotFound(Problem),
    /// The request contradicts stored data: 409.
    #[error("conflict: {}", .0.code)]
    Conflict(Problem),
    /// Too many requests of this kind for now: 429 with `Retry-After`.
    #[error("rate limited: {}", .problem.code)]
    RateLimited { problem: Problem, retry_after_secs: i64 },
    /// The workflow did not accept the event in its current state: 409.
    #[error("workflow rejected the event in state {state}: {reason}")]
    Rejected { state: String, state_label: String, reason: String },
    /// The request body is larger than the route accepts: 413.
    #[error("request body too large")]
    TooLarge,
    /// The database is busy with the same record; the client may retry: 503.
    #[error("busy: {}", .0.code)]
    Busy(Problem),
    /// Anything unexpected: 500, logged with a reference the user can quote.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn invalid(code: &'static str) -> ApiError {
        ApiError::Invalid(Problem::new(code))
    }

    pub fn unauthenticated(code: &'static str) -> ApiError {
        ApiError::Unauthenticated(Problem::new(code))
    }

    pub fn forbidden(code: &'static str) -> ApiError {
        ApiError::Forbidden(Problem::new(code))
    }

    pub fn not_found(code: &'static str) -> ApiError {
        ApiError::NotFound(Problem::new(code))
    }

    pub fn conflict(code: &'static str) -> ApiError {
        ApiError::Conflict(Problem::new(code))
    }

    pub fn rate_limited(code: &'static str, retry_after_secs: i64) -> ApiError {
        ApiError::RateLimited { problem: Problem::new(code), retry_after_secs: retry_after_secs.max(1) }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(error.into())
    }

    /// Sets the request field the error concerns.
    pub fn field(mut self, field: &'static str) -> ApiError {
        if let Some(problem) = self.problem_mut() {
            problem.field = Some(field);
        }
        self
    }

    /// Adds argument `name` of the message text.
    pub fn arg(mut self, name: &'static str, value: impl ToString) -> ApiError {
        if let Some(problem) = self.problem_mut() {
            problem.args.push((name, value.to_string()));
        }
        self
    }

    fn problem_mut(&mut self) -> Option<&mut Problem> {
        match self {
            ApiError::Invalid(problem)
            | ApiError::Unauthenticated(problem)
            | ApiError::Forbidden(problem)
            | ApiError::NotFound(problem)
            | ApiError::Conflict(problem)
            | ApiError::Busy(problem)
            | ApiError::RateLimited { problem, .. } => Some(problem),
            ApiError::Identity(_) | ApiError::Roster(_) | ApiError::Rejected { .. } | ApiError::TooLarge | ApiError::Internal(_) => None,
        }
    }

    /// Returns the stable code of the error, as sent in the body.
    pub fn code(&self) -> Cow<'static, str> {
        match self {
            ApiError::Identity(error) => Cow::Borrowed(error.code()),
            ApiError::Roster(error) => Cow::Borrowed(error.code()),
            ApiError::Invalid(problem)
            | ApiError::Unauthenticated(problem)
            | ApiError::Forbidden(problem)
            | ApiError::NotFound(problem)
            | ApiError::Conflict(problem)
            | ApiError::Busy(problem)
            | ApiError::RateLimited { problem, .. } => Cow::Borrowed(problem.code),
            ApiError::Rejected { reason, .. } => Cow::Owned(rejection_code(reason)),
            ApiError::TooLarge => Cow::Borrowed("request.too_large"),
            ApiError::Internal(_) => Cow::Borrowed("common.internal"),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Identity(_) | ApiError::Roster(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::Rejected { .. } => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Returns the message code of an engine rejection reason (`guard_not_met`, …), or the
/// generic `workflow.rejected` for a reason the catalogue has no text for.
fn rejection_code(reason: &str) -> String {
    let code = format!("workflow.{reason}");
    if Catalogue::global().contains(&code) { code } else { "workflow.rejected".to_string() }
}

impl ApiError {
    /// Renders the message and the field the error concerns in `locale`, as the
    /// response body carries them. An internal error gets the generic message without a
    /// reference, since only [`IntoResponse`] logs the error with one.
    pub fn message_and_field(&self, locale: Locale) -> (String, Option<&'static str>) {
        let code = self.code();
        match self {
            ApiError::Identity(error) => (error.message(locale), Some(error.field())),
            ApiError::Roster(error) => (error.message(locale), None),
            ApiError::Invalid(problem)
            | ApiError::Unauthenticated(problem)
            | ApiError::Forbidden(problem)
            | ApiError::NotFound(problem)
            | ApiError::Conflict(problem)
            | ApiError::Busy(problem)
            | ApiError::RateLimited { problem, .. } => (problem.render(locale), problem.field),
            ApiError::Rejected { state_label, reason, .. } => {
                let args = [("state", state_label.as_str()), ("reason", reason.as_str())];
                (messages::text(locale, &code, &args), None)
            }
            ApiError::TooLarge => (messages::text(locale, "request.too_large", &[]), None),
            ApiError::Internal(_) => (messages::text(locale, "common.internal", &[("reference", "-")]), None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let locale = current_locale();
        let status = self.status();
        let code = self.code();
        let (message, field) = match &self {
            ApiError::Internal(error) => {
                let reference = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
                tracing::error!(reference = %reference, error = %format!("{error:#}"), "request failed with an internal error");
                (messages::text(locale, "common.internal", &[("reference", &reference)]), None)
            }
            other => other.message_and_field(locale),
        };
        if status.is_client_error() {
            tracing::debug!(status = status.as_u16(), code = %code, "request rejected");
        }

        let body = json!({ "code": code, "message": message, "field": field });
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs, .. } = &self {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> ApiError {
        ApiError::Identity(error)
    }
}

impl From<RosterError> for ApiError {
    fn from(error: RosterError) -> ApiError {
        ApiError::Roster(error)
    }
}

impl From<ExamError> for ApiError {
    fn from(error: ExamError) -> ApiError {
        match error {
            ExamError::NoCourses => ApiError::conflict("exam.no_courses"),
            other => ApiError::internal(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::internal(error)
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        match error {
            EngineError::Contention(_) => ApiError::Busy(Problem::new("request.busy")),
            EngineError::InstanceNotFound(_) => ApiError::not_found("workflow.instance_not_found"),
            EngineError::UnknownDefinition(id) => ApiError::not_found("definitions.not_found").arg("id", id),
            EngineError::UnknownVersion(version) => ApiError::not_found("definitions.version_not_found").arg("id", "").arg("version", version),
            EngineError::IncidentNotFound(_) => ApiError::not_found("incidents.not_found"),
            other => ApiError::internal(other),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> ApiError {
        ApiError::internal(error)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge;
        }
        if matches!(rejection, JsonRejection::MissingJsonContentType(_)) {
            return ApiError::invalid("request.content_type_json");
        }
        ApiError::from_json_text(&rejection.body_text())
    }
}

impl ApiError {
    /// Turns the English text of a JSON parsing error (serde's, with axum's path prefix
    /// when there is one) into a zh-CN error that names the field and the fix, so that no
    /// English parser text reaches the user.
    pub fn from_json_text(detail: &str) -> ApiError {
        // serde names the field only in its English text: a missing or unknown field in
        // backticks, any other field as the path before ": ".
        for (prefix, code) in [("missing field `", "request.field_missing"), ("unknown field `", "request.field_unknown")] {
            if let Some(field) = backticked_after(detail, prefix) {
                return with_field(ApiError::invalid(code).arg("field", &field), &field);
            }
        }
        let data = detail.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or(detail);
        let (path, message) = match data.split_once(": ") {
            Some((path, message)) if !path.contains(' ') => (Some(path), message),
            _ => (None, data),
        };
        if let Some(field) = path {
            if message.starts_with("unknown variant `") {
                let allowed = backticked_all(message.split_once("expected").map_or("", |(_, rest)| rest)).join("、");
                return with_field(ApiError::invalid("request.value_not_allowed").arg("field", field).arg("allowed", allowed), field);
            }
            if let Some(expected) = message.strip_prefix("invalid type: ").and_then(|rest| rest.split_once(", expected ")).map(|(_, expected)| expected) {
                let kind = expected_kind(expected);
                return with_field(ApiError::invalid("request.value_type").arg("field", field).arg("kind", kind), field);
            }
            return with_field(ApiError::invalid("request.value_invalid").arg("field", field), field);
        }
        ApiError::invalid("request.invalid_json").arg("position", json_position(detail))
    }
}

/// Names the field of `error` when it can be kept as a `'static` name.
fn with_field(error: ApiError, field: &str) -> ApiError {
    match interned_field(field) {
        Some(field) => error.field(field),
        None => error,
    }
}

/// Returns the zh-CN name of the kind of value serde expected ("a string", "i64", …).
fn expected_kind(expected: &str) -> &'static str {
    let expected = expected.split(" at line").next().unwrap_or(expected);
    if expected.contains("string") || expected.contains("char") {
        "文本"
    } else if expected.contains("bool") {
        "true 或 false"
    } else if ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "integer"].iter().any(|name| expected.contains(name)) {
        "整数"
    } else if expected.contains("f32") || expected.contains("f64") || expected.contains("number") {
        "数字"
    } else if expected.contains("sequence") || expected.contains("array") {
        "列表（JSON 数组）"
    } else {
        "对象（JSON 对象）"
    }
}

/// Returns "第 L 行第 C 列" from serde's "at line L column C", or an empty string.
fn json_position(detail: &str) -> String {
    let Some((_, rest)) = detail.rsplit_once(" at line ") else { return String::new() };
    let mut parts = rest.split(" column ");
    match (parts.next(), parts.next()) {
        (Some(line), Some(column)) => format!("（第 {} 行第 {} 列）", line.trim(), column.trim()),
        _ => String::new(),
    }
}

/// Returns every text between backticks in `text`.
fn backticked_all(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Returns `name` as a `'static` field name. Each distinct name is allocated once and
/// kept; unknown fields are named by the client, so after [`MAX_INTERNED_FIELDS`]
/// names no more are kept and the error goes without its field.
fn interned_field(name: &str) -> Option<&'static str> {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = names.iter().find(|known| **known == name) {
        return Some(known);
    }
    if names.len() >= MAX_INTERNED_FIELDS || name.len() > 64 {
        return None;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    Some(leaked)
}

/// Distinct field names [`interned_field`] keeps, bounding the memory a client can pin.
const MAX_INTERNED_FIELDS: usize = 512;

/// Returns the text between `prefix` and the next backtick in `text`.
fn backticked_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let length = text[start..].find('`')?;
    Some(text[start..start + length].to_string())
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::invalid("request.invalid_query").arg("detail", rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge;
        }
        ApiError::invalid("request.body_unreadable").arg("detail", rejection.body_text())
    }
}

impl From<MultipartError> for ApiError {
    fn from(error: MultipartError) -> ApiError {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge;
        }
        ApiError::invalid("request.invalid_upload").arg("detail", error.body_text())
    }
}
