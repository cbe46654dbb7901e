//! The unit admin's staff list and its bulk actions: list, filters and counts, the
//! xlsx export, enrollment on the operators' behalf with per-operator refusals, the
//! reminder with its once-a-day dedupe, and the zip of the year's card PDFs.

mod common;

use std::io::{Cursor, Read};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use calamine::{Data, Reader, Xlsx};
use chrono::Duration;
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;
use workers::actions::run_action_job;
use workers::queues::ActionJob;

/// Unit A with four operators and unit B with one:
/// - `enrolled`: complete info, enrolled for T in 2026;
/// - `member`: complete info, not enrolled;
/// - `imported`: from the roster only, so info is not complete;
/// - `released`: joined A, then released by A;
/// - `foreign`: of unit B, enrolled for T in 2026.
struct Staff {
    unit_a: String,
    unit_b: String,
    admin_a: String,
    admin_b: String,
    enrolled: String,
    member: String,
    imported: String,
    released: String,
    foreign: String,
}

const MOBILE_ENROLLED: &str = "13800001001";
const MOBILE_MEMBER: &str = "13800001002";
const MOBILE_IMPORTED: &str = "13800001003";
const MOBILE_RELEASED: &str = "13800001004";
const MOBILE_FOREIGN: &str = "13800001005";

/// Logs `mobile` in, registers `name` and completes info with unit `unit_uscc`; returns
/// (token, operator id).
async fn member_of(app: &TestApp, mobile: &str, name: &str, id: &str, unit_uscc: &str) -> (String, String) {
    let login = app.login(mobile).await;
    let token = login["token"].as_str().unwrap().to_string();
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": name, "id_number": id })).await;
    assert_eq!(reply.status, StatusCode::OK, "register failed: {:?}", reply.body);
    let reply = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": unit_uscc, "items": [{ "item_code": "T" }] })).await;
    assert_eq!(reply.status, StatusCode::OK, "info failed: {:?}", reply.body);
    (token, login["operator_id"].as_str().unwrap().to_string())
}

async fn staff(app: &TestApp) -> Staff {
    let admin = app.admin_token().await;
    let uscc_a = uscc("91430100MA4P0001");
    let uscc_b = uscc("91430100MA4P0002");
    let (unit_a, admin_a) = app.create_unit(&admin, &uscc_a, "甲电梯公司", "staff-unit-a").await;
    let (unit_b, admin_b) = app.create_unit(&admin, &uscc_b, "乙电梯公司", "staff-unit-b").await;

    let (_, enrolled, _) = app.enrolled_operator(MOBILE_ENROLLED, &id_number("43010219800101301"), &uscc_a).await;
    let (_, member) = member_of(app, MOBILE_MEMBER, "李四", &id_number("43010219800101302"), &uscc_a).await;
    let (_, released) = member_of(app, MOBILE_RELEASED, "赵六", &id_number("43010219800101304"), &uscc_a).await;
    let (_, foreign, _) = app.enrolled_operator(MOBILE_FOREIGN, &id_number("43010219800101305"), &uscc_b).await;

    let roster = format!("姓名,身份证号码,手机号码,作业项目代号\n张三,{},{MOBILE_IMPORTED},T\n", id_number("43010219800101303"));
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_a}/roster?file_name=roster.csv"))
        .header("authorization", format!("Bearer {admin_a}"))
        .header("content-type", "text/csv")
        .body(Body::from(roster))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "roster import failed: {:?}", reply.body);
    let imported: String = sqlx::query_scalar("SELECT id FROM operators WHERE mobile = $1").bind(MOBILE_IMPORTED).fetch_one(&app.db.pool).await.unwrap();

    let reply = app.post(&format!("/api/units/{unit_a}/operators/{released}/release"), Some(&admin_a), json!({ "reason": "离职" })).await;
    assert_eq!(reply.status, StatusCode::OK, "release failed: {:?}", reply.body);
    Staff { unit_a, unit_b, admin_a, admin_b, enrolled, member, imported, released, foreign }
}

