//! Review decisions end to end on each backend: the workers screen sessions and exams,
//! a reviewer decides through the HTTP API, and the decision moves the workflow:
//! hours cleared, credits withdrawn, the card revoked (and no longer verified as
//! valid) and issued again only when the credits are earned again; the operator and
//! the unit admin notified; the decision pushed to the provincial simulator.

mod support;

use api::auth::Role;
use domain::courseware::Courseware;
use serde_json::{Value, json};
use support::{Enrolled, Platform, enrolled, pass_exam, platform, report_session, wait_until};
use workflows::both_backends;
use workflows::db::Db;

const HOUR_MS: i64 = 3_600_000;

/// Returns the first `n` courses of T in 2026 with their minimum minutes.
fn courses(n: usize) -> Vec<(String, i64)> {
    let courseware = Courseware::embedded().unwrap();
    courseware.item("T").unwrap().courses.iter().filter(|c| c.years.contains(&2026)).take(n).map(|c| (c.code.clone(), i64::from(c.minutes))).collect()
}

/// Reports one clean session per course, back to back, ending before the clock's now.
async fn study(p: &Platform, operator: &Enrolled, prefix: &str, courses: &[(String, i64)]) {
    let total: i64 = courses.iter().map(|(_, minutes)| minutes * 60_000 + 60_000).sum();
    let mut start = p.clock.now_utc().timestamp_millis() - total - HOUR_MS;
    for (index, (code, minutes)) in courses.iter().enumerate() {
        report_session(p, operator, &format!("{prefix}-{index}"), code, start, *minutes, "passed", json!({})).await;
        start += minutes * 60_000 + 60_000;
    }
}

/// Returns the open case of `subject_id` from the reviewer queue.
async fn case_of(p: &Platform, reviewer: &str, subject_id: &str) -> Value {
    let (status, body) = p.get("/api/reviews?status=all", Some(reviewer)).await;
    assert_eq!(status, 200, "{body}");
    body["cases"].as_array().unwrap().iter().find(|case| case["subject_id"] == subject_id).cloned().unwrap_or_else(|| panic!("no case for {subject_id}: {body}"))
}

async fn card_numbers(p: &Platform, operator_id: &str) -> Vec<(String, bool)> {
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as("SELECT card_no, revoked_at FROM cards WHERE operator_id = $1 ORDER BY issued_at, card_no")
        .bind(operator_id)
        .fetch_all(&p.db.pool)
        .await
        .unwrap();
    rows.into_iter().map(|(card_no, revoked_at)| (card_no, revoked_at.is_none())).collect()
}

