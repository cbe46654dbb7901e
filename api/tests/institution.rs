//! Hand-off tokens and signed session reports from training institutions.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use common::{app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

both_backends!(handoff_token_verifies_once, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L6666");
    app.create_unit(&admin, &unit, "丁公司", "unit-d").await;
    let (token, operator_id, enrollment_id) = app.enrolled_operator("13800000011", &id_number("43010219800101123"), &unit).await;

    // The institution is registered through the API by the association.
    let reply = app.post("/api/institutions", Some(&admin), json!({ "name": "长沙特种设备培训中心", "uscc": uscc("52430100MJ000000"), "items": ["T", "N1"] })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let institution: api::CreatedInstitution = serde_json::from_value(reply.body.clone()).unwrap();

    let reply = app.post(&format!("/api/enrollments/{enrollment_id}/handoff"), Some(&token), json!({ "institution_id": institution.id })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let handoff_token = reply.body["token"].as_str().unwrap().to_string();
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(app.instance_state(&instance_id).await, "studying");

    let verify = app.signed(&institution, "/api/institution/handoff/verify", &json!({ "token": handoff_token })).await;
    assert_eq!(verify.status, StatusCode::OK, "{:?}", verify.body);
    assert_eq!(verify.body["operator_id"], operator_id.as_str());
    assert_eq!(verify.body["item_code"], "T");
    assert!(verify.body["id_number_masked"].as_str().unwrap().contains('*'));

    let again = app.signed(&institution, "/api/institution/handoff/verify", &json!({ "token": handoff_token })).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "handoff.token_used");

    // A tampered token fails, and so does an expired one.
    let tampered = format!("{}0", handoff_token);
    let reply = app.signed(&institution, "/api/institution/handoff/verify", &json!({ "token": tampered })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app.post(&format!("/api/enrollments/{enrollment_id}/handoff"), Some(&token), json!({ "institution_id": institution.id })).await;
    let late_token = reply.body["token"].as_str().unwrap().to_string();
    app.clock.advance(Duration::minutes(31));
    let reply = app.signed(&institution, "/api/institution/handoff/verify", &json!({ "token": late_token })).await;
    assert_eq!(reply.code(), "handoff.token_expired");
});

both_backends!(session_reports_are_signed_and_counted_once, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L7777");
    app.create_unit(&admin, &unit, "戊公司", "unit-e").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000012", &id_number("43010219800101124"), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;
    let start = Utc.with_ymd_and_hms(2026, 3, 5, 0, 30, 0).unwrap();

    // A correctly signed report is accepted once.
    let first = app.report_session(&institution, &enrollment_id, "stmt-1", "T-01", start, 50).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    assert_eq!(first.body["duplicate"], false);
    let session_id = first.body["session_id"].as_str().unwrap().to_string();

    // The same statement again, later, is a duplicate and counts nothing twice.
    app.clock.advance(Duration::minutes(5));
    let again = app.report_session(&institution, &enrollment_id, "stmt-1", "T-01", start, 50).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["session_id"], session_id.as_str());
    assert_eq!(app.count("SELECT COUNT(*) FROM study_sessions WHERE enrollment_id = $1", &enrollment_id).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM wf_events WHERE event_id = $1", &format!("session:{session_id}")).await, 1);
    let screens = app.count("SELECT COUNT(*) FROM wf_outbox WHERE kind = 'job' AND action LIKE $1", &format!("%session:{session_id}%")).await;
    assert_eq!(screens, 1, "one screening job");

    // A wrong signature is 401.
    let body = json!({ "statement_id": "stmt-2", "enrollment_id": enrollment_id, "course_code": "T-02", "started_at": start.to_rfc3339(), "ended_at": (start + Duration::minutes(40)).to_rfc3339(), "face_check": "passed" });
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/institution/sessions")
        .header("content-type", "application/json")
        .header("x-certflow-key-id", &institution.key_id)
        .header("x-certflow-timestamp", app.state.now().timestamp().to_string())
        .header("x-certflow-signature", format!("hmac-sha256={}", "ab".repeat(32)))
        .body(Body::from(body.to_string()))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "institution.signature_invalid");

    // A stale timestamp is 401 even with a correct signature.
    let key = hex::decode(&institution.secret).unwrap();
    let stale = app.state.now().timestamp() - 301;
    let signature = api::institutions::sign_request(&key, "POST", "/api/institution/sessions", stale, body.to_string().as_bytes());
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/institution/sessions")
        .header("x-certflow-key-id", &institution.key_id)
        .header("x-certflow-timestamp", stale.to_string())
        .header("x-certflow-signature", signature)
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::UNAUTHORIZED);

    // Reports that make no sense are rejected with zh-CN messages.
    let future = app.report_session(&institution, &enrollment_id, "stmt-3", "T-02", app.state.now() - Duration::minutes(10), 30).await;
    assert_eq!(future.status, StatusCode::BAD_REQUEST);
    assert_eq!(future.code(), "session.in_future");
    let foreign = app.report_session(&institution, &enrollment_id, "stmt-4", "N1-01", start, 30).await;
    assert_eq!(foreign.code(), "session.course_not_in_enrollment");
    assert!(foreign.message().contains("N1-01"), "{}", foreign.message());
    let backwards = json!({ "statement_id": "stmt-5", "enrollment_id": enrollment_id, "course_code": "T-02", "started_at": start.to_rfc3339(), "ended_at": (start - Duration::minutes(1)).to_rfc3339(), "face_check": "missing" });
    let reply = app.signed(&institution, "/api/institution/sessions", &backwards).await;
    assert_eq!(reply.code(), "session.end_before_start");
    assert_eq!(app.count("SELECT COUNT(*) FROM study_sessions WHERE enrollment_id = $1", &enrollment_id).await, 1);
});