fn row_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["rows"].as_array().unwrap().iter().map(|row| row["operator_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    ids.sort();
    ids
}

fn count_of(body: &Value, state: &str) -> i64 {
    body["counts"].as_array().unwrap().iter().find(|count| count["state"] == state).map(|count| count["count"].as_i64().unwrap()).unwrap_or(-1)
}

both_backends!(staff_list_shows_current_members, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;

    let reply = app.get(&format!("/api/units/{}/staff?year=2026", staff.unit_a), Some(&staff.admin_a)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(row_ids(&reply.body), sorted(&[&staff.enrolled, &staff.member, &staff.imported]));
    assert_eq!(reply.body["total"], 3);
    assert_eq!(reply.body["staff_count"], 3);
    assert_eq!(reply.body["year"], 2026);

    // States are the definition's zh-CN labels; personal numbers are masked.
    let text = reply.body.to_string();
    let enrolled = reply.body["rows"].as_array().unwrap().iter().find(|row| row["operator_id"] == staff.enrolled.as_str()).unwrap();
    let enrollment = &enrolled["enrollments"][0];
    assert_eq!(enrollment["state"], "enrolled");
    assert_eq!(enrollment["state_label"], "已报名");
    assert_eq!(enrollment["item_code"], "T");
    assert_eq!(enrollment["credits"], 0);
    assert_eq!(enrollment["required_credits"], 20);
    assert_eq!(enrollment["deadline"], "年度学分截止 2026-12-31 23:00:00");
    assert_eq!(enrolled["mobile"], "138****1001");
    assert!(!text.contains(MOBILE_ENROLLED), "full mobile in {text}");
    assert!(!text.contains(&id_number("43010219800101301")), "full ID number in {text}");
    assert!(!text.contains(&staff.released), "a released operator is listed: {text}");
    assert!(!text.contains(&staff.foreign), "unit B's operator is listed: {text}");

    // Counts: one enrolled, two without an enrollment.
    assert_eq!(count_of(&reply.body, "enrolled"), 1);
    assert_eq!(count_of(&reply.body, "not_enrolled"), 2);
    assert_eq!(count_of(&reply.body, "studying"), 0);
});

both_backends!(staff_list_filters_and_refuses, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;
    let path = |query: &str| format!("/api/units/{}/staff?{query}", staff.unit_a);

    let by_state = app.get(&path("year=2026&state=enrolled"), Some(&staff.admin_a)).await;
    assert_eq!(row_ids(&by_state.body), vec![staff.enrolled.clone()]);
    let not_enrolled = app.get(&path("year=2026&state=not_enrolled"), Some(&staff.admin_a)).await;
    assert_eq!(row_ids(&not_enrolled.body), sorted(&[&staff.member, &staff.imported]));
    let by_item = app.get(&path("year=2026&item=T"), Some(&staff.admin_a)).await;
    assert_eq!(row_ids(&by_item.body), vec![staff.enrolled.clone()]);
    let other_year = app.get(&path("year=2025&state=enrolled"), Some(&staff.admin_a)).await;
    assert_eq!(other_year.body["total"], 0);
    let past_last_page = app.get(&path("year=2026&page=2"), Some(&staff.admin_a)).await;
    assert_eq!(past_last_page.status, StatusCode::OK);
    assert_eq!(past_last_page.body["rows"], json!([]));
    assert_eq!(past_last_page.body["pages"], 1);

    let bad_state = app.get(&path("state=done"), Some(&staff.admin_a)).await;
    assert_eq!(bad_state.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_state.body["field"], "state");
    assert!(bad_state.message().contains("已报名"), "{}", bad_state.message());
    let bad_item = app.get(&path("item=ZZ9"), Some(&staff.admin_a)).await;
    assert_eq!(bad_item.body["field"], "item");
    let bad_year = app.get(&path("year=1999"), Some(&staff.admin_a)).await;
    assert_eq!(bad_year.body["field"], "year");

    // Unit B's admin sees nothing of unit A, and an operator is refused.
    let other_admin = app.get(&path("year=2026"), Some(&staff.admin_b)).await;
    assert_eq!(other_admin.status, StatusCode::FORBIDDEN);
    app.clock.advance(Duration::minutes(2));
    let operator = app.login_token(MOBILE_MEMBER).await;
    assert_eq!(app.get(&path("year=2026"), Some(&operator)).await.status, StatusCode::FORBIDDEN);
    let staff_b = app.get(&format!("/api/units/{}/staff", staff.unit_b), Some(&staff.admin_b)).await;
    assert_eq!(row_ids(&staff_b.body), vec![staff.foreign.clone()]);
});

