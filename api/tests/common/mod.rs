//! Test harness: the real router on a fresh database with the project's definitions
//! published and a simulated clock, plus helpers that walk an operator through the
//! steps before the one a test is about.

#![allow(dead_code)]

pub mod s3_stub;

use std::path::Path;
use std::sync::Arc;

use api::institutions::sign_request;
use api::{AppState, CreatedInstitution, NewAccount};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use sqlx::Row;
use tower::ServiceExt;
use workflows::SimClock;
use workflows::db::Db;
use workflows::definition::set::DefinitionSet;
use workflows::definition::validate::AnyEnvironment;
use workflows::runtime::{Engine, EventIn};

pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: SimClock,
    pub db: Db,
    /// The directory of the local object store, removed with the app.
    pub objects_dir: workflows::testing::TempDir,
}

/// A response as tests read it.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

/// Returns 10:00 Beijing time (02:00 UTC) on 5 March 2026.
pub fn march_5_10am_beijing() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()
}

/// Builds the app on `db` with the clock at `start`.
pub async fn app(db: Db, start: DateTime<Utc>) -> TestApp {
    let clock = SimClock::starting_at(start);
    let engine = Engine::new(db.clone(), Arc::new(clock.clone()));
    let definitions = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../definitions"));
    let set = DefinitionSet::load_dir(definitions, &AnyEnvironment).expect("definitions folder is readable");
    assert!(!set.has_errors(), "definitions have errors: {:?}", set.diagnostics);
    for versioned in &set.definitions {
        engine.publish(versioned, "test", "").await.expect("publish definition");
    }
    let objects_dir = workflows::testing::TempDir::new();
    let objects = Arc::new(workers::object_store::LocalStore::new(&objects_dir.path));
    let state = AppState::new(engine.clone()).expect("embedded courseware is valid").with_objects(objects);
    workers::courseware_store::store_courseware(&db, &state.courseware, engine.now_ms()).await.expect("seed the question bank");
    let router = api::router(state.clone());
    TestApp { state, router, clock, db, objects_dir }
}

