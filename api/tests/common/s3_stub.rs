//! A stub S3 server on 127.0.0.1 for the object store tests: path-style PUT, GET and
//! DELETE of objects kept in memory. Every request must carry a SigV4 signature that
//! the stub recomputes with the known secret, and a payload hash that matches the
//! body; otherwise it returns 403 as S3 does. `fail_next` makes the next requests answer
//! 503, to exercise retries.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use sha2::{Digest, Sha256};
use workers::object_store::sigv4;

pub const ACCESS_KEY_ID: &str = "stub-access-key";
pub const SECRET_ACCESS_KEY: &str = "stub-secret-key";
pub const REGION: &str = "us-east-1";
pub const BUCKET: &str = "certflow-test";

#[derive(Default)]
pub struct StubState {
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
    pub fail_next: AtomicUsize,
    pub requests: AtomicUsize,
    pub rejected: AtomicUsize,
}

pub struct S3Stub {
    pub endpoint: String,
    pub state: Arc<StubState>,
}

/// Starts the stub on a free loopback port.
pub async fn start() -> S3Stub {
    let state = Arc::new(StubState::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the S3 stub");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(handle).with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("S3 stub serves") });
    S3Stub { endpoint, state }
}

impl S3Stub {
    /// Returns the store configuration for this stub, with `secret` as the secret key.
    pub fn config(&self, secret: &str) -> workers::object_store::S3Config {
        workers::object_store::S3Config {
            endpoint: self.endpoint.clone(),
            bucket: BUCKET.into(),
            region: REGION.into(),
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: secret.into(),
            timeout: std::time::Duration::from_secs(5),
        }
    }

    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.state.objects.lock().unwrap().get(&format!("/{BUCKET}/{key}")).cloned()
    }
}

async fn handle(State(state): State<Arc<StubState>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if state.fail_next.load(Ordering::SeqCst) > 0 {
        state.fail_next.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "<Error><Code>SlowDown</Code></Error>").into_response();
    }
    if let Err(problem) = check_signature(&method, &uri, &headers, &body) {
        state.rejected.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::FORBIDDEN, format!("<Error><Code>SignatureDoesNotMatch</Code><Message>{problem}</Message></Error>")).into_response();
    }
    let path = uri.path().to_string();
    let mut objects = state.objects.lock().unwrap();
    match method {
        Method::PUT => {
            objects.insert(path, body.to_vec());
            StatusCode::OK.into_response()
        }
        Method::GET => match objects.get(&path) {
            Some(bytes) => bytes.clone().into_response(),
            None => (StatusCode::NOT_FOUND, "<Error><Code>NoSuchKey</Code></Error>").into_response(),
        },
        Method::DELETE => {
            objects.remove(&path);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    headers.get(name).and_then(|value| value.to_str().ok()).ok_or_else(|| format!("missing {name}"))
}

fn check_signature(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let payload = header(headers, "x-amz-content-sha256")?;
    if payload != hex::encode(Sha256::digest(body)) {
        return Err("payload hash differs from the body".into());
    }
    let amz_date = header(headers, "x-amz-date")?;
    let host = header(headers, "host")?;
    let authorization = header(headers, "authorization")?;
    let expected_scope = format!("Credential={ACCESS_KEY_ID}/{}/{REGION}/s3/aws4_request", &amz_date[..8]);
    if !authorization.contains(&expected_scope) {
        return Err(format!("credential scope is not {expected_scope}"));
    }
    let request = sigv4::Request { method: method.as_str(), host, path: uri.path(), query: "", headers: &[], payload_sha256: payload, amz_date };
    let credentials = sigv4::Credentials { access_key_id: ACCESS_KEY_ID, secret_access_key: SECRET_ACCESS_KEY, region: REGION, service: "s3" };
    if sigv4::authorization(&request, &credentials) != authorization {
        return Err("signature does not match".into());
    }
    Ok(())
}
