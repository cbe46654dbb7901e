//! Exams: the daily attempt limit by Beijing date, the server's deadline, and
//! simultaneous starts.

mod common;

use axum::http::{Method, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use common::{TestApp, app, correct_answers, id_number, march_5_10am_beijing, uscc};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;

/// Enrolls an operator whose sessions for T-01 to T-03 were reported and cleared, with
/// the clock at 09:00 Beijing on 5 March. Returns (mobile, token, enrollment id).
async fn ready_for_exam(app: &TestApp, mobile: &str, id_body: &str, unit_body: &str) -> (String, String) {
    let admin = app.admin_token().await;
    let unit = uscc(unit_body);
    app.create_unit(&admin, &unit, "电梯公司", &format!("admin-{mobile}")).await;
    let (token, _, enrollment_id) = app.enrolled_operator(mobile, &id_number(id_body), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;

    // Sessions on 4 March, Beijing time, long enough for each course.
    let day_before = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    for (index, course) in ["T-01", "T-02", "T-03"].iter().enumerate() {
        let start = day_before + Duration::hours(index as i64 * 2);
        let reply = app.report_session(&institution, &enrollment_id, &format!("{mobile}-{course}"), course, start, 90).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    app.clear_sessions(&enrollment_id, 3).await;
    (token, enrollment_id)
}

async fn start_exam(app: &TestApp, token: &str, enrollment_id: &str) -> common::Reply {
    app.start_exam(token, enrollment_id).await
}

async fn submit(app: &TestApp, token: &str, attempt_id: &str) -> common::Reply {
    app.post(&format!("/api/exams/{attempt_id}/submit"), Some(token), json!({})).await
}

both_backends!(daily_limit_follows_beijing_date, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let (token, enrollment_id) = ready_for_exam(&app, "13800000021", "43010219800101125", "91430100MA4L8881").await;

    // Attempt 1 at 10:00 Beijing (02:00 UTC), failed by submitting no answers.
    app.clock.advance_to(march_5_10am_beijing());
    let first = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["beijing_date"], "2026-03-05");
    assert!(!first.body["questions"].as_array().unwrap().is_empty());
    assert!(!first.body.to_string().contains("\"answer\""), "the paper carries no answers");
    let result = submit(&app, &token, first.body["attempt_id"].as_str().unwrap()).await;
    assert_eq!(result.status, StatusCode::OK, "{:?}", result.body);
    assert_eq!(result.body["passed"], false);

    // Attempt 2 at 23:50 Beijing (15:50 UTC). The morning session expired, so log in again.
    app.clock.advance_to(Utc.with_ymd_and_hms(2026, 3, 5, 15, 50, 0).unwrap());
    let token = app.login_token("13800000021").await;
    let second = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    assert_eq!(second.body["beijing_date"], "2026-03-05");
    submit(&app, &token, second.body["attempt_id"].as_str().unwrap()).await;

    // A third start at 23:58 Beijing is rejected, saying when the next one is possible.
    app.clock.advance_to(Utc.with_ymd_and_hms(2026, 3, 5, 15, 58, 0).unwrap());
    let third = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", third.body);
    assert_eq!(third.code(), "exam.daily_limit");
    assert!(third.message().contains("2026-03-06 00:00"), "{}", third.message());
    assert!(third.message().contains("北京时间"), "{}", third.message());

    // At 00:05 Beijing on 6 March (16:05 UTC on 5 March) it is allowed.
    app.clock.advance_to(Utc.with_ymd_and_hms(2026, 3, 5, 16, 5, 0).unwrap());
    let fourth = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(fourth.status, StatusCode::CREATED, "{:?}", fourth.body);
    assert_eq!(fourth.body["beijing_date"], "2026-03-06");
    assert_eq!(app.count("SELECT COUNT(*) FROM exam_attempts WHERE enrollment_id = $1", &enrollment_id).await, 3);
});

both_backends!(answers_after_deadline_are_rejected, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let (token, enrollment_id) = ready_for_exam(&app, "13800000022", "43010219800101126", "91430100MA4L8882").await;

    let started = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let attempt_id = started.body["attempt_id"].as_str().unwrap().to_string();
    let deadline_at = started.body["deadline_at"].as_i64().unwrap();
    assert_eq!(deadline_at - app.state.now_ms(), 60 * 60_000, "deadline is start + exam_minutes");
    let question = &started.body["questions"][0];
    let answer = if question["kind"] == "true_false" { json!(true) } else { json!("A") };
    let question_id = question["question_id"].as_str().unwrap().to_string();

    // Saved 59 minutes in: kept.
    app.clock.advance(Duration::minutes(59));
    let path = format!("/api/exams/{attempt_id}/answers");
    let saved = app.call(Method::PUT, &path, Some(&token), Some(json!({ "answers": { question_id.clone(): answer } }))).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);

    // A question not on the paper is rejected.
    let unknown = app.call(Method::PUT, &path, Some(&token), Some(json!({ "answers": { "X-99-9": "A" } }))).await;
    assert_eq!(unknown.code(), "exam.unknown_question");

    // After the deadline: rejected with the deadline in Beijing time, earlier answer kept.
    app.clock.advance(Duration::minutes(2));
    let late = app.call(Method::PUT, &path, Some(&token), Some(json!({ "answers": { question_id.clone(): "B" } }))).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.code(), "exam.deadline_passed");
    assert!(late.message().contains("2026-03-05 10:00:00"), "{}", late.message());
    let resumed = app.get(&format!("/api/exams/{attempt_id}"), Some(&token)).await;
    assert_eq!(resumed.body["answers"][&question_id], answer);
    assert_eq!(resumed.body["remaining_seconds"], 0);

    // Submitting late grades the saved answers with the deadline as the finish time.
    let result = submit(&app, &token, &attempt_id).await;
    assert_eq!(result.status, StatusCode::OK, "{:?}", result.body);
    assert_eq!(result.body["finished_at"], deadline_at);
    let again = submit(&app, &token, &attempt_id).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["score"], result.body["score"]);

    // Evidence more than 10 minutes after the deadline is rejected.
    let evidence = app.post(&format!("/api/exams/{attempt_id}/evidence"), Some(&token), json!({ "focus_loss": [{ "at": 1 }] })).await;
    assert_eq!(evidence.status, StatusCode::OK, "{:?}", evidence.body);
    app.clock.advance(Duration::minutes(10));
    let evidence = app.post(&format!("/api/exams/{attempt_id}/evidence"), Some(&token), json!({ "focus_loss": [{ "at": 2 }] })).await;
    assert_eq!(evidence.code(), "exam.evidence_closed");
});

