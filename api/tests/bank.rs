//! The question bank's API on each backend: review by a second staff member with
//! history, publishing and retiring, xlsx import with row errors and duplicate stems,
//! export, and role checks.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{TimeZone, Utc};
use common::{TestApp, app};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()
}

/// Returns tokens of two staff members: an author and a reviewer.
async fn staff(app: &TestApp) -> (String, String) {
    let author = app.admin_token().await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, "bank-reviewer", None).await;
    (author, reviewer)
}

async fn review(app: &TestApp, token: &str, kind: &str, id: &str, action: &str, reason: Option<&str>) -> common::Reply {
    app.post(&format!("/api/bank/{kind}/{id}/review"), Some(token), json!({ "action": action, "reason": reason })).await
}

fn new_question(stem: &str) -> Value {
    json!({
        "item_code": "T", "course_code": "T-01", "type": "single", "stem": stem,
        "options": ["每月", "每年", "每五年"], "answer": "B", "explanation": "每年定期检验。", "difficulty": 2,
    })
}

/// Uploads `bytes` as a bank sheet.
async fn import(app: &TestApp, token: &str, bytes: Vec<u8>) -> common::Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/bank/import?file_name=bank.xlsx")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    app.send(request).await
}

/// Builds a bank sheet with the standard header and `rows`.
fn sheet(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let worksheet = workbook.add_worksheet();
    for (column, (header, _)) in domain::bank::SHEET_COLUMNS.iter().enumerate() {
        worksheet.write_string(0, column as u16, *header).unwrap();
    }
    for (row, cells) in rows.iter().enumerate() {
        for (column, text) in cells.iter().enumerate() {
            if !text.is_empty() {
                worksheet.write_string(row as u32 + 1, column as u16, *text).unwrap();
            }
        }
    }
    workbook.save_to_buffer().unwrap()
}

both_backends!(question_review_needs_second_staff, |db: Db| async move {
    let app = app(db, start()).await;
    let (author, reviewer) = staff(&app).await;

    let created = app.post("/api/bank/questions", Some(&author), new_question("电梯定期检验的周期是多久？")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["status"], "draft");
    assert_eq!(created.body["course_version"], 1);
    let id = created.body["id"].as_str().unwrap().to_string();

    // A draft cannot be approved; the author cannot review their own question.
    assert_eq!(review(&app, &reviewer, "questions", &id, "approve", None).await.code(), "bank.step_not_allowed");
    assert_eq!(review(&app, &author, "questions", &id, "submit", None).await.status, StatusCode::OK);
    let own = review(&app, &author, "questions", &id, "approve", None).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert_eq!(own.code(), "bank.reviewer_is_author");

    // A rejection needs a reason and returns the question to draft.
    let no_reason = review(&app, &reviewer, "questions", &id, "reject", None).await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_reason.code(), "bank.reason_missing");
    let rejected = review(&app, &reviewer, "questions", &id, "reject", Some("解析应引用检验规则条款")).await;
    assert_eq!(rejected.body["status"], "draft", "{:?}", rejected.body);

    // Submitted again and approved by the reviewer: published.
    review(&app, &author, "questions", &id, "submit", None).await;
    let approved = review(&app, &reviewer, "questions", &id, "approve", None).await;
    assert_eq!(approved.body["status"], "published", "{:?}", approved.body);

    let shown = app.get(&format!("/api/bank/questions/{id}"), Some(&author)).await;
    let steps: Vec<(String, String)> = shown.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| (step["action"].as_str().unwrap().to_string(), step["to_status"].as_str().unwrap().to_string()))
        .collect();
    let expected = [("created", "draft"), ("submitted", "under_review"), ("rejected", "draft"), ("submitted", "under_review"), ("approved", "published")];
    assert_eq!(steps, expected.map(|(action, status)| (action.to_string(), status.to_string())));
    assert_eq!(shown.body["history"][2]["reason"], "解析应引用检验规则条款");
    assert_ne!(shown.body["history"][4]["actor"], shown.body["history"][0]["actor"], "reviewed by another staff member");

    // A new version replaces it on approval; the old version is retired, not changed.
    let mut second = new_question("电梯定期检验的周期是多久？");
    second["replaces"] = created.body["question_id"].clone();
    second["explanation"] = json!("依据检验规则，每年进行一次定期检验。");
    let version_two = app.post("/api/bank/questions", Some(&author), second).await;
    assert_eq!(version_two.status, StatusCode::CREATED, "{:?}", version_two.body);
    assert_eq!(version_two.body["version"], 2);
    let id_two = version_two.body["id"].as_str().unwrap().to_string();
    review(&app, &author, "questions", &id_two, "submit", None).await;
    review(&app, &reviewer, "questions", &id_two, "approve", None).await;
    let old = app.get(&format!("/api/bank/questions/{id}"), Some(&author)).await;
    assert_eq!(old.body["status"], "retired");
    assert_eq!(old.body["explanation"], "每年定期检验。");

    // The same stem as another question of the course is rejected.
    let duplicate = app.post("/api/bank/questions", Some(&author), new_question("电梯 定期检验的周期是多久?")).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.code(), "bank.stem_duplicate");
});

