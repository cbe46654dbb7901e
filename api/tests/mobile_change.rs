//! Changing an operator's mobile number: by the operator with codes to both numbers, by
//! the unit admin and by an association admin for a lost number, and the refusals,
//! through the real router on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use chrono::Duration;
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;

const OLD: &str = "13800138001";
const NEW: &str = "13900139002";

/// Creates a unit and an enrolled operator of it; returns (operator token, operator
/// id, unit id, unit admin token).
async fn operator_of_unit(app: &TestApp) -> (String, String, String, String) {
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4L1111");
    let (unit_id, unit_admin) = app.create_unit(&admin, &unit_uscc, "长沙电梯维保有限公司", "unit-a").await;
    let (token, operator_id, _) = app.enrolled_operator(OLD, &id_number("43010219780303502"), &unit_uscc).await;
    // The login code went to the old number just now; the per-number minute passes.
    app.clock.advance(Duration::seconds(61));
    (token, operator_id, unit_id, unit_admin)
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

async fn registration_key(app: &TestApp, operator_mobile: &str) -> Option<String> {
    app.state.engine.find_instance("registration", &format!("mobile={operator_mobile}")).await.unwrap().map(|instance| instance.id)
}

async fn account_id(app: &TestApp, login: &str) -> String {
    sqlx::query_scalar("SELECT id FROM accounts WHERE login = $1").bind(login).fetch_one(&app.db.pool).await.unwrap()
}

async fn change_row(app: &TestApp, operator_id: &str) -> (String, String, String, Option<String>, String) {
    sqlx::query_as("SELECT kind, old_mobile_masked, new_mobile_masked, reason, changed_by FROM mobile_changes WHERE operator_id = $1")
        .bind(operator_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

both_backends!(operator_changes_own_number_with_both_codes, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let (token, operator_id, _, _) = operator_of_unit(&app).await;
    let registration = registration_key(&app, OLD).await.expect("the old number has a registration");
    // A second sign-in of the same operator, on another device.
    let other_device = app.login_token(OLD).await;
    app.clock.advance(Duration::seconds(61));

    let reply = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": NEW })).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["new_mobile_masked"], "139****9002");
    assert_eq!(reply.body["old_code_sent"], true);
    assert!(!reply.body.to_string().contains("secret"), "the response must not carry a code");
    let request_id = reply.body["request_id"].as_str().unwrap().to_string();
    let new_code = app.latest_code(NEW).await;
    let old_code = app.latest_code(OLD).await;
    assert!(registration_key(&app, NEW).await.is_none(), "a change code does not start a registration for the new number");

    // A change code cannot sign in.
    let login = app.post("/api/auth/login", None, json!({ "mobile": NEW, "code": new_code })).await;
    assert_eq!(login.status, StatusCode::BAD_REQUEST);
    assert_eq!(login.code(), "login.code_missing");

    // A wrong old code counts a try and names old_code; nothing changes.
    let confirm = json!({ "request_id": request_id, "new_code": new_code, "old_code": wrong(&old_code) });
    let reply = app.post("/api/operator/mobile-change/confirm", Some(&token), confirm).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert_eq!(reply.code(), "login.code_wrong");
    assert_eq!(reply.body["field"], "old_code");
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE mobile = $1", OLD).await, 1);

    let confirm = json!({ "request_id": request_id, "new_code": new_code, "old_code": old_code });
    let reply = app.post("/api/operator/mobile-change/confirm", Some(&token), confirm.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["changed"], true);
    assert_eq!(reply.body["sessions_ended"], 1);

    // The operator row and the registration instance moved; the instance is the same.
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE mobile = $1", NEW).await, 1);
    assert_eq!(registration_key(&app, NEW).await.as_deref(), Some(registration.as_str()));
    assert!(registration_key(&app, OLD).await.is_none());
    let history = app.state.engine.history(&registration, 0, 100).await.unwrap();
    let rekeyed = history.iter().find(|record| record.kind == "rekeyed").expect("a rekeyed history entry");
    assert!(!rekeyed.detail.to_string().contains(NEW), "history keeps masked keys: {}", rekeyed.detail);

    // This session goes on; the other device's session ended.
    assert_eq!(app.get("/api/operator/me", Some(&token)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/operator/me", Some(&other_device)).await.status, StatusCode::UNAUTHORIZED);

    // The change is recorded masked, in the table and the archive.
    let (kind, old_masked, new_masked, reason, changed_by) = change_row(&app, &operator_id).await;
    assert_eq!((kind.as_str(), old_masked.as_str(), new_masked.as_str()), ("self", "138****8001", "139****9002"));
    assert_eq!(reason, None);
    assert_eq!(changed_by, format!("operator:{operator_id}"));
    let archive = app.get(&format!("/api/archives/{operator_id}"), Some(&token)).await;
    let entries = archive.body["entries"].as_array().unwrap();
    assert!(entries.iter().any(|entry| entry["kind"] == "mobile_changed"), "{:?}", archive.body);

    // A notice to the old number is queued, with the masked new number only.
    let notices: Vec<String> = sqlx::query_scalar("SELECT action FROM wf_outbox WHERE kind = 'notify' AND action LIKE '%mobile_changed%'").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(notices.len(), 1);
    let notice: Value = serde_json::from_str(&notices[0]).unwrap();
    assert_eq!(notice["subject"]["mobile"], OLD);
    assert_eq!(notice["payload"]["new_mobile_masked"], "139****9002");

    // Confirming again is refused, and the new number signs in as the same operator.
    let again = app.post("/api/operator/mobile-change/confirm", Some(&token), confirm).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "mobile_change.request_completed");
    app.clock.advance(Duration::seconds(61));
    let login = app.login(NEW).await;
    assert_eq!(login["operator_id"], operator_id.as_str());
    assert_eq!(login["next"], "home");
});

both_backends!(new_number_of_another_operator_or_registration_is_refused, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let (token, _, _, _) = operator_of_unit(&app).await;
    app.login(NEW).await;
    app.clock.advance(Duration::seconds(61));

    let reply = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": NEW })).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    assert_eq!(reply.code(), "mobile_change.mobile_taken");
    assert_eq!(reply.body["field"], "new_mobile");
    assert!(reply.message().contains("new_mobile"), "{}", reply.message());
    assert!(reply.message().contains("139****9002"), "{}", reply.message());

    // A number that only requested a login code has a registration of its own.
    let login_code_mobile = "13700137003";
    app.request_code(login_code_mobile).await;
    let reply = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": login_code_mobile })).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "mobile_change.mobile_registered");
    assert_eq!(reply.body["field"], "new_mobile");

    let reply = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": OLD })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "mobile_change.same_number");
    let reply = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": "12345" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "mobile_change.new_mobile_invalid");
    assert_eq!(reply.body["field"], "new_mobile");
    assert_eq!(app.count("SELECT COUNT(*) FROM mobile_change_requests WHERE new_mobile <> $1", "").await, 0, "no request was stored");
});

both_backends!(change_codes_share_login_limits_and_expire, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let (token, _, _, _) = operator_of_unit(&app).await;

    let first = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": NEW })).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    // Within the minute, neither another change request nor a login code is sent.
    let again = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": NEW })).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.code(), "login_code.too_soon");
    let login_code = app.post("/api/auth/code", None, json!({ "mobile": OLD })).await;
    assert_eq!(login_code.status, StatusCode::TOO_MANY_REQUESTS);

    // Five wrong new codes void the code.
    let request_id = first.body["request_id"].as_str().unwrap();
    let new_code = app.latest_code(NEW).await;
    let old_code = app.latest_code(OLD).await;
    for _ in 0..5 {
        let reply = app.post("/api/operator/mobile-change/confirm", Some(&token), json!({ "request_id": request_id, "new_code": wrong(&new_code), "old_code": old_code })).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["field"], "new_code");
    }
    let reply = app.post("/api/operator/mobile-change/confirm", Some(&token), json!({ "request_id": request_id, "new_code": new_code, "old_code": old_code })).await;
    assert_eq!(reply.code(), "login.code_locked");

    // A new request after the minute; past five minutes it has expired.
    app.clock.advance(Duration::seconds(61));
    let second = app.post("/api/operator/mobile-change", Some(&token), json!({ "new_mobile": NEW })).await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    let request_id = second.body["request_id"].as_str().unwrap();
    let new_code = app.latest_code(NEW).await;
    let old_code = app.latest_code(OLD).await;
    app.clock.advance(Duration::minutes(6));
    let reply = app.post("/api/operator/mobile-change/confirm", Some(&token), json!({ "request_id": request_id, "new_code": new_code, "old_code": old_code })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "mobile_change.request_expired");
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE mobile = $1", OLD).await, 1);
});