both_backends!(simultaneous_starts_create_one_attempt, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let (token, enrollment_id) = ready_for_exam(&app, "13800000023", "43010219800101127", "91430100MA4L8883").await;

    let (a, b) = tokio::join!(start_exam(&app, &token, &enrollment_id), start_exam(&app, &token, &enrollment_id));
    assert!(a.status.is_success(), "{:?}", a.body);
    assert!(b.status.is_success(), "{:?}", b.body);
    assert_eq!(a.body["attempt_id"], b.body["attempt_id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM exam_attempts WHERE enrollment_id = $1", &enrollment_id).await, 1);
    let statuses: Vec<u16> = vec![a.status.as_u16(), b.status.as_u16()];
    assert!(statuses.contains(&201), "one of them created the attempt: {statuses:?}");
});

both_backends!(exam_needs_completed_courses, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L8884");
    app.create_unit(&admin, &unit, "电梯公司", "admin-x").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000024", &id_number("43010219800101128"), &unit).await;

    // Still `enrolled`: no exam.
    let reply = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "exam.not_studying");
    assert!(reply.message().contains("已报名"), "{}", reply.message());

    // Studying without a completed course: no exam either.
    app.handed_off(&token, &enrollment_id).await;
    let reply = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(reply.code(), "exam.no_courses");

    // Another operator cannot see this enrollment's exams.
    let other = app.login_token("13800000025").await;
    let reply = app.post(&format!("/api/enrollments/{enrollment_id}/exam/start"), Some(&other), json!({})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let _: Value = reply.body;
});