both_backends!(retired_questions_never_drawn, |db: Db| async move {
    let app = app(db, start()).await;
    let (author, reviewer) = staff(&app).await;
    let seeded: Vec<String> = sqlx::query_scalar("SELECT id FROM questions WHERE course_code = 'T-01' AND status = 'published' ORDER BY id")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(seeded.len() >= 2, "{seeded:?}");

    let paper_before = workers::bank_store::published_courses(&app.db.pool, "T", 2026, &["T-01".to_string()]).await.unwrap();
    assert_eq!(paper_before[0].questions.len(), seeded.len());

    let retired = review(&app, &author, "questions", &seeded[0], "retire", Some("规范已修订")).await;
    assert_eq!(retired.body["status"], "retired", "{:?}", retired.body);
    let drawable = workers::bank_store::published_courses(&app.db.pool, "T", 2026, &["T-01".to_string()]).await.unwrap();
    let ids: Vec<String> = drawable[0].questions.iter().map(|question| format!("{}@{}", question.id, question.version)).collect();
    assert!(!ids.contains(&seeded[0]), "a retired question is drawn: {ids:?}");
    assert_eq!(ids.len(), seeded.len() - 1);

    // Drafts and questions under review are not drawn either.
    let draft = app.post("/api/bank/questions", Some(&author), new_question("限速器动作速度校验多久一次？")).await;
    let draft_id = draft.body["id"].as_str().unwrap().to_string();
    review(&app, &author, "questions", &draft_id, "submit", None).await;
    let drawable = workers::bank_store::published_courses(&app.db.pool, "T", 2026, &["T-01".to_string()]).await.unwrap();
    assert_eq!(drawable[0].questions.len(), seeded.len() - 1);
    review(&app, &reviewer, "questions", &draft_id, "approve", None).await;
    let drawable = workers::bank_store::published_courses(&app.db.pool, "T", 2026, &["T-01".to_string()]).await.unwrap();
    assert_eq!(drawable[0].questions.len(), seeded.len());
});

both_backends!(course_version_publish_updates_courses, |db: Db| async move {
    let app = app(db, start()).await;
    let (author, reviewer) = staff(&app).await;
    let body = json!({ "item_code": "T", "year": 2026, "code": "T-01", "title": "特种设备安全法（2026 修订）", "minutes": 50 });
    let created = app.post("/api/bank/courses", Some(&author), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["version"], 2);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(id, "T:2026:T-01@2");

    review(&app, &author, "courses", &id, "submit", None).await;
    let approved = review(&app, &reviewer, "courses", &id, "approve", None).await;
    assert_eq!(approved.body["status"], "published", "{:?}", approved.body);
    let (minutes, version): (i64, i64) = sqlx::query_as("SELECT minutes, version FROM courses WHERE item_code = 'T' AND year = 2026 AND code = 'T-01'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!((minutes, version), (50, 2));
    let listed = app.get("/api/bank/courses?item_code=T&year=2026&status=retired", Some(&author)).await;
    let retired: Vec<&str> = listed.body["courses"].as_array().unwrap().iter().map(|course| course["id"].as_str().unwrap()).collect();
    assert_eq!(retired, vec!["T:2026:T-01@1"]);

    let invalid = app.post("/api/bank/courses", Some(&author), json!({ "item_code": "T", "year": 2026, "code": "T-01", "title": "x", "minutes": 0 })).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.body["field"], "minutes");
});

