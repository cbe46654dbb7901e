//! A stand-in for a commercial SMS provider on a loopback port. It implements the signed
//! template API of `workers::notify::SignedTemplateApi`, checks each request's signature
//! and keeps what it received. The demo sends its SMS through the real adapter and reads
//! login codes from here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use workers::notify::{SignedApiConfig, Templates, sign_sms_request};

const PATH: &str = "/sms/send";
const KEY_ID: &str = "demo-sms";
const SECRET: &[u8] = b"demo-sms-secret";
const SIGN_NAME: &str = "特种设备继续教育";

/// One message the stub accepted.
#[derive(Clone, Debug)]
pub struct ReceivedSms {
    pub phone_number: String,
    pub template_code: String,
    pub params: Value,
}

#[derive(Clone, Default)]
pub struct SmsStub {
    received: Arc<Mutex<Vec<ReceivedSms>>>,
}

impl SmsStub {
    /// Starts the stub and returns it with the adapter settings that reach it: one
    /// template code `CF_<NAME>` per shipped template.
    pub async fn start() -> anyhow::Result<(SmsStub, SignedApiConfig)> {
        let stub = SmsStub::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let router = Router::new().route(PATH, post(receive)).with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });

        let mut config = SignedApiConfig::new(format!("http://{address}{PATH}"), KEY_ID, SECRET.to_vec(), SIGN_NAME);
        config.template_codes = Templates::embedded()?.names().into_iter().map(|name| (name.clone(), template_code(&name))).collect::<BTreeMap<_, _>>();
        Ok((stub, config))
    }

    /// Returns the login codes sent to `mobile`, oldest first.
    pub fn login_codes(&self, mobile: &str) -> Vec<String> {
        let code = template_code("login_code");
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|sms| sms.phone_number == mobile && sms.template_code == code)
            .filter_map(|sms| sms.params["code"].as_str().map(str::to_string))
            .collect()
    }
}

fn template_code(name: &str) -> String {
    format!("CF_{}", name.to_uppercase())
}

async fn receive(State(stub): State<SmsStub>, headers: HeaderMap, body: Bytes) -> (StatusCode, Json<Value>) {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_string();
    let timestamp: i64 = header("x-sms-timestamp").parse().unwrap_or_default();
    let expected = sign_sms_request(SECRET, PATH, timestamp, &header("x-sms-nonce"), &body);
    if header("x-sms-key-id") != KEY_ID || header("x-sms-signature") != expected {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "code": "signature_invalid", "message": "signature does not match" })));
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({ "code": "invalid_body", "message": "body is not JSON" })));
    };
    if request["sign_name"] != SIGN_NAME {
        return (StatusCode::BAD_REQUEST, Json(json!({ "code": "sign_name_invalid", "message": "sign name is not registered" })));
    }
    let params = request["template_param"].as_str().and_then(|text| serde_json::from_str(text).ok()).unwrap_or(Value::Null);
    let sms = ReceivedSms {
        phone_number: request["phone_number"].as_str().unwrap_or_default().to_string(),
        template_code: request["template_code"].as_str().unwrap_or_default().to_string(),
        params,
    };
    let mut received = stub.received.lock().unwrap_or_else(PoisonError::into_inner);
    received.push(sms);
    (StatusCode::OK, Json(json!({ "code": "OK", "biz_id": format!("demo-{}", received.len()) })))
}
