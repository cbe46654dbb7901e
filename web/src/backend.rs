//! Calls into the API's router in the same process, so that pages reuse the API's
//! authentication, role checks and business rules instead of repeating them.
//!
//! A call carries the visitor's session token as a bearer token and the page's locale
//! as `Accept-Language`, so errors come back in the visitor's language with the field
//! they concern.

use api::AppState;
use axum::body::{Body, to_bytes};
use axum::http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use domain::messages::Locale;
use serde_json::Value;
use tower::ServiceExt;

/// Maximum size of an API response body read by a page.
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// The API's router, called in process.
#[derive(Clone)]
pub struct Backend {
    router: Router,
}

/// An API error as a page shows it.
#[derive(Clone, Debug)]
pub struct ApiProblem {
    pub status: StatusCode,
    pub code: String,
    /// The localized message.
    pub message: String,
    /// The request field the error concerns, when the API named one.
    pub field: Option<String>,
}

impl Backend {
    pub fn new(app: AppState) -> Backend {
        Backend { router: api::router(app) }
    }

    /// Sends `method path` with an optional JSON body; returns the JSON body of a 2xx
    /// response or the API's error.
    pub async fn call(&self, method: Method, path: &str, session: Option<&str>, locale: Locale, body: Option<Value>) -> Result<Value, ApiProblem> {
        match body {
            Some(body) => self.send(method, path, session, locale, Some(("application/json", body.to_string().into_bytes()))).await,
            None => self.send(method, path, session, locale, None).await,
        }
    }

    /// Posts `bytes` of type `content_type`, such as an uploaded form passed on as it
    /// came, and returns the JSON body of a 2xx response or the API's error.
    pub async fn upload(&self, path: &str, session: Option<&str>, locale: Locale, content_type: &str, bytes: Vec<u8>) -> Result<Value, ApiProblem> {
        self.send(Method::POST, path, session, locale, Some((content_type, bytes))).await
    }

    async fn send(&self, method: Method, path: &str, session: Option<&str>, locale: Locale, body: Option<(&str, Vec<u8>)>) -> Result<Value, ApiProblem> {
        let mut builder = Request::builder().method(method).uri(path).header(ACCEPT_LANGUAGE, locale.tag());
        if let Some(token) = session {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some((content_type, bytes)) => builder.header(CONTENT_TYPE, content_type).body(Body::from(bytes)),
            None => builder.body(Body::empty()),
        }
        .map_err(|error| internal(locale, &format!("request to {path} could not be built: {error}")))?;

        let response = self.router.clone().oneshot(request).await.unwrap_or_else(|never| match never {});
        let status = response.status();
        let bytes = to_bytes(response.into_body(), MAX_RESPONSE_BYTES)
            .await
            .map_err(|error| internal(locale, &format!("response of {path} unreadable: {error}")))?;
        let body: Value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        if status.is_success() {
            return Ok(body);
        }
        Err(ApiProblem {
            status,
            code: body["code"].as_str().unwrap_or("common.internal").to_string(),
            message: body["message"].as_str().map(str::to_string).unwrap_or_else(|| status.to_string()),
            field: body["field"].as_str().map(str::to_string),
        })
    }

    pub async fn get(&self, path: &str, session: Option<&str>, locale: Locale) -> Result<Value, ApiProblem> {
        self.call(Method::GET, path, session, locale, None).await
    }

    pub async fn post(&self, path: &str, session: Option<&str>, locale: Locale, body: Value) -> Result<Value, ApiProblem> {
        self.call(Method::POST, path, session, locale, Some(body)).await
    }
}

/// Logs a failure of the in-process call itself and returns the generic error.
fn internal(locale: Locale, detail: &str) -> ApiProblem {
    tracing::error!(detail, "in-process API call failed");
    ApiProblem {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "common.internal".into(),
        message: domain::messages::text(locale, "web.internal", &[]),
        field: None,
    }
}
