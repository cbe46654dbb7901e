//! The signed SMS template API against a stub provider on 127.0.0.1 that checks the
//! signature, the sign name, the template code and its parameters the way a provider
//! would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use workers::notify::{DeliveryErrorKind, SignedApiConfig, SignedTemplateApi, SmsMessage, SmsSender, sign_sms_request};

const SECRET: &[u8] = b"sms-stub-secret";
const PATH: &str = "/sms/send";

/// What the stub answers after checking the signature.
#[derive(Clone, Copy)]
enum Mode {
    Accept,
    Throttle,
    Fail500,
}

#[derive(Clone)]
struct Stub {
    mode: Mode,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn handle(State(stub): State<Stub>, headers: HeaderMap, body: Bytes) -> (StatusCode, Json<Value>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let timestamp: i64 = header("x-sms-timestamp").parse().unwrap_or_default();
    let expected = sign_sms_request(SECRET, PATH, timestamp, &header("x-sms-nonce"), &body);
    if header("x-sms-key-id") != "stub-key" || header("x-sms-signature") != expected {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "code": "signature_invalid", "message": "bad signature" })));
    }
    let request: Value = serde_json::from_slice(&body).unwrap();
    stub.received.lock().unwrap().push(request.clone());
    match stub.mode {
        Mode::Accept => {
            let n = stub.received.lock().unwrap().len();
            (StatusCode::OK, Json(json!({ "code": "OK", "biz_id": format!("biz-{n}"), "message": "OK" })))
        }
        Mode::Throttle => (StatusCode::OK, Json(json!({ "code": "throttled", "message": "too many messages to 13800138000" }))),
        Mode::Fail500 => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "code": "internal", "message": "provider down" }))),
    }
}

async fn start_stub(mode: Mode) -> (String, Stub) {
    let stub = Stub { mode, received: Arc::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route(PATH, post(handle)).with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{address}{PATH}"), stub)
}

fn sender(url: &str) -> SmsSender {
    let mut config = SignedApiConfig::new(url, "stub-key", SECRET.to_vec(), "特种设备继续教育");
    config.template_codes = BTreeMap::from([("login_code".to_string(), "SMS_100001".to_string()), ("enrolled".to_string(), "SMS_100002".to_string())]);
    SmsSender::Provider(Arc::new(SignedTemplateApi::new(config).unwrap()))
}

fn message(template: &str, params: Value) -> SmsMessage {
    SmsMessage { to: "+86 138-0013-8000".into(), body: "您的验证码为482913，5分钟内有效。".into(), template: template.into(), params, idempotency_key: "entry-1:sms:abc".into() }
}

#[tokio::test]
async fn signed_api_sends_template_and_params() {
    let (url, stub) = start_stub(Mode::Accept).await;
    let receipt = sender(&url).send(&message("login_code", json!({ "code": "482913", "minutes": 5 }))).await.unwrap();
    assert_eq!(receipt.provider_message_id, "biz-1");

    let received = stub.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request["phone_number"], "13800138000", "normalized number");
    assert_eq!(request["sign_name"], "特种设备继续教育");
    assert_eq!(request["template_code"], "SMS_100001");
    assert_eq!(request["out_id"], "entry-1:sms:abc");
    let params: Value = serde_json::from_str(request["template_param"].as_str().unwrap()).unwrap();
    assert_eq!(params, json!({ "code": "482913", "minutes": "5" }), "parameters go as text");
}

#[tokio::test]
async fn signed_api_rejects_unknown_template_unsent() {
    let (url, stub) = start_stub(Mode::Accept).await;
    let error = sender(&url).send(&message("card_issued", json!({ "name": "陈超" }))).await.unwrap_err();
    assert_eq!(error.kind, DeliveryErrorKind::Permanent);
    assert!(error.message.contains("CERTFLOW_SMS_TEMPLATE_CODES"), "{}", error.message);
    assert!(stub.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn signed_api_shortens_long_parameter() {
    // A parameter over the provider's 35 characters goes out shortened, ending in "…".
    let (url, stub) = start_stub(Mode::Accept).await;
    let long_reason = "欧".repeat(36);
    sender(&url).send(&message("enrolled", json!({ "name": long_reason }))).await.unwrap();
    let received = stub.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let params: Value = serde_json::from_str(received[0]["template_param"].as_str().unwrap()).unwrap();
    let sent = params["name"].as_str().unwrap();
    assert_eq!(sent.chars().count(), 35);
    assert!(sent.ends_with('…'), "{sent}");
}

#[tokio::test]
async fn signed_api_rejects_nested_parameter_unsent() {
    let (url, stub) = start_stub(Mode::Accept).await;
    let nested = sender(&url).send(&message("enrolled", json!({ "name": { "first": "超" } }))).await.unwrap_err();
    assert_eq!(nested.kind, DeliveryErrorKind::Permanent);
    assert!(stub.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn signed_api_throttle_is_retryable() {
    let (url, _stub) = start_stub(Mode::Throttle).await;
    let error = sender(&url).send(&message("login_code", json!({ "code": "482913", "minutes": 5 }))).await.unwrap_err();
    assert_eq!(error.kind, DeliveryErrorKind::Retryable);
    assert!(error.message.contains("138****8000"), "number masked: {}", error.message);
    assert!(!error.message.contains("13800138000"));
}

#[tokio::test]
async fn signed_api_500_is_retryable() {
    let (url, _stub) = start_stub(Mode::Fail500).await;
    let error = sender(&url).send(&message("login_code", json!({ "code": "482913", "minutes": 5 }))).await.unwrap_err();
    assert_eq!(error.kind, DeliveryErrorKind::Retryable);
}

#[tokio::test]
async fn signed_api_wrong_secret_is_permanent() {
    let (url, stub) = start_stub(Mode::Accept).await;
    let mut config = SignedApiConfig::new(&url, "stub-key", b"other-secret".to_vec(), "特种设备继续教育");
    config.template_codes = BTreeMap::from([("login_code".to_string(), "SMS_100001".to_string())]);
    let sender = SmsSender::Provider(Arc::new(SignedTemplateApi::new(config).unwrap()));
    let error = sender.send(&message("login_code", json!({ "code": "482913", "minutes": 5 }))).await.unwrap_err();
    assert_eq!(error.kind, DeliveryErrorKind::Permanent);
    assert!(error.message.contains("401"), "{}", error.message);
    assert!(stub.received.lock().unwrap().is_empty());
}
