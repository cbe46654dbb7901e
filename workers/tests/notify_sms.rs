//! SMS delivery against a local axum gateway stub and into the file outbox.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use workers::notify::{
    Channel, DEFAULT_SMS_SIGN, DeliveryErrorKind, SmsGatewayConfig, SmsMessage, SmsSender,
};

const MOBILE: &str = "13812345678";

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("certflow-{label}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("create temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reply that the stub gateway sends.
#[derive(Clone, Copy)]
enum Reply {
    Accept,
    Status(u16),
    AcceptWithoutMessageId,
    SleepThenAccept(Duration),
}

#[derive(Clone, Debug)]
struct RecordedRequest {
    idempotency_key: Option<String>,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone)]
struct Stub {
    reply: Reply,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl Stub {
    fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn handle_sms(
    State(stub): State<Stub>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mobile = body["mobile"].clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let count = {
        let mut requests = stub.requests.lock().unwrap();
        requests.push(RecordedRequest {
            idempotency_key: header("idempotency-key"),
            authorization: header("authorization"),
            body,
        });
        requests.len()
    };

    match stub.reply {
        Reply::Accept => Json(json!({ "message_id": format!("stub-{count}") })).into_response(),
        Reply::Status(code) => {
            let status = StatusCode::from_u16(code).expect("valid status code");
            (
                status,
                Json(json!({ "error": "stub failure", "mobile": mobile })),
            )
                .into_response()
        }
        Reply::AcceptWithoutMessageId => Json(json!({ "status": "ok" })).into_response(),
        Reply::SleepThenAccept(delay) => {
            tokio::time::sleep(delay).await;
            Json(json!({ "message_id": "late" })).into_response()
        }
    }
}

/// Starts the stub on a free loopback port and returns its `/sms` URL.
async fn start_stub(reply: Reply) -> (String, Stub) {
    let stub = Stub {
        reply,
        requests: Arc::default(),
    };
    let app = Router::new()
        .route("/sms", post(handle_sms))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stub gateway");
    let address: SocketAddr = listener.local_addr().expect("stub address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("serve stub gateway");
    });
    (format!("http://{address}/sms"), stub)
}

fn gateway_sender(url: &str, timeout: Duration) -> SmsSender {
    let mut config = SmsGatewayConfig::new(url);
    config.token = Some("test-token".to_string());
    config.timeout = timeout;
    SmsSender::gateway(config).expect("build gateway sender")
}

fn sample_message(key: &str) -> SmsMessage {
    SmsMessage {
        to: "+86 138 1234 5678".to_string(),
        body: "张伟，您已获得2025年度叉车司机继续教育12学分。".to_string(),
        template: "credits_awarded".to_string(),
        params: json!({ "name": "张伟", "year": 2025, "item_name": "叉车司机", "credits": 12 }),
        idempotency_key: key.to_string(),
    }
}

fn outbox_lines(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("sms-outbox.jsonl")).expect("read SMS outbox");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("invalid line {line:?}: {error}"))
        })
        .collect()
}

/// A log writer that keeps everything written to it.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Tests live in this module so that `cargo test -p workers notify` selects them.
mod notify_sms {
    use super::*;

