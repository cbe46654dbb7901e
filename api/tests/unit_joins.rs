//! Join requests between units, through the real router on SQLite and PostgreSQL:
//! release by the current unit, decline, override by the association, and the rules
//! that keep one pending request per operator.

mod common;

use axum::http::StatusCode;
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;

/// Two units with an admin each, and operator 王小明 of unit A.
struct Units {
    admin: String,
    unit_a: String,
    admin_a: String,
    unit_b: String,
    admin_b: String,
    operator_id: String,
    id_number: String,
}

async fn two_units(app: &TestApp, suffix: &str) -> Units {
    let admin = app.admin_token().await;
    let uscc_a = uscc(&format!("91430100MA4J{suffix}1"));
    let (unit_a, admin_a) = app.create_unit(&admin, &uscc_a, "甲方电梯公司", &format!("join-a-{suffix}")).await;
    let (unit_b, admin_b) = app.create_unit(&admin, &uscc(&format!("91430100MA4J{suffix}2")), "乙方电梯公司", &format!("join-b-{suffix}")).await;
    let id_number = id_number("43010219850505123");
    let token = app.login_token("13600000001").await;
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": "王小明", "id_number": id_number })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": uscc_a, "items": [{ "item_code": "T" }] })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let operator_id = reply.body["operator_id"].as_str().unwrap().to_string();
    Units { admin, unit_a, admin_a, unit_b, admin_b, operator_id, id_number }
}

/// Sends unit B's request for the operator and returns it.
async fn request_operator(app: &TestApp, units: &Units) -> Value {
    let body = json!({ "id_number": units.id_number, "name": "王小明", "reason": "已调入我单位工作" });
    let reply = app.post(&format!("/api/units/{}/join-requests", units.unit_b), Some(&units.admin_b), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body
}

async fn decide(app: &TestApp, token: &str, unit_id: &str, request_id: &str, decision: &str, reason: &str) -> common::Reply {
    let path = format!("/api/units/{unit_id}/join-requests/{request_id}/decision");
    app.post(&path, Some(token), json!({ "decision": decision, "reason": reason })).await
}

/// Returns the stored actions of the notifications queued so far, oldest first.
async fn queued_notifications(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM wf_outbox WHERE kind = 'notify' ORDER BY created_at, id").fetch_all(&app.db.pool).await.unwrap()
}

both_backends!(join_request_released, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let units = two_units(&app, "000").await;
    let request = request_operator(&app, &units).await;
    let request_id = request["id"].as_str().unwrap();
    assert_eq!(request["status"], "pending");
    assert_eq!(request["current_unit_name"], "甲方电梯公司");
    assert!(!request.to_string().contains(&units.id_number), "the full ID number stays out: {request}");

    // Unit A lists it as incoming, unit B as outgoing without the operator's id.
    let listed = app.get(&format!("/api/units/{}/join-requests", units.unit_a), Some(&units.admin_a)).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(listed.body["incoming"][0]["id"], request_id);
    assert_eq!(listed.body["incoming"][0]["operator_id"], units.operator_id.as_str());
    let listed = app.get(&format!("/api/units/{}/join-requests", units.unit_b), Some(&units.admin_b)).await;
    assert_eq!(listed.body["outgoing"][0]["id"], request_id);
    assert_eq!(listed.body["outgoing"][0]["operator_id"], Value::Null);

    // Unit B cannot decide its own request, and a blank reason is refused.
    let reply = decide(&app, &units.admin_b, &units.unit_a, request_id, "release", "同意").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = decide(&app, &units.admin_b, &units.unit_b, request_id, "release", "同意").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "the request is not unit B's to decide: {:?}", reply.body);
    let reply = decide(&app, &units.admin_a, &units.unit_a, request_id, "release", "  ").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["field"], "reason");
    assert!(reply.message().contains("理由"), "{}", reply.message());

    // Unit A releases: the operator moves to unit B and the history keeps both periods.
    let before = queued_notifications(&app).await;
    let reply = decide(&app, &units.admin_a, &units.unit_a, request_id, "release", "本人已离职").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "released");
    assert_eq!(reply.body["decided_kind"], "release");
    let unit: Option<String> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1").bind(&units.operator_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(unit.as_deref(), Some(units.unit_b.as_str()));
    let periods: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT unit_id, end_kind, source FROM affiliations WHERE operator_id = $1 ORDER BY started_at, id").bind(&units.operator_id).fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(periods.len(), 2, "{periods:?}");
    assert_eq!(periods[0], (units.unit_a.clone(), Some("release".to_string()), Some("info_completion".to_string())));
    assert_eq!(periods[1], (units.unit_b.clone(), None, Some("join_request".to_string())));
    let items = app.count("SELECT COUNT(*) FROM operator_items WHERE operator_id = $1", &units.operator_id).await;
    assert_eq!(items, 1, "the certificates held stay with the person");

    // Both admins are notified: unit_released goes to the operator and unit A, unit_joined to unit B.
    let after = queued_notifications(&app).await;
    let added: Vec<&String> = after.iter().filter(|action| !before.contains(action)).collect();
    assert!(added.iter().any(|action| action.contains("unit_released") && action.contains("previous_unit_admin")), "{added:?}");
    assert!(added.iter().any(|action| action.contains("unit_joined") && action.contains("unit_admin")), "{added:?}");
    let registration = app.state.engine.find_instance("registration", "mobile=13600000001").await.unwrap().unwrap();
    assert_eq!(registration.state, "complete");

    // Unit A keeps its period's records; the operator now belongs to unit B.
    let records = app.get(&format!("/api/units/{}/operators/{}/records", units.unit_a, units.operator_id), Some(&units.admin_a)).await;
    assert_eq!(records.status, StatusCode::OK, "{:?}", records.body);
    assert_eq!(records.body["current_unit"], false);
    let records = app.get(&format!("/api/units/{}/operators/{}/records", units.unit_b, units.operator_id), Some(&units.admin_b)).await;
    assert_eq!(records.body["current_unit"], true);

    // A decided request cannot be decided again.
    let reply = decide(&app, &units.admin_a, &units.unit_a, request_id, "decline", "重复").await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "unit_join.already_decided");
    let reply = decide(&app, &units.admin, &units.unit_a, request_id, "release", "重复").await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "unit_join.already_decided");
});

