//! A whole platform for end-to-end tests: the engine on a simulated clock with the
//! shipped definitions, the apalis workers, the provincial simulator and the HTTP API
//! on loopback ports, and helpers that put an operator where a test starts.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use api::auth::Role;
use api::{AppState, NewAccount};
use chrono::{TimeZone, Utc};
use domain::catalogue::Catalogue;
use domain::courseware::Courseware;
use serde_json::{Value, json};
use workers::environment::WorkerEnvironment;
use workers::notify::{EmailSender, SmsSender, Templates};
use workers::provincial::sim::{SimOptions, SimState, serve_on};
use workers::provincial::{ProvincialClient, ProvincialConfig};
use workers::queues::JobQueues;
use workers::runtime::{self, Roles};
use workers::services::Services;
use workflows::SimClock;
use workflows::db::Db;
use workflows::definition::set::DefinitionSet;
use workflows::runtime::{Engine, EventIn, EventOutcome};
use workflows::testing::TempDir;

const DEFINITIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/definitions");

pub const PASSWORD: &str = "correct-horse-battery";

pub struct Platform {
    pub db: Db,
    pub engine: Engine,
    pub clock: SimClock,
    pub sim: SimState,
    pub dir: TempDir,
    pub handle: runtime::WorkerHandle,
    pub state: AppState,
    pub base: String,
    pub http: reqwest::Client,
}

/// Starts the platform on `db` at 10:00 Beijing time on 5 March 2026. The worker side
/// is built as in the workers crate's test harness, which this crate cannot include
/// because its paths are relative to that crate.
pub async fn platform(db: Db) -> Platform {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
    let dir = TempDir::new();
    let clock = SimClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap());
    let engine = Engine::new(db.clone(), Arc::new(clock.clone()));
    let templates = Templates::load_dir(Path::new(DEFINITIONS).join("templates")).unwrap();
    let set = DefinitionSet::load_dir(Path::new(DEFINITIONS), &WorkerEnvironment { templates: &templates }).unwrap();
    assert!(!set.has_errors(), "{:?}", set.diagnostics);
    for versioned in &set.definitions {
        engine.publish(versioned, "test", "").await.unwrap();
    }

    let sim = SimState::open(&dir.path.join("sim"), SimOptions::new(b"test-secret".to_vec())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_address = listener.local_addr().unwrap();
    tokio::spawn(serve_on(listener, sim.clone(), std::future::pending()));
    let provincial = ProvincialClient::new(ProvincialConfig::new(format!("http://{sim_address}"), "dev", b"test-secret".to_vec())).unwrap();

    let courseware = Courseware::embedded().unwrap();
    workers::courseware_store::store_courseware(&db, &courseware, engine.now_ms()).await.unwrap();
    let services = Services {
        engine: engine.clone(),
        templates,
        email: EmailSender::file_outbox(dir.path.join("mail"), "certflow@localhost").unwrap(),
        sms: SmsSender::file_outbox(dir.path.join("sms")).unwrap(),
        provincial: Some(provincial),
        courseware: courseware.clone(),
        catalogue: Catalogue::embedded(),
        data_dir: dir.path.clone(),
    };
    let queues = JobQueues::connect(&db.url).await.unwrap();
    let handle = runtime::start(Arc::new(services), queues, Roles { workers: true, scheduler: false }, Duration::from_millis(50));

    let state = AppState::with_courseware(engine.clone(), courseware);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = api::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Platform { db, engine, clock, sim, dir, handle, state, base, http: reqwest::Client::new() }
}

impl Platform {
    /// Sends a JSON request with an optional bearer token; returns (status, body).
    pub async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    /// Creates an account and logs it in; returns the session token.
    pub async fn account(&self, role: Role, login: &str, unit_id: Option<&str>, mobile: Option<&str>) -> String {
        let account = NewAccount { role, login, password: PASSWORD, display_name: "测试账号", unit_id, institution_id: None, mobile, email: None };
        api::create_account(&self.db, &account, self.state.now_ms()).await.unwrap();
        self.password_login(login).await
    }

    /// Logs an existing account in again, as after the clock passed its session's end.
    pub async fn password_login(&self, login: &str) -> String {
        let (status, body) = self.post("/api/auth/password-login", None, json!({ "login": login, "password": PASSWORD })).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        sqlx::query_scalar(sql).bind(bind).fetch_one(&self.db.pool).await.unwrap()
    }