both_backends!(resent_report_recovers_a_lost_event, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L8888");
    app.create_unit(&admin, &unit, "辛公司", "unit-h").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000013", &id_number("43010219800101125"), &unit).await;
    let reply = app.post("/api/institutions", Some(&admin), json!({ "name": "湘潭特种设备培训中心", "uscc": uscc("52430100MJ000001"), "items": ["T", "N1"] })).await;
    let institution: api::CreatedInstitution = serde_json::from_value(reply.body.clone()).unwrap();
    app.post(&format!("/api/enrollments/{enrollment_id}/handoff"), Some(&token), json!({ "institution_id": institution.id })).await;
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();

    // A report stored just before the process died: its workflow event was never sent.
    let start = march_5_10am_beijing() - Duration::hours(3);
    let first = app.report_session(&institution, &enrollment_id, "st-lost", "T-01", start, 45).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let session_id = first.body["session_id"].as_str().unwrap().to_string();
    let event_id = format!("session:{session_id}");
    sqlx::query("DELETE FROM wf_events WHERE event_id = $1").bind(&event_id).execute(&app.db.pool).await.unwrap();
    sqlx::query("DELETE FROM wf_history WHERE event_id = $1").bind(&event_id).execute(&app.db.pool).await.unwrap();
    sqlx::query("DELETE FROM wf_outbox WHERE instance_id = $1 AND action LIKE '%screen_session%'").bind(&instance_id).execute(&app.db.pool).await.unwrap();

    // The institution resends; the duplicate is acknowledged and the event applied once.
    let again = app.report_session(&institution, &enrollment_id, "st-lost", "T-01", start, 45).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["duplicate"], true);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_history WHERE event_id = $1").bind(&event_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(applied, 1, "the lost event is applied on resend");
    let third = app.report_session(&institution, &enrollment_id, "st-lost", "T-01", start, 45).await;
    assert_eq!(third.status, StatusCode::OK);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_history WHERE event_id = $1").bind(&event_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(applied, 1, "and only once");
});
