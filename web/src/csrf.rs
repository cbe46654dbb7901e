//! CSRF protection for the pages' forms: a double-submit token.
//!
//! Every visitor gets a random token in the `certflow_csrf` cookie (HttpOnly,
//! SameSite=Strict, Secure over HTTPS). Each page puts the same token in its forms'
//! hidden `csrf` field (a text part of a multipart upload form too), and scripts send
//! it in the `X-CSRF-Token` header. A POST to a
//! page route passes only when the presented token equals the cookie's. Another site
//! can neither read the cookie nor set it, so it cannot forge the pair. The API's JSON
//! routes are not under this layer: they take bearer tokens and JSON bodies.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::context::{cookie_value, is_https, locale_of, site_footer};
use crate::WebState;

pub const CSRF_COOKIE: &str = "certflow_csrf";
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Maximum size of a url-encoded form body, which the check reads before the handler.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Maximum size of a multipart form body (a file upload), which the check also reads
/// before the handler: the API's largest upload, 10 MiB, plus room for the other fields.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024 + 64 * 1024;

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
                return rejected(&state, request.headers(), StatusCode::FORBIDDEN, "web.csrf_rejected").await;
            }
            Err(headers) => return rejected(&state, &headers, StatusCode::PAYLOAD_TOO_LARGE, "request.too_large").await,
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
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default().to_string();
    if let Some(boundary) = multipart_boundary(&content_type) {
        return multipart_token(request, &boundary).await;
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
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

/// Returns the boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let rest = content_type.strip_prefix("multipart/form-data")?;
    let boundary = rest.split(';').map(str::trim).find_map(|parameter| parameter.strip_prefix("boundary="))?;
    Some(boundary.trim_matches('"').to_string()).filter(|boundary| !boundary.is_empty())
}

/// Reads a multipart body (file uploads, up to [`MAX_UPLOAD_BYTES`]) and returns the
/// request rebuilt with it and the value of its `csrf` text part.
async fn multipart_token(request: Request, boundary: &str) -> Result<(Request, Option<String>), HeaderMap> {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_UPLOAD_BYTES).await else {
        return Err(parts.headers);
    };
    let token = multipart_text_field(&bytes, boundary, CSRF_FIELD);
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// Returns the value of text part `name` of a multipart body: the bytes between the
/// blank line that ends the part's headers and the CRLF before the next delimiter.
fn multipart_text_field(body: &[u8], boundary: &str, name: &str) -> Option<String> {
    let delimiter = format!("--{boundary}");
    let disposition = format!("name=\"{name}\"");
    let text = String::from_utf8_lossy(body);
    text.split(delimiter.as_str()).find_map(|part| {
        let (headers, value) = part.split_once("\r\n\r\n")?;
        let named = headers.lines().any(|line| line.to_ascii_lowercase().starts_with("content-disposition:") && line.contains(&disposition) && !line.contains("filename="));
        named.then(|| value.strip_suffix("\r\n").unwrap_or(value).to_string())
    })
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

/// Renders the error page for a rejected request.
async fn rejected(state: &WebState, headers: &HeaderMap, status: StatusCode, code: &str) -> Response {
    let locale = locale_of(headers);
    let message = domain::messages::text(locale, code, &[("max", &MAX_FORM_BYTES.to_string())]);
    let footer = site_footer(state, locale).await;
    state.views.error_page(locale, &footer, status, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_csrf_field_is_found() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc123\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n\r\nPK\r\n--xyz--\r\n";
        assert_eq!(multipart_boundary("multipart/form-data; boundary=xyz").as_deref(), Some("xyz"));
        assert_eq!(multipart_text_field(body, "xyz", "csrf").as_deref(), Some("abc123"));
    }

    #[test]
    fn file_part_named_csrf_is_ignored() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"csrf\"; filename=\"csrf\"\r\n\r\nabc123\r\n--xyz--\r\n";
        assert_eq!(multipart_text_field(body, "xyz", "csrf"), None);
        assert_eq!(multipart_boundary("application/x-www-form-urlencoded"), None);
    }
}
