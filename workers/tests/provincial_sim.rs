//! End-to-end tests of the provincial client against the simulator over real HTTP on
//! 127.0.0.1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use workers::provincial::signature::{
    HEADER_IDEMPOTENCY_KEY, HEADER_KEY_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign_request,
};
use workers::provincial::sim::{
    self, RECORDS_FILE, SimFaults, SimOptions, SimState, SimStats, StoredRecord,
};
use workers::provincial::{
    Certificate, ProvincialClient, ProvincialConfig, RecordKind, SignatureAlgorithm, SyncErrorKind,
    SyncRecord,
};

const SECRET: &[u8] = b"sim-test-secret";

/// Store directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("certflow-provincial-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
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

/// Simulator served on an ephemeral 127.0.0.1 port.
struct RunningSim {
    base_url: String,
    state: SimState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningSim {
    async fn start(store_dir: &Path, options: SimOptions) -> Self {
        let state = SimState::open(store_dir, options).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());

        let (shutdown, shutdown_signal) = oneshot::channel::<()>();
        let task = tokio::spawn(sim::serve_on(listener, state.clone(), async {
            let _ = shutdown_signal.await;
        }));
        Self {
            base_url,
            state,
            shutdown: Some(shutdown),
            task,
        }
    }

    async fn start_default(store_dir: &Path) -> Self {
        Self::start(store_dir, SimOptions::new(SECRET)).await
    }

    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("simulator did not stop within 10 s")
            .unwrap()
            .unwrap();
    }

    fn client(&self) -> ProvincialClient {
        client_for(&self.base_url, SECRET, SignatureAlgorithm::HmacSha256)
    }

    fn stats(&self) -> SimStats {
        self.state.stats()
    }

    fn set_faults(&self, faults: SimFaults) {
        self.state.set_faults(faults).unwrap();
    }
}

fn client_for(base_url: &str, secret: &[u8], algorithm: SignatureAlgorithm) -> ProvincialClient {
    let mut config = ProvincialConfig::new(base_url, "dev", secret.to_vec());
    config.algorithm = algorithm;
    config.timeout = Duration::from_secs(5);
    ProvincialClient::new(config).unwrap()
}

fn record(kind: RecordKind, key: &str, operator_ref: &str, sequence: u64) -> SyncRecord {
    SyncRecord {
        kind,
        idempotency_key: key.to_owned(),
        operator_ref: operator_ref.to_owned(),
        sequence,
        occurred_at: "2026-03-01T02:30:00Z".parse().unwrap(),
        body: match kind {
            RecordKind::Operator => json!({"name": "陈超", "id_number": "430302198302277431"}),
            _ => json!({"minutes": 45, "course": "Q2-2026"}),
        },
    }
}

