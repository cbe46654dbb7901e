//! An operator moves from unit A to unit B in July (on each backend). Credits earned at
//! A stay with the operator; B sees the operator's credits and cards for the year but
//! not the sessions from the months at A; the card names the unit at the time of issue;
//! A no longer sees the operator's new activity; both admins are notified and the
//! history keeps both periods.

mod support;

use api::auth::Role;
use chrono::{TimeZone, Utc};
use domain::courseware::Courseware;
use serde_json::{Value, json};
use support::{Enrolled, Platform, id_number, pass_exam, platform, report_session, uscc, wait_until};
use workflows::both_backends;
use workflows::db::Db;

const UNIT_A: &str = "湖南姚和电梯工程有限公司";
const UNIT_B: &str = "长沙起重机械安装有限公司";
const MOBILE: &str = "13800001234";
const ADMIN_A_MOBILE: &str = "13900000001";
const ADMIN_B_MOBILE: &str = "13900000002";

async fn unit(p: &Platform, id: &str, code: &str, name: &str) {
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ($1, $2, $3, 'active', 0)").bind(id).bind(code).bind(name).execute(&p.db.pool).await.unwrap();
}

/// Reports clean sessions of `courses` ending an hour before now and waits until the
/// instance counts `completed` courses.
async fn study(p: &Platform, operator: &Enrolled, prefix: &str, courses: &[(String, i64)], completed: i64) {
    let total: i64 = courses.iter().map(|(_, minutes)| minutes * 60_000 + 60_000).sum();
    let mut start = p.clock.now_utc().timestamp_millis() - total - 3_600_000;
    for (index, (code, minutes)) in courses.iter().enumerate() {
        report_session(p, operator, &format!("{prefix}-{index}"), code, start, *minutes, "passed", json!({ "device": format!("{prefix}-device") })).await;
        start += minutes * 60_000 + 60_000;
    }
    wait_until(p, "completed courses", async || p.context_int(&operator.instance_id, "completed_courses").await == completed).await;
}

/// Stores a passed attempt over `codes` and waits until the instance counts `credits`.
async fn pass_exam_for(p: &Platform, operator: &Enrolled, attempt_id: &str, codes: &[String], credits: i64) {
    pass_exam(p, operator, attempt_id, codes, json!({})).await;
    wait_until(p, "credits", async || p.context_int(&operator.instance_id, "credits").await == credits).await;
}