both_backends!(unit_admin_changes_a_lost_number, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let (token, operator_id, unit_id, unit_admin) = operator_of_unit(&app).await;
    let path = format!("/api/units/{unit_id}/operators/{operator_id}/mobile-change");

    let reply = app.post(&path, Some(&unit_admin), json!({ "new_mobile": NEW, "reason": " " })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["field"], "reason");

    let reply = app.post(&path, Some(&unit_admin), json!({ "new_mobile": NEW, "reason": "原号码已停用" })).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["old_code_sent"], false);
    assert!(!reply.body.to_string().contains(NEW), "numbers appear masked: {}", reply.body);
    assert!(!reply.body.to_string().contains(OLD), "numbers appear masked: {}", reply.body);
    let request_id = reply.body["request_id"].as_str().unwrap().to_string();
    assert_eq!(app.count("SELECT COUNT(*) FROM login_codes WHERE mobile = $1 AND purpose = 'mobile_change_old'", OLD).await, 0, "the lost number gets no code");

    // The operator's own confirm route does not take an override request.
    let reply = app.post("/api/operator/mobile-change/confirm", Some(&token), json!({ "request_id": request_id, "new_code": "000000", "old_code": "000000" })).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let new_code = app.latest_code(NEW).await;
    let reply = app.post(&format!("{path}/confirm"), Some(&unit_admin), json!({ "request_id": request_id, "new_code": new_code })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["new_mobile_masked"], "139****9002");
    assert_eq!(app.get("/api/operator/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED, "every session of the operator ended");

    let (kind, _, _, reason, changed_by) = change_row(&app, &operator_id).await;
    assert_eq!(kind, "unit_override");
    assert_eq!(reason.as_deref(), Some("原号码已停用"));
    assert_eq!(changed_by, account_id(&app, "unit-a").await);
});

