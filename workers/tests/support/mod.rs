//! A running worker runtime for integration tests: an engine on a simulated clock with
//! the shipped definitions published, file outboxes, the provincial simulator on
//! loopback, and the apalis workers polling every 50 ms.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use domain::catalogue::Catalogue;
use domain::courseware::Courseware;
use workers::environment::WorkerEnvironment;
use workers::notify::{EmailSender, SmsSender, Templates};
use workers::provincial::sim::{SimOptions, SimState, serve_on};
use workers::provincial::{ProvincialClient, ProvincialConfig};
use workers::queues::JobQueues;
use workers::runtime::{self, Roles};
use workers::services::Services;
use workflows::db::Db;
use workflows::definition::set::DefinitionSet;
use workflows::runtime::Engine;
use workflows::testing::TempDir;
use workflows::SimClock;

const DEFINITIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../definitions");

pub struct Harness {
    pub engine: Engine,
    pub clock: SimClock,
    pub sim: SimState,
    pub dir: TempDir,
    pub handle: runtime::WorkerHandle,
    /// The services the workers use, for tests that call scheduled jobs directly.
    pub services: Arc<Services>,
}

pub async fn harness(db: Db) -> Harness {
    harness_with_provincial(db, None).await
}

/// Like [`harness`], with provincial records sent to `provincial_url` instead of the
/// simulator (which still runs, unused).
pub async fn harness_with_provincial(db: Db, provincial_url: Option<String>) -> Harness {
    let (services, parts) = services(db.clone(), provincial_url).await;
    let queues = JobQueues::connect(&db.url).await.unwrap();
    let services = Arc::new(services);
    let handle = runtime::start(services.clone(), queues, Roles { workers: true, scheduler: false }, Duration::from_millis(50));
    Harness { engine: parts.engine, clock: parts.clock, sim: parts.sim, dir: parts.dir, handle, services }
}

/// What [`services`] builds besides the services themselves.
pub struct Parts {
    pub engine: Engine,
    pub clock: SimClock,
    pub sim: SimState,
    pub dir: TempDir,
}

/// Builds the workers' services with no runtime, for tests that run jobs by hand: the
/// shipped definitions published, file outboxes, and the simulator on loopback.
pub async fn services(db: Db, provincial_url: Option<String>) -> (Services, Parts) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
    let dir = TempDir::new();

    // 10:00 Beijing time, outside SMS quiet hours.
    let clock = SimClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap());
    let engine = Engine::new(db.clone(), Arc::new(clock.clone()));
    let templates = Templates::load_dir(Path::new(DEFINITIONS).join("templates")).unwrap();
    let set = DefinitionSet::load_dir(Path::new(DEFINITIONS), &WorkerEnvironment { templates: &templates }).unwrap();
    assert!(!set.has_errors(), "{:?}", set.diagnostics);
    for versioned in &set.definitions {
        engine.publish(versioned, "test", "").await.unwrap();
    }

    // The provincial simulator on an ephemeral loopback port.
    // The simulator's outages follow the engine's simulated clock.
    let mut sim_options = SimOptions::new(b"test-secret".to_vec());
    sim_options.clock = Arc::new(clock.clone());
    let sim = SimState::open(&dir.path.join("sim"), sim_options).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve_on(listener, sim.clone(), std::future::pending()));
    let url = provincial_url.unwrap_or_else(|| format!("http://{address}"));
    let provincial = ProvincialClient::new(ProvincialConfig::new(url, "dev", b"test-secret".to_vec())).unwrap();

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
    (services, Parts { engine, clock, sim, dir })
}

/// Waits until `done` holds, polling every 100 ms for at most 60 s of real time.
pub async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn sms_lines(dir: &TempDir) -> Vec<String> {
    std::fs::read_to_string(dir.path.join("sms").join("sms-outbox.jsonl")).unwrap_or_default().lines().map(str::to_string).collect()
}


/// Moves the simulated clock to the earliest pending outbox retry, if one lies in the
/// future, so retries scheduled on the clock run without real waiting. Timers are left
/// alone: jumping to them would fire reminders the test did not ask for.
pub async fn advance_to_next_retry(h: &Harness) {
    let next: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM wf_outbox WHERE status = 'pending'")
        .fetch_one(&h.engine.db.pool)
        .await
        .unwrap();
    if let Some(next) = next {
        h.clock.advance_to(chrono::DateTime::from_timestamp_millis(next).unwrap());
    }
}

/// Like [`wait_for`], moving the clock to pending retries between checks.
pub async fn wait_advancing(h: &Harness, what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        advance_to_next_retry(h).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Returns every email the file outbox holds as its headers followed by the decoded
/// body (base64 or quoted-printable), so tests can search the text.
pub fn mail_texts(dir: &TempDir) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.path.join("mail")) else { return Vec::new() };
    entries.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok()).map(|raw| decode_mail(&raw)).collect()
}

fn decode_mail(raw: &str) -> String {
    use base64::Engine;
    let raw = raw.replace("\r\n", "\n");
    let Some((head, body)) = raw.split_once("\n\n") else { return raw };
    let encoding = head.lines().find_map(|line| line.strip_prefix("Content-Transfer-Encoding:")).map(|value| value.trim().to_ascii_lowercase());
    let decoded = match encoding.as_deref() {
        Some("base64") => base64::engine::general_purpose::STANDARD.decode(body.split_whitespace().collect::<String>()).unwrap_or_default(),
        Some("quoted-printable") => quoted_printable::decode(body.as_bytes(), quoted_printable::ParseMode::Robust).unwrap_or_default(),
        _ => body.as_bytes().to_vec(),
    };
    format!("{head}\n\n{}", String::from_utf8_lossy(&decoded))
}

/// Inserts unit `u1` and an operator of it in state `complete`.
pub async fn insert_unit_and_operator(db: &workflows::db::Db, operator_id: &str, mobile: &str, id_number: Option<&str>, email: Option<&str>) {
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', '91430102051321883T', '湖南姚和电梯工程有限公司', 'active', 0) ON CONFLICT (id) DO NOTHING")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, id_number, email, unit_id, status, created_at, updated_at) VALUES ($1, $2, '陈超', $3, $4, 'u1', 'complete', 0, 0)")
        .bind(operator_id)
        .bind(mobile)
        .bind(id_number)
        .bind(email)
        .execute(&db.pool)
        .await
        .unwrap();
}
