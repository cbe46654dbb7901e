//! Engine behaviour on real databases: every test runs on SQLite and on PostgreSQL.

mod common;

use chrono::{TimeZone, Utc};
use sqlx::Row;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::{Engine, EventIn, EventOutcome};
use workflows::SimClock;

/// Returns an engine on `db` with the reminder definition published, its simulated
/// clock at 08:00 Beijing time on 5 March 2026.
async fn engine_on(db: Db) -> (Engine, SimClock) {
    common::reminder_engine(db).await
}

async fn start(engine: &Engine, operator: &str) -> String {
    engine.start("reminder_loop", &[("operator", operator.to_string())], Default::default()).await.unwrap().id
}

async fn count(db: &Db, sql: &'static str, instance: &str) -> i64 {
    sqlx::query(sql).bind(instance).fetch_one(&db.pool).await.unwrap().get(0)
}

both_backends!(start_is_idempotent_per_subject, |db: Db| async move {
    let (engine, _) = engine_on(db.clone()).await;
    let first = start(&engine, "op-1").await;
    let again = start(&engine, "op-1").await;
    assert_eq!(first, again);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM wf_outbox WHERE instance_id = $1", &first).await, 1, "on-enter notify recorded once");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM wf_timers WHERE instance_id = $1 AND status = 'pending'", &first).await, 1);
});

both_backends!(duplicate_event_is_ignored, |db: Db| async move {
    let (engine, _) = engine_on(db.clone()).await;
    let id = start(&engine, "op-1").await;
    let event = EventIn::new("evt-1", "credits_updated").with("credits", 12);
    assert_eq!(engine.send(&id, event.clone()).await.unwrap(), EventOutcome::Applied { from: "waiting".into(), to: "waiting".into() });
    assert_eq!(engine.send(&id, event).await.unwrap(), EventOutcome::Duplicate);
    let instance = engine.instance(&id).await.unwrap();
    assert_eq!(instance.context["credits"], 12);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM wf_history WHERE instance_id = $1 AND kind = 'transition'", &id).await, 1);
});

both_backends!(guard_chooses_first_option_that_holds, |db: Db| async move {
    let (engine, _) = engine_on(db).await;
    let id = start(&engine, "op-1").await;
    let outcome = engine.send(&id, EventIn::new("evt-20", "credits_updated").with("credits", 20)).await.unwrap();
    assert_eq!(outcome, EventOutcome::Applied { from: "waiting".into(), to: "done".into() });
    let instance = engine.instance(&id).await.unwrap();
    assert_eq!(instance.status, "terminal");
    assert!(engine.pending_timers(&id).await.unwrap().is_empty(), "leaving the state cancels its timers");
});

both_backends!(transition_and_outbox_commit_together, |db: Db| async move {
    let (engine, _) = engine_on(db.clone()).await;
    let id = start(&engine, "op-1").await;
    let history_before = count(&db, "SELECT COUNT(*) FROM wf_history WHERE instance_id = $1", &id).await;

    // Make the outbox insert fail inside the transaction: the state change must roll back with it.
    sqlx::query("ALTER TABLE wf_outbox RENAME TO wf_outbox_gone").execute(&db.pool).await.unwrap();
    let failed = engine.send(&id, EventIn::new("evt-x", "daily_reminder")).await;
    assert!(failed.is_err(), "send must fail when its outbox entry cannot be written");
    sqlx::query("ALTER TABLE wf_outbox_gone RENAME TO wf_outbox").execute(&db.pool).await.unwrap();

    let instance = engine.instance(&id).await.unwrap();
    assert_eq!(instance.context["reminders"], 0, "context unchanged");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM wf_history WHERE instance_id = $1", &id).await, history_before, "no history written");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM wf_events WHERE instance_id = $1", &id).await, 0, "event id not consumed");

    // The same event id succeeds once the outbox is back.
    assert!(matches!(engine.send(&id, EventIn::new("evt-x", "daily_reminder")).await.unwrap(), EventOutcome::Applied { .. }));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM wf_outbox WHERE instance_id = $1", &id).await, 2);
});

both_backends!(retries_follow_policy_then_raise_incident, |db: Db| async move {
    let (engine, clock) = engine_on(db.clone()).await;
    let id = start(&engine, "op-1").await;

    let mut delays = Vec::new();
    loop {
        let claimed = engine.claim_due_actions(&["notify", "sync", "job"], 10).await.unwrap();
        if claimed.is_empty() {
            match engine.next_due_ms().await.unwrap() {
                Some(next) if next > clock.now_utc().timestamp_millis() && delays.len() < 10 => {
                    delays.push(next - clock.now_utc().timestamp_millis());
                    clock.advance_to(Utc.timestamp_millis_opt(next).unwrap());
                    continue;
                }
                _ => break,
            }
        }
        for entry in claimed {
            engine.fail_action(&entry.id, entry.attempt(), "timeout", "gateway timed out").await.unwrap();
        }
    }
    // The policy: 4 attempts, 10 s doubling, no jitter. Three waits, then an incident.
    // The timer for 09:00 is the last "next due" seen and is not a retry delay.
    assert_eq!(&delays[..3], &[10_000, 20_000, 40_000]);
    let incidents = engine.incidents("open", 10).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].attempts, 4);
    assert_eq!(incidents[0].instance_id, id);
});

both_backends!(non_retryable_error_stops_at_once, |db: Db| async move {
    let (engine, _) = engine_on(db).await;
    start(&engine, "op-1").await;
    let entry = engine.claim_due_actions(&["notify", "sync", "job"], 10).await.unwrap().remove(0);
    assert!(engine.claim_due_actions(&["notify", "sync", "job"], 10).await.unwrap().is_empty(), "a claimed attempt is not handed out twice");
    let outcome = engine.fail_action(&entry.id, 1, "rejected", "422 invalid record").await.unwrap();
    assert!(matches!(outcome, workflows::runtime::outbox::FailureOutcome::Incident(_)));
    // A late report of the same attempt changes nothing.
    assert_eq!(engine.fail_action(&entry.id, 1, "timeout", "late").await.unwrap(), workflows::runtime::outbox::FailureOutcome::Stale);
    assert!(!engine.complete_action(&entry.id, 1, serde_json::json!({})).await.unwrap());
});

both_backends!(waiting_kinds_leave_claims_free, |db: Db| async move {
    let (engine, _) = engine_on(db.clone()).await;
    let id = start(&engine, "op-1").await;

    // Provincial records pile up while no endpoint is configured; they are older than
    // the notification and fill more than a page of claims.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
         INSERT INTO wf_outbox (id, instance_id, kind, action, policy, status, attempts, due_at, dispatched_attempt, dispatched_at, last_error, result, created_at, completed_at)
         SELECT 'waiting-sync-' || i, $1, 'sync', '{}', '{}', 'pending', 0, i, 0, NULL, NULL, NULL, i, NULL FROM n",
    )
    .bind(&id)
    .execute(&db.pool)
    .await
    .unwrap();

    let claimed = engine.claim_due_actions(&["notify"], 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "the notification is claimed past the waiting records");
    assert_eq!(claimed[0].kind, "notify");
    assert!(engine.claim_due_actions(&["notify"], 10).await.unwrap().is_empty(), "a claimed attempt is not handed out twice");
});