both_backends!(passed_exam_goes_through_review, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let (token, enrollment_id) = ready_for_exam(&app, "13800000026", "43010219800101132", "91430100MA4L8885").await;
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();

    // A fully correct paper passes and waits for review.
    let started = start_exam(&app, &token, &enrollment_id).await;
    let attempt_id = started.body["attempt_id"].as_str().unwrap().to_string();
    assert_eq!(app.instance_state(&instance_id).await, "exam");
    let answers = correct_answers(&app, &attempt_id).await;
    let saved = app.call(Method::PUT, &format!("/api/exams/{attempt_id}/answers"), Some(&token), Some(json!({ "answers": answers }))).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    let result = submit(&app, &token, &attempt_id).await;
    assert_eq!(result.body["passed"], true, "{:?}", result.body);
    assert_eq!(result.body["score"], 100.0);
    assert_eq!(result.body["review_status"], "pending");
    assert_eq!(result.body["per_course"].as_array().map(Vec::len), Some(3), "{:?}", result.body);
    let first = &result.body["per_question"][0];
    assert_eq!(first["outcome"], "correct", "{:?}", result.body);
    assert!(first.get("correct_answer").is_none(), "the operator's result holds no answer key: {first}");
    assert!(first.get("explanation").is_none(), "the operator's result holds no explanation: {first}");
    assert_eq!(app.instance_state(&instance_id).await, "under_review");

    // What screen_exam does for a suspicious attempt: open a review case.
    sqlx::query("INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, created_at) VALUES ('exam-case', 'exam', $1, $2, '[]', 'open', 0)")
        .bind(&attempt_id)
        .bind(&enrollment_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-3", None).await;

    // Rejecting voids the attempt and sends the enrollment back to studying.
    let reply = app.post("/api/reviews/exam-case/decision", Some(&reviewer), json!({ "decision": "reject", "reason": "考试过程中多次离开画面" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(app.instance_state(&instance_id).await, "studying");
    let review_status: String = sqlx::query_scalar("SELECT review_status FROM exam_attempts WHERE id = $1").bind(&attempt_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(review_status, "voided");

    // A second passed attempt, accepted, goes on to credit award.
    let started = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let attempt_id = started.body["attempt_id"].as_str().unwrap().to_string();
    let answers = correct_answers(&app, &attempt_id).await;
    app.call(Method::PUT, &format!("/api/exams/{attempt_id}/answers"), Some(&token), Some(json!({ "answers": answers }))).await;
    assert_eq!(submit(&app, &token, &attempt_id).await.body["passed"], true);
    sqlx::query("INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, created_at) VALUES ('exam-case-2', 'exam', $1, $2, '[]', 'open', 0)")
        .bind(&attempt_id)
        .bind(&enrollment_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let reply = app.post("/api/reviews/exam-case-2/decision", Some(&reviewer), json!({ "decision": "accept" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(app.instance_state(&instance_id).await, "credited");
    let awards = app.count("SELECT COUNT(*) FROM wf_outbox WHERE kind = 'job' AND action LIKE '%award_credits%' AND instance_id = $1", &instance_id).await;
    assert_eq!(awards, 1);
});

both_backends!(exam_start_needs_consent, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let (token, enrollment_id) = ready_for_exam(&app, "13800000029", "43010219800101128", "91430100MA4L8889").await;
    let start_path = format!("/api/enrollments/{enrollment_id}/exam/start");

    // Without consent to the current notice the exam does not start and nothing is stored.
    let refused = app.post(&start_path, Some(&token), json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.code(), "exam.consent_required");
    assert!(refused.message().contains("监考告知书"), "{:?}", refused.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM exam_attempts WHERE enrollment_id = $1", &enrollment_id).await, 0);

    // Consent to an older notice version does not count.
    let old = app.post(&format!("/api/enrollments/{enrollment_id}/proctoring-consent"), Some(&token), json!({ "notice_version": "2025-01" })).await;
    assert!(!old.status.is_success(), "{:?}", old.body);
    assert_eq!(app.post(&start_path, Some(&token), json!({})).await.status, StatusCode::CONFLICT);

    // After consent it starts.
    let started = app.start_exam(&token, &enrollment_id).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
});
