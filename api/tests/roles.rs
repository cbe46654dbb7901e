//! Role checks, review decisions, card checks, history scoping and idempotency keys.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{TimeZone, Utc};
use common::{app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

both_backends!(roles_are_enforced, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L9991");
    let (unit_id, unit_admin) = app.create_unit(&admin, &unit, "己公司", "unit-f").await;
    let (operator, _, enrollment_id) = app.enrolled_operator("13800000031", &id_number("43010219800101129"), &unit).await;

    // Without a session: 401 with a zh-CN message.
    let reply = app.get("/api/reviews", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "auth.required");
    assert!(reply.message().contains("登录"), "{}", reply.message());
    let reply = app.get("/api/reviews", Some("not-a-session")).await;
    assert_eq!(reply.code(), "auth.session_expired");

    // An operator cannot list reviews, see incidents, or register units.
    assert_eq!(app.get("/api/reviews?status=open", Some(&operator)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/incidents", Some(&operator)).await.status, StatusCode::FORBIDDEN);
    let reply = app.post("/api/units", Some(&operator), json!({ "uscc": uscc("91430100MA4L9992"), "name": "x", "admin": { "login": "abc", "password": common::ADMIN_PASSWORD, "display_name": "x" } })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "auth.forbidden");

    // A unit admin cannot register units or import into another unit, nor use operator routes.
    let (other_unit, _) = app.create_unit(&admin, &uscc("91430100MA4L9993"), "庚公司", "unit-g").await;
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{other_unit}/roster?file_name=r.csv"))
        .header("authorization", format!("Bearer {unit_admin}"))
        .body(Body::from("姓名,身份证号码,手机号码,作业项目代号\n"))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/enrollments", Some(&unit_admin)).await.status, StatusCode::FORBIDDEN);

    // Staff and reviewers can list reviews and incidents.
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-1", None).await;
    assert_eq!(app.get("/api/reviews?status=open", Some(&reviewer)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/incidents", Some(&admin)).await.status, StatusCode::OK);

    // History: the operator and their unit's admin see it; another unit's admin does not.
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();
    let path = format!("/api/instances/{instance_id}/history?limit=2");
    let own = app.get(&path, Some(&operator)).await;
    assert_eq!(own.status, StatusCode::OK, "{:?}", own.body);
    assert_eq!(own.body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&path, Some(&unit_admin)).await.status, StatusCode::OK);
    let other_admin = app.password_login("unit-g", common::ADMIN_PASSWORD).await;
    assert_eq!(app.get(&path, Some(&other_admin)).await.status, StatusCode::NOT_FOUND);
    let stranger = app.login_token("13800000032").await;
    assert_eq!(app.get(&path, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let _ = unit_id;

    // Logging out ends the session.
    assert_eq!(app.post("/api/auth/logout", Some(&stranger), json!({})).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/operator/me", Some(&stranger)).await.status, StatusCode::UNAUTHORIZED);

    // Behind a TLS-terminating proxy the session cookie is Secure.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/password-login")
        .header("content-type", "application/json")
        .header("x-forwarded-proto", "https")
        .body(Body::from(json!({ "login": "reviewer-1", "password": common::ADMIN_PASSWORD }).to_string()))
        .unwrap();
    let reply = app.send(request).await;
    let cookie = reply.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    let wrong = app.post("/api/auth/password-login", None, json!({ "login": "reviewer-1", "password": "wrong-password" })).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "login.password_wrong");

    // Public probes (readiness with and without job tables is in ops_probes.rs).
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
});

both_backends!(session_review_accept_counts_course, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L9994");
    app.create_unit(&admin, &unit, "辛公司", "unit-h").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000033", &id_number("43010219800101130"), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;
    let reply = app.report_session(&institution, &enrollment_id, "flagged-1", "T-01", Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap(), 60).await;
    let session_id = reply.body["session_id"].as_str().unwrap().to_string();

    // What screen_session does for a suspicious session: flag it and open a case.
    sqlx::query("UPDATE study_sessions SET status = 'flagged' WHERE id = $1").bind(&session_id).execute(&app.db.pool).await.unwrap();
    sqlx::query("INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, created_at) VALUES ('case-1', 'session', $1, $2, '[{\"rule\":\"face_missing\"}]', 'open', 0)")
        .bind(&session_id)
        .bind(&enrollment_id)
        .execute(&app.db.pool)
        .await
        .unwrap();

    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-2", None).await;
    let list = app.get("/api/reviews?status=open", Some(&reviewer)).await;
    assert_eq!(list.body["cases"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["cases"][0]["findings"][0]["rule"], "face_missing");

    let no_reason = app.post("/api/reviews/case-1/decision", Some(&reviewer), json!({ "decision": "reject" })).await;
    assert_eq!(no_reason.code(), "review.reason_required");
    let accepted = app.post("/api/reviews/case-1/decision", Some(&reviewer), json!({ "decision": "accept", "reason": "人工核实为本人" })).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    let again = app.post("/api/reviews/case-1/decision", Some(&reviewer), json!({ "decision": "accept" })).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let status: String = sqlx::query_scalar("SELECT status FROM study_sessions WHERE id = $1").bind(&session_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "cleared");
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();
    let instance = app.state.engine.instance(&instance_id).await.unwrap();
    assert_eq!(instance.context["completed_courses"], 1);
    let list = app.get("/api/enrollments", Some(&token)).await;
    assert_eq!(list.body["enrollments"][0]["completed_courses"], 1);
});

both_backends!(card_check_masks_holder, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L9995");
    app.create_unit(&admin, &unit, "壬公司", "unit-i").await;
    let (token, operator_id, enrollment_id) = app.enrolled_operator("13800000034", &id_number("43010219800101131"), &unit).await;
    sqlx::query(
        "INSERT INTO cards (id, card_no, operator_id, enrollment_id, year, item_code, unit_name, credits, issued_at, revoked_at, revoke_reason)
         VALUES ('card-1', 'XF2026T000001', $1, $2, 2026, 'T', '壬公司', 20, $3, NULL, NULL)",
    )
    .bind(&operator_id)
    .bind(&enrollment_id)
    .bind(app.state.now_ms())
    .execute(&app.db.pool)
    .await
    .unwrap();

    let reply = app.get("/api/cards/XF2026T000001/verify", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["valid"], true);
    assert_eq!(reply.body["holder"], "王**");
    assert_eq!(reply.body["issued_on"], "2026-03-05");
    assert_eq!(app.get("/api/cards/NOPE/verify", None).await.status, StatusCode::NOT_FOUND);

    let credits = app.get("/api/credits?year=2026", Some(&token)).await;
    assert_eq!(credits.status, StatusCode::OK);
    assert_eq!(credits.body["items"][0]["card"]["card_no"], "XF2026T000001");
});

both_backends!(idempotency_key_replays_first_response, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let send = |key: &'static str, name: &'static str| {
        let body = json!({ "name": name, "uscc": uscc("52430100MJ000009"), "items": ["T"] });
        Request::builder()
            .method(Method::POST)
            .uri("/api/institutions")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap()
    };

    let first = app.send(send("key-1", "癸培训学校")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let second = app.send(send("key-1", "癸培训学校")).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM institutions WHERE name = $1", "癸培训学校").await, 1);

    let reused = app.send(send("key-1", "另一个名称")).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.code(), "idempotency.key_reused");

    // Without the key the same request runs again and meets the unique credit code.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/institutions")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "name": "癸培训学校", "uscc": uscc("52430100MJ000009"), "items": ["T"] }).to_string()))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::CONFLICT);
});

both_backends!(unknown_route_gets_error_body, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let reply = app.get("/api/no-such-route", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "request.unknown_route");
    assert!(reply.message().contains("接口地址不存在"), "{}", reply.message());
});
