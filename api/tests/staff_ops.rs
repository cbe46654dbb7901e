//! The routes the staff operations pages read, on each backend: validating a definition
//! without publishing it, versions with instances by state, the institution register
//! without secrets, the outbound sync's state and the incident kind filter.

mod common;

use axum::http::StatusCode;
use common::{app, march_5_10am_beijing, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

const REMINDER: &str = include_str!("../../workflows/tests/defs/reminder.yaml");

both_backends!(validate_reports_positions_stores_nothing, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-1", None).await;
    let (_, unit_admin) = app.create_unit(&admin, &uscc("91430100MA4L5555"), "长沙电梯维保有限公司", "unit-admin-v").await;

    // An invalid date is reported at its line and column, in Chinese, to a reviewer too.
    let invalid = REMINDER.replace("at: \"09:00\"", "at: \"04-31 09:00\"");
    let reply = app.post("/api/definitions/validate", Some(&reviewer), json!({ "source": invalid })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["valid"], false);
    assert_eq!(reply.body["errors"], 1);
    let finding = &reply.body["diagnostics"][0];
    assert_eq!(finding["code"], "INVALID_CALENDAR_DATE");
    assert_eq!(finding["line"], 23);
    assert!(finding["column"].as_u64().unwrap() > 0, "{finding}");
    assert!(finding["message"].as_str().unwrap().contains("2 月 29 日"), "{finding}");

    // Valid text names its definition and the version publishing would store.
    let reply = app.post("/api/definitions/validate", Some(&admin), json!({ "source": REMINDER })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["valid"], true);
    assert_eq!(reply.body["definition_id"], "reminder_loop");
    let validated = reply.body["version"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/definitions/reminder_loop/versions", Some(&admin)).await.status, StatusCode::NOT_FOUND, "validation stores nothing");
    let published = app.post("/api/definitions", Some(&admin), json!({ "source": REMINDER })).await;
    assert_eq!(published.body["version"], validated.as_str());

    // Text that is not YAML is a diagnostic too, not a failed request.
    let reply = app.post("/api/definitions/validate", Some(&admin), json!({ "source": "id: [unclosed" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["valid"], false);
    assert!(reply.body["diagnostics"][0]["line"].as_u64().unwrap() >= 1, "{:?}", reply.body);

    assert_eq!(app.post("/api/definitions/validate", Some(&unit_admin), json!({ "source": REMINDER })).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post("/api/definitions/validate", None, json!({ "source": REMINDER })).await.status, StatusCode::UNAUTHORIZED);
});

both_backends!(versions_count_instances_by_state, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let reply = app.post("/api/definitions", Some(&admin), json!({ "source": REMINDER, "label": "每日提醒" })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let engine = &app.state.engine;
    engine.start("reminder_loop", &[("operator", "op-1".to_string())], Default::default()).await.unwrap();
    let second = engine.start("reminder_loop", &[("operator", "op-2".to_string())], Default::default()).await.unwrap();
    engine.send(&second.id, EventIn::new("unlock-2", "unlock")).await.unwrap();

    let reply = app.get("/api/definitions/reminder_loop/versions", Some(&admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let latest = &reply.body["versions"][0];
    assert_eq!(latest["label"], "每日提醒");
    assert_eq!(latest["published_by_name"], "测试账号", "the author's display name");
    let instances = latest["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{instances:?}");
    let waiting = instances.iter().find(|row| row["state"] == "waiting").expect("a waiting row");
    assert_eq!(waiting["state_label"], "等待");
    assert_eq!(waiting["status"], "running");
    assert_eq!(waiting["count"], 1);
    let open = instances.iter().find(|row| row["state"] == "open").expect("an open row");
    assert_eq!(open["count"], 1);
});

both_backends!(institution_register_hides_secrets, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-2", None).await;
    let body = json!({ "name": "湖南省特种设备安全培训中心", "uscc": uscc("91430100MA4L0000"), "items": ["T"] });
    let created = app.post("/api/institutions", Some(&admin), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_string();

    let reply = app.get("/api/institutions/registered", Some(&reviewer)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let listed = &reply.body["institutions"][0];
    assert_eq!(listed["name"], "湖南省特种设备安全培训中心");
    assert_eq!(listed["key_id"], created.body["key_id"]);
    assert_eq!(listed["status"], "approved");
    assert_eq!(listed["items"][0]["code"], "T");
    assert!(!listed["items"][0]["name"].as_str().unwrap().is_empty(), "{listed}");
    assert!(!reply.body.to_string().contains(&secret), "the secret is never listed");
    assert!(listed.get("secret").is_none());
    let integration = &reply.body["integration"];
    assert_eq!(integration["sessions_path"], "/api/institution/sessions");
    assert_eq!(integration["handoff_verify_path"], "/api/institution/handoff/verify");
    assert_eq!(integration["signature_window_secs"], 300);
    assert_eq!(integration["handoff_minutes"], 30);

    let operator = app.login_token("13800000072").await;
    assert_eq!(app.get("/api/institutions/registered", Some(&operator)).await.status, StatusCode::FORBIDDEN);
});

both_backends!(sync_status_follows_backlog, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;

    // Nothing to send yet.
    let reply = app.get("/api/sync/status", Some(&admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["state"], "idle");
    assert_eq!(reply.body["dead_letters"], 0);
    assert!(reply.body["oldest_waiting_at"].is_null());

    // A registration queues provincial records.
    let engine = &app.state.engine;
    let instance = engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE kind = 'sync' AND status = 'pending'").fetch_one(&app.db.pool).await.unwrap();
    assert!(queued >= 1);
    let reply = app.get("/api/sync/status", Some(&admin)).await;
    assert_eq!(reply.body["state"], "sending");
    assert_eq!(reply.body["outbox"]["waiting"], queued);
    assert!(reply.body["oldest_waiting_at"].is_i64());

    // A retryable failure, such as a missing endpoint, shows as retrying with its error.
    let first: String = sqlx::query_scalar("SELECT id FROM wf_outbox WHERE kind = 'sync' ORDER BY created_at, id LIMIT 1").fetch_one(&app.db.pool).await.unwrap();
    engine.fail_action(&first, 1, "retryable", "no provincial endpoint configured").await.unwrap();
    let reply = app.get("/api/sync/status", Some(&admin)).await;
    assert_eq!(reply.body["state"], "retrying");
    assert_eq!(reply.body["outbox"]["retrying"], 1);
    assert!(reply.body["last_error"].as_str().unwrap().contains("no provincial endpoint configured"), "{:?}", reply.body);

    // A rejected record with its incident waits for staff.
    sqlx::query(
        "INSERT INTO sync_records (idempotency_key, operator_ref, sequence, kind, body, status, created_at, occurred_at, instance_id)
         VALUES ($1, 'op1', 1, 'operator', '{}', 'rejected', 0, 0, $2)",
    )
    .bind(&first)
    .bind(&instance.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    engine.fail_action(&first, 2, "rejected", "HTTP 422 invalid_record").await.unwrap();
    let reply = app.get("/api/sync/status", Some(&admin)).await;
    assert_eq!(reply.body["state"], "attention");
    assert_eq!(reply.body["dead_letters"], 1);
    assert_eq!(reply.body["outbox"]["failed"], 1);
    assert_eq!(reply.body["records"]["rejected"], 1);

    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-3", None).await;
    assert_eq!(app.get("/api/sync/status", Some(&reviewer)).await.status, StatusCode::OK);
    let operator = app.login_token("13800000073").await;
    assert_eq!(app.get("/api/sync/status", Some(&operator)).await.status, StatusCode::FORBIDDEN);
});

both_backends!(incidents_filter_by_kind, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    app.post("/api/definitions", Some(&admin), json!({ "source": REMINDER })).await;
    let engine = &app.state.engine;
    let instance = engine.start("reminder_loop", &[("operator", "op-1".to_string())], Default::default()).await.unwrap();
    let entry = engine.claim_due_actions(&["notify"], 10).await.unwrap().into_iter().find(|entry| entry.instance_id == instance.id).unwrap();
    engine.fail_action(&entry.id, entry.attempt(), "rejected", "gateway refused the template").await.unwrap();

    let all = app.get("/api/incidents", Some(&admin)).await;
    assert_eq!(all.body["incidents"].as_array().unwrap().len(), 1, "{:?}", all.body);
    let failed = app.get("/api/incidents?kind=action_failed", Some(&admin)).await;
    assert_eq!(failed.body["incidents"].as_array().unwrap().len(), 1, "{:?}", failed.body);
    assert_eq!(failed.body["incidents"][0]["kind"], "action_failed");
    let stuck = app.get("/api/incidents?kind=stuck_instance", Some(&admin)).await;
    assert!(stuck.body["incidents"].as_array().unwrap().is_empty(), "{:?}", stuck.body);
    let blank = app.get("/api/incidents?kind=", Some(&admin)).await;
    assert_eq!(blank.body["incidents"].as_array().unwrap().len(), 1, "a blank kind is no filter");
});