both_backends!(join_request_declined_then_overridden, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let units = two_units(&app, "001").await;
    let first = request_operator(&app, &units).await;
    let first_id = first["id"].as_str().unwrap();

    // A second pending request for the same operator is refused.
    let body = json!({ "id_number": units.id_number, "name": "王小明" });
    let reply = app.post(&format!("/api/units/{}/join-requests", units.unit_b), Some(&units.admin_b), body.clone()).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "unit_join.pending_exists");
    assert!(reply.message().contains("待处理"), "{}", reply.message());

    // Unit A declines with a reason; the operator stays.
    let reply = decide(&app, &units.admin_a, &units.unit_a, first_id, "decline", "合同未到期").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "declined");
    assert_eq!(reply.body["decision_reason"], "合同未到期");
    let unit: Option<String> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1").bind(&units.operator_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(unit.as_deref(), Some(units.unit_a.as_str()));
    let listed = app.get(&format!("/api/units/{}/join-requests", units.unit_b), Some(&units.admin_b)).await;
    assert_eq!(listed.body["outgoing"][0]["status"], "declined");
    assert_eq!(listed.body["outgoing"][0]["decision_reason"], "合同未到期");

    // After the decline a new request may be made, and the association overrides.
    let reply = app.post(&format!("/api/units/{}/join-requests", units.unit_b), Some(&units.admin_b), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let second_id = reply.body["id"].as_str().unwrap().to_string();
    let reviewer = app.account_token(api::auth::Role::Reviewer, "join-reviewer", None).await;
    let reply = decide(&app, &reviewer, &units.unit_a, &second_id, "release", "协会核实").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "reviewers may not override");
    let reply = decide(&app, &units.admin, &units.unit_a, &second_id, "release", "协会核实后办理").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["decided_kind"], "override");
    let kinds: Vec<Option<String>> = sqlx::query_scalar("SELECT end_kind FROM affiliations WHERE operator_id = $1 ORDER BY started_at, id").bind(&units.operator_id).fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(kinds, vec![Some("override".to_string()), None]);
});

both_backends!(join_request_input_rules, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let units = two_units(&app, "002").await;
    let path = format!("/api/units/{}/join-requests", units.unit_b);

    // A wrong name gets the same response as an unknown number.
    let reply = app.post(&path, Some(&units.admin_b), json!({ "id_number": units.id_number, "name": "王大明" })).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "unit_join.operator_not_found");
    assert_eq!(reply.body["field"], "id_number");

    // An invalid ID number is named with the field.
    let reply = app.post(&path, Some(&units.admin_b), json!({ "id_number": "430102", "name": "王小明" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["field"], "id_number");

    // Unit A asking for its own operator, and unit A's admin asking in unit B's name.
    let own = app.post(&format!("/api/units/{}/join-requests", units.unit_a), Some(&units.admin_a), json!({ "id_number": units.id_number, "name": "王小明" })).await;
    assert_eq!(own.status, StatusCode::CONFLICT);
    assert_eq!(own.code(), "unit_join.already_member");
    let foreign = app.post(&path, Some(&units.admin_a), json!({ "id_number": units.id_number, "name": "王小明" })).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let foreign = app.get(&path, Some(&units.admin_a)).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    // An operator without a unit joins without a request, and the message explains how.
    let token = app.login_token("13600000002").await;
    let free_id = id_number("43010219850505234");
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": "李自由", "id_number": free_id })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = app.post(&path, Some(&units.admin_b), json!({ "id_number": free_id, "name": "李自由" })).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "unit_join.no_current_unit");
    assert!(reply.message().contains("完善信息"), "{}", reply.message());

    // An operator released by hand after the request makes the request lapse.
    let request = request_operator(&app, &units).await;
    let request_id = request["id"].as_str().unwrap();
    let release = format!("/api/units/{}/operators/{}/release", units.unit_a, units.operator_id);
    let reply = app.post(&release, Some(&units.admin_a), json!({ "reason": "离职" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = decide(&app, &units.admin_a, &units.unit_a, request_id, "release", "同意").await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "unit_join.lapsed");
    let status: String = sqlx::query_scalar("SELECT status FROM join_requests WHERE id = $1").bind(request_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "lapsed");
});