both_backends!(association_admin_finds_and_changes_any_operator, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let (_, operator_id, _, _) = operator_of_unit(&app).await;
    let admin = app.password_login("assoc-admin", common::ADMIN_PASSWORD).await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-1", None).await;

    let found = app.get(&format!("/api/staff/operators?q={OLD}"), Some(&admin)).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    let operators = found.body["operators"].as_array().unwrap();
    assert_eq!(operators.len(), 1);
    assert_eq!(operators[0]["id"], operator_id.as_str());
    assert_eq!(operators[0]["mobile_masked"], "138****8001");
    assert!(!found.body.to_string().contains(OLD), "the search shows masked numbers");
    assert_eq!(app.get(&format!("/api/staff/operators?q={OLD}"), Some(&reviewer)).await.status, StatusCode::FORBIDDEN);

    let path = format!("/api/staff/operators/{operator_id}/mobile-change");
    let body = json!({ "new_mobile": NEW, "reason": "本人来电，原号码丢失" });
    assert_eq!(app.post(&path, Some(&reviewer), body.clone()).await.status, StatusCode::FORBIDDEN);
    let reply = app.post(&path, Some(&admin), body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let request_id = reply.body["request_id"].as_str().unwrap().to_string();
    let new_code = app.latest_code(NEW).await;
    let reply = app.post(&format!("{path}/confirm"), Some(&admin), json!({ "request_id": request_id, "new_code": new_code })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);

    let (kind, _, new_masked, _, changed_by) = change_row(&app, &operator_id).await;
    assert_eq!((kind.as_str(), new_masked.as_str()), ("association_override", "139****9002"));
    assert_eq!(changed_by, account_id(&app, "assoc-admin").await);
    let found = app.get(&format!("/api/staff/operators?q={NEW}"), Some(&admin)).await;
    assert_eq!(found.body["operators"][0]["mobile_changes"][0]["kind"], "association_override");
});
