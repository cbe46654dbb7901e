//! The operations endpoints: readiness over the database and the job backend, and the
//! Prometheus metrics with their route-template labels and database gauges.

mod common;

use axum::http::StatusCode;
use common::{app, march_5_10am_beijing};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

both_backends!(readyz_requires_job_backend, |db: Db| async move {
    let t = app(db.clone(), march_5_10am_beijing()).await;

    let before = t.get("/readyz", None).await;
    assert_eq!(before.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", before.body);
    assert_eq!(before.body["database"], "ok");
    assert_eq!(before.body["jobs"], "unreachable");

    workers::queues::JobQueues::connect(&db.url).await.unwrap();
    let after = t.get("/readyz", None).await;
    assert_eq!(after.status, StatusCode::OK, "{:?}", after.body);
    assert_eq!(after.body["status"], "ready");
    assert_eq!(after.body["jobs"], "ok");
});

both_backends!(metrics_report_routes_and_backlog, |db: Db| async move {
    let t = app(db.clone(), march_5_10am_beijing()).await;

    // One transition that leaves an SMS in the outbox, and one request to a route with an id.
    let instance = t.state.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    let event = EventIn::new("code-1", "code_requested").with("secret_code", "482913").with("minutes", 5);
    t.state.engine.send(&instance.id, event).await.unwrap();
    t.get("/api/cards/NO-SUCH-CARD/verify", None).await;

    let reply = t.get("/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = reply.body.as_str().expect("metrics are text").to_string();

    assert!(text.contains("# TYPE certflow_transitions_total counter"), "{text}");
    assert!(text.contains("certflow_transitions_total{definition=\"registration\"}"), "{text}");
    assert!(text.contains("certflow_transition_duration_seconds_count"), "{text}");
    assert!(text.contains("route=\"/api/cards/{card_no}/verify\""), "the route template, not the raw path: {text}");
    assert!(!text.contains("NO-SUCH-CARD"), "{text}");
    assert!(text.contains("certflow_outbox_backlog{kind=\"notify\"} 1\n"), "{text}");
    assert!(text.contains("certflow_incidents_open{kind=\"action_failed\"} 0\n"), "{text}");
    assert!(text.contains("certflow_sync_backlog 0\n"), "{text}");
    assert!(text.contains("certflow_metrics_database_up 1\n"), "{text}");
});
