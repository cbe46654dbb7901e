//! The worker runtime end to end on each backend: a transition's outbox entries go
//! through the dispatcher and the apalis queues to the SMS file outbox and to the
//! provincial simulator on loopback, exactly once each.

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
use workflows::both_backends;
use workflows::db::Db;
use workflows::definition::set::DefinitionSet;
use workflows::runtime::{Engine, EventIn, EventOutcome};
use workflows::testing::TempDir;
use workflows::SimClock;

const DEFINITIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../definitions");

struct Harness {
    engine: Engine,
    sim: SimState,
    dir: TempDir,
    handle: runtime::WorkerHandle,
}

async fn harness(db: Db) -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
    let dir = TempDir::new();

    // 10:00 Beijing time, outside SMS quiet hours.
    let clock = SimClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap());
    let engine = Engine::new(db.clone(), Arc::new(clock));
    let templates = Templates::load_dir(Path::new(DEFINITIONS).join("templates")).unwrap();
    let set = DefinitionSet::load_dir(Path::new(DEFINITIONS), &WorkerEnvironment { templates: &templates }).unwrap();
    assert!(!set.has_errors(), "{:?}", set.diagnostics);
    for versioned in &set.definitions {
        engine.publish(versioned, "test").await.unwrap();
    }

    // The provincial simulator on an ephemeral loopback port.
    let sim = SimState::open(&dir.path.join("sim"), SimOptions::new(b"test-secret".to_vec())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve_on(listener, sim.clone(), std::future::pending()));
    let provincial = ProvincialClient::new(ProvincialConfig::new(format!("http://{address}"), "dev", b"test-secret".to_vec())).unwrap();

    let services = Services {
        engine: engine.clone(),
        templates,
        email: EmailSender::file_outbox(dir.path.join("mail"), "certflow@localhost").unwrap(),
        sms: SmsSender::file_outbox(dir.path.join("sms")).unwrap(),
        provincial: Some(provincial),
        courseware: Courseware::embedded().unwrap(),
        catalogue: Catalogue::embedded(),
        data_dir: dir.path.clone(),
    };
    let queues = JobQueues::connect(&db.url).await.unwrap();
    let handle = runtime::start(Arc::new(services), queues, Roles { workers: true, scheduler: false }, Duration::from_millis(50));
    Harness { engine, sim, dir, handle }
}

/// Waits until `done` holds, polling every 100 ms for at most 60 s of real time.
async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn sms_lines(dir: &TempDir) -> Vec<String> {
    std::fs::read_to_string(dir.path.join("sms").join("sms-outbox.jsonl")).unwrap_or_default().lines().map(str::to_string).collect()
}

both_backends!(login_code_reaches_sms_outbox_once, |db: Db| async move {
    let h = harness(db.clone()).await;
    let instance = h.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    let event = EventIn::new("code-1", "code_requested").with("secret_code", "482913").with("minutes", 5);
    assert!(matches!(h.engine.send(&instance.id, event.clone()).await.unwrap(), EventOutcome::Applied { .. }));
    assert_eq!(h.engine.send(&instance.id, event).await.unwrap(), EventOutcome::Duplicate);

    wait_for("the login code SMS", async || sms_lines(&h.dir).iter().any(|line| line.contains("482913"))).await;
    wait_for("the outbox entry to finish", async || {
        h.engine.outbox_counts().await.unwrap().iter().any(|(kind, status, n)| kind == "notify" && status == "done" && *n == 1)
    })
    .await;
    let lines = sms_lines(&h.dir);
    assert_eq!(lines.iter().filter(|line| line.contains("482913")).count(), 1, "one SMS: {lines:?}");

    // History keeps no secret.
    let history = h.engine.history(&instance.id, 0, 50).await.unwrap();
    assert!(!serde_json::to_string(&history).unwrap().contains("482913"));
    h.handle.stop().await;
});

both_backends!(info_completion_syncs_in_order, |db: Db| async move {
    let h = harness(db.clone()).await;
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', '91430102051321883T', '湖南姚和电梯工程有限公司', 'active', 0)").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ('op1', '13800138000', '陈超', '430302198302277431', 'u1', 'complete', 0, 0)")
        .execute(&db.pool)
        .await
        .unwrap();

    let instance = h.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    h.engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    let outcome = h.engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    assert_eq!(outcome, EventOutcome::Applied { from: "info_pending".into(), to: "complete".into() });

    wait_for("two records at the simulator", async || h.sim.stats().accepted == 2).await;
    let records = h.sim.records(Some("op1")).await;
    let sequences: Vec<u64> = records.iter().map(|stored| stored.record.sequence).collect();
    assert_eq!(sequences, vec![1, 2], "one operator's records arrive in order");
    wait_for("both sync entries done", async || {
        h.engine.outbox_counts().await.unwrap().iter().any(|(kind, status, n)| kind == "sync" && status == "done" && *n == 2)
    })
    .await;
    assert_eq!(h.sim.stats().duplicates, 0);
    h.handle.stop().await;
});
