//! Login by SMS code, registration, info completion, enrollment and roster import,
//! through the real router on SQLite and PostgreSQL.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Duration;
use common::{app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

both_backends!(unknown_mobile_registers_and_enrolls, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4L1111");
    app.create_unit(&admin, &unit_uscc, "长沙电梯维保有限公司", "unit-a").await;

    // The code request answers 202 without the code, and the code reaches the outbox.
    let reply = app.post("/api/auth/code", None, json!({ "mobile": "+86 138-0013-8000" })).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["sent"], true);
    assert!(!reply.body.to_string().contains("secret"), "the response must not carry the code");
    let code = app.latest_code("13800138000").await;
    assert_eq!(code.len(), 6);

    // A second request within a minute is rate limited with a zh-CN message.
    let again = app.post("/api/auth/code", None, json!({ "mobile": "13800138000" })).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.code(), "login_code.too_soon");
    assert!(again.message().contains("秒后"), "{}", again.message());

    // A wrong code counts a failure; the right one logs in as a new visitor.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let reply = app.post("/api/auth/login", None, json!({ "mobile": "13800138000", "code": wrong })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "login.code_wrong");
    assert_eq!(reply.body["field"], "code");
    let reply = app.post("/api/auth/login", None, json!({ "mobile": "13800138000", "code": code })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["next"], "register");
    assert_eq!(reply.body["status"], "visitor");
    let cookie = reply.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.starts_with("certflow_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP gets no Secure flag");
    let token = reply.body["token"].as_str().unwrap().to_string();

    // The same code does not log in twice.
    let reused = app.post("/api/auth/login", None, json!({ "mobile": "13800138000", "code": code })).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);

    // Registration normalizes and rejects a bad ID number with a message naming the field.
    let bad = app.post("/api/operator/register", Some(&token), json!({ "name": "王小明", "id_number": "430102197803035020" })).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "id_number");
    assert!(bad.message().contains("身份证号码"), "{}", bad.message());
    let person = id_number("43010219780303502");
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": "王小明", "id_number": person })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["next"], "complete_info");

    // Info completion needs a registered unit.
    let unknown = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": uscc("91430100MA4L9999") })).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.code(), "info.unit_not_registered");
    assert!(unknown.message().contains("单位管理员"), "{}", unknown.message());
    let reply = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": unit_uscc, "items": [{ "item_code": "T", "certificate_issued_on": "2021-06-30" }] })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "complete");
    assert_eq!(reply.body["items"][0]["item_code"], "T");

    let registration = app.state.engine.find_instance("registration", "mobile=13800138000").await.unwrap().unwrap();
    assert_eq!(registration.state, "complete");
    let history = app.state.engine.history(&registration.id, 0, 100).await.unwrap();
    assert!(!serde_json::to_string(&history).unwrap().contains(&code), "history never keeps the login code");

    // Enrollment is idempotent, and closed items or years are rejected.
    let first = app.post("/api/enrollments", Some(&token), json!({ "year": 2026, "item_code": "T" })).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["state"], "enrolled");
    let second = app.post("/api/enrollments", Some(&token), json!({ "year": 2026, "item_code": "T" })).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["id"], first.body["id"]);
    let closed_item = app.post("/api/enrollments", Some(&token), json!({ "year": 2026, "item_code": "G1" })).await;
    assert_eq!(closed_item.status, StatusCode::BAD_REQUEST);
    assert_eq!(closed_item.code(), "enroll.item_not_open");
    let far_year = app.post("/api/enrollments", Some(&token), json!({ "year": 2030, "item_code": "T" })).await;
    assert_eq!(far_year.code(), "enroll.year_invalid");

    let list = app.get("/api/enrollments", Some(&token)).await;
    assert_eq!(list.body["enrollments"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["enrollments"][0]["state_label"], "已报名");
});

