//! The exam rules end to end on each backend, with the workers' timers and jobs run
//! in the test: the daily attempt limit by Beijing date, the server's deadline with
//! automatic submission, the 20th credit issuing one card, papers drawn only from the
//! studied courses' published questions, and evidence kept for review.

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{TestApp, app, correct_answers, id_number, uscc};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;

/// Enrolls an operator for T in 2026 and reports cleared sessions for the first
/// `course_count` courses of T, one a day from 1 February. Returns (token, enrollment id,
/// the course codes studied).
async fn studied(app: &TestApp, mobile: &str, id_body: &str, unit_body: &str, course_count: usize) -> (String, String, Vec<String>) {
    let admin = app.admin_token().await;
    let unit = uscc(unit_body);
    app.create_unit(&admin, &unit, "电梯公司", &format!("admin-{mobile}")).await;
    let (token, _, enrollment_id) = app.enrolled_operator(mobile, &id_number(id_body), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;

    let codes: Vec<String> = app.state.courseware.item("T").unwrap().courses.iter().take(course_count).map(|course| course.code.clone()).collect();
    let first_day = Utc.with_ymd_and_hms(2026, 2, 1, 1, 0, 0).unwrap();
    for (index, code) in codes.iter().enumerate() {
        let start = first_day + Duration::days(index as i64);
        let reply = app.report_session(&institution, &enrollment_id, &format!("{mobile}-{code}"), code, start, 90).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    app.clear_sessions(&enrollment_id, course_count as i64).await;
    (token, enrollment_id, codes)
}

async fn start_exam(app: &TestApp, token: &str, enrollment_id: &str) -> common::Reply {
    app.start_exam(token, enrollment_id).await
}

async fn stored_paper(app: &TestApp, attempt_id: &str) -> domain::exam::Paper {
    let text: String = sqlx::query_scalar("SELECT paper FROM exam_attempts WHERE id = $1").bind(attempt_id).fetch_one(&app.db.pool).await.unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn attempt_field<T>(app: &TestApp, attempt_id: &str, column: &'static str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
{
    let sql = format!("SELECT {column} FROM exam_attempts WHERE id = $1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(attempt_id).fetch_one(&app.db.pool).await.unwrap()
}

fn beijing(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, minute, second).unwrap() - Duration::hours(8)
}

both_backends!(attempts_per_beijing_day, |db: Db| async move {
    let app = app(db, beijing(5, 9, 0, 0)).await;
    let runner = app.job_runner();
    let (token, enrollment_id, _) = studied(&app, "13800000031", "43010219800101131", "91430100MA4L8891", 3).await;

    // Attempt 1 at 10:00 Beijing is abandoned: the client never returns, and the
    // deadline timer submits it at 11:00 as expired. It still counts.
    app.clock.advance_to(beijing(5, 10, 0, 0));
    let first = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let first_id = first.body["attempt_id"].as_str().unwrap().to_string();
    app.clock.advance_to(beijing(5, 11, 0, 0));
    let ran = app.run_due(&runner).await;
    assert!(ran.contains(&"finalize_exam".to_string()), "{ran:?}");
    assert_eq!(attempt_field::<String>(&app, &first_id, "status").await, "expired");

    // Attempt 2 at 23:50 Beijing (15:50 UTC), submitted at once.
    app.clock.advance_to(beijing(5, 23, 50, 0));
    let token = app.login_token("13800000031").await;
    let second = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    assert_eq!(second.body["beijing_date"], "2026-03-05");
    let second_id = second.body["attempt_id"].as_str().unwrap();
    assert_eq!(app.post(&format!("/api/exams/{second_id}/submit"), Some(&token), json!({})).await.status, StatusCode::OK);

    // A third start at 23:58 on 5 March is refused; a UTC date would still be 5 March
    // until 08:00 Beijing time, so only the Beijing date lets 00:05 through.
    app.clock.advance_to(beijing(5, 23, 58, 0));
    let third = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", third.body);
    assert_eq!(third.code(), "exam.daily_limit");
    assert!(third.message().contains("2026-03-06 00:00"), "{}", third.message());

    // At 00:05 on 6 March two devices start at the same moment: one attempt.
    app.clock.advance_to(beijing(6, 0, 5, 0));
    let (a, b) = tokio::join!(start_exam(&app, &token, &enrollment_id), start_exam(&app, &token, &enrollment_id));
    assert!(a.status.is_success(), "{:?}", a.body);
    assert!(b.status.is_success(), "{:?}", b.body);
    assert_eq!(a.body["attempt_id"], b.body["attempt_id"]);
    assert_eq!(a.body["beijing_date"], "2026-03-06");
    let dates: Vec<String> = sqlx::query_scalar("SELECT beijing_date FROM exam_attempts WHERE enrollment_id = $1 ORDER BY started_at")
        .bind(&enrollment_id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(dates, vec!["2026-03-05", "2026-03-05", "2026-03-06"]);
});

both_backends!(deadline_is_the_servers, |db: Db| async move {
    let app = app(db, beijing(5, 9, 0, 0)).await;
    let runner = app.job_runner();
    let (token, enrollment_id, _) = studied(&app, "13800000032", "43010219800101132", "91430100MA4L8892", 3).await;

    // A 60-minute attempt started at 09:00:00 has its deadline at 10:00:00.
    let started = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let attempt_id = started.body["attempt_id"].as_str().unwrap().to_string();
    let deadline_at = started.body["deadline_at"].as_i64().unwrap();
    assert_eq!(deadline_at, beijing(5, 10, 0, 0).timestamp_millis());
    assert_eq!(started.body["deadline_beijing"], "2026-03-05 10:00:00");

    // Answers saved at 09:59:59 are kept, whatever time the client claims.
    app.clock.advance_to(beijing(5, 9, 59, 59));
    let answers = correct_answers(&app, &attempt_id).await;
    let path = format!("/api/exams/{attempt_id}/answers");
    let saved = app.call(Method::PUT, &path, Some(&token), Some(json!({ "answers": answers, "client_time": "2026-03-05T08:00:00+08:00" }))).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(saved.body["remaining_seconds"], 1);

    // At 10:00:01 an answer is refused with the deadline in Beijing time.
    app.clock.advance_to(beijing(5, 10, 0, 1));
    let question_id = answers.as_object().unwrap().keys().next().unwrap().clone();
    let late = app.call(Method::PUT, &path, Some(&token), Some(json!({ "answers": { question_id: false } }))).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.code(), "exam.deadline_passed");
    assert_eq!(late.message(), "考试已于 2026-03-05 10:00:00（北京时间）结束，不能再作答；截止前保存的答案已保留并将用于评分。");

    // The client never returns: the deadline timer submits the attempt with the
    // deadline as its finish time, graded on the answers saved before it.
    app.run_due(&runner).await;
    assert_eq!(attempt_field::<String>(&app, &attempt_id, "status").await, "expired");
    assert_eq!(attempt_field::<Option<i64>>(&app, &attempt_id, "finished_at").await, Some(deadline_at));
    assert_eq!(attempt_field::<Option<f64>>(&app, &attempt_id, "score").await, Some(100.0));
    assert_eq!(attempt_field::<Option<i64>>(&app, &attempt_id, "passed").await, Some(1));
    let resumed = app.get(&format!("/api/exams/{attempt_id}"), Some(&token)).await;
    assert_eq!(resumed.body["answers"], answers);
    assert_eq!(resumed.body["remaining_seconds"], 0);
});

both_backends!(twentieth_credit_issues_one_card, |db: Db| async move {
    let app = app(db, beijing(5, 9, 0, 0)).await;
    let runner = app.job_runner();
    let (token, enrollment_id, codes) = studied(&app, "13800000033", "43010219800101133", "91430100MA4L8893", 20).await;
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();

    // 18 credits from earlier exams.
    for code in &codes[..18] {
        sqlx::query("INSERT INTO credits (enrollment_id, course_code, attempt_id, awarded_at) VALUES ($1, $2, 'earlier', 0)")
            .bind(&enrollment_id)
            .bind(code)
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let event = workflows::runtime::EventIn::new("credits-18", "credits_updated").with("credits", 18);
    app.state.engine.send(&instance_id, event).await.unwrap();

    // The exam covers exactly the two courses not yet credited, and is passed.
    let started = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let attempt_id = started.body["attempt_id"].as_str().unwrap().to_string();
    let covered: BTreeSet<String> = stored_paper(&app, &attempt_id).await.questions.iter().map(|question| question.course_code.clone()).collect();
    assert_eq!(covered, codes[18..].iter().cloned().collect::<BTreeSet<String>>());
    // Twenty minutes of work: answers faster than a person can read are a finding.
    app.clock.advance(chrono::Duration::minutes(20));
    let answers = correct_answers(&app, &attempt_id).await;
    app.call(Method::PUT, &format!("/api/exams/{attempt_id}/answers"), Some(&token), Some(json!({ "answers": answers }))).await;

    // Twenty minutes of answering: a paper submitted at once would be flagged by the
    // timing rule and wait for a reviewer instead of being credited.
    app.clock.advance(Duration::minutes(20));
    let result = app.post(&format!("/api/exams/{attempt_id}/submit"), Some(&token), json!({})).await;
    assert_eq!(result.body["passed"], true, "{:?}", result.body);

    // Screening clears it, credits are awarded and the card is issued.
    let ran = app.run_due(&runner).await;
    for job in ["screen_exam", "award_credits", "issue_card"] {
        assert!(ran.iter().any(|name| name == job), "{job} did not run: {ran:?}");
    }
    assert_eq!(app.instance_state(&instance_id).await, "card_issued");
    assert_eq!(app.state.engine.instance(&instance_id).await.unwrap().context["credits"], 20);
    assert_eq!(app.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL", &enrollment_id).await, 20);
    assert_eq!(app.count("SELECT COUNT(*) FROM cards WHERE enrollment_id = $1", &enrollment_id).await, 1);

    // A retake, a repeated grading and a repeated credit report issue nothing more.
    let retake = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(retake.status, StatusCode::CONFLICT);
    assert_eq!(retake.code(), "exam.not_studying");
    let again = app.post(&format!("/api/exams/{attempt_id}/submit"), Some(&token), json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    let repeat = workflows::runtime::EventIn::new("credits-20-again", "credits_updated").with("credits", 20);
    app.state.engine.send(&instance_id, repeat).await.unwrap();
    app.run_due(&runner).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM cards WHERE enrollment_id = $1", &enrollment_id).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL", &enrollment_id).await, 20);
});

both_backends!(evidence_kept_for_review, |db: Db| async move {
    let app = app(db, beijing(5, 9, 0, 0)).await;
    let (token, enrollment_id, _) = studied(&app, "13800000034", "43010219800101134", "91430100MA4L8894", 2).await;
    let started = start_exam(&app, &token, &enrollment_id).await;
    let attempt_id = started.body["attempt_id"].as_str().unwrap().to_string();

    let evidence = json!({
        "face_checks": [{ "moment": "start", "result": "passed", "provider_ref": "fc-1" }, { "moment": "random", "result": "failed", "provider_ref": "fc-2" }],
        "snapshots": [{ "ref": "snapshots/a1.jpg" }],
        "audio": [{ "ref": "audio/a1.ogg", "seconds": 30 }],
        "focus_loss": [{ "at": "2026-03-05T09:10:00+08:00", "seconds": 4 }],
    });
    let reply = app.post(&format!("/api/exams/{attempt_id}/evidence"), Some(&token), evidence).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["appended"], 5);

    let stored: Value = serde_json::from_str(&attempt_field::<String>(&app, &attempt_id, "evidence").await).unwrap();
    assert_eq!(stored["face_checks"].as_array().unwrap().len(), 2);
    assert_eq!(stored["face_checks"][1]["moment"], "random");
    assert_eq!(stored["face_checks"][1]["result"], "failed");
    assert_eq!(stored["snapshots"][0]["ref"], "snapshots/a1.jpg");
    assert_eq!(stored["audio"][0]["ref"], "audio/a1.ogg");
    assert_eq!(stored["focus_loss"][0]["seconds"], 4);
    assert_eq!(stored["focus_loss"][0]["received_at"], app.state.now_ms(), "stamped with the server's time");
});

/// Imports `count` published single choice questions into `course` through the bank's
/// API: a sheet import by one staff member, then submission and approval by another.
async fn publish_questions(app: &TestApp, course: &str, count: usize) {
    let author = app.account_token(api::auth::Role::AssociationAdmin, &format!("author-{course}"), None).await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, &format!("reviewer-{course}"), None).await;
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (column, (header, _)) in domain::bank::SHEET_COLUMNS.iter().enumerate() {
        sheet.write_string(0, column as u16, *header).unwrap();
    }
    for index in 0..count {
        let row = index as u32 + 1;
        let cells = [course, "单选", &format!("{course} 补充题 {index}：维保前应做什么？"), "设置警示标志", "直接开工", "", "", "", "", "A", "先设警示。", "2"];
        for (column, text) in cells.iter().enumerate() {
            if !text.is_empty() {
                sheet.write_string(row, column as u16, *text).unwrap();
            }
        }
    }
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/bank/import?file_name=extra.xlsx")
        .header("authorization", format!("Bearer {author}"))
        .body(axum::body::Body::from(workbook.save_to_buffer().unwrap()))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.body["accepted"], count, "{:?}", reply.body);
    for row in reply.body["rows"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let path = format!("/api/bank/questions/{id}/review");
        assert_eq!(app.post(&path, Some(&author), json!({ "action": "submit" })).await.status, StatusCode::OK);
        assert_eq!(app.post(&path, Some(&reviewer), json!({ "action": "approve" })).await.status, StatusCode::OK);
    }
}

both_backends!(same_day_papers_do_not_repeat, |db: Db| async move {
    let app = app(db, beijing(5, 9, 0, 0)).await;
    let (token, enrollment_id, codes) = studied(&app, "13800000035", "43010219800101135", "91430100MA4L8896", 2).await;
    for code in &codes {
        publish_questions(&app, code, 8).await;
    }

    // Two attempts on 5 March: 5 questions per course each, none shown twice.
    let first = start_exam(&app, &token, &enrollment_id).await;
    let first_id = first.body["attempt_id"].as_str().unwrap().to_string();
    app.post(&format!("/api/exams/{first_id}/submit"), Some(&token), json!({})).await;
    let second = start_exam(&app, &token, &enrollment_id).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    let second_id = second.body["attempt_id"].as_str().unwrap().to_string();

    let first_paper = stored_paper(&app, &first_id).await;
    let second_paper = stored_paper(&app, &second_id).await;
    assert_eq!(first_paper.questions.len(), 10);
    assert_eq!(second_paper.questions.len(), 10);
    let first_ids: BTreeSet<String> = first_paper.questions.iter().map(|question| question.question_id.clone()).collect();
    let repeated: Vec<&String> = second_paper.questions.iter().map(|question| &question.question_id).filter(|id| first_ids.contains(*id)).collect();
    assert!(repeated.is_empty(), "repeated on the same day: {repeated:?}");

    // Each stored question names its exact version and the option order shown.
    for question in &second_paper.questions {
        let stored: i64 = app.count("SELECT COUNT(*) FROM questions WHERE id = $1 AND status = 'published'", &question.version_id()).await;
        assert_eq!(stored, 1, "{} is a published version", question.version_id());
        let mut order = question.option_order.clone();
        order.sort_unstable();
        assert_eq!(order, (0..question.options.len()).collect::<Vec<_>>());
    }
});
