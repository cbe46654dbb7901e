//! Real-name checks through an HTTP provider on loopback: the ID number and name at
//! registration, exam snapshots against the ID photo, signed requests, retries of a
//! failing provider, and an unreachable provider that leaves the operator unchecked.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use common::{app, id_number, march_5_10am_beijing, uscc};
use serde_json::{Value, json};
use workers::realname_http::{HttpRealNameProvider, RealNameHttpConfig, sign};
use workflows::both_backends;
use workflows::db::Db;

const SECRET: &str = "realname-test-secret";

/// The stub provider: one known person, faces that match when the JPEG contains "same",
/// and a 503 reply to the first identity request to exercise the retry.
#[derive(Clone, Default)]
struct Stub {
    identity_requests: Arc<AtomicUsize>,
    face_requests: Arc<AtomicUsize>,
}

fn signature_valid(headers: &HeaderMap, body: &[u8]) -> bool {
    let timestamp = headers.get("x-certflow-timestamp").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let signature = headers.get("x-certflow-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    headers.get("idempotency-key").is_some() && signature == sign(SECRET, timestamp, body)
}

async fn identity(State(stub): State<Stub>, headers: HeaderMap, body: axum::body::Bytes) -> (StatusCode, Json<Value>) {
    if !signature_valid(&headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({})));
    }
    if stub.identity_requests.fetch_add(1, Ordering::SeqCst) == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({})));
    }
    let request: Value = serde_json::from_slice(&body).unwrap();
    let result = if request["name"] == "王小明" { "match" } else { "mismatch" };
    (StatusCode::OK, Json(json!({ "result": result })))
}

async fn face(State(stub): State<Stub>, headers: HeaderMap, body: axum::body::Bytes) -> (StatusCode, Json<Value>) {
    if !signature_valid(&headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({})));
    }
    stub.face_requests.fetch_add(1, Ordering::SeqCst);
    let request: Value = serde_json::from_slice(&body).unwrap();
    let jpeg = base64::engine::general_purpose::STANDARD.decode(request["image_base64"].as_str().unwrap()).unwrap();
    let result = if jpeg.windows(4).any(|window| window == b"same") { "match" } else { "mismatch" };
    (StatusCode::OK, Json(json!({ "result": result })))
}

/// Serves the stub on a free loopback port; returns its URL.
async fn serve_stub(stub: Stub) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().route("/identity", post(identity)).route("/face", post(face)).with_state(stub);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

fn provider(url: String) -> Arc<HttpRealNameProvider> {
    Arc::new(HttpRealNameProvider::new(RealNameHttpConfig { url, secret: SECRET.to_string() }).unwrap())
}

fn jpeg_data_url(marker: &[u8]) -> String {
    let mut jpeg = b"\xff\xd8\xff\xe0".to_vec();
    jpeg.extend_from_slice(marker);
    format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg))
}

async fn real_name_status(app: &common::TestApp, operator_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT real_name_status FROM operators WHERE id = $1").bind(operator_id).fetch_one(&app.db.pool).await.unwrap()
}

both_backends!(registration_checked_by_provider, |db: Db| async move {
    let stub = Stub::default();
    let url = serve_stub(stub.clone()).await;
    let app = app(db, march_5_10am_beijing()).await.with_real_name(provider(url));

    // The known person matches, after one retry of the provider's 503.
    let login = app.login("13800000031").await;
    let token = login["token"].as_str().unwrap();
    let reply = app.post("/api/operator/register", Some(token), json!({ "name": "王小明", "id_number": id_number("43010219800101123") })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["real_name_status"], "passed");
    assert_eq!(stub.identity_requests.load(Ordering::SeqCst), 2, "one retry after the 503");
    assert_eq!(real_name_status(&app, login["operator_id"].as_str().unwrap()).await.as_deref(), Some("passed"));

    // Another name for its ID number fails and opens the manual verification path.
    let login = app.login("13800000032").await;
    let token = login["token"].as_str().unwrap();
    let reply = app.post("/api/operator/register", Some(token), json!({ "name": "李四", "id_number": id_number("43010219800101124") })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["real_name_status"], "failed");
    assert_eq!(real_name_status(&app, login["operator_id"].as_str().unwrap()).await.as_deref(), Some("failed"));
});

both_backends!(unreachable_provider_leaves_unchecked, |db: Db| async move {
    // A port with no listener: every attempt fails to connect.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = app(db, march_5_10am_beijing()).await.with_real_name(provider(url));

    let login = app.login("13800000033").await;
    let token = login["token"].as_str().unwrap();
    let reply = app.post("/api/operator/register", Some(token), json!({ "name": "王小明", "id_number": id_number("43010219800101125") })).await;
    assert_eq!(reply.status, StatusCode::OK, "registration does not wait on the provider: {:?}", reply.body);
    assert!(reply.body["real_name_status"].is_null());
    assert_eq!(real_name_status(&app, login["operator_id"].as_str().unwrap()).await, None);
});

both_backends!(exam_snapshots_compared_with_id_photo, |db: Db| async move {
    let stub = Stub::default();
    let url = serve_stub(stub.clone()).await;
    let app = app(db, march_5_10am_beijing()).await.with_real_name(provider(url));
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L8890");
    app.create_unit(&admin, &unit, "电梯公司", "admin-face").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000034", &id_number("43010219800101126"), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;
    let start = march_5_10am_beijing() - chrono::Duration::days(1);
    let reply = app.report_session(&institution, &enrollment_id, "face-T-01", "T-01", start, 90).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    app.clear_sessions(&enrollment_id, 1).await;
    let started = app.start_exam(&token, &enrollment_id).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let attempt_id = started.body["attempt_id"].as_str().unwrap();

    // One snapshot of the same person, one of someone else, one without an image.
    let snapshots = json!({ "snapshots": [
        { "trigger": "start", "image": jpeg_data_url(b"same person") },
        { "trigger": "random", "image": jpeg_data_url(b"other person") },
        { "trigger": "random" },
    ] });
    let reply = app.post(&format!("/api/exams/{attempt_id}/evidence"), Some(&token), snapshots).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(stub.face_requests.load(Ordering::SeqCst), 2);

    let evidence: String = sqlx::query_scalar("SELECT evidence FROM exam_attempts WHERE id = $1").bind(attempt_id).fetch_one(&app.db.pool).await.unwrap();
    let evidence: Value = serde_json::from_str(&evidence).unwrap();
    let results: Vec<&str> = evidence["face_checks"].as_array().unwrap().iter().map(|check| check["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["passed", "failed", "unverified"]);
});