both_backends!(sheet_import_reports_rows, |db: Db| async move {
    let app = app(db, start()).await;
    let (author, _) = staff(&app).await;
    let seeded_stem: String = serde_json::from_str::<Value>(
        &sqlx::query_scalar::<_, String>("SELECT body FROM questions WHERE id = 'T-01-1@1'").fetch_one(&app.db.pool).await.unwrap(),
    )
    .unwrap()["stem"]
        .as_str()
        .unwrap()
        .to_string();

    let bytes = sheet(&[
        vec!["T-01", "单选", "维保记录应保存多久？", "1年", "2年", "4年", "", "", "", "C", "至少保存4年。", "2"],
        vec!["T-02", "判断", "电梯困人时可以强行扒门。", "", "", "", "", "", "", "错误", "应由专业人员救援。", "1"],
        vec!["T-01", "单选", "维保记录应保存多久?", "1年", "2年", "4年", "", "", "", "C", "重复题干。", "2"],
        vec!["T-01", "单选", &seeded_stem, "甲", "乙", "", "", "", "", "A", "与题库重复。", "1"],
        vec!["X-99", "单选", "未知课程", "甲", "乙", "", "", "", "", "A", "x", "1"],
        vec!["T-01", "多选", "只有一个答案的多选题", "甲", "乙", "丙", "", "", "", "A", "x", "1"],
    ]);
    let reply = import(&app, &author, bytes.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["accepted"], 2);
    assert_eq!(reply.body["rejected"], 4);
    let rows = reply.body["rows"].as_array().unwrap();
    let outcome = |line: u64| rows.iter().find(|row| row["line"] == line).unwrap();
    assert_eq!(outcome(2)["outcome"], "accepted");
    assert_eq!(outcome(3)["outcome"], "accepted");
    assert_eq!(outcome(4)["code"], "bank.row.stem_duplicate_sheet");
    assert_eq!(outcome(4)["message"], "第 4 行：与第 2 行的题干相同（同一课程），未重复导入。");
    assert_eq!(outcome(5)["code"], "bank.row.stem_duplicate_bank");
    assert!(outcome(5)["message"].as_str().unwrap().contains("T-01-1"), "{}", outcome(5)["message"]);
    assert_eq!(outcome(6)["code"], "bank.row.course_unknown");
    assert_eq!(outcome(7)["code"], "bank.row.content");
    assert!(outcome(7)["message"].as_str().unwrap().starts_with("第 7 行："), "{}", outcome(7)["message"]);

    // Imported questions wait for review as drafts; importing again adds nothing.
    let id = outcome(2)["id"].as_str().unwrap();
    let shown = app.get(&format!("/api/bank/questions/{id}"), Some(&author)).await;
    assert_eq!(shown.body["status"], "draft");
    assert_eq!(shown.body["history"][0]["action"], "imported");
    let again = import(&app, &author, bytes).await;
    assert_eq!(again.body["accepted"], 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM questions WHERE author <> $1", "seed").await, 2);

    // A file that is not xlsx fails whole with a message naming the fix.
    let broken = import(&app, &author, b"course,stem\n".to_vec()).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(broken.code(), "bank.xlsx_unreadable");
    assert!(broken.message().contains(".xlsx"), "{}", broken.message());
});

both_backends!(sheet_export_reads_back, |db: Db| async move {
    let app = app(db, start()).await;
    let (author, _) = staff(&app).await;
    let reply = app.router.clone();
    let request = Request::builder().uri("/api/bank/export?item_code=T&status=published").header("authorization", format!("Bearer {author}")).body(Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(reply, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("question-bank-T.xlsx"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();

    let rows = domain::bank::read_sheet(&bytes).unwrap();
    let published = app.count("SELECT COUNT(*) FROM questions WHERE item_code = $1 AND status = 'published'", "T").await;
    assert_eq!(rows.len() as i64, published);
    assert!(rows.iter().all(|row| row.question.is_ok()), "every exported row reads back");
});

both_backends!(bank_routes_need_staff, |db: Db| async move {
    let app = app(db, start()).await;
    let operator = app.login_token("13800000041").await;
    let admin = app.admin_token().await;
    let (_, unit_admin) = app.create_unit(&admin, &common::uscc("91430100MA4L8895"), "电梯公司", "unit-admin-bank").await;
    for token in [&operator, &unit_admin] {
        assert_eq!(app.get("/api/bank/questions", Some(token)).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.post("/api/bank/questions", Some(token), new_question("x？")).await.status, StatusCode::FORBIDDEN);
        assert_eq!(review(&app, token, "questions", "T-01-1@1", "retire", None).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.get("/api/bank/questions", None).await.status, StatusCode::UNAUTHORIZED);
});

both_backends!(reseed_keeps_staff_versions, |db: Db| async move {
    let app = app(db, start()).await;
    let (author, reviewer) = staff(&app).await;
    let status_of = |id: &'static str| {
        let pool = app.db.pool.clone();
        async move { sqlx::query_scalar::<_, String>("SELECT status FROM questions WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap() }
    };

    // Staff replace seeded question T-01-1 with a version 2.
    let seeded: Value = serde_json::from_str(&sqlx::query_scalar::<_, String>("SELECT body FROM questions WHERE id = 'T-01-1@1'").fetch_one(&app.db.pool).await.unwrap()).unwrap();
    let mut replacement = new_question(seeded["stem"].as_str().unwrap());
    replacement["replaces"] = json!("T-01-1");
    let created = app.post("/api/bank/questions", Some(&author), replacement).await;
    assert_eq!(created.body["id"], "T-01-1@2", "{:?}", created.body);
    review(&app, &author, "questions", "T-01-1@2", "submit", None).await;
    review(&app, &reviewer, "questions", "T-01-1@2", "approve", None).await;

    // A restart with the same courseware keeps the staff version.
    let mut courseware = (*app.state.courseware).clone();
    let written = workers::courseware_store::store_courseware(&app.db, &courseware, app.state.now_ms()).await.unwrap();
    assert_eq!(written, (0, 0));
    assert_eq!(status_of("T-01-1@2").await, "published");
    assert_eq!(status_of("T-01-1@1").await, "retired");

    // A changed courseware file publishes its text as version 3.
    let question = courseware.items.iter_mut().find(|item| item.item_code == "T").unwrap().courses[0].questions.iter_mut().find(|question| question.id == "T-01-1").unwrap();
    question.explanation = "修订后的解析。".to_string();
    let written = workers::courseware_store::store_courseware(&app.db, &courseware, app.state.now_ms()).await.unwrap();
    assert_eq!(written, (0, 1));
    assert_eq!(status_of("T-01-1@3").await, "published");
    assert_eq!(status_of("T-01-1@2").await, "retired");
});