impl TestApp {
    /// Uses `provider` for real-name and exam face checks.
    pub fn with_real_name(mut self, provider: Arc<dyn domain::realname::RealNameProvider>) -> TestApp {
        self.state = self.state.clone().with_real_name(provider);
        self.router = api::router(self.state.clone());
        self
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("response body");
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())) };
        Reply { status, headers, body }
    }

    /// Sends a JSON request with an optional bearer token.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())).unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.send(request).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn put_json(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    /// Gives the operator's proctoring consent for the enrollment, then starts (or
    /// resumes) its exam, as the exam page does.
    pub async fn start_exam(&self, token: &str, enrollment_id: &str) -> Reply {
        let consent = json!({ "notice_version": api::proctoring::NOTICE_VERSION });
        let reply = self.post(&format!("/api/enrollments/{enrollment_id}/proctoring-consent"), Some(token), consent).await;
        assert!(reply.status.is_success(), "proctoring consent failed: {:?}", reply.body);
        self.post(&format!("/api/enrollments/{enrollment_id}/exam/start"), Some(token), json!({})).await
    }

    /// Requests a login code and returns it as the notify worker would read it: from
    /// the `secret_code` of the outbox entry of the `code_requested` event.
    pub async fn request_code(&self, mobile: &str) -> String {
        let reply = self.post("/api/auth/code", None, json!({ "mobile": mobile })).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "code request failed: {:?}", reply.body);
        self.latest_code(mobile).await
    }

    /// Returns the code of the latest login code request of `mobile` from the outbox.
    pub async fn latest_code(&self, mobile: &str) -> String {
        let code_id: String = sqlx::query_scalar("SELECT id FROM login_codes WHERE mobile = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
            .bind(mobile)
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
        let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM wf_outbox WHERE kind = 'notify'").fetch_all(&self.db.pool).await.unwrap();
        actions
            .iter()
            .map(|text| serde_json::from_str::<Value>(text).unwrap())
            .find(|action| action["event_id"] == code_id.as_str())
            .and_then(|action| action["payload"]["secret_code"].as_str().map(str::to_string))
            .expect("the code_requested outbox entry carries the code")
    }

    /// Logs in by SMS code and returns the login response body.
    pub async fn login(&self, mobile: &str) -> Value {
        let code = self.request_code(mobile).await;
        let reply = self.post("/api/auth/login", None, json!({ "mobile": mobile, "code": code })).await;
        assert_eq!(reply.status, StatusCode::OK, "login failed: {:?}", reply.body);
        reply.body
    }

    /// Logs in by SMS code and returns the session token.
    pub async fn login_token(&self, mobile: &str) -> String {
        self.login(mobile).await["token"].as_str().unwrap().to_string()
    }

    /// Creates an account directly and logs it in by password; returns the token.
    pub async fn account_token(&self, role: api::auth::Role, login: &str, unit_id: Option<&str>) -> String {
        let account = NewAccount {
            role,
            login,
            password: ADMIN_PASSWORD,
            display_name: "测试账号",
            unit_id,
            institution_id: None,
            mobile: None,
            email: None,
        };
        api::create_account(&self.db, &account, self.state.now_ms()).await.expect("create account");
        self.password_login(login, ADMIN_PASSWORD).await
    }

    pub async fn password_login(&self, login: &str, password: &str) -> String {
        let reply = self.post("/api/auth/password-login", None, json!({ "login": login, "password": password })).await;
        assert_eq!(reply.status, StatusCode::OK, "password login failed: {:?}", reply.body);
        reply.body["token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.account_token(api::auth::Role::AssociationAdmin, "assoc-admin", None).await
    }

    /// Registers a unit through the API; returns (unit id, its admin's token).
    pub async fn create_unit(&self, admin_token: &str, uscc: &str, name: &str, admin_login: &str) -> (String, String) {
        let body = json!({
            "uscc": uscc,
            "name": name,
            "admin": { "login": admin_login, "password": ADMIN_PASSWORD, "display_name": "单位管理员" },
        });
        let reply = self.post("/api/units", Some(admin_token), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "unit creation failed: {:?}", reply.body);
        let unit_id = reply.body["id"].as_str().unwrap().to_string();
        (unit_id, self.password_login(admin_login, ADMIN_PASSWORD).await)
    }

    /// Logs in an unknown mobile, registers, completes info with unit `uscc` and enrolls
    /// for T in 2026. Returns (token, operator id, enrollment id).
    pub async fn enrolled_operator(&self, mobile: &str, id_number: &str, uscc: &str) -> (String, String, String) {
        let login = self.login(mobile).await;
        let token = login["token"].as_str().unwrap().to_string();
        let operator_id = login["operator_id"].as_str().unwrap().to_string();
        let reply = self.post("/api/operator/register", Some(&token), json!({ "name": "王小明", "id_number": id_number })).await;
        assert_eq!(reply.status, StatusCode::OK, "register failed: {:?}", reply.body);
        let reply = self.post("/api/operator/info", Some(&token), json!({ "unit_uscc": uscc, "items": [{ "item_code": "T" }] })).await;
        assert_eq!(reply.status, StatusCode::OK, "info failed: {:?}", reply.body);
        let reply = self.post("/api/enrollments", Some(&token), json!({ "year": 2026, "item_code": "T" })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "enroll failed: {:?}", reply.body);
        let enrollment_id = reply.body["id"].as_str().unwrap().to_string();
        (token, operator_id, enrollment_id)
    }

    /// Registers an institution teaching T and hands the enrollment off to it.
    pub async fn handed_off(&self, token: &str, enrollment_id: &str) -> CreatedInstitution {
        let institution = api::create_institution(&self.state, "安全培训学校", &uscc("91430100MA4L0000"), &["T".to_string()]).await.expect("create institution");
        let reply = self.post(&format!("/api/enrollments/{enrollment_id}/handoff"), Some(token), json!({ "institution_id": institution.id })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "hand-off failed: {:?}", reply.body);
        institution
    }

    /// Sends a request signed with the institution's secret at the clock's time.
    pub async fn signed(&self, institution: &CreatedInstitution, path: &str, body: &Value) -> Reply {
        self.signed_bytes(institution, path, body.to_string().into_bytes()).await
    }

    /// Like [`TestApp::signed`], with any body bytes, such as malformed JSON.
    pub async fn signed_bytes(&self, institution: &CreatedInstitution, path: &str, body: Vec<u8>) -> Reply {
        let timestamp = self.state.now().timestamp();
        let key = hex::decode(&institution.secret).unwrap();
        let signature = sign_request(&key, "POST", path, timestamp, &body);
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .header("x-certflow-key-id", &institution.key_id)
            .header("x-certflow-timestamp", timestamp.to_string())
            .header("x-certflow-signature", signature)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Reports one session of `course` from `start` for `minutes` through the signed API.
    pub async fn report_session(&self, institution: &CreatedInstitution, enrollment_id: &str, statement_id: &str, course: &str, start: DateTime<Utc>, minutes: i64) -> Reply {
        let body = json!({
            "statement_id": statement_id,
            "enrollment_id": enrollment_id,
            "course_code": course,
            "started_at": start.to_rfc3339(),
            "ended_at": (start + chrono::Duration::minutes(minutes)).to_rfc3339(),
            "face_check": "passed",
            "evidence": { "device": "test" },
        });
        self.signed(institution, "/api/institution/sessions", &body).await
    }

    /// Does what the `screen_session` job does for clean sessions: marks every reported
    /// session of the enrollment cleared and sends `courses_updated`.
    pub async fn clear_sessions(&self, enrollment_id: &str, completed: i64) {
        sqlx::query("UPDATE study_sessions SET status = 'cleared' WHERE enrollment_id = $1 AND status = 'reported'")
            .bind(enrollment_id)
            .execute(&self.db.pool)
            .await
            .unwrap();
        let instance_id: String = sqlx::query("SELECT instance_id FROM enrollments WHERE id = $1").bind(enrollment_id).fetch_one(&self.db.pool).await.unwrap().get(0);
        let event = EventIn::new(format!("screened:{enrollment_id}:{completed}"), "courses_updated").with("completed", completed);
        self.state.engine.send(&instance_id, event).await.unwrap();
    }

    pub async fn instance_state(&self, instance_id: &str) -> String {
        self.state.engine.instance(instance_id).await.unwrap().state
    }

    pub async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        sqlx::query_scalar(sql).bind(bind).fetch_one(&self.db.pool).await.unwrap()
    }
}

/// Builds a `multipart/form-data` body of text `fields` and `files` (file name, bytes)
/// sent in fields named `files`. Returns the content type and the body.
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "certflow-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    for (file_name, bytes) in files {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Returns answers that are all correct for the attempt's stored paper.
pub async fn correct_answers(app: &TestApp, attempt_id: &str) -> Value {
    let paper: String = sqlx::query_scalar("SELECT paper FROM exam_attempts WHERE id = $1").bind(attempt_id).fetch_one(&app.db.pool).await.unwrap();
    let paper: domain::exam::Paper = serde_json::from_str(&paper).unwrap();
    let key = workers::bank_store::paper_answer_key(&app.db.pool, &paper).await.unwrap();
    let letter = |shown: usize| char::from(b'A' + shown as u8).to_string();
    let mut answers = serde_json::Map::new();
    for question in &paper.questions {
        let shown_position = |authored: usize| question.option_order.iter().position(|&index| index == authored).unwrap();
        let answer = match &key[&question.question_id] {
            domain::courseware::Answer::Single(index) => json!(letter(shown_position(*index))),
            domain::courseware::Answer::Multiple(indices) => json!(indices.iter().map(|&index| letter(shown_position(index))).collect::<String>()),
            domain::courseware::Answer::TrueFalse(value) => json!(value),
        };
        answers.insert(question.question_id.clone(), answer);
    }
    Value::Object(answers)
}

/// Completes an 18-digit ID number from its first 17 digits.
pub fn id_number(body: &str) -> String {
    format!("{body}{}", domain::identity::checksum::id_number_check_character(body).unwrap())
}

/// Completes a unified social credit code from 16 characters plus a sequence digit.
pub fn uscc(body16: &str) -> String {
    let body = format!("{body16}1");
    format!("{body}{}", domain::identity::checksum::uscc_check_character(&body).unwrap())
}

/// Runs the workers' side of the pipeline in the test's own task: due timers fire and
/// due `job` actions (finalize_exam, screen_exam, award_credits, issue_card, …) run
/// through `workers::jobs::perform`, as the apalis workers would run them.
/// Notifications and provincial sync entries are left pending.
pub struct JobRunner {
    services: workers::services::Services,
    _dir: workflows::testing::TempDir,
}

impl TestApp {
    pub fn job_runner(&self) -> JobRunner {
        let dir = workflows::testing::TempDir::new();
        let services = self.file_outbox_services(&dir.path);
        JobRunner { services, _dir: dir }
    }

    /// Builds the workers' services on this app's engine, with the definitions'
    /// templates, and email and SMS written to file outboxes under `dir` (`mail/` and
    /// `sms/sms-outbox.jsonl`).
    pub fn file_outbox_services(&self, dir: &Path) -> workers::services::Services {
        let definitions = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../definitions"));
        workers::services::Services {
            engine: self.state.engine.clone(),
            templates: workers::notify::Templates::load_dir(definitions.join("templates")).expect("templates"),
            email: workers::notify::EmailSender::file_outbox(dir.join("mail"), "certflow@localhost").expect("mail outbox"),
            sms: workers::notify::SmsSender::file_outbox(dir.join("sms")).expect("sms outbox"),
            provincial: None,
            courseware: (*self.state.courseware).clone(),
            catalogue: self.state.catalogue,
            data_dir: dir.to_path_buf(),
        }
    }

    /// Fires due timers and runs due jobs until none is left; returns the job names run.
    pub async fn run_due(&self, runner: &JobRunner) -> Vec<String> {
        let engine = &self.state.engine;
        let mut ran = Vec::new();
        loop {
            let timers = engine.due_timers(50).await.unwrap();
            for timer in &timers {
                engine.fire_timer(&timer.id).await.unwrap();
            }
            let entries = engine.claim_due_actions(&["job"], 50).await.unwrap();
            for entry in &entries {
                let name = entry.action["action"]["name"].as_str().unwrap_or_default().to_string();
                let result = workers::jobs::perform(&runner.services, entry, &name).await.unwrap_or_else(|error| panic!("job {name}: {error:?}"));
                engine.complete_action(&entry.id, entry.attempt(), result).await.unwrap();
                ran.push(name);
            }
            if timers.is_empty() && entries.is_empty() {
                return ran;
            }
        }
    }
}
