//! The association staff pages through the real site router (pages and API) on SQLite
//! and PostgreSQL: the dashboard, the review queue and a case with its evidence and a
//! decision that withdraws a credit, appeals decided by a second reviewer, manual
//! verifications with their documents, and question bank review with xlsx import.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod staff_fixture;
mod visitor;

use api::auth::Role;
use axum::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use common::{ADMIN_PASSWORD, TestApp, app, correct_answers, march_5_10am_beijing};
use serde_json::json;
use staff_fixture::{PNG_BASE64, WAV_BASE64, base64_decode, case_of, post_multipart, report, studying};
use visitor::Visitor;
use workflows::both_backends;
use workflows::db::Db;

fn site(app: &TestApp) -> axum::Router {
    let config = web::WebConfig { site_name: None, icp_filing: None, contact: None };
    web::site(app.state.clone(), config)
}

/// Logs `login` in at the account login page; returns where the login sent the visitor.
async fn log_in(visitor: &mut Visitor, login: &str) -> String {
    let page = visitor.log_in_account(login, ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    page.location().to_string()
}

both_backends!(staff_review_decision_withdraws_credit, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let runner = app.job_runner();
    let op = studying(&app, "13700137000").await;
    app.account_token(Role::Reviewer, "reviewer-1", None).await;

    // Three courses studied and an exam passed: three credits.
    let day_before = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    for (index, course) in ["T-01", "T-02", "T-03"].iter().enumerate() {
        report(&app, &op.institution, &op.enrollment_id, &format!("s-{course}"), course, day_before + Duration::hours(index as i64 * 2), "passed", json!({ "device": "d-1" })).await;
    }
    app.run_due(&runner).await;
    let reply = app.start_exam(&op.token, &op.enrollment_id).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let attempt_id = reply.body["attempt_id"].as_str().unwrap().to_string();
    let answers = correct_answers(&app, &attempt_id).await;
    app.put_json(&format!("/api/exams/{attempt_id}/answers"), &op.token, json!({ "answers": answers })).await;
    app.clock.advance(Duration::minutes(40));
    let reply = app.post(&format!("/api/exams/{attempt_id}/submit"), Some(&op.token), json!({})).await;
    assert_eq!(reply.body["passed"], true, "{:?}", reply.body);
    app.run_due(&runner).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL", &op.enrollment_id).await, 3);

    // A later session of T-01 fails its face check and carries a snapshot and a clip.
    let evidence = json!({
        "device": "d-1",
        "media_seconds": 600,
        "snapshots": [{ "at": "2026-03-05T00:10:00Z", "same_person": true, "image": format!("data:image/png;base64,{PNG_BASE64}") }],
        "audio": [{ "at": "2026-03-05T00:12:00Z", "clip": format!("data:audio/wav;base64,{WAV_BASE64}") }],
    });
    report(&app, &op.institution, &op.enrollment_id, "s-bad", "T-01", day_before + Duration::hours(20), "failed", evidence).await;
    app.run_due(&runner).await;
    let case_id = case_of(&app, "s-bad").await;

    // Signed out, the staff pages send the visitor to the account login; an operator
    // is sent to their own start page.
    let mut visitor = Visitor::new(site(&app));
    assert_eq!(visitor.get("/staff").await.location(), "/login/account");
    assert_eq!(visitor.get("/staff/reviews").await.location(), "/login/account");

    // The reviewer lands on the dashboard: counts, and links to every staff section.
    assert_eq!(log_in(&mut visitor, "reviewer-1").await, "/staff");
    let page = visitor.get("/staff").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let open_cases = app.count("SELECT COUNT(*) FROM review_cases WHERE status = $1", "open").await;
    assert!(open_cases >= 1);
    assert!(page.html.contains(&format!("id=\"count-reviews\"><strong>{open_cases}</strong>")), "{}", page.html);
    for section in ["reviews", "appeals", "verifications", "bank", "statistics", "notices", "help", "site", "units", "institutions", "incidents", "sync", "definitions"] {
        assert!(page.html.contains(&format!("href=\"/staff/{section}\"")), "no link to {section}: {}", page.html);
    }
    assert!(page.html.contains("href=\"/staff\""), "the staff menu: {}", page.html);

    // The queue lists the case under its rule; a rule filter keeps it, an invalid
    // status is named beside its field.
    let page = visitor.get("/staff/reviews").await;
    assert!(page.html.contains(&format!("href=\"/staff/reviews/{case_id}\"")), "{}", page.html);
    assert!(page.html.contains("开始时人脸核验未通过"), "{}", page.html);
    let page = visitor.get("/staff/reviews?kind=session&rule=face_check_start&year=2026&item_code=T").await;
    assert!(page.html.contains(&format!("href=\"/staff/reviews/{case_id}\"")), "{}", page.html);
    let page = visitor.get("/staff/reviews?rule=shared_ip").await;
    assert!(page.html.contains("id=\"no-cases\""), "{}", page.html);
    let page = visitor.get("/staff/reviews?status=bogus").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"status-error\""), "{}", page.html);
    assert!(page.html.contains("审核状态"), "{}", page.html);

    // The case page shows the evidence through the API; the page view and each image
    // or clip loaded are written to the evidence access log.
    let logged = |app: &TestApp| {
        let pool = app.db.pool.clone();
        async move { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM evidence_access_log l JOIN study_sessions s ON s.id = l.subject_id WHERE s.statement_id = 's-bad'").fetch_one(&pool).await.unwrap() }
    };
    let page = visitor.get(&format!("/staff/reviews/{case_id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(logged(&app).await, 1);
    let image = format!("/api/reviews/{case_id}/evidence?field=snapshots&index=0");
    let clip = format!("/api/reviews/{case_id}/evidence?field=audio&index=0");
    let html = unescape(&page.html);
    assert!(html.contains(&format!("<img src=\"{image}\"")), "{html}");
    assert!(html.contains(&format!("<audio controls preload=\"none\" src=\"{clip}\"")), "{html}");
    assert!(!page.html.contains(PNG_BASE64), "the page does not copy the image");

    // Evidence reads as labelled fields: Beijing times, durations in minutes, no JSON.
    assert!(html.contains("<dt>设备标识</dt><dd>d-1</dd>"), "{html}");
    assert!(html.contains("<dt>课件播放时长</dt><dd>10 分钟</dd>"), "{html}");
    assert!(html.contains("<dt>人脸核验</dt><dd>未通过</dd>"), "the finding's evidence is labelled: {html}");
    assert!(html.contains("2026-03-05 08:10:00"), "snapshot times are in Beijing time: {html}");
    assert!(!html.contains("2026-03-05T00:10:00Z"), "media captions show Beijing time too: {html}");
    assert!(!html.contains("media_seconds"), "{html}");
    assert!(!html.contains("{\""), "no raw JSON: {html}");
    let served = visitor.get(&image).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers.get("content-type").unwrap(), "image/png");
    assert_eq!(served.bytes[..4], [0x89, b'P', b'N', b'G']);
    let served = visitor.get(&clip).await;
    assert_eq!(served.headers.get("content-type").unwrap(), "audio/wav");
    assert_eq!(logged(&app).await, 3);
    assert!(page.html.contains("value=\"clear_course\""), "{}", page.html);
    assert!(!page.html.contains("value=\"void_score\""), "exam decisions are not offered on a study case");

    // Errors beside their fields, in zh-CN: no decision chosen, then no reason.
    let decide = format!("/staff/reviews/{case_id}/decision");
    let page = visitor.post(&decide, &[("reason", "x")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"decision-error\""), "{}", page.html);
    assert!(page.html.contains("请选择一种处理决定"), "{}", page.html);
    let page = visitor.post(&decide, &[("decision", "clear_course"), ("reason", " ")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"reason-error\""), "{}", page.html);
    assert!(page.html.contains("必须填写理由"), "{}", page.html);
    assert!(page.html.contains("id=\"decision-clear_course\" checked"), "the choice stays: {}", page.html);

    // Clearing the course voids both T-01 sessions and withdraws its credit.
    let page = visitor.post(&decide, &[("decision", "clear_course"), ("reason", "抓拍与核验均显示非本人学习")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), format!("/staff/reviews/{case_id}"));
    let page = visitor.get(&format!("/staff/reviews/{case_id}")).await;
    assert!(page.html.contains("id=\"decision-made\""), "{}", page.html);
    assert!(page.html.contains("清除整门课程"), "{}", page.html);
    assert!(page.html.contains("id=\"sessions-voided\">2<"), "{}", page.html);
    assert!(page.html.contains("<span class=\"badge\">T-01</span>"), "{}", page.html);
    assert!(!page.html.contains("id=\"decision-form\""), "a decided case has no form");
    let withdrawn: Vec<String> = sqlx::query_scalar("SELECT course_code FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NOT NULL")
        .bind(&op.enrollment_id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(withdrawn, vec!["T-01".to_string()]);

    // A second decision, posted from a page opened before the first, is rejected by
    // the API and its message shown on the decided case.
    let page = visitor.post(&decide, &[("decision", "accept")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.html.contains("id=\"decision-refused\""), "{}", page.html);
    assert!(page.html.contains("已有结论"), "{}", page.html);

    // An operator who opens a staff page is sent home.
    let mut operator = Visitor::new(site(&app));
    operator.get("/login").await;
    operator.post("/login/code", &[("mobile", "13700137000")]).await;
    let code = app.latest_code("13700137000").await;
    operator.post("/login", &[("mobile", "13700137000"), ("code", &code)]).await;
    assert_eq!(operator.get("/staff/reviews").await.location(), "/home");
    assert!(!op.operator_id.is_empty());
});

both_backends!(staff_appeal_and_verification_pages, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let runner = app.job_runner();
    let op = studying(&app, "13700137001").await;
    let first = app.account_token(Role::Reviewer, "reviewer-1", None).await;
    app.account_token(Role::Reviewer, "reviewer-2", None).await;

    // A flagged session, cleared by reviewer 1, appealed by the operator.
    let day_before = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    report(&app, &op.institution, &op.enrollment_id, "s-bad", "T-01", day_before, "failed", json!({})).await;
    app.run_due(&runner).await;
    let case_id = case_of(&app, "s-bad").await;
    let reply = app.post(&format!("/api/reviews/{case_id}/decision"), Some(&first), json!({ "decision": "clear_sessions", "reason": "人脸核验未通过" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = post_multipart(&app, &format!("/api/reviews/{case_id}/appeal"), &op.token, &[("reason", "本人学习，当时光线不足")], &[("在岗证明.pdf", b"%PDF-1.4\n% proof\n")]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let appeal_id = reply.body["appeal_id"].as_str().unwrap().to_string();

    // The reviewer who decided the case sees the appeal but may not decide it.
    let mut visitor = Visitor::new(site(&app));
    log_in(&mut visitor, "reviewer-1").await;
    let page = visitor.get("/staff").await;
    assert!(page.html.contains("id=\"count-appeals\"><strong>1</strong>"), "{}", page.html);
    let page = visitor.get("/staff/appeals").await;
    assert!(page.html.contains(&format!("id=\"appeal-{appeal_id}\"")), "{}", page.html);
    assert!(page.html.contains("本人学习，当时光线不足"), "{}", page.html);

    // The appeal's file is linked, served inline as PDF with its encoded name, and logged.
    let file = format!("/api/appeals/{appeal_id}/files?seq=0");
    assert!(unescape(&page.html).contains(&format!("href=\"{file}\"")), "{}", page.html);
    assert!(page.html.contains("在岗证明.pdf"), "{}", page.html);
    let served = visitor.get(&file).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers.get("content-type").unwrap(), "application/pdf");
    assert_eq!(served.headers.get("content-disposition").unwrap(), "inline; filename*=UTF-8''%E5%9C%A8%E5%B2%97%E8%AF%81%E6%98%8E.pdf");
    assert_eq!(served.bytes, b"%PDF-1.4\n% proof\n");
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence_access_log WHERE subject_kind = 'appeal' AND subject_id = $1", &appeal_id).await, 1);
    assert_eq!(visitor.get(&format!("/api/appeals/{appeal_id}/files?seq=1")).await.status, StatusCode::NOT_FOUND);
    let decide = format!("/staff/appeals/{appeal_id}/decision");
    let page = visitor.post(&decide, &[("outcome", "overturn"), ("reason", "材料证明为本人")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains(&format!("id=\"appeal-{appeal_id}-refused\"")), "{}", page.html);
    let refusal = domain::messages::text(domain::messages::Locale::ZhCn, "appeal.same_reviewer", &[]);
    assert!(page.html.contains(&refusal), "{}", page.html);
    assert!(page.html.contains("材料证明为本人"), "the typed reason stays: {}", page.html);

    // A second reviewer: the outcome must be chosen, then the appeal is overturned.
    let mut second = Visitor::new(site(&app));
    log_in(&mut second, "reviewer-2").await;
    second.get("/staff/appeals").await;
    let page = second.post(&decide, &[("reason", "材料证明为本人")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains(&format!("id=\"appeal-{appeal_id}-outcome-error\"")), "{}", page.html);
    let page = second.post(&decide, &[("outcome", "overturn"), ("reason", "")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains(&format!("id=\"appeal-{appeal_id}-reason-error\"")), "{}", page.html);
    let page = second.post(&decide, &[("outcome", "overturn"), ("reason", "材料证明为本人学习")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/staff/appeals?status=overturned");
    let page = second.get("/staff/appeals?status=overturned").await;
    assert!(page.html.contains("材料证明为本人学习"), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM study_sessions WHERE statement_id = $1 AND status = 'cleared'", "s-bad").await, 1);

    // The operator asks for a manual real-name check with a scan.
    let png = base64_decode(PNG_BASE64);
    let reply = post_multipart(&app, "/api/verifications", &op.token, &[("kind", "operator_real_name"), ("subject_id", &op.operator_id), ("note", "身份证扫描件")], &[("身份证.png", &png)]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let verification_id = reply.body["id"].as_str().unwrap().to_string();

    // The list links the document, which the API serves as it was uploaded.
    let page = second.get("/staff/verifications").await;
    let document = format!("/api/verifications/{verification_id}/documents?seq=0");
    assert!(unescape(&page.html).contains(&format!("href=\"{document}\"")), "{}", page.html);
    assert!(page.html.contains("身份证.png"), "{}", page.html);
    let served = second.get(&document).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers.get("content-type").unwrap(), "image/png");
    assert_eq!(served.bytes, png);
    assert_eq!(second.get(&format!("/api/verifications/{verification_id}/documents?seq=7")).await.status, StatusCode::NOT_FOUND);

    // A decision needs a choice and a reason; approving verifies the operator.
    let decide = format!("/staff/verifications/{verification_id}/decision");
    let page = second.post(&decide, &[("reason", "x")]).await;
    assert!(page.html.contains(&format!("id=\"verification-{verification_id}-decision-error\"")), "{}", page.html);
    let page = second.post(&decide, &[("decision", "approve"), ("reason", "")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains(&format!("id=\"verification-{verification_id}-reason-error\"")), "{}", page.html);
    assert!(page.html.contains("请填写核验结论的理由"), "{}", page.html);
    let page = second.post(&decide, &[("decision", "approve"), ("reason", "扫描件与登记信息一致")]).await;
    assert_eq!(page.location(), "/staff/verifications?status=approved");
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE id = $1 AND real_name_status = 'verified_manually'", &op.operator_id).await, 1);
    let page = second.get("/staff/verifications").await;
    assert!(page.html.contains("id=\"no-verifications\""), "{}", page.html);
});

both_backends!(staff_bank_review_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let author = app.admin_token().await;
    app.account_token(Role::Reviewer, "reviewer-1", None).await;
    let question = json!({
        "item_code": "T", "course_code": "T-01", "type": "single", "stem": "曳引驱动电梯的限速器动作速度应由谁校验？",
        "options": ["维保单位", "检验机构", "使用单位"], "answer": "B", "explanation": "限速器由检验机构校验。", "difficulty": 2,
    });
    let created = app.post("/api/bank/questions", Some(&author), question).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let submitted = app.post(&format!("/api/bank/questions/{id}/review"), Some(&author), json!({ "action": "submit" })).await;
    assert_eq!(submitted.status, StatusCode::OK, "{:?}", submitted.body);

    // The author sees the question under review but the API refuses their approval.
    let mut admin = Visitor::new(site(&app));
    log_in(&mut admin, "assoc-admin").await;
    let page = admin.get("/staff/bank").await;
    assert!(page.html.contains("限速器动作速度"), "{}", page.html);
    assert!(page.html.contains("正确答案：B"), "{}", page.html);
    assert!(page.html.contains("href=\"/api/bank/export\""), "{}", page.html);
    let review = format!("/staff/bank/questions/{id}/review");
    let page = admin.post(&review, &[("action", "approve"), ("reason", "")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains(&format!("id=\"review-{id}-refused\"")), "{}", page.html);

    // The reviewer must give a reason to reject, and approves.
    let mut reviewer = Visitor::new(site(&app));
    log_in(&mut reviewer, "reviewer-1").await;
    let page = reviewer.get("/staff").await;
    assert!(page.html.contains("id=\"count-bank\"><strong>1</strong>"), "{}", page.html);
    reviewer.get("/staff/bank").await;
    let page = reviewer.post(&review, &[("action", "reject"), ("reason", "")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains(&format!("id=\"review-{id}-reason-error\"")), "{}", page.html);
    let page = reviewer.post(&review, &[("action", "approve"), ("reason", "")]).await;
    assert_eq!(page.location(), "/staff/bank");
    let shown = app.get(&format!("/api/bank/questions/{id}"), Some(&author)).await;
    assert_eq!(shown.body["status"], "published");
    let page = reviewer.get("/staff/bank").await;
    assert!(page.html.contains("id=\"no-questions\""), "{}", page.html);

    // The export link serves the sheet; imported back, its stems are already in the
    // bank, so every row is reported as not imported.
    let sheet = reviewer.get("/api/bank/export?item_code=T").await;
    assert_eq!(sheet.status, StatusCode::OK);
    assert_eq!(&sheet.bytes[..2], b"PK", "an xlsx file is a zip");
    let page = reviewer.post_multipart("/staff/bank/import", &[], "file", "题库.xlsx", &sheet.bytes).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"import-report\""), "{}", page.html);
    assert!(page.html.contains("成功 0 行"), "{}", page.html);
    assert!(page.html.contains("第 2 行"), "{}", page.html);

    // A file that is not xlsx is named beside the file field; a form without the CSRF
    // token is rejected before the API sees it.
    let page = reviewer.post_multipart("/staff/bank/import", &[], "file", "notes.txt", b"not a sheet").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"file-error\""), "{}", page.html);
    let page = reviewer.post_raw("/staff/bank/import", &[("file", "x")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
});

/// Undoes the HTML escaping that templates apply to `=` and `&` inside addresses.
fn unescape(html: &str) -> String {
    html.replace("&#x3D;", "=").replace("&amp;", "&")
}