both_backends!(clear_course_revokes_and_reissues_card, |db: Db| async move {
    let p = platform(db).await;
    let operator = enrolled(&p, "u1", "op-1", "19246777401").await;
    p.account(Role::UnitAdmin, "unit-admin-1", Some("u1"), Some("13900000001")).await;
    let reviewer = p.account(Role::Reviewer, "reviewer-1", None, None).await;
    let twenty = courses(20);
    let codes: Vec<String> = twenty.iter().map(|(code, _)| code.clone()).collect();

    // Twenty courses studied and passed: the card is issued.
    study(&p, &operator, "s", &twenty).await;
    wait_until(&p, "20 completed courses", async || p.context_int(&operator.instance_id, "completed_courses").await == 20).await;
    pass_exam(&p, &operator, "a-1", &codes, json!({})).await;
    wait_until(&p, "the card", async || p.state_of(&operator.instance_id).await == "card_issued").await;
    wait_until(&p, "the card row", async || card_numbers(&p, "op-1").await.len() == 1).await;
    let first_card = card_numbers(&p, "op-1").await[0].0.clone();
    let (_, verified) = p.get(&format!("/api/cards/{first_card}/verify"), None).await;
    assert_eq!(verified["valid"], true);

    // A later session of the first course with a failed face check is flagged.
    let (course, minutes) = twenty[0].clone();
    let start = p.clock.now_utc().timestamp_millis() - 2 * HOUR_MS;
    report_session(&p, &operator, "s-bad", &course, start, minutes, "failed", json!({ "device": "d-1" })).await;
    wait_until(&p, "the flagged session", async || p.count("SELECT COUNT(*) FROM review_cases WHERE subject_id = $1", "s-bad").await == 1).await;
    let case = case_of(&p, &reviewer, "s-bad").await;
    assert_eq!(case["outcome"], "review");
    assert_eq!(case["findings"][0]["rule"], "face_check_start");

    // The evidence view is logged.
    let case_id = case["id"].as_str().unwrap().to_string();
    let (status, detail) = p.get(&format!("/api/reviews/{case_id}"), Some(&reviewer)).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["subject"]["evidence"]["device"], "d-1");
    assert_eq!(detail["course_sessions"].as_array().unwrap().len(), 2, "both sessions of the course are shown");
    assert_eq!(p.count("SELECT COUNT(*) FROM evidence_access_log WHERE subject_id = $1", "s-bad").await, 1);

    // A decision of the wrong kind and one without a reason are refused.
    let path = format!("/api/reviews/{case_id}/decision");
    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "void_score", "reason": "x" })).await;
    assert_eq!((status, body["code"].as_str().unwrap()), (400, "review.decision_invalid"));
    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "clear_course" })).await;
    assert_eq!((status, body["code"].as_str().unwrap()), (400, "review.reason_required"));

    // Restudy: all hours of the course are cleared, its credit withdrawn, the card revoked.
    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "clear_course", "reason": "人脸核验未通过，疑似代学" })).await;
    assert_eq!(status, 200, "{body}");
    let mut voided: Vec<&str> = body["effects"]["sessions_voided"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    voided.sort();
    assert_eq!(voided, ["s-0", "s-bad"]);
    assert_eq!(body["effects"]["credits_withdrawn"], json!([course]));
    assert_eq!(body["effects"]["credits"], 19);
    wait_until(&p, "the card revoked", async || card_numbers(&p, "op-1").await == vec![(first_card.clone(), false)]).await;
    assert_eq!(p.state_of(&operator.instance_id).await, "studying");
    assert_eq!(p.context_int(&operator.instance_id, "credits").await, 19);
    assert_eq!(p.context_int(&operator.instance_id, "completed_courses").await, 19);
    let (_, verified) = p.get(&format!("/api/cards/{first_card}/verify"), None).await;
    assert_eq!(verified["valid"], false, "a revoked card is not valid");
    assert_eq!(verified["revoked"], true);

    // The operator and the unit admin receive the SMS, and the decision reaches the regulator.
    wait_until(&p, "decision SMS to both", async || {
        let lines = p.sms_lines();
        let notified = |mobile: &str| lines.iter().any(|line| line.contains(mobile) && line.contains("疑似代学"));
        notified("19246777401") && notified("13900000001")
    })
    .await;
    wait_until(&p, "decision and revocation at the simulator", async || {
        let kinds: Vec<String> = p.sim.records(Some("op-1")).await.iter().map(|stored| stored.record.kind.as_str().to_string()).collect();
        kinds.contains(&"decision".to_string()) && kinds.contains(&"card_revoked".to_string())
    })
    .await;

    // The course studied and passed again: a new card, the old one stays revoked.
    p.clock.advance(chrono::Duration::hours(3));
    let start = p.clock.now_utc().timestamp_millis() - 2 * HOUR_MS;
    report_session(&p, &operator, "s-again", &course, start, minutes, "passed", json!({})).await;
    wait_until(&p, "the course completed again", async || p.context_int(&operator.instance_id, "completed_courses").await == 20).await;
    pass_exam(&p, &operator, "a-2", &[course.clone()], json!({})).await;
    wait_until(&p, "the second card", async || p.state_of(&operator.instance_id).await == "card_issued").await;
    wait_until(&p, "the second card row", async || card_numbers(&p, "op-1").await.len() == 2).await;
    let cards = card_numbers(&p, "op-1").await;
    assert_eq!(cards[0], (first_card.clone(), false));
    assert!(cards[1].1, "the new card is valid");
    assert_ne!(cards[1].0, first_card);
    let (_, verified) = p.get(&format!("/api/cards/{first_card}/verify"), None).await;
    assert_eq!(verified["valid"], false, "the first card stays revoked");
    p.handle.stop().await;
});

