//! A browser stand-in for page tests: keeps cookies, follows nothing by itself, and
//! posts forms with the CSRF token the last page carried.

#![allow(dead_code)]

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

pub struct Visitor {
    site: Router,
    pub cookies: BTreeMap<String, String>,
    /// `Set-Cookie` values of the last response, for checking cookie flags.
    pub last_set_cookies: Vec<String>,
    csrf: Option<String>,
}

/// A response as a page test reads it.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
    /// The body as sent, for files such as PDFs.
    pub bytes: Vec<u8>,
}

impl Page {
    /// Returns the `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|value| value.to_str().ok()).unwrap_or("")
    }
}

impl Visitor {
    pub fn new(site: Router) -> Visitor {
        Visitor { site, cookies: BTreeMap::new(), last_set_cookies: Vec::new(), csrf: None }
    }

    async fn send(&mut self, request: Request<Body>) -> Page {
        let response = self.site.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        self.last_set_cookies = headers.get_all("set-cookie").iter().map(|value| value.to_str().unwrap().to_string()).collect();
        for cookie in &self.last_set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let html = String::from_utf8_lossy(&bytes).to_string();
        if let Some(token) = hidden_csrf(&html) {
            self.csrf = Some(token);
        }
        Page { status, headers, html, bytes: bytes.to_vec() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = Request::builder().method(Method::GET).uri(path).header("cookie", self.cookie_header()).body(Body::empty()).unwrap();
        self.send(request).await
    }

    /// Loads `/login/account` for its CSRF token and posts `login` and `password` to
    /// it. Returns the reply to the post: a redirect to the account's start page when
    /// the login succeeds.
    pub async fn log_in_account(&mut self, login: &str, password: &str) -> Page {
        self.get("/login/account").await;
        self.post("/login/account", &[("login", login), ("password", password)]).await
    }

    /// Posts a url-encoded form with the CSRF token of the last page.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone().expect("a page with a form was loaded before posting");
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts a url-encoded form exactly as given, without adding a CSRF token.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

impl Visitor {
    /// Posts a multipart form: the CSRF token of the last page as the first text part,
    /// then `fields`, then one file part `file_field` with `file_name` and `bytes`.
    pub async fn post_multipart(&mut self, path: &str, fields: &[(&str, &str)], file_field: &str, file_name: &str, bytes: &[u8]) -> Page {
        let csrf = self.csrf.clone().expect("a page with a form was loaded before posting");
        let boundary = "certflow-page-test-boundary";
        let mut body = Vec::new();
        for (name, value) in std::iter::once(("csrf", csrf.as_str())).chain(fields.iter().copied()) {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("cookie", self.cookie_header())
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

/// Returns the value of the first hidden `csrf` field of a page.
fn hidden_csrf(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string()).filter(|token| !token.is_empty())
}