fn stored_lines(store_dir: &Path) -> Vec<StoredRecord> {
    let content = std::fs::read_to_string(store_dir.join(RECORDS_FILE)).unwrap_or_default();
    content
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Sends a hand-built request signed with the given timestamp and secret.
async fn send_signed(
    base_url: &str,
    method: Method,
    path: &str,
    body: &[u8],
    timestamp: i64,
    secret: &[u8],
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let signature = sign_request(
        SignatureAlgorithm::HmacSha256,
        "dev",
        secret,
        method.as_str(),
        path,
        timestamp,
        body,
    );
    let mut request = reqwest::Client::new()
        .request(method, format!("{base_url}{path}"))
        .header(HEADER_KEY_ID, signature.key_id)
        .header(HEADER_TIMESTAMP, signature.timestamp.to_string())
        .header(HEADER_SIGNATURE, signature.signature)
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(key) = idempotency_key {
        request = request.header(HEADER_IDEMPOTENCY_KEY, key);
    }
    request.send().await.unwrap()
}

// The module name puts "provincial" into every test path, so that the
// `cargo test -p workers provincial` filter selects these tests.
mod provincial {
    use super::*;

    #[tokio::test]
    async fn signed_push_is_stored() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let sent = record(RecordKind::StudySession, "ss-1", "op-a", 1);

        let delivered = sim.client().push(&sent).await.unwrap();
        assert!(!delivered.duplicate);
        assert!(!delivered.ack_id.is_empty());

        let listed = sim.state.records(None).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].ack_id, delivered.ack_id);
        assert_eq!(listed[0].record, sent);

        let on_disk = stored_lines(dir.path());
        assert_eq!(on_disk.len(), 1);
        assert_eq!(on_disk[0].ack_id, delivered.ack_id);
        assert_eq!(on_disk[0].record, sent);

        let stats = sim.stats();
        assert_eq!(stats.received, 1);
        assert_eq!(stats.accepted, 1);
        assert_eq!(stats.rejected, 0);
        sim.stop().await;
    }

    #[tokio::test]
    async fn hmac_sm3_push_is_stored() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = client_for(&sim.base_url, SECRET, SignatureAlgorithm::HmacSm3);

        let delivered = client
            .push(&record(RecordKind::Credit, "cr-1", "op-a", 1))
            .await
            .unwrap();
        assert!(!delivered.duplicate);
        assert_eq!(sim.stats().accepted, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn repeat_returns_same_ack() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        let sent = record(RecordKind::Enrollment, "en-1", "op-a", 1);

        let first = client.push(&sent).await.unwrap();
        let second = client.push(&sent).await.unwrap();
        assert!(!first.duplicate);
        assert!(second.duplicate);
        assert_eq!(second.ack_id, first.ack_id);

        let stats = sim.stats();
        assert_eq!(stats.accepted, 1);
        assert_eq!(stats.duplicates, 1);
        assert_eq!(stored_lines(dir.path()).len(), 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn reused_key_with_other_content_rejected() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        client
            .push(&record(RecordKind::Enrollment, "en-1", "op-a", 1))
            .await
            .unwrap();

        let mut changed = record(RecordKind::Enrollment, "en-1", "op-a", 1);
        changed.body = json!({"course": "N1-2026"});
        let error = client.push(&changed).await.unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Rejected);
        assert_eq!(error.status, Some(409));
        assert_eq!(error.code.as_deref(), Some("idempotency_key_conflict"));
        sim.stop().await;
    }

    #[tokio::test]
    async fn bad_signature_rejected() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = client_for(
            &sim.base_url,
            b"wrong-secret",
            SignatureAlgorithm::HmacSha256,
        );

        let error = client
            .push(&record(RecordKind::Operator, "op-1", "op-a", 1))
            .await
            .unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Rejected);
        assert_eq!(error.status, Some(401));
        assert_eq!(error.code.as_deref(), Some("bad_signature"));
        assert!(sim.state.records(None).await.is_empty());
        assert_eq!(sim.stats().rejected, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn unknown_key_id_rejected() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let mut config = ProvincialConfig::new(sim.base_url.as_str(), "other-key", SECRET.to_vec());
        config.timeout = Duration::from_secs(5);
        let client = ProvincialClient::new(config).unwrap();

        let error = client
            .push(&record(RecordKind::Operator, "op-1", "op-a", 1))
            .await
            .unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Rejected);
        assert_eq!(error.status, Some(401));
        assert_eq!(error.code.as_deref(), Some("unknown_key_id"));
        sim.stop().await;
    }

    #[tokio::test]
    async fn stale_timestamp_rejected() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let body = serde_json::to_vec(&record(RecordKind::Unit, "un-1", "op-a", 1)).unwrap();
        let now = Utc::now().timestamp();

        for timestamp in [now - 400, now + 400] {
            let response = send_signed(
                &sim.base_url,
                Method::POST,
                "/v1/records",
                &body,
                timestamp,
                SECRET,
                Some("un-1"),
            )
            .await;
            assert_eq!(
                response.status(),
                401,
                "timestamp offset {}",
                timestamp - now
            );
            let error_body: Value = response.json().await.unwrap();
            assert_eq!(error_body["code"], "timestamp_out_of_window");
        }

        let response = send_signed(
            &sim.base_url,
            Method::POST,
            "/v1/records",
            &body,
            now - 10,
            SECRET,
            Some("un-1"),
        )
        .await;
        assert_eq!(response.status(), 201, "timestamp within the window");
        sim.stop().await;
    }

    #[tokio::test]
    async fn malformed_record_gets_422_with_field() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let mut document =
            serde_json::to_value(record(RecordKind::Unit, "un-1", "op-a", 1)).unwrap();
        document["kind"] = json!("lecture");
        let body = serde_json::to_vec(&document).unwrap();

        let response = send_signed(
            &sim.base_url,
            Method::POST,
            "/v1/records",
            &body,
            Utc::now().timestamp(),
            SECRET,
            Some("un-1"),
        )
        .await;
        assert_eq!(response.status(), 422);
        let error_body: Value = response.json().await.unwrap();
        assert_eq!(error_body["code"], "invalid_record");
        assert_eq!(error_body["field"], "kind");

        let body = serde_json::to_vec(&record(RecordKind::Unit, "un-1", "op-a", 1)).unwrap();
        let response = send_signed(
            &sim.base_url,
            Method::POST,
            "/v1/records",
            &body,
            Utc::now().timestamp(),
            SECRET,
            Some("un-other"),
        )
        .await;
        assert_eq!(
            response.status(),
            422,
            "header key differs from the record's key"
        );
        let error_body: Value = response.json().await.unwrap();
        assert_eq!(error_body["field"], "idempotency_key");
        sim.stop().await;
    }

    #[tokio::test]
    async fn invalid_record_not_sent() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let mut invalid = record(RecordKind::Unit, "un-1", "op-a", 1);
        invalid.sequence = 0;

        let error = sim.client().push(&invalid).await.unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Rejected);
        assert_eq!(error.status, None);
        assert_eq!(sim.stats().received, 0);
        sim.stop().await;
    }

    #[tokio::test]
    async fn out_of_order_is_retryable() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        let first = record(RecordKind::Enrollment, "en-1", "op-a", 1);
        let second = record(RecordKind::StudySession, "ss-1", "op-a", 2);

        let error = client.push(&second).await.unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Retryable);
        assert_eq!(error.status, Some(409));
        assert_eq!(error.code.as_deref(), Some("out_of_order"));

        // Another operator's sequence is independent.
        client
            .push(&record(RecordKind::Enrollment, "en-b1", "op-b", 1))
            .await
            .unwrap();

        client.push(&first).await.unwrap();
        client.push(&second).await.unwrap();

        let stored: Vec<u64> = sim
            .state
            .records(Some("op-a"))
            .await
            .iter()
            .map(|stored| stored.record.sequence)
            .collect();
        assert_eq!(stored, vec![1, 2]);
        sim.stop().await;
    }

    #[tokio::test]
    async fn used_sequence_with_new_key_rejected() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        client
            .push(&record(RecordKind::Enrollment, "en-1", "op-a", 1))
            .await
            .unwrap();

        let error = client
            .push(&record(RecordKind::Enrollment, "en-2", "op-a", 1))
            .await
            .unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Rejected);
        assert_eq!(error.status, Some(409));
        assert_eq!(error.code.as_deref(), Some("out_of_order"));
        sim.stop().await;
    }

    #[tokio::test]
    async fn down_period_retryable_then_delivered() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        let sent = record(RecordKind::ExamAttempt, "ex-1", "op-a", 1);
        let down_until = Utc::now().timestamp() + 2;
        sim.set_faults(SimFaults {
            down_until: Some(down_until),
            ..SimFaults::default()
        });

        let error = client.push(&sent).await.unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Retryable);
        assert_eq!(error.status, Some(503));
        assert!(
            error
                .retry_after
                .is_some_and(|wait| wait <= Duration::from_secs(2)),
            "{error:?}"
        );
        assert_eq!(sim.stats().errors_injected, 1);

        while Utc::now().timestamp() < down_until {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let delivered = client.push(&sent).await.unwrap();
        assert!(!delivered.duplicate);
        sim.stop().await;
    }

    #[tokio::test]
    async fn server_error_is_retryable() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        sim.set_faults(SimFaults {
            error_rate: 1.0,
            ..SimFaults::default()
        });

        let error = sim
            .client()
            .push(&record(RecordKind::Finding, "fi-1", "op-a", 1))
            .await
            .unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Retryable);
        assert_eq!(error.status, Some(500));
        assert!(sim.state.records(None).await.is_empty());
        assert_eq!(sim.stats().errors_injected, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn timeout_is_retryable() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        sim.set_faults(SimFaults {
            delay_ms: 1_500,
            ..SimFaults::default()
        });
        let mut config = ProvincialConfig::new(sim.base_url.as_str(), "dev", SECRET.to_vec());
        config.timeout = Duration::from_millis(300);
        let client = ProvincialClient::new(config).unwrap();

        let error = client
            .push(&record(RecordKind::Decision, "de-1", "op-a", 1))
            .await
            .unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Retryable);
        assert_eq!(error.status, None);
        assert!(error.message.contains("timed out"), "{}", error.message);
        sim.stop().await;
    }

    #[tokio::test]
    async fn connection_refused_is_retryable() {
        // Bind and drop a listener to find a local port with nothing listening on it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = client_for(
            &format!("http://{address}"),
            SECRET,
            SignatureAlgorithm::HmacSha256,
        );

        let error = client
            .push(&record(RecordKind::Operator, "op-1", "op-a", 1))
            .await
            .unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Retryable);
        assert_eq!(error.status, None);
        assert!(
            error.message.starts_with("connection failed"),
            "{}",
            error.message
        );

        // The id number travels in the query string and must not reach the message.
        let id_number = "110105199001011234";
        let error = client.certificates(id_number).await.unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Retryable);
        assert!(!error.message.contains(id_number), "{}", error.message);
    }

    #[tokio::test]
    async fn reject_kinds_rejected() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        sim.set_faults(SimFaults {
            reject_kinds: vec![RecordKind::Credit],
            ..SimFaults::default()
        });

        let error = client
            .push(&record(RecordKind::Credit, "cr-1", "op-a", 1))
            .await
            .unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Rejected);
        assert_eq!(error.status, Some(422));
        assert_eq!(error.code.as_deref(), Some("invalid_record"));
        assert!(error.message.contains("field kind"), "{}", error.message);

        client
            .push(&record(RecordKind::CardIssued, "ci-1", "op-a", 1))
            .await
            .unwrap();
        let stats = sim.stats();
        assert_eq!(stats.rejected, 1);
        assert_eq!(stats.errors_injected, 1);
        assert_eq!(stats.accepted, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn duplicate_acks_count_as_delivered() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        sim.set_faults(SimFaults {
            duplicate_acks: true,
            ..SimFaults::default()
        });

        let mut flagged = 0;
        for sequence in 1..=20 {
            let sent = record(
                RecordKind::StudySession,
                &format!("ss-{sequence}"),
                "op-a",
                sequence,
            );
            let delivered = client.push(&sent).await.unwrap();
            if delivered.duplicate {
                flagged += 1;
            }
        }
        assert_eq!(sim.state.records(None).await.len(), 20);
        assert_eq!(sim.stats().accepted, 20);
        // Each first delivery is flagged with probability 0.5, so 0 of 20 has odds of about 1e-6.
        assert!(
            flagged > 0,
            "no first delivery was acknowledged with duplicate: true"
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn restart_keeps_dedupe() {
        let dir = TempDir::new();
        let sent = record(RecordKind::Affiliation, "af-1", "op-a", 1);

        let sim = RunningSim::start_default(dir.path()).await;
        let first = sim.client().push(&sent).await.unwrap();
        sim.stop().await;

        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        let repeat = client.push(&sent).await.unwrap();
        assert!(repeat.duplicate);
        assert_eq!(repeat.ack_id, first.ack_id);

        // The per-operator sequence survives the restart too.
        let gap = client
            .push(&record(RecordKind::Credit, "cr-3", "op-a", 3))
            .await
            .unwrap_err();
        assert_eq!(gap.code.as_deref(), Some("out_of_order"));
        client
            .push(&record(RecordKind::Credit, "cr-2", "op-a", 2))
            .await
            .unwrap();
        assert_eq!(stored_lines(dir.path()).len(), 2);
        sim.stop().await;
    }

    #[tokio::test]
    async fn restart_cuts_incomplete_last_line() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        sim.client()
            .push(&record(RecordKind::Unit, "un-1", "op-a", 1))
            .await
            .unwrap();
        sim.stop().await;

        // Simulate a write interrupted by a crash.
        let path = dir.path().join(RECORDS_FILE);
        let mut content = std::fs::read(&path).unwrap();
        content.extend_from_slice(br#"{"ack_id":"partial","rec"#);
        std::fs::write(&path, content).unwrap();

        let sim = RunningSim::start_default(dir.path()).await;
        sim.client()
            .push(&record(RecordKind::Unit, "un-2", "op-a", 2))
            .await
            .unwrap();
        let keys: Vec<String> = stored_lines(dir.path())
            .into_iter()
            .map(|stored| stored.record.idempotency_key)
            .collect();
        assert_eq!(keys, vec!["un-1", "un-2"]);
        sim.stop().await;
    }

    #[tokio::test]
    async fn counts_by_beijing_date() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        // 15:59:59 UTC is 23:59:59 in Beijing on 1 March. 16:00:00 UTC is already 2 March.
        let times: [(&str, RecordKind); 3] = [
            ("2026-03-01T00:10:00Z", RecordKind::StudySession),
            ("2026-03-01T15:59:59Z", RecordKind::StudySession),
            ("2026-03-01T16:00:00Z", RecordKind::ExamAttempt),
        ];
        for (index, (time, kind)) in times.into_iter().enumerate() {
            let sequence = index as u64 + 1;
            let mut sent = record(kind, &format!("rec-{sequence}"), "op-a", sequence);
            sent.occurred_at = time.parse::<DateTime<Utc>>().unwrap();
            client.push(&sent).await.unwrap();
        }

        let march_1 = client
            .counts(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
            .await
            .unwrap();
        assert_eq!(march_1.get("study_session"), Some(&2));
        assert_eq!(march_1.get("exam_attempt"), Some(&0));
        assert_eq!(march_1.len(), RecordKind::ALL.len(), "every kind is listed");

        let march_2 = client
            .counts(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap())
            .await
            .unwrap();
        assert_eq!(march_2.get("study_session"), Some(&0));
        assert_eq!(march_2.get("exam_attempt"), Some(&1));
        sim.stop().await;
    }

    #[tokio::test]
    async fn counts_rejects_invalid_date() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;

        let response = send_signed(
            &sim.base_url,
            Method::GET,
            "/v1/counts?date=2026-13-01",
            b"",
            Utc::now().timestamp(),
            SECRET,
            None,
        )
        .await;
        assert_eq!(response.status(), 400);
        let error_body: Value = response.json().await.unwrap();
        assert_eq!(error_body["code"], "invalid_query");
        assert_eq!(error_body["field"], "date");
        sim.stop().await;
    }

    #[tokio::test]
    async fn certificates_seeded_and_synthetic() {
        let dir = TempDir::new();
        let seeded = vec![Certificate {
            item_code: "Q2".to_owned(),
            certificate_no: "TZ-0001".to_owned(),
            issued_on: NaiveDate::from_ymd_opt(2022, 5, 10).unwrap(),
            expires_on: NaiveDate::from_ymd_opt(2026, 5, 10).unwrap(),
        }];
        let seed_file = dir.path().join("certificates.json");
        std::fs::write(
            &seed_file,
            serde_json::to_vec(&json!({"110105199001011234": seeded})).unwrap(),
        )
        .unwrap();
        let mut options = SimOptions::new(SECRET);
        options.certificates_file = Some(seed_file);
        let sim = RunningSim::start(dir.path(), options).await;
        let client = sim.client();

        assert_eq!(
            client.certificates("110105199001011234").await.unwrap(),
            seeded
        );

        // The query needs percent-encoding, and the signature covers the encoded form.
        let unseeded = "32010219851212567X &+";
        let synthetic = client.certificates(unseeded).await.unwrap();
        assert_eq!(synthetic, sim::synthetic_certificates(unseeded));
        assert_eq!(client.certificates(unseeded).await.unwrap(), synthetic);
        sim.stop().await;
    }

    #[tokio::test]
    async fn operator_without_id_number_gets_422() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let mut malformed = record(RecordKind::Operator, "op-c-1", "op-c", 1);
        malformed.body = json!({"name": "陈超", "id_number": null});
        let error = sim.client().push(&malformed).await.unwrap_err();
        assert_eq!(error.kind, SyncErrorKind::Rejected);
        assert_eq!(error.status, Some(422));
        assert!(error.message.contains("body.id_number"), "{}", error.message);
        assert_eq!(sim.stats().rejected, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn seeded_error_rate_repeats() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        let mut runs = Vec::new();
        for run in 0..2 {
            sim.set_faults(SimFaults { error_rate: 0.5, seed: Some(42), ..SimFaults::default() });
            let mut outcomes = Vec::new();
            for n in 1..=20u64 {
                let key = format!("seed-{run}-{n}");
                outcomes.push(client.push(&record(RecordKind::StudySession, &key, &format!("seed-op-{run}-{n}"), 1)).await.is_ok());
            }
            runs.push(outcomes);
        }
        assert_eq!(runs[0], runs[1], "the same seed injects the same errors");
        assert!(runs[0].iter().any(|ok| *ok) && runs[0].iter().any(|ok| !*ok), "{:?}", runs[0]);
        sim.stop().await;
    }

    #[tokio::test]
    async fn sim_faults_endpoint() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let http = reqwest::Client::new();
        let url = format!("{}/sim/faults", sim.base_url);

        let response = http
            .post(&url)
            .json(&json!({"error_rate": 2.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "error_rate above 1.0");

        let response = http
            .post(&url)
            .json(&json!({"delay_ms": 5, "reject_kinds": ["card_revoked"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let faults = sim.state.faults();
        assert_eq!(faults.delay_ms, 5);
        assert_eq!(faults.reject_kinds, vec![RecordKind::CardRevoked]);

        let listed: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(listed["delay_ms"], 5);
        sim.stop().await;
    }

    #[tokio::test]
    async fn sim_inspection_endpoints() {
        let dir = TempDir::new();
        let sim = RunningSim::start_default(dir.path()).await;
        let client = sim.client();
        client
            .push(&record(RecordKind::Operator, "op-a-1", "op-a", 1))
            .await
            .unwrap();
        client
            .push(&record(RecordKind::Operator, "op-b-1", "op-b", 1))
            .await
            .unwrap();
        let http = reqwest::Client::new();

        let all: Vec<StoredRecord> = http
            .get(format!("{}/sim/records", sim.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(all.len(), 2);

        let only_b: Vec<StoredRecord> = http
            .get(format!("{}/sim/records?operator_ref=op-b", sim.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(only_b.len(), 1);
        assert_eq!(only_b[0].record.idempotency_key, "op-b-1");

        let stats: SimStats = http
            .get(format!("{}/sim/stats", sim.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats.received, 2);
        assert_eq!(stats.accepted, 2);
        sim.stop().await;
    }
}
