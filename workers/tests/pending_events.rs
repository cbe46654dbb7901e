//! Workflow events recorded with a decision's transaction: delivered after the commit,
//! and delivered by the scheduled sweep when the process stopped before sending them.

mod support;

use chrono::Duration;
use support::services;
use workers::{cron, pending_events};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

/// Records `event` for `instance_id` in a committed transaction, as a decision does.
async fn record_committed(db: &Db, instance_id: &str, event: &EventIn, now_ms: i64) {
    let mut tx = db.begin_write().await.unwrap();
    pending_events::record(&mut tx, instance_id, event, now_ms).await.unwrap();
    tx.commit().await.unwrap();
}

async fn pending_count(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pending_events").fetch_one(&db.pool).await.unwrap()
}

both_backends!(sweep_delivers_left_events, |db: Db| async move {
    let (services, parts) = services(db.clone(), None).await;
    let engine = &parts.engine;
    let instance = engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();

    // The process stops after the commit: the event is recorded and never sent.
    let registered = EventIn::new("decision-1:registered", "registered");
    record_committed(&db, &instance.id, &registered, engine.now_ms()).await;
    record_committed(&db, &instance.id, &registered, engine.now_ms()).await;
    assert_eq!(pending_count(&db).await, 1, "recording the same event id twice keeps one row");

    // A sweep within the first minute leaves it to the request that recorded it.
    let delivered = pending_events::sweep(engine).await.unwrap();
    assert_eq!(delivered, 0);
    assert_eq!(engine.instance(&instance.id).await.unwrap().state, "visitor");

    // The scheduled job a minute later delivers it once.
    parts.clock.advance(Duration::minutes(5));
    let summary = cron::run_job(&services, "pending_events", engine.clock.now()).await.unwrap();
    assert_eq!(summary, "1 events delivered");
    assert_eq!(engine.instance(&instance.id).await.unwrap().state, "info_pending");
    assert_eq!(pending_count(&db).await, 0);
    let summary = cron::run_job(&services, "pending_events", engine.clock.now()).await.unwrap();
    assert_eq!(summary, "0 events delivered");
});

both_backends!(deliver_after_commit_in_order, |db: Db| async move {
    let (_services, parts) = services(db.clone(), None).await;
    let engine = &parts.engine;
    let instance = engine.start("registration", &[("mobile", "13800138001".to_string())], Default::default()).await.unwrap();
    let now_ms = engine.now_ms();

    // Two events of one decision go out in the order recorded.
    let mut tx = db.begin_write().await.unwrap();
    let registered = EventIn::new("decision-2:registered", "registered");
    let completed = EventIn::new("decision-2:info", "info_completed").with("has_unit", true);
    pending_events::record(&mut tx, &instance.id, &registered, now_ms).await.unwrap();
    pending_events::record(&mut tx, &instance.id, &completed, now_ms).await.unwrap();
    tx.commit().await.unwrap();
    let ids = vec![registered.id.clone(), completed.id.clone()];
    let delivered = pending_events::deliver(engine, &ids).await.unwrap();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].event_id, "decision-2:registered");
    assert_eq!(pending_count(&db).await, 0);

    // A second delivery of the same ids finds nothing left and changes nothing.
    let state = engine.instance(&instance.id).await.unwrap().state;
    assert!(pending_events::deliver(engine, &ids).await.unwrap().is_empty());
    assert_eq!(engine.instance(&instance.id).await.unwrap().state, state);
});

both_backends!(failed_delivery_stays_for_sweep, |db: Db| async move {
    let (_services, parts) = services(db.clone(), None).await;
    let engine = &parts.engine;

    // An event for an instance that does not exist cannot be delivered; it stays with
    // its error and attempt count instead of vanishing.
    let event = EventIn::new("decision-3:registered", "registered");
    record_committed(&db, "no-such-instance", &event, engine.now_ms()).await;
    let failed = pending_events::deliver(engine, &[event.id.clone()]).await;
    assert!(failed.is_err());
    let (attempts, error): (i64, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error FROM pending_events WHERE event_id = $1").bind(&event.id).fetch_one(&db.pool).await.unwrap();
    assert_eq!(attempts, 1);
    assert!(error.is_some_and(|text| !text.is_empty()));
});