both_backends!(unit_change_keeps_credits_with_person, |db: Db| async move {
    let p = platform(db).await;
    let uscc_a = uscc("91430102MA4L00011");
    let uscc_b = uscc("91430102MA4L00021");
    unit(&p, "ua", &uscc_a, UNIT_A).await;
    unit(&p, "ub", &uscc_b, UNIT_B).await;
    p.account(Role::UnitAdmin, "admin-a", Some("ua"), Some(ADMIN_A_MOBILE)).await;
    p.account(Role::UnitAdmin, "admin-b", Some("ub"), Some(ADMIN_B_MOBILE)).await;
    p.account(Role::AssociationAdmin, "assoc", None, None).await;

    // March: the operator registers at unit A, enrolls for T and earns 18 credits there.
    let login = p.login_operator(MOBILE).await;
    let token = login["token"].as_str().unwrap().to_string();
    let operator_id = login["operator_id"].as_str().unwrap().to_string();
    let (status, body) = p.post("/api/operator/register", Some(&token), json!({ "name": "王小明", "id_number": id_number("43010219800101123") })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = p.post("/api/operator/info", Some(&token), json!({ "unit_uscc": uscc_a, "items": [{ "item_code": "T" }] })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = p.post("/api/enrollments", Some(&token), json!({ "year": 2026, "item_code": "T" })).await;
    assert_eq!(status, 201, "{body}");
    let enrollment_id = body["id"].as_str().unwrap().to_string();
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&p.db.pool).await.unwrap();
    let operator = Enrolled { operator_id: operator_id.clone(), enrollment_id, instance_id };
    let courses: Vec<(String, i64)> = Courseware::embedded().unwrap().item("T").unwrap().courses.iter().take(20).map(|c| (c.code.clone(), i64::from(c.minutes))).collect();
    let codes: Vec<String> = courses.iter().map(|(code, _)| code.clone()).collect();
    study(&p, &operator, "a", &courses[..18], 18).await;
    pass_exam_for(&p, &operator, "exam-a", &codes[..18], 18).await;

    // July: only A's admin (or the association) may release; B's admin may not.
    p.clock.advance_to(Utc.with_ymd_and_hms(2026, 7, 1, 2, 0, 0).unwrap());
    let admin_a = p.password_login("admin-a").await;
    let admin_b = p.password_login("admin-b").await;
    let association = p.password_login("assoc").await;
    let release = format!("/api/units/ua/operators/{operator_id}/release");
    let (status, _) = p.post(&release, Some(&admin_b), json!({ "reason": "调入本单位" })).await;
    assert_eq!(status, 403);
    let (status, body) = p.post(&release, Some(&admin_a), json!({ "reason": "" })).await;
    assert_eq!((status, body["code"].as_str().unwrap()), (400, "unit_change.reason_required"));
    let (status, body) = p.post(&release, Some(&admin_a), json!({ "reason": "劳动合同到期，调往其他单位" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "release");
    let (status, _) = p.post(&release, Some(&admin_a), json!({ "reason": "重复" })).await;
    assert_eq!(status, 409, "a second release finds no period to end");

    // The operator joins B.
    let token = p.login_operator(MOBILE).await["token"].as_str().unwrap().to_string();
    let (status, body) = p.post("/api/operator/info", Some(&token), json!({ "unit_uscc": uscc_b, "items": [{ "item_code": "T" }] })).await;
    assert_eq!(status, 200, "{body}");
    wait_until(&p, "both admins notified", async || {
        let lines = p.sms_lines();
        let released = lines.iter().any(|line| line.contains(ADMIN_A_MOBILE) && line.contains("解除"));
        let joined = lines.iter().any(|line| line.contains(ADMIN_B_MOBILE) && line.contains("加入贵单位"));
        released && joined
    })
    .await;

    // The history keeps both periods.
    let periods: Vec<(String, Option<i64>, Option<String>)> = sqlx::query_as("SELECT unit_id, ended_at, end_kind FROM affiliations WHERE operator_id = $1 ORDER BY started_at")
        .bind(&operator_id)
        .fetch_all(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(periods.len(), 2);
    assert_eq!(periods[0].0, "ua");
    assert_eq!(periods[0].1, Some(Utc.with_ymd_and_hms(2026, 7, 1, 2, 0, 0).unwrap().timestamp_millis()));
    assert_eq!(periods[0].2.as_deref(), Some("release"));
    assert_eq!(periods[1].0, "ub");
    assert_eq!(periods[1].1, None);

    // At B: two more courses and an exam make 20 credits and the card, naming B.
    study(&p, &operator, "b", &courses[18..], 20).await;
    pass_exam_for(&p, &operator, "exam-b", &codes[18..], 20).await;
    wait_until(&p, "the card", async || p.count("SELECT COUNT(*) FROM cards WHERE operator_id = $1", &operator_id).await == 1).await;

    // B sees the year's 20 credits and the card, but only its own two sessions.
    let (status, seen_by_b) = p.get(&format!("/api/units/ub/operators/{operator_id}/records?year=2026"), Some(&admin_b)).await;
    assert_eq!(status, 200, "{seen_by_b}");
    assert_eq!(seen_by_b["current_unit"], true);
    assert_eq!(seen_by_b["credits"][0]["credits"], 20);
    assert_eq!(seen_by_b["cards"][0]["unit_name"], UNIT_B);
    let b_sessions: Vec<&str> = seen_by_b["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(b_sessions, ["b-0", "b-1"]);
    assert!(seen_by_b["sessions"][0].get("evidence").is_none(), "units never see evidence");

    // A sees its own 18 sessions, and neither B's sessions nor the credits and card.
    let (status, seen_by_a) = p.get(&format!("/api/units/ua/operators/{operator_id}/records?year=2026"), Some(&admin_a)).await;
    assert_eq!(status, 200, "{seen_by_a}");
    assert_eq!(seen_by_a["current_unit"], false);
    assert_eq!(seen_by_a["sessions"].as_array().unwrap().len(), 18);
    assert!(seen_by_a["sessions"].as_array().unwrap().iter().all(|s| s["id"].as_str().unwrap().starts_with("a-")));
    assert_eq!(seen_by_a["credits"], Value::Null);
    assert_eq!(seen_by_a["cards"], Value::Null);
    let (status, _) = p.get(&format!("/api/units/ua/operators/{operator_id}/records"), Some(&admin_b)).await;
    assert_eq!(status, 403, "B cannot read through A's path");

    // The archive follows the same split.
    let kinds = |body: &Value| -> Vec<String> { body["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect() };
    let (_, archive_a) = p.get(&format!("/api/archives/{operator_id}"), Some(&admin_a)).await;
    assert!(archive_a["entries"].as_array().unwrap().iter().all(|e| e["unit_id"] == "ua"), "{archive_a}");
    assert!(!kinds(&archive_a).contains(&"card_issued".to_string()));
    let (_, archive_b) = p.get(&format!("/api/archives/{operator_id}"), Some(&admin_b)).await;
    let b_kinds = kinds(&archive_b);
    assert_eq!(b_kinds.iter().filter(|k| *k == "credit").count(), 2, "both credit entries, A's period included: {b_kinds:?}");
    assert!(b_kinds.contains(&"card_issued".to_string()));
    assert!(archive_b["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "session").all(|e| e["unit_id"] == "ub"));

    // The association may release by override.
    let (status, body) = p.post(&format!("/api/units/ub/operators/{operator_id}/release"), Some(&association), json!({ "reason": "单位注销" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "override");
    let (_, seen_by_b) = p.get(&format!("/api/units/ub/operators/{operator_id}/records"), Some(&admin_b)).await;
    assert_eq!(seen_by_b["current_unit"], false);
    assert_eq!(seen_by_b["credits"], Value::Null);
    p.handle.stop().await;
});
