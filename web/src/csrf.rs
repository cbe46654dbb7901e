//! CSRF protection for the pages' forms: a double-submit token.
//!
//! Every visitor gets a random token in the `certflow_csrf` cookie (HttpOnly,
//! SameSite=Strict, Secure over HTTPS). Each page puts the same token in its forms'
//! hidden `csrf` field, and scripts send it in the `X-CSRF-Token` header. A POST to a
//! page route passes only when the presented token equals the cookie's. Another site
//! can neither read the cookie nor set it, so it cannot forge the pair. The API's JSON
//! routes are not under this layer: they take bearer tokens and JSON bodies.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::context::{cookie_value, is_https, locale_of};
use crate::WebState;

pub const CSRF_COOKIE: &str = "certflow_csrf";
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Maximum size of a url-encoded form body, which the check reads before the handler.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Maximum size of a multipart form body (a file upload), read like a form.
pub const MAX_UPLOAD_BYTES: usize = api::units::MAX_ROSTER_BYTES + MAX_FORM_BYTES;

/// The visitor's CSRF token, placed in the request's extensions for the pages.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Checks the token of every unsafe request and hands out a token to visitors without one.
pub async fn protect(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let existing = cookie_value(request.headers(), CSRF_COOKIE).filter(|token| token.len() == 64 && token.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let fresh = existing.is_none();
    let token = existing.unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()));
    let https = is_https(request.headers());

    let mut request = if is_unsafe(request.method()) {
        match presented_token(request).await {
            Ok((request, Some(presented))) if !fresh && constant_time_eq(presented.as_bytes(), token.as_bytes()) => request,
            Ok((request, _)) => {
                tracing::warn!(path = %request.uri().path(), "form rejected: CSRF token missing or wrong");
                return rejected(&state, request.headers(), StatusCode::FORBIDDEN, "web.csrf_rejected");
            }
            Err(headers) => return rejected(&state, &headers, StatusCode::PAYLOAD_TOO_LARGE, "request.too_large"),
        }
    } else {
        request
    };

    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if fresh {
        let secure = if https { "; Secure" } else { "" };
        let cookie = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
        response.headers_mut().append(SET_COOKIE, HeaderValue::from_str(&cookie).expect("a hex token makes a valid header value"));
    }
    response
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Returns the request, rebuilt after reading its body, with the token from the
/// `X-CSRF-Token` header or the form's `csrf` field. Fails with the request's headers
/// when the form body is too large.
async fn presented_token(request: Request) -> Result<(Request, Option<String>), HeaderMap> {
    if let Some(token) = request.headers().get(CSRF_HEADER).and_then(|value| value.to_str().ok()) {
        let token = token.to_string();
        return Ok((request, Some(token)));
    }
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if content_type.starts_with("multipart/form-data") {
        return multipart_token(request).await;
    }
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    if !is_form {
        return Ok((request, None));
    }

    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return Err(parts.headers);
    };
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value));
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// Returns the request, rebuilt after reading its body, with the `csrf` field of a
/// multipart form, such as a file upload. Fails with the request's headers when the
/// body is too large.
async fn multipart_token(request: Request) -> Result<(Request, Option<String>), HeaderMap> {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_UPLOAD_BYTES).await else {
        return Err(parts.headers);
    };
    let copy = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let mut token = None;
    if let Ok(mut form) = Multipart::from_request(copy, &()).await {
        while let Ok(Some(field)) = form.next_field().await {
            // A file part that happens to be named `csrf` is not the token.
            if field.name() == Some(CSRF_FIELD) && field.file_name().is_none() {
                token = field.text().await.ok();
                break;
            }
        }
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

/// Renders the error page for a rejected request.
fn rejected(state: &WebState, headers: &HeaderMap, status: StatusCode, code: &str) -> Response {
    let locale = locale_of(headers);
    let message = domain::messages::text(locale, code, &[("max", &MAX_FORM_BYTES.to_string())]);
    state.views.error_page(locale, &state.config, status, &message)
}