    #[tokio::test]
    async fn gateway_success_returns_stub_message_id() {
        let (url, stub) = start_stub(Reply::Accept).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));
        let message = sample_message("credits_awarded:42:2025");

        let receipt = sender.send(&message).await.expect("send");

        assert_eq!(receipt.channel, Channel::Sms);
        assert_eq!(receipt.provider_message_id, "stub-1");

        let requests = stub.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(
            request.idempotency_key.as_deref(),
            Some("credits_awarded:42:2025")
        );
        assert_eq!(request.authorization.as_deref(), Some("Bearer test-token"));
        assert_eq!(request.body["mobile"], MOBILE, "mobile is normalized");
        assert_eq!(
            request.body["content"],
            format!("{DEFAULT_SMS_SIGN}{}", message.body)
        );
        assert_eq!(request.body["template"], "credits_awarded");
        assert_eq!(request.body["params"], message.params);
        assert_eq!(request.body["request_id"], "credits_awarded:42:2025");
    }

    #[tokio::test]
    async fn gateway_uses_configured_sign() {
        let (url, stub) = start_stub(Reply::Accept).await;
        let mut config = SmsGatewayConfig::new(&url);
        config.sign = "【测试协会】".to_string();
        let sender = SmsSender::gateway(config).expect("build gateway sender");

        sender
            .send(&sample_message("sign-key"))
            .await
            .expect("send");

        let requests = stub.requests();
        assert_eq!(requests[0].authorization, None, "no token configured");
        let content = requests[0].body["content"]
            .as_str()
            .expect("content is a string")
            .to_string();
        assert!(
            content.starts_with("【测试协会】张伟"),
            "content: {content}"
        );
    }

    #[tokio::test]
    async fn gateway_500_is_retryable() {
        let (url, stub) = start_stub(Reply::Status(500)).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));

        let error = sender
            .send(&sample_message("k-500"))
            .await
            .expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Retryable, "{error}");
        assert!(error.message.contains("500"), "{error}");
        assert_eq!(stub.requests().len(), 1);
    }

    #[tokio::test]
    async fn gateway_400_is_permanent() {
        let (url, _stub) = start_stub(Reply::Status(400)).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));

        let error = sender
            .send(&sample_message("k-400"))
            .await
            .expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Permanent, "{error}");
        assert!(error.message.contains("400"), "{error}");
        assert!(
            !error.message.contains(MOBILE),
            "error leaks the number: {error}"
        );
        assert!(
            error.message.contains("138****5678"),
            "echoed number is masked: {error}"
        );
        assert!(
            error.message.contains("stub failure"),
            "reply body is quoted: {error}"
        );
    }

    #[tokio::test]
    async fn gateway_429_is_retryable() {
        let (url, _stub) = start_stub(Reply::Status(429)).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));

        let error = sender
            .send(&sample_message("k-429"))
            .await
            .expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Retryable, "{error}");
    }

    #[tokio::test]
    async fn gateway_timeout_is_retryable() {
        let (url, stub) = start_stub(Reply::SleepThenAccept(Duration::from_secs(3))).await;
        let sender = gateway_sender(&url, Duration::from_millis(500));

        let started = std::time::Instant::now();
        let error = sender
            .send(&sample_message("k-slow"))
            .await
            .expect_err("send must time out");

        assert_eq!(error.kind, DeliveryErrorKind::Retryable, "{error}");
        assert!(error.message.contains("timed out"), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "client waited {:?}",
            started.elapsed()
        );
        assert_eq!(stub.requests().len(), 1, "the request reached the stub");
    }

    #[tokio::test]
    async fn gateway_refused_connection_is_retryable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sender = gateway_sender(
            &format!("http://127.0.0.1:{port}/sms"),
            Duration::from_secs(2),
        );

        let error = sender
            .send(&sample_message("k-refused"))
            .await
            .expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Retryable, "{error}");
    }

    #[tokio::test]
    async fn gateway_reply_without_message_id_is_permanent() {
        let (url, _stub) = start_stub(Reply::AcceptWithoutMessageId).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));

        let error = sender
            .send(&sample_message("k-no-id"))
            .await
            .expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Permanent, "{error}");
        assert!(error.message.contains("message_id"), "{error}");
    }

    #[tokio::test]
    async fn gateway_rejects_long_body_unsent() {
        let (url, stub) = start_stub(Reply::Accept).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));
        let mut message = sample_message("k-long");
        message.body = "学".repeat(500);

        let error = sender.send(&message).await.expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Permanent, "{error}");
        assert!(error.message.contains("500"), "{error}");
        assert!(
            stub.requests().is_empty(),
            "an over-long SMS reached the gateway"
        );
    }

    #[tokio::test]
    async fn gateway_accepts_multipart_length() {
        let (url, stub) = start_stub(Reply::Accept).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));
        let mut message = sample_message("k-multipart");
        message.body = "学".repeat(120);

        sender
            .send(&message)
            .await
            .expect("a multi-part SMS is sent");

        assert_eq!(stub.requests().len(), 1);
    }

    #[tokio::test]
    async fn gateway_rejects_invalid_mobile_unsent() {
        let (url, stub) = start_stub(Reply::Accept).await;
        let sender = gateway_sender(&url, Duration::from_secs(10));
        let mut message = sample_message("k-bad-mobile");
        message.to = "0571-87654321".to_string();

        let error = sender.send(&message).await.expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Permanent, "{error}");
        assert!(
            !error.message.contains("87654321"),
            "error leaks the number: {error}"
        );
        assert!(stub.requests().is_empty());
    }

    #[tokio::test]
    async fn gateway_logs_mask_mobile() {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let (accept_url, _) = start_stub(Reply::Accept).await;
        let (failing_url, _) = start_stub(Reply::Status(503)).await;
        let mut long_message = sample_message("k-log-long");
        long_message.body = "学".repeat(100);

        gateway_sender(&accept_url, Duration::from_secs(10))
            .send(&long_message)
            .await
            .expect("send");
        let _ = gateway_sender(&failing_url, Duration::from_secs(10))
            .send(&sample_message("k-log-503"))
            .await;

        let text = logs.text();
        assert!(
            text.contains("138****5678"),
            "logs do not show the masked number: {text}"
        );
        assert!(
            !text.contains(MOBILE),
            "logs contain the full mobile number: {text}"
        );
        assert!(
            !text.contains("test-token"),
            "logs contain the gateway token: {text}"
        );
    }

    #[tokio::test]
    async fn file_outbox_writes_one_line_per_key() {
        let work = TempDir::new("sms-outbox");
        let sender = SmsSender::file_outbox(work.path()).expect("open SMS outbox");
        let message = sample_message("credits_awarded:42:2025");

        let first = sender.send(&message).await.expect("first send");
        let second = sender.send(&message).await.expect("second send");
        sender
            .send(&sample_message("other-key"))
            .await
            .expect("send with another key");

        assert_eq!(first.channel, Channel::Sms);
        assert_eq!(first, second, "a repeated key returns the first receipt");

        let lines = outbox_lines(work.path());
        assert_eq!(lines.len(), 2, "lines: {lines:?}");
        let line = &lines[0];
        assert_eq!(line["to"], MOBILE);
        assert_eq!(
            line["body"], message.body,
            "the outbox stores the body without the sign"
        );
        assert_eq!(line["template"], "credits_awarded");
        assert_eq!(line["params"], message.params);
        assert_eq!(line["idempotency_key"], "credits_awarded:42:2025");
        assert!(
            line["at"].as_str().is_some_and(|at| at.contains('T')),
            "at: {}",
            line["at"]
        );
        assert_eq!(lines[1]["idempotency_key"], "other-key");
    }

    #[tokio::test]
    async fn file_outbox_reopened_skips_known_key() {
        let work = TempDir::new("sms-outbox-reopen");
        let message = sample_message("reopen-key");

        let first = SmsSender::file_outbox(work.path()).expect("open SMS outbox");
        first.send(&message).await.expect("first send");
        drop(first);
        let reopened = SmsSender::file_outbox(work.path()).expect("reopen SMS outbox");
        reopened.send(&message).await.expect("second send");

        assert_eq!(outbox_lines(work.path()).len(), 1);
    }

    #[tokio::test]
    async fn file_outbox_sees_other_writer_keys() {
        let work = TempDir::new("sms-outbox-two-writers");
        let message = sample_message("shared-key");
        let first = SmsSender::file_outbox(work.path()).expect("open SMS outbox");
        let second = SmsSender::file_outbox(work.path()).expect("open SMS outbox again");

        first
            .send(&message)
            .await
            .expect("send through the first writer");
        second
            .send(&message)
            .await
            .expect("send through the second writer");

        assert_eq!(
            outbox_lines(work.path()).len(),
            1,
            "the second writer saw the first one's line"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_outbox_concurrent_sends_one_line() {
        let work = TempDir::new("sms-outbox-race");
        let sender = Arc::new(SmsSender::file_outbox(work.path()).expect("open SMS outbox"));
        let message = sample_message("race-key");

        let mut tasks = Vec::new();
        for _ in 0..16 {
            let sender = sender.clone();
            let message = message.clone();
            tasks.push(tokio::spawn(async move { sender.send(&message).await }));
        }
        for task in tasks {
            task.await.expect("join send task").expect("send");
        }

        assert_eq!(outbox_lines(work.path()).len(), 1);
    }

    #[tokio::test]
    async fn file_outbox_recovers_from_partial_line() {
        let work = TempDir::new("sms-outbox-partial");
        std::fs::write(
            work.path().join("sms-outbox.jsonl"),
            "{\"to\":\"13800000000\",\"body\":\"x\",\"template\":\"t\",\"params\":{},\"idempotency_key\":\"old\",\"at\":\"2025-01-01T00:00:00Z\"}\n{\"to\":\"1380",
        )
        .expect("write outbox with a partial line");
        let sender = SmsSender::file_outbox(work.path()).expect("open SMS outbox");

        sender
            .send(&sample_message("old"))
            .await
            .expect("send of a known key");
        sender
            .send(&sample_message("new"))
            .await
            .expect("send of a new key");

        let text =
            std::fs::read_to_string(work.path().join("sms-outbox.jsonl")).expect("read outbox");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "outbox: {text}");
        assert_eq!(
            lines[1], "{\"to\":\"1380",
            "the partial line stays on its own line"
        );
        let last: Value = serde_json::from_str(lines[2]).expect("the new line is valid JSON");
        assert_eq!(last["idempotency_key"], "new");
    }
}