both_backends!(exam_and_year_decisions, |db: Db| async move {
    let p = platform(db).await;
    let operator = enrolled(&p, "u1", "op-2", "19246777402").await;
    let other = enrolled(&p, "u1", "op-3", "19246777403").await;
    let reviewer = p.account(Role::Reviewer, "reviewer-2", None, None).await;
    let three = courses(3);
    let codes: Vec<String> = three.iter().map(|(code, _)| code.clone()).collect();
    study(&p, &operator, "t", &three).await;
    study(&p, &other, "o", &three[..1]).await;
    wait_until(&p, "3 completed courses", async || p.context_int(&operator.instance_id, "completed_courses").await == 3).await;

    // Focus lost six times: the passed exam waits for a reviewer, operator voids the score.
    let focus: Vec<Value> = (0..6).map(|n| json!({ "n": n })).collect();
    pass_exam(&p, &operator, "x-1", &codes, json!({ "focus_loss": focus })).await;
    wait_until(&p, "the flagged exam", async || p.count("SELECT COUNT(*) FROM review_cases WHERE subject_id = $1", "x-1").await == 1).await;
    assert_eq!(p.state_of(&operator.instance_id).await, "under_review");
    let case = case_of(&p, &reviewer, "x-1").await;
    assert_eq!(case["findings"][0]["rule"], "focus_lost_repeatedly");
    let filtered = p.get("/api/reviews?rule=focus_lost_repeatedly&kind=exam", Some(&reviewer)).await.1;
    assert_eq!(filtered["cases"].as_array().unwrap().len(), 1);
    let none = p.get("/api/reviews?rule=shared_ip", Some(&reviewer)).await.1;
    assert_eq!(none["cases"].as_array().unwrap().len(), 0);
    let (status, bad) = p.get("/api/reviews?rule=nonsense", Some(&reviewer)).await;
    assert_eq!((status, bad["code"].as_str().unwrap()), (400, "review.rule_invalid"));

    let path = format!("/api/reviews/{}/decision", case["id"].as_str().unwrap());
    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "void_score", "reason": "考试中多次切出画面" })).await;
    assert_eq!(status, 200, "{body}");
    wait_until(&p, "back to studying", async || p.state_of(&operator.instance_id).await == "studying").await;
    let review_status: String = sqlx::query_scalar("SELECT review_status FROM exam_attempts WHERE id = 'x-1'").fetch_one(&p.db.pool).await.unwrap();
    assert_eq!(review_status, "voided");
    assert_eq!(p.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1", &operator.enrollment_id).await, 0, "a voided score earns nothing");

    // A session case: sessions of another operator cannot be named; clear_year voids all.
    let start = p.clock.now_utc().timestamp_millis() - 2 * HOUR_MS;
    report_session(&p, &operator, "t-bad", &codes[0], start, 30, "missing", json!({})).await;
    wait_until(&p, "the flagged session", async || p.count("SELECT COUNT(*) FROM review_cases WHERE subject_id = $1", "t-bad").await == 1).await;
    let case = case_of(&p, &reviewer, "t-bad").await;
    let path = format!("/api/reviews/{}/decision", case["id"].as_str().unwrap());
    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "clear_sessions", "reason": "x", "session_ids": ["o-0"] })).await;
    assert_eq!((status, body["code"].as_str().unwrap()), (400, "review.session_not_in_enrollment"));
    assert_eq!(p.count("SELECT COUNT(*) FROM study_sessions WHERE id = $1 AND status = 'cleared'", "o-0").await, 1, "a refused decision changes nothing");

    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "clear_year", "reason": "全年学习记录存在代学" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effects"]["sessions_voided"].as_array().unwrap().len(), 4);
    wait_until(&p, "no completed courses", async || p.context_int(&operator.instance_id, "completed_courses").await == 0).await;
    assert_eq!(p.count("SELECT COUNT(*) FROM study_sessions WHERE enrollment_id = $1 AND status <> 'voided'", &operator.enrollment_id).await, 0);
    assert_eq!(p.count("SELECT COUNT(*) FROM study_sessions WHERE enrollment_id = $1 AND status = 'cleared'", &other.enrollment_id).await, 1, "another operator keeps his hours");
    let (status, again) = p.post(&path, Some(&reviewer), json!({ "decision": "accept" })).await;
    assert_eq!((status, again["code"].as_str().unwrap()), (409, "review.already_decided"));
    p.handle.stop().await;
});