both_backends!(staff_list_paginates_by_fifty, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;
    let now = app.state.now_ms();
    for index in 0..120 {
        sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ($1, $2, $3, NULL, $4, 'pre_registered', $5, $5)")
            .bind(format!("bulk-{index:03}"))
            .bind(format!("1370000{index:04}"))
            .bind(format!("批量{index:03}"))
            .bind(&staff.unit_a)
            .bind(now)
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let reply = app.get(&format!("/api/units/{}/staff?year=2026&page={page}", staff.unit_a), Some(&staff.admin_a)).await;
        assert_eq!(reply.body["total"], 123);
        assert_eq!(reply.body["pages"], 3);
        seen.extend(row_ids(&reply.body));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 123, "three pages hold every operator once");
});

both_backends!(staff_export_is_xlsx, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;
    let request = Request::builder()
        .uri(format!("/api/units/{}/staff/export?year=2026", staff.unit_a))
        .header("authorization", format!("Bearer {}", staff.admin_a))
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();

    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let cell = |row: u32, column: u32| sheet.get_value((row, column)).map(|value| value.to_string()).unwrap_or_default();
    assert_eq!(cell(0, 0), "甲电梯公司 2026 年度作业人员继续教育情况");
    let headers: Vec<String> = (0..9).map(|column| cell(1, column)).collect();
    assert_eq!(headers, ["姓名", "手机号", "身份证号", "作业项目", "状态", "已获学分", "要求学分", "最近学习", "下一截止时间"]);
    assert_eq!(sheet.height(), 5, "title, headers and three operators");
    let states: Vec<String> = (2..5).map(|row| cell(row, 4)).collect();
    assert_eq!(states.iter().filter(|state| *state == "已报名").count(), 1, "{states:?}");
    assert_eq!(states.iter().filter(|state| *state == "未报名").count(), 2, "{states:?}");
    let enrolled_row = (2..5).find(|row| cell(*row, 4) == "已报名").unwrap();
    assert_eq!(cell(enrolled_row, 1), "138****1001");
    assert_eq!(cell(enrolled_row, 3), "T 电梯修理");
    assert_eq!(sheet.get_value((enrolled_row, 6)), Some(&Data::Float(20.0)));
    for row in 2..5 {
        assert!(cell(row, 1).contains("****"), "mobile unmasked: {}", cell(row, 1));
        assert!(cell(row, 2).contains("***"), "ID number unmasked: {}", cell(row, 2));
    }

    let refused = app.get(&format!("/api/units/{}/staff/export?year=2026", staff.unit_a), Some(&staff.admin_b)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
});

