//! Fixtures of the staff operations tests: an incident of a failed notification and a
//! provincial record that the receiver rejected, each as the workers leave them.

#![allow(dead_code)]

use axum::http::StatusCode;
use serde_json::json;
use workflows::runtime::EventIn;

use crate::common::TestApp;

/// A small definition with a notification on entry, from the engine's tests.
pub const REMINDER: &str = include_str!("../../../workflows/tests/defs/reminder.yaml");

/// Its second version, which renames the state `waiting` to `pending`.
pub const REMINDER_V2: &str = include_str!("../../../workflows/tests/defs/reminder_v2.yaml");

/// Publishes [`REMINDER`] as "每日提醒" unless it is published, starts an instance for
/// `operator` and fails its first notification for good with `error`. Returns the
/// incident id.
pub async fn failed_notification(app: &TestApp, admin: &str, operator: &str, error: &str) -> String {
    let reply = app.post("/api/definitions", Some(admin), json!({ "source": REMINDER, "label": "每日提醒" })).await;
    assert!(reply.status == StatusCode::CREATED, "{:?}", reply.body);
    let engine = &app.state.engine;
    let instance = engine.start("reminder_loop", &[("operator", operator.to_string())], Default::default()).await.unwrap();
    let entry = engine.claim_due_actions(&["notify"], 10).await.unwrap().into_iter().find(|entry| entry.instance_id == instance.id).unwrap();
    engine.fail_action(&entry.id, entry.attempt(), "rejected", error).await.unwrap();
    sqlx::query_scalar("SELECT id FROM wf_incidents WHERE outbox_id = $1").bind(&entry.id).fetch_one(&app.db.pool).await.unwrap()
}

/// Registers `mobile` and leaves its first provincial record rejected with a 422 and an
/// open incident, as operator `operator_ref`. Returns the incident id.
pub async fn rejected_sync_record(app: &TestApp, mobile: &str, operator_ref: &str) -> String {
    let engine = &app.state.engine;
    let instance = engine.start("registration", &[("mobile", mobile.to_string())], Default::default()).await.unwrap();
    engine.send(&instance.id, EventIn::new(format!("reg-{mobile}"), "registered")).await.unwrap();
    engine.send(&instance.id, EventIn::new(format!("info-{mobile}"), "info_completed").with("has_unit", true)).await.unwrap();
    let outbox_id: String = sqlx::query_scalar("SELECT id FROM wf_outbox WHERE kind = 'sync' AND instance_id = $1 ORDER BY created_at, id LIMIT 1")
        .bind(&instance.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO sync_records (idempotency_key, operator_ref, sequence, kind, body, status, created_at, occurred_at, instance_id)
         VALUES ($1, $2, 1, 'operator', '{\"name\":\"陈超\",\"id_number\":null}', 'rejected', 0, 0, $3)",
    )
    .bind(&outbox_id)
    .bind(operator_ref)
    .bind(&instance.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    engine.fail_action(&outbox_id, 1, "rejected", "HTTP 422 invalid_record (body.id_number): id_number is missing").await.unwrap();
    sqlx::query_scalar("SELECT id FROM wf_incidents WHERE outbox_id = $1").bind(&outbox_id).fetch_one(&app.db.pool).await.unwrap()
}