    pub async fn context_int(&self, instance: &str, name: &str) -> i64 {
        self.engine.instance(instance).await.unwrap().context[name].as_i64().unwrap_or(-1)
    }

    pub async fn state_of(&self, instance: &str) -> String {
        self.engine.instance(instance).await.unwrap().state
    }

    pub fn sms_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path.join("sms").join("sms-outbox.jsonl")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// Moves the clock to the earliest pending outbox retry in the future, if any.
    pub async fn advance_to_next_retry(&self) {
        let next: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM wf_outbox WHERE status = 'pending'").fetch_one(&self.db.pool).await.unwrap();
        if let Some(next) = next {
            self.clock.advance_to(chrono::DateTime::from_timestamp_millis(next).unwrap());
        }
    }
}

/// Waits until `done` holds, moving the clock to pending retries between checks, for
/// at most 60 s of real time.
pub async fn wait_until(p: &Platform, what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        p.advance_to_next_retry().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// An operator enrolled for T in 2026, handed off to institution `inst-1` and studying.
pub struct Enrolled {
    pub operator_id: String,
    pub enrollment_id: String,
    pub instance_id: String,
}

/// Creates unit `unit_id` if needed, the operator, the enrollment and its instance.
pub async fn enrolled(p: &Platform, unit_id: &str, operator_id: &str, mobile: &str) -> Enrolled {
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ($1, $2, $3, 'active', 0) ON CONFLICT (id) DO NOTHING")
        .bind(unit_id)
        .bind(format!("USCC-{unit_id}"))
        .bind(format!("{unit_id} 电梯工程有限公司"))
        .execute(&p.db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, unit_id, status, created_at, updated_at) VALUES ($1, $2, '陈超', $3, 'complete', 0, 0)")
        .bind(operator_id)
        .bind(mobile)
        .bind(unit_id)
        .execute(&p.db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO affiliations (id, operator_id, unit_id, started_at, source) VALUES ($1, $2, $3, 0, 'roster')")
        .bind(format!("aff-{operator_id}"))
        .bind(operator_id)
        .bind(unit_id)
        .execute(&p.db.pool)
        .await
        .unwrap();
    let subject = [("operator", operator_id.to_string()), ("year", "2026".to_string()), ("item", "T".to_string())];
    let instance = p.engine.start("annual_ce", &subject, Default::default()).await.unwrap();
    let enrollment_id = format!("en-{operator_id}");
    sqlx::query("INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, institution_id, created_at) VALUES ($1, $2, 2026, 'T', $3, 'inst-1', 0)")
        .bind(&enrollment_id)
        .bind(operator_id)
        .bind(&instance.id)
        .execute(&p.db.pool)
        .await
        .unwrap();
    p.engine.send(&instance.id, EventIn::new(format!("handoff-{operator_id}"), "handed_off")).await.unwrap();
    Enrolled { operator_id: operator_id.to_string(), enrollment_id, instance_id: instance.id }
}

/// Stores a session as the institution API does and sends `session_reported`.
pub async fn report_session(p: &Platform, operator: &Enrolled, id: &str, course: &str, start_ms: i64, minutes: i64, face_check: &str, evidence: Value) {
    sqlx::query(
        "INSERT INTO study_sessions (id, statement_id, institution_id, enrollment_id, operator_id, unit_id, course_code, started_at, ended_at, face_check, evidence, status, created_at)
         VALUES ($1, $1, 'inst-1', $2, $3, (SELECT unit_id FROM operators WHERE id = $3), $4, $5, $6, $7, $8, 'reported', 0)",
    )
    .bind(id)
    .bind(&operator.enrollment_id)
    .bind(&operator.operator_id)
    .bind(course)
    .bind(start_ms)
    .bind(start_ms + minutes * 60_000)
    .bind(face_check)
    .bind(evidence.to_string())
    .execute(&p.db.pool)
    .await
    .unwrap();
    p.engine.send(&operator.instance_id, EventIn::new(format!("session:{id}"), "session_reported").with("session_id", id)).await.unwrap();
}

impl Platform {
    /// Logs in `mobile` by SMS code, reading the code from the `code_requested` outbox
    /// entry as the notify worker does; returns the login response body.
    pub async fn login_operator(&self, mobile: &str) -> Value {
        let (status, body) = self.post("/api/auth/code", None, json!({ "mobile": mobile })).await;
        assert_eq!(status, 202, "{body}");
        let code_id: String = sqlx::query_scalar("SELECT id FROM login_codes WHERE mobile = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
            .bind(mobile)
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
        let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM wf_outbox WHERE kind = 'notify'").fetch_all(&self.db.pool).await.unwrap();
        let code = actions
            .iter()
            .map(|text| serde_json::from_str::<Value>(text).unwrap())
            .find(|action| action["event_id"] == code_id.as_str())
            .and_then(|action| action["payload"]["secret_code"].as_str().map(str::to_string))
            .expect("the code_requested outbox entry carries the code");
        let (status, body) = self.post("/api/auth/login", None, json!({ "mobile": mobile, "code": code })).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// Completes an 18-digit ID number from its first 17 digits.
pub fn id_number(body17: &str) -> String {
    format!("{body17}{}", domain::identity::checksum::id_number_check_character(body17).unwrap())
}

/// Completes a unified social credit code from 17 characters.
pub fn uscc(body17: &str) -> String {
    format!("{body17}{}", domain::identity::checksum::uscc_check_character(body17).unwrap())
}

/// Stores a passed attempt over `codes` (20 minutes, one answer per question) and sends
/// `exam_started` and `exam_graded` as the exam API does.
pub async fn pass_exam(p: &Platform, operator: &Enrolled, attempt_id: &str, codes: &[String], evidence: Value) {
    let courseware = Courseware::embedded().unwrap();
    let item = courseware.item("T").unwrap();
    let chosen: Vec<_> = item.courses.iter().filter(|c| codes.contains(&c.code)).collect();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
    let paper = domain::exam::assemble_paper(&chosen, &domain::exam::PaperRule::default(), &Default::default(), &mut rng).unwrap();
    let answers: serde_json::Map<String, Value> = paper.questions.iter().map(|q| (q.question_id.clone(), json!("A"))).collect();
    let now = p.clock.now_utc().timestamp_millis();
    sqlx::query(
        "INSERT INTO exam_attempts (id, enrollment_id, operator_id, beijing_date, started_at, deadline_at, finished_at, status, paper, answers, score, passed, evidence, review_status, created_at)
         VALUES ($1, $2, $3, '2026-03-05', $4, $5, $6, 'submitted', $7, $8, 100.0, 1, $9, 'none', $4)",
    )
    .bind(attempt_id)
    .bind(&operator.enrollment_id)
    .bind(&operator.operator_id)
    .bind(now - 20 * 60_000)
    .bind(now + 40 * 60_000)
    .bind(now)
    .bind(serde_json::to_string(&paper).unwrap())
    .bind(Value::Object(answers).to_string())
    .bind(evidence.to_string())
    .execute(&p.db.pool)
    .await
    .unwrap();
    let started = p.engine.send(&operator.instance_id, EventIn::new(format!("start:{attempt_id}"), "exam_started").with("attempt_id", attempt_id)).await.unwrap();
    assert!(matches!(started, EventOutcome::Applied { .. }), "{started:?}");
    let graded = EventIn::new(format!("graded:{attempt_id}"), "exam_graded").with("attempt_id", attempt_id).with("passed", true).with("pass_mark", 70);
    p.engine.send(&operator.instance_id, graded).await.unwrap();
}

/// One part of a multipart form: field name, file name for a file part, content type, bytes.
pub struct Part<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub content_type: &'a str,
    pub bytes: Vec<u8>,
}

impl Platform {
    /// Posts a multipart/form-data body; returns (status, body).
    pub async fn post_multipart(&self, path: &str, token: &str, parts: &[Part<'_>]) -> (u16, Value) {
        let boundary = "certflow-test-boundary-7f3a";
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match part.file_name {
                Some(file_name) => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{}\"; filename=\"{file_name}\"\r\n", part.name).as_bytes()),
                None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{}\"\r\n", part.name).as_bytes()),
            }
            body.extend_from_slice(format!("Content-Type: {}\r\n\r\n", part.content_type).as_bytes());
            body.extend_from_slice(&part.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}