both_backends!(bulk_enroll_reports_each_operator, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;
    let path = format!("/api/units/{}/staff/enroll", staff.unit_a);
    let ids = [&staff.enrolled, &staff.member, &staff.imported, &staff.foreign, &staff.released, &staff.member];
    let reply = app.post(&path, Some(&staff.admin_a), json!({ "year": 2026, "item_code": "T", "operator_ids": ids })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["enrolled"], 1);
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "a repeated id counts once: {results:?}");
    let outcome = |id: &str| results.iter().find(|result| result["operator_id"] == id).unwrap().clone();
    assert_eq!(outcome(&staff.enrolled)["outcome"], "already_enrolled");
    assert_eq!(outcome(&staff.member)["outcome"], "enrolled");
    assert_eq!(outcome(&staff.member)["name"], "李四");
    let imported = outcome(&staff.imported);
    assert_eq!(imported["outcome"], "refused");
    assert_eq!(imported["code"], "enroll.info_incomplete");
    assert_eq!(imported["message"], "请先完成注册并完善单位信息，再报名。");
    for other in [&staff.foreign, &staff.released] {
        let result = outcome(other);
        assert_eq!(result["outcome"], "refused");
        assert_eq!(result["code"], "unit_staff.not_in_unit");
        assert_eq!(result["name"], "", "a unit learns no name of another unit's operator");
    }
    let enrolled = app.count("SELECT COUNT(*) FROM enrollments WHERE operator_id = $1 AND year = 2026", &staff.member).await;
    assert_eq!(enrolled, 1);
    let foreign = app.count("SELECT COUNT(*) FROM enrollments WHERE operator_id = $1", &staff.foreign).await;
    assert_eq!(foreign, 1, "unit B's operator keeps only their own enrollment");

    // The operator's own rules refuse a closed item and a far year for everyone.
    let closed = app.post(&path, Some(&staff.admin_a), json!({ "year": 2026, "item_code": "Q1", "operator_ids": [&staff.member] })).await;
    assert_eq!(closed.body["results"][0]["code"], "enroll.item_not_open", "{:?}", closed.body);
    let far = app.post(&path, Some(&staff.admin_a), json!({ "year": 2030, "item_code": "T", "operator_ids": [&staff.member] })).await;
    assert_eq!(far.body["results"][0]["code"], "enroll.year_invalid");
    assert_eq!(far.body["results"][0]["field"], "year");

    let empty = app.post(&path, Some(&staff.admin_a), json!({ "year": 2026, "item_code": "T", "operator_ids": [] })).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.body["field"], "operator_ids");
    let other_unit = app.post(&path, Some(&staff.admin_b), json!({ "year": 2026, "item_code": "T", "operator_ids": [&staff.member] })).await;
    assert_eq!(other_unit.status, StatusCode::FORBIDDEN);
});

both_backends!(reminder_sent_once_a_day, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;
    let path = format!("/api/units/{}/staff/remind", staff.unit_a);
    let body = json!({ "year": 2026, "operator_ids": [&staff.enrolled, &staff.member, &staff.foreign] });

    let first = app.post(&path, Some(&staff.admin_a), body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["queued"], 2);
    assert_eq!(first.body["results"][2]["outcome"], "refused");
    let second = app.post(&path, Some(&staff.admin_a), body.clone()).await;
    assert_eq!(second.body["queued"], 0);
    assert_eq!(second.body["results"][0]["outcome"], "already_reminded");
    assert_eq!(second.body["results"][0]["message"], "今天已提醒过，不再重复发送");

    // One notify action per operator, to the operator by SMS and email.
    let actions: Vec<String> = sqlx::query_scalar("SELECT o.action FROM wf_outbox o JOIN wf_instances i ON i.id = o.instance_id WHERE i.definition_id = 'unit_reminder'")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(actions.len(), 2);
    let action: Value = serde_json::from_str(&actions[0]).unwrap();
    assert_eq!(action["action"]["template"], "unit_reminder");
    assert_eq!(action["action"]["to"], json!(["operator"]));
    assert_eq!(action["action"]["channels"], json!(["sms", "email"]));
    assert_eq!(action["subject"]["unit"], staff.unit_a.as_str());

    // The next Beijing day the unit may remind again.
    // 10:00 on 5 March plus 14 hours is midnight of 6 March in Beijing.
    // Sessions last 12 hours, so the admin logs in again.
    app.clock.advance(Duration::hours(14));
    let admin_a = app.password_login("staff-unit-a", common::ADMIN_PASSWORD).await;
    let next_day = app.post(&path, Some(&admin_a), body).await;
    assert_eq!(next_day.body["queued"], 2, "{:?}", next_day.body);
    let admin_b = app.password_login("staff-unit-b", common::ADMIN_PASSWORD).await;
    let refused = app.post(&path, Some(&admin_b), json!({ "operator_ids": [&staff.member] })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
});