both_backends!(id_number_of_another_operator_is_rejected, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let person = id_number("11010519900307123");
    let first = app.login_token("13900000001").await;
    let reply = app.post("/api/operator/register", Some(&first), json!({ "name": "李四", "id_number": person })).await;
    assert_eq!(reply.status, StatusCode::OK);

    let second = app.login_token("13900000002").await;
    let reply = app.post("/api/operator/register", Some(&second), json!({ "name": "李四", "id_number": person })).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "register.id_number_taken");
    assert!(reply.message().contains("联系协会"), "{}", reply.message());
    assert!(!reply.message().contains(&person), "the message shows the number masked");
});

both_backends!(english_locale_and_daily_code_limit, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    for _ in 0..10 {
        app.request_code("13700000000").await;
        app.clock.advance(Duration::seconds(61));
    }
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/code")
        .header("content-type", "application/json")
        .header("accept-language", "en-US,en;q=0.9")
        .body(Body::from(json!({ "mobile": "13700000000" }).to_string()))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.code(), "login_code.daily_limit");
    assert!(reply.message().contains("daily maximum"), "{}", reply.message());
    assert!(reply.headers.get("retry-after").is_some());

    let invalid = app.post("/api/auth/code", None, json!({ "mobile": "1234" })).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.body["field"], "mobile");
    assert!(invalid.message().contains("手机号"), "{}", invalid.message());
});

both_backends!(roster_import_then_login_goes_to_info, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let uscc_a = uscc("91430100MA4L2222");
    let (unit_a, unit_a_admin) = app.create_unit(&admin, &uscc_a, "湖南甲电梯工程有限公司", "unit-a-admin").await;
    let (unit_b, unit_b_admin) = app.create_unit(&admin, &uscc("91430100MA4L3333"), "湖南乙电梯工程有限公司", "unit-b-admin").await;
    let file = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/roster-gbk.csv")).unwrap();

    // Unit A imports the GBK roster as a raw body.
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_a}/roster?file_name=roster-gbk.csv"))
        .header("authorization", format!("Bearer {unit_a_admin}"))
        .header("content-type", "text/csv")
        .body(Body::from(file.clone()))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["encoding_used"], "GBK");
    assert_eq!(reply.body["accepted"], 8, "{:?}", reply.body["rows"]);
    assert_eq!(reply.body["rejected"], 0);
    assert!(reply.body["rows"].as_array().unwrap().iter().all(|row| row["action"] == "created"));
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM operators WHERE unit_id = $1 ORDER BY name")
        .bind(&unit_a)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(names.contains(&"陈超".to_string()), "GBK names decode: {names:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliations WHERE unit_id = $1 AND source = 'roster'", &unit_a).await, 8);

    // The first login of a roster mobile goes straight to info completion.
    let login = app.login("19246777401").await;
    assert_eq!(login["status"], "pre_registered");
    assert_eq!(login["next"], "complete_info");
    let registration = app.state.engine.find_instance("registration", "mobile=19246777401").await.unwrap().unwrap();
    assert_eq!(registration.state, "info_pending");

    // Unit B cannot import people attached to unit A, and every row gives the reason.
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_b}/roster?file_name=roster-gbk.csv"))
        .header("authorization", format!("Bearer {unit_b_admin}"))
        .body(Body::from(file.clone()))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["accepted"], 0);
    assert_eq!(reply.body["rejected"], 8);
    let row = &reply.body["rows"][0];
    assert_eq!(row["outcome"], "rejected");
    assert_eq!(row["code"], "roster_import.attached_to_other_unit");
    assert!(row["message"].as_str().unwrap().contains("湖南甲电梯工程有限公司"), "{row}");
    assert!(row["message"].as_str().unwrap().contains("释放"), "{row}");

    // Unit B's admin cannot import into unit A.
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_a}/roster?file_name=roster-gbk.csv"))
        .header("authorization", format!("Bearer {unit_b_admin}"))
        .body(Body::from(file))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::FORBIDDEN);

    // The roster operator completing info with unit B is rejected with how to get released.
    let token = login["token"].as_str().unwrap();
    let reply = app.post("/api/operator/info", Some(token), json!({ "unit_uscc": uscc("91430100MA4L3333") })).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "info.attached_to_other_unit");
    assert!(reply.message().contains("湖南甲电梯工程有限公司"), "{}", reply.message());
    assert!(reply.message().contains("释放"), "{}", reply.message());

    // With unit A it completes, and the registration instance finishes.
    let reply = app.post("/api/operator/info", Some(token), json!({ "unit_uscc": uscc_a })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let registration = app.state.engine.instance(&registration.id).await.unwrap();
    assert_eq!(registration.state, "complete");
});

