//! Definitions through the API: publishing with validation, versions, diagrams,
//! checked migrations, pausing, and incident resolution by staff.

mod common;

use axum::http::StatusCode;
use common::{app, march_5_10am_beijing};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

const REMINDER: &str = include_str!("../../workflows/tests/defs/reminder.yaml");
const REMINDER_V2: &str = include_str!("../../workflows/tests/defs/reminder_v2.yaml");

both_backends!(staff_publish_migrate_and_pause, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let operator = app.login_token("13800000071").await;

    // Only association admins publish.
    let reply = app.post("/api/definitions", Some(&operator), json!({ "source": REMINDER })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // Invalid text is refused with every finding, positioned, in Chinese; nothing is stored.
    let invalid = REMINDER.replace("at: \"09:00\"", "at: \"04-31 09:00\"");
    let reply = app.post("/api/definitions", Some(&admin), json!({ "source": invalid })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    assert_eq!(reply.code(), "definitions.invalid");
    let finding = &reply.body["diagnostics"][0];
    assert_eq!(finding["code"], "INVALID_CALENDAR_DATE");
    assert_eq!(finding["line"], 23);
    assert!(finding["message"].as_str().unwrap().contains("2 月 29 日"), "{finding}");
    assert_eq!(app.get("/api/definitions/reminder_loop/versions", Some(&admin)).await.status, StatusCode::NOT_FOUND);

    // Valid text is published once; the same text again changes nothing.
    let reply = app.post("/api/definitions", Some(&admin), json!({ "source": REMINDER, "label": "每日提醒" })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["outcome"], "new");
    let v1 = reply.body["version"].as_str().unwrap().to_string();
    let again = app.post("/api/definitions", Some(&admin), json!({ "source": REMINDER })).await;
    assert_eq!(again.body["outcome"], "unchanged");

    // Versions, source and diagrams, by full version or an 8-character prefix.
    let versions = app.get("/api/definitions/reminder_loop/versions", Some(&admin)).await;
    assert_eq!(versions.body["versions"][0]["label"], "每日提醒");
    assert_eq!(versions.body["versions"][0]["published_by"].as_str().unwrap().is_empty(), false);
    let svg = app.get(&format!("/api/definitions/reminder_loop/versions/{}/diagram", &v1[..8]), Some(&admin)).await;
    assert_eq!(svg.status, StatusCode::OK, "{:?}", svg.body);
    assert_eq!(svg.headers["content-type"], "image/svg+xml; charset=utf-8");
    assert!(svg.body.as_str().is_some_and(|body| body.contains("<svg")), "{:?}", svg.body);
    let mermaid = app.get(&format!("/api/definitions/reminder_loop/versions/{v1}/diagram?format=mermaid"), Some(&admin)).await;
    assert!(mermaid.body.as_str().unwrap().contains("stateDiagram-v2"));
    assert_eq!(app.get("/api/definitions/reminder_loop/versions/0000/diagram", Some(&admin)).await.code(), "definitions.version_not_found");

    // An instance on v1, then v2 renames its state.
    let instance = app.state.engine.start("reminder_loop", &[("operator", "op-1".to_string())], Default::default()).await.unwrap();
    // (The test file's extra dead-end state is for engine tests; validation refuses it.)
    let v2_source = REMINDER_V2.replace("  parked:\n    label: 搁置\n", "");
    let reply = app.post("/api/definitions", Some(&admin), json!({ "source": v2_source, "label": "改名" })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let v2 = reply.body["version"].as_str().unwrap().to_string();

    // The plan shows the problem; applying it is refused and moves nothing.
    let plan = app.post("/api/definitions/reminder_loop/migrations/plan", Some(&admin), json!({ "from_version": v1 })).await;
    assert_eq!(plan.status, StatusCode::OK, "{:?}", plan.body);
    assert_eq!(plan.body["to_version"], v2.as_str(), "the latest version by default");
    assert_eq!(plan.body["problems"][0]["code"], "MIGRATION_TARGET_MISSING");
    let refused = app.post("/api/definitions/reminder_loop/migrations/apply", Some(&admin), json!({ "from_version": v1 })).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.code(), "definitions.migration_refused");
    assert_eq!(app.state.engine.instance(&instance.id).await.unwrap().version, v1);

    // With the map it moves, and history records who moved it.
    let body = json!({ "from_version": &v1[..10], "to_version": v2, "states": { "waiting": "pending" } });
    let applied = app.post("/api/definitions/reminder_loop/migrations/apply", Some(&admin), body).await;
    assert_eq!(applied.status, StatusCode::OK, "{:?}", applied.body);
    assert_eq!(applied.body["migrated"], 1);
    let moved = app.state.engine.instance(&instance.id).await.unwrap();
    assert_eq!((moved.version.as_str(), moved.state.as_str()), (v2.as_str(), "pending"));

    // Pause and resume one instance, then a whole version.
    let path = format!("/api/instances/{}/pause", instance.id);
    assert_eq!(app.post(&path, Some(&operator), json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post(&path, Some(&admin), json!({ "reason": "核查" })).await.body["paused"], true);
    assert_eq!(app.state.engine.instance(&instance.id).await.unwrap().status, "paused");
    assert_eq!(app.post(&format!("/api/instances/{}/resume", instance.id), Some(&admin), json!({})).await.body["resumed"], true);
    let reply = app.post(&format!("/api/definitions/reminder_loop/versions/{v2}/pause"), Some(&admin), json!({ "reason": "暂停该版本" })).await;
    assert_eq!(reply.body["paused"], 1);
    let reply = app.post(&format!("/api/definitions/reminder_loop/versions/{v2}/resume"), Some(&admin), json!({})).await;
    assert_eq!(reply.body["resumed"], 1);
});

both_backends!(staff_resolve_incidents, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    app.post("/api/definitions", Some(&admin), json!({ "source": REMINDER })).await;
    let instance = app.state.engine.start("reminder_loop", &[("operator", "op-1".to_string())], Default::default()).await.unwrap();

    // A non-retryable failure raises an incident at once.
    let engine = &app.state.engine;
    let entry = engine.claim_due_actions(&["notify"], 10).await.unwrap().into_iter().find(|e| e.instance_id == instance.id).unwrap();
    engine.fail_action(&entry.id, entry.attempt(), "rejected", "gateway refused the template").await.unwrap();
    let listed = app.get("/api/incidents", Some(&admin)).await;
    let incident = listed.body["incidents"].as_array().unwrap().iter().find(|i| i["instance_id"] == instance.id.as_str()).unwrap()["id"].as_str().unwrap().to_string();

    // Retry puts the action back in the outbox from attempt 1; a second decision is refused.
    let reply = app.post(&format!("/api/incidents/{incident}/retry"), Some(&admin), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let status: String = sqlx::query_scalar("SELECT status FROM wf_outbox WHERE id = $1").bind(&entry.id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "pending");
    let again = app.post(&format!("/api/incidents/{incident}/skip"), Some(&admin), json!({})).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.code(), "incidents.not_found");
    assert_eq!(app.post(&format!("/api/incidents/{incident}/explode"), Some(&admin), json!({})).await.status, StatusCode::NOT_FOUND);

    let history = engine.history(&instance.id, 0, 50).await.unwrap();
    assert!(history.iter().any(|h| h.kind == "incident" && h.detail["resolution"] == "retry"), "the decision is in history");
});