both_backends!(card_zip_leaves_out_revoked, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;
    let enrollment_of = |operator: String| {
        let pool = app.db.pool.clone();
        async move { sqlx::query_scalar::<_, String>("SELECT id FROM enrollments WHERE operator_id = $1").bind(operator).fetch_one(&pool).await.unwrap() }
    };
    let now = app.state.now_ms();
    let cards = [
        ("card-valid", "XF2026T100001", &staff.enrolled, None, None),
        ("card-revoked", "XF2026T100002", &staff.enrolled, Some(now - 1000), Some("考试替考")),
        ("card-foreign", "XF2026T100003", &staff.foreign, None, None),
    ];
    for (id, card_no, operator, revoked_at, reason) in cards {
        sqlx::query(
            "INSERT INTO cards (id, card_no, operator_id, enrollment_id, year, item_code, unit_name, credits, issued_at, revoked_at, revoke_reason)
             VALUES ($1, $2, $3, $4, 2026, 'T', '甲电梯公司', 20, $5, $6, $7)",
        )
        .bind(id)
        .bind(card_no)
        .bind(operator)
        .bind(enrollment_of(operator.clone()).await)
        .bind(now - 5000)
        .bind(revoked_at)
        .bind(reason)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }

    let request = Request::builder()
        .uri(format!("/api/units/{}/staff/cards?year=2026", staff.unit_a))
        .header("authorization", format!("Bearer {}", staff.admin_a))
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = (0..archive.len()).map(|index| archive.by_index(index).unwrap().name().unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names, ["XF2026T100001-王小明.pdf", "revoked.txt"]);

    let mut pdf = Vec::new();
    archive.by_name("XF2026T100001-王小明.pdf").unwrap().read_to_end(&mut pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF"), "a PDF card");
    let mut revoked = String::new();
    archive.by_name("revoked.txt").unwrap().read_to_string(&mut revoked).unwrap();
    assert!(revoked.contains("XF2026T100002"), "{revoked}");
    assert!(revoked.contains("考试替考"), "{revoked}");
    assert!(!revoked.contains("XF2026T100003"), "unit B's card is not listed: {revoked}");

    let refused = app.get(&format!("/api/units/{}/staff/cards?year=2026", staff.unit_a), Some(&staff.admin_b)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
});

both_backends!(reminder_delivered_by_notify_worker, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let staff = staff(&app).await;
    let reply = app.post(&format!("/api/units/{}/staff/remind", staff.unit_a), Some(&staff.admin_a), json!({ "operator_ids": [&staff.member] })).await;
    assert_eq!(reply.body["queued"], 1, "{:?}", reply.body);

    // The notify worker sends the reminder's SMS and email to file outboxes.
    let outbox = workflows::testing::TempDir::new();
    let services = Arc::new(app.file_outbox_services(&outbox.path));
    let reminder: String = sqlx::query_scalar("SELECT id FROM wf_instances WHERE definition_id = 'unit_reminder'").fetch_one(&app.db.pool).await.unwrap();
    let entries = app.state.engine.claim_due_actions(&["notify"], 50).await.unwrap();
    let entry = entries.into_iter().find(|entry| entry.instance_id == reminder).expect("the reminder's notify action is due");
    let job = ActionJob { outbox_id: entry.id.clone(), attempt: entry.attempt(), key: entry.job_key() };
    run_action_job(job, apalis::prelude::Data(services.clone())).await.unwrap();

    let sms = std::fs::read_to_string(outbox.path.join("sms").join("sms-outbox.jsonl")).unwrap();
    assert_eq!(sms.lines().count(), 1, "{sms}");
    assert!(sms.contains("甲电梯公司提醒：李四"), "{sms}");
    assert!(sms.contains("2026年度"), "{sms}");
    let deliveries = app.count("SELECT COUNT(*) FROM deliveries WHERE template = $1", "unit_reminder").await;
    assert_eq!(deliveries, 1, "the operator gave no email address, so only the SMS is recorded");
});
