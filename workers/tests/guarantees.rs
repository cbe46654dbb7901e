//! The runtime guarantees that need the workers, on SQLite and on PostgreSQL:
//! 6. one retry layer only: each engine attempt is one job run and one HTTP request;
//! 7. a worker that finishes after its attempt was handed out again produces no second
//!    side effect: one SMS and one provincial record per idempotency key.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use apalis::prelude::Data;
use axum::http::{HeaderMap, Method, StatusCode};
use support::{harness_with_provincial, services, sms_lines, wait_advancing};
use workers::actions::run_action_job;
use workers::queues::ActionJob;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

/// Starts a provincial endpoint that is down: every request gets 503. Returns its URL and the
/// number of requests per idempotency key.
async fn platform_down() -> (String, Arc<Mutex<BTreeMap<String, usize>>>) {
    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let counter = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, headers: HeaderMap| {
        let counter = counter.clone();
        async move {
            // Only record pushes count; certificate pulls are keyless reads.
            if method == Method::POST {
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
                *counter.lock().unwrap().entry(key).or_default() += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn operator_with_unit(db: &Db) {
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', '91430102051321883T', '湖南姚和电梯工程有限公司', 'active', 0)").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ('op1', '13800138000', '陈超', '430302198302277431', 'u1', 'complete', 0, 0)")
        .execute(&db.pool)
        .await
        .unwrap();
}

both_backends!(guarantee_06_one_request_per_engine_attempt, |db: Db| async move {
    let (url, seen) = platform_down().await;
    operator_with_unit(&db).await;
    let h = harness_with_provincial(db.clone(), Some(url)).await;
    let instance = h.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    h.engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    h.engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();

    // The outage outlasts every attempt the definition's `external` policy allows.
    let (_, definition) = h.engine.latest_definition("registration").await.unwrap();
    let cap = i64::from(definition.retry_policies["external"].max_attempts.unwrap());
    wait_advancing(&h, "the first record's incident", async || {
        h.engine.incidents("open", 10).await.unwrap().iter().any(|incident| incident.attempts == cap)
    })
    .await;
    let first: (String, i64) = sqlx::query_as("SELECT id, attempts FROM wf_outbox WHERE kind = 'sync' ORDER BY created_at, id LIMIT 1").fetch_one(&db.pool).await.unwrap();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(first.1, cap, "the engine counted every attempt");
    assert_eq!(requests.len(), 1, "only the first record was sent; the second waits behind it: {requests:?}");
    let (key, count) = requests.iter().next().unwrap();
    assert!(key.starts_with(&first.0), "the record's key is its outbox entry: {key}");
    assert_eq!(*count as i64, cap, "one HTTP request per engine attempt, not more");
    h.handle.stop().await;
});

both_backends!(guarantee_07_late_worker_produces_no_duplicate, |db: Db| async move {
    operator_with_unit(&db).await;
    let (services, parts) = services(db.clone(), None).await;
    let services = Arc::new(services);
    let engine = &parts.engine;
    let instance = engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();

    // A login code SMS: the attempt's worker is slow, so the lease hands the same
    // attempt to a second worker; both finish.
    engine.send(&instance.id, EventIn::new("code-1", "code_requested").with("secret_code", "482913").with("minutes", 5)).await.unwrap();
    let entry = engine.claim_due_actions(&["notify"], 10).await.unwrap().remove(0);
    let job = ActionJob { outbox_id: entry.id.clone(), attempt: entry.attempt(), key: entry.job_key() };
    let (first, second) = tokio::join!(run_action_job(job.clone(), Data(services.clone())), run_action_job(job.clone(), Data(services.clone())));
    first.unwrap();
    second.unwrap();
    run_action_job(job, Data(services.clone())).await.unwrap();
    let lines: Vec<String> = sms_lines(&parts.dir).into_iter().filter(|line| line.contains("482913")).collect();
    assert_eq!(lines.len(), 1, "one SMS for one key: {lines:?}");
    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(sent, 1);

    // A provincial record run twice at once and once more late: accepted once.
    engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    let entry = engine.claim_due_actions(&["sync"], 10).await.unwrap().remove(0);
    let job = ActionJob { outbox_id: entry.id.clone(), attempt: entry.attempt(), key: entry.job_key() };
    let (first, second) = tokio::join!(run_action_job(job.clone(), Data(services.clone())), run_action_job(job.clone(), Data(services.clone())));
    first.unwrap();
    second.unwrap();
    run_action_job(job, Data(services.clone())).await.unwrap();
    let stored = parts.sim.records(Some("op1")).await;
    assert_eq!(stored.len(), 1, "one record for one key");
    assert_eq!(stored[0].record.sequence, 1);
    let status: String = sqlx::query_scalar("SELECT status FROM wf_outbox WHERE id = $1").bind(&entry.id).fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "done");
});

both_backends!(guarantee_07_resent_record_is_identical, |db: Db| async move {
    operator_with_unit(&db).await;
    let (services, parts) = services(db.clone(), None).await;
    let services = Arc::new(services);
    let engine = &parts.engine;
    let instance = engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    let entry = engine.claim_due_actions(&["sync"], 10).await.unwrap().remove(0);
    let job = ActionJob { outbox_id: entry.id.clone(), attempt: entry.attempt(), key: entry.job_key() };
    run_action_job(job.clone(), Data(services.clone())).await.unwrap();

    // The platform stored the record, but the process died before the engine heard:
    // an hour later, after a change to the operator, the attempt runs again.
    sqlx::query("UPDATE wf_outbox SET status = 'pending', completed_at = NULL, attempts = 0 WHERE id = $1").bind(&entry.id).execute(&db.pool).await.unwrap();
    sqlx::query("UPDATE operators SET name = '陈超然' WHERE id = 'op1'").execute(&db.pool).await.unwrap();
    parts.clock.advance(chrono::Duration::hours(1));
    run_action_job(job, Data(services.clone())).await.unwrap();

    let status: String = sqlx::query_scalar("SELECT status FROM wf_outbox WHERE id = $1").bind(&entry.id).fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "done", "the platform acknowledged the same record as a duplicate");
    assert!(engine.incidents("open", 10).await.unwrap().is_empty(), "no conflict, no incident");
    let stored = parts.sim.records(Some("op1")).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].record.body["name"], "陈超", "the body as first sent");
});