both_backends!(accept_decisions_let_records_count, |db: Db| async move {
    let p = platform(db).await;
    let operator = enrolled(&p, "u1", "op-4", "19246777404").await;
    let reviewer = p.account(Role::Reviewer, "reviewer-4", None, None).await;
    let two = courses(2);
    let codes: Vec<String> = two.iter().map(|(code, _)| code.clone()).collect();
    study(&p, &operator, "k", &two[..1]).await;
    wait_until(&p, "1 completed course", async || p.context_int(&operator.instance_id, "completed_courses").await == 1).await;

    // A session flagged for a missed face check does not count until accepted.
    let (course, minutes) = two[1].clone();
    let start = p.clock.now_utc().timestamp_millis() - 2 * HOUR_MS;
    report_session(&p, &operator, "k-flagged", &course, start, minutes, "missing", json!({})).await;
    wait_until(&p, "the flagged session", async || p.count("SELECT COUNT(*) FROM review_cases WHERE subject_id = $1", "k-flagged").await == 1).await;
    assert_eq!(p.context_int(&operator.instance_id, "completed_courses").await, 1, "a flagged session does not count");
    let case = case_of(&p, &reviewer, "k-flagged").await;
    let path = format!("/api/reviews/{}/decision", case["id"].as_str().unwrap());
    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "accept" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effects"]["sessions_cleared"], json!(["k-flagged"]));
    assert_eq!(body["effects"]["completed"], 2);
    wait_until(&p, "2 completed courses", async || p.context_int(&operator.instance_id, "completed_courses").await == 2).await;

    // An exam flagged for focus loss waits under review; accepting it awards the credits.
    let focus: Vec<Value> = (0..6).map(|n| json!({ "n": n })).collect();
    pass_exam(&p, &operator, "k-x", &codes, json!({ "focus_loss": focus })).await;
    wait_until(&p, "the flagged exam", async || p.count("SELECT COUNT(*) FROM review_cases WHERE subject_id = $1", "k-x").await == 1).await;
    assert_eq!(p.state_of(&operator.instance_id).await, "under_review");
    assert_eq!(p.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1", &operator.enrollment_id).await, 0, "no credit before the decision");
    let case = case_of(&p, &reviewer, "k-x").await;
    let path = format!("/api/reviews/{}/decision", case["id"].as_str().unwrap());
    let (status, body) = p.post(&path, Some(&reviewer), json!({ "decision": "accept", "reason": "切出画面系网络中断" })).await;
    assert_eq!(status, 200, "{body}");
    wait_until(&p, "2 credits", async || p.context_int(&operator.instance_id, "credits").await == 2).await;
    assert_eq!(p.state_of(&operator.instance_id).await, "studying");
    let review_status: String = sqlx::query_scalar("SELECT review_status FROM exam_attempts WHERE id = 'k-x'").fetch_one(&p.db.pool).await.unwrap();
    assert_eq!(review_status, "accepted");

    // `accept` cannot be appealed, so neither decision SMS invites an appeal.
    let final_notices = async || p.sms_lines().iter().filter(|line| line.contains("19246777404") && line.contains("不可再申诉")).count();
    wait_until(&p, "two final decision SMS", async || final_notices().await == 2).await;
    let inviting: Vec<String> = p.sms_lines().into_iter().filter(|line| line.contains("19246777404") && line.contains("如有异议")).collect();
    assert!(inviting.is_empty(), "{inviting:?}");
    p.handle.stop().await;
});