both_backends!(roster_multipart_upload_is_read, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let (unit_id, unit_admin) = app.create_unit(&admin, &uscc("91430100MA4L4444"), "丙公司", "unit-c-admin").await;
    let file = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/roster-gbk.csv")).unwrap();

    let boundary = "certflowboundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"roster.csv\"\r\nContent-Type: text/csv\r\n\r\n").into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_id}/roster"))
        .header("authorization", format!("Bearer {unit_admin}"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["accepted"], 8);

    // Importing the same file again changes nothing.
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_id}/roster?file_name=roster.csv"))
        .header("authorization", format!("Bearer {unit_admin}"))
        .body(Body::from(file))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.body["accepted"], 8);
    assert!(reply.body["rows"].as_array().unwrap().iter().all(|row| row["action"] == "unchanged"));
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, 8);
});

both_backends!(unit_with_bad_checksum_is_pending, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let good = uscc("91430100MA4L5555");
    let last = good.chars().last().unwrap();
    let wrong_last = if last == '0' { '1' } else { '0' };
    let bad = format!("{}{wrong_last}", &good[..17]);

    let body = json!({ "uscc": bad, "name": "老代码单位", "admin": { "login": "old-unit", "password": common::ADMIN_PASSWORD, "display_name": "管理员" } });
    let reply = app.post("/api/units", Some(&admin), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "pending_verification");
    assert!(reply.body["notice"].as_str().unwrap().contains("待核实"));

    let body = json!({ "uscc": "ABC", "name": "坏代码单位", "admin": { "login": "bad-unit", "password": common::ADMIN_PASSWORD, "display_name": "管理员" } });
    let reply = app.post("/api/units", Some(&admin), body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["field"], "uscc");
});

both_backends!(missing_json_field_is_named, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;

    // serde's English text stays out of the message; the field has its own slot.
    let reply = app.post("/api/units", Some(&admin), json!({ "uscc": uscc("91430100MA4L5556"), "name": "缺管理员单位" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["code"], "request.field_missing");
    assert_eq!(reply.body["field"], "admin");
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.contains("“admin”"), "{message}");
    assert!(!message.contains("deserialize"), "{message}");
});

both_backends!(json_value_errors_name_field, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let token = app.login_token("13800000041").await;

    // A value outside an enumeration names the field and the allowed values.
    let reply = app.post("/api/reviews/no-such-case/decision", Some(&reviewer_token(&app).await), json!({ "decision": "nuke", "reason": "x" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert_eq!(reply.code(), "request.value_not_allowed");
    assert_eq!(reply.body["field"], "decision");
    assert!(reply.message().contains("accept"), "{}", reply.message());
    assert!(!reply.message().contains("variant"), "{}", reply.message());

    // A value of the wrong type gets a message naming the type the field needs.
    let reply = app.post("/api/enrollments", Some(&token), json!({ "year": "二〇二六", "item_code": "T" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert_eq!(reply.code(), "request.value_type");
    assert_eq!(reply.body["field"], "year");
    assert!(reply.message().contains("整数"), "{}", reply.message());

    // Broken JSON gets its position, in zh-CN, without serde's English text.
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/enrollments")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"year\": 2026,"))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert_eq!(reply.code(), "request.invalid_json");
    assert!(reply.message().contains("第 1 行"), "{}", reply.message());
    assert!(!reply.message().contains("EOF"), "{}", reply.message());
});

async fn reviewer_token(app: &common::TestApp) -> String {
    app.account_token(api::auth::Role::Reviewer, "json-reviewer", None).await
}
