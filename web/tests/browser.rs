//! The operator's main path in headless Chromium, against the site served on a
//! loopback port: login by SMS code, registration, info completion with unit search,
//! enrollment, hand-off, an exam with autosave, resume after reload and submission,
//! the credits page, and a change of the mobile number. Screenshots at phone (360 px)
//! and desktop widths are written to `docs/screenshots/` by the SQLite run, where the
//! user guide shows them.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod chromium;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use chromium::{Browser, VIEWPORTS, click, fill, path, screenshots, serve, wait_for_text};
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use fantoccini::Locator;
use workflows::both_backends;
use workflows::db::{Backend, Db};

/// Waits up to 20 s for the attempt's evidence to hold a snapshot and an audio clip.
async fn wait_for_evidence(app: &TestApp, attempt_id: &str) -> serde_json::Value {
    let mut evidence = serde_json::Value::Null;
    for _ in 0..200 {
        let stored: String = sqlx::query_scalar("SELECT evidence FROM exam_attempts WHERE id = $1").bind(attempt_id).fetch_one(&app.db.pool).await.unwrap();
        evidence = serde_json::from_str(&stored).unwrap();
        let has = |group: &str| evidence[group].as_array().is_some_and(|list| !list.is_empty());
        if has("snapshots") && has("audio") {
            return evidence;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no snapshot and audio clip arrived: {evidence}");
}

both_backends!(operator_main_path, |db: Db| async move {
    let save = db.backend == Backend::Sqlite;
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4L3333");
    app.create_unit(&admin, &unit_uscc, "长沙市安达电梯工程有限公司", "unit-c").await;
    let institution = api::create_institution(&app.state, "湖南省特种设备安全培训中心", &uscc("91430100MA4L0000"), &["T".to_string()]).await.unwrap();
    let base = serve(&app.state).await;
    let browser = Browser::start().await;
    let client = browser.client.clone();
    client.set_window_size(VIEWPORTS[0].1, VIEWPORTS[0].2).await.unwrap();

    // Login: the mobile number, then the code from the SMS outbox.
    client.goto(&format!("{base}/login")).await.unwrap();
    wait_for_text(&client, "获取验证码").await;
    screenshots(&client, "operator-login", save).await;
    fill(&client, "mobile", "13800138000").await;
    click(&client, "#send-code").await;
    wait_for_text(&client, "验证码已发送").await;
    let code = app.latest_code("13800138000").await;
    fill(&client, "code", &code).await;
    screenshots(&client, "operator-login-code", save).await;
    click(&client, "#login").await;
    wait_for_text(&client, "实名注册").await;
    assert_eq!(path(&client).await, "/register");

    // Registration, first with a wrong check character, which is named beside the field.
    fill(&client, "name", "王小明").await;
    fill(&client, "id_number", "430102197803035020").await;
    click(&client, "#register").await;
    client.wait().for_element(Locator::Id("id_number-error")).await.unwrap();
    screenshots(&client, "operator-register-error", save).await;
    fill(&client, "id_number", &id_number("43010219780303502")).await;
    click(&client, "#register").await;
    wait_for_text(&client, "完善信息").await;

    // Info completion: find the unit by part of its name.
    fill(&client, "q", "安达电梯").await;
    click(&client, "#search").await;
    wait_for_text(&client, "长沙市安达电梯工程有限公司").await;
    click(&client, &format!("input[value='{unit_uscc}']")).await;
    client.find(Locator::Css("#item_code option[value='T']")).await.unwrap().click().await.unwrap();
    screenshots(&client, "operator-info", save).await;
    click(&client, "#save-info").await;
    wait_for_text(&client, "您还没有报名").await;

    // Enrollment: year, category, item.
    click(&client, "#enroll").await;
    wait_for_text(&client, "作业种类").await;
    let category = app.state.catalogue.item("T").unwrap().category_no.to_string();
    client.find(Locator::Css(&format!("#category option[value='{category}']"))).await.unwrap().click().await.unwrap();
    click(&client, "#show-items").await;
    click(&client, "input[name='item_code'][value='T']").await;
    screenshots(&client, "operator-enroll", save).await;
    click(&client, "#enroll-submit").await;
    wait_for_text(&client, "选择施教机构").await;

    // Hand-off to the institution.
    click(&client, &format!("input[value='{}']", institution.id)).await;
    screenshots(&client, "operator-study", save).await;
    click(&client, "#handoff").await;
    wait_for_text(&client, "已为您转入").await;
    screenshots(&client, "operator-handoff", save).await;

    // The institution reports three completed courses.
    let enrollment_id: String = sqlx::query_scalar("SELECT id FROM enrollments").fetch_one(&app.db.pool).await.unwrap();
    let day_before = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    for (index, course) in ["T-01", "T-02", "T-03"].iter().enumerate() {
        let start = day_before + chrono::Duration::hours(index as i64 * 2);
        let reply = app.report_session(&institution, &enrollment_id, &format!("b-{course}"), course, start, 90).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    app.clear_sessions(&enrollment_id, 3).await;
    client.goto(&format!("{base}/home")).await.unwrap();
    wait_for_text(&client, "下一步：参加考试").await;
    screenshots(&client, "operator-home", save).await;

    // The exam: start, answer, see the autosave, reload and find the answer kept.
    click(&client, "a.button[href^='/exam/']").await;
    wait_for_text(&client, "监考告知与同意").await;
    screenshots(&client, "operator-consent", save).await;
    click(&client, "#agree").await;
    click(&client, "#consent").await;
    wait_for_text(&client, "开始考试").await;
    click(&client, "#start-exam").await;
    wait_for_text(&client, "交卷截止").await;

    // Chromium's fake camera and microphone deliver a snapshot and an audio clip.
    let attempt_id: String = sqlx::query_scalar("SELECT id FROM exam_attempts").fetch_one(&app.db.pool).await.unwrap();
    let evidence = wait_for_evidence(&app, &attempt_id).await;
    let snapshot = evidence["snapshots"][0]["image"].as_str().unwrap_or_default();
    assert!(snapshot.starts_with("data:image/jpeg;base64,"), "{}", &snapshot[..snapshot.len().min(40)]);
    assert_eq!(evidence["snapshots"][0]["trigger"], "start");
    assert!(evidence["audio"][0]["clip"].as_str().unwrap_or_default().starts_with("data:audio/"), "{}", evidence["audio"]);
    assert_eq!(evidence["face_checks"][0]["result"], "unverified", "without a face provider the snapshot goes to review");
    let countdown = client.find(Locator::Id("countdown")).await.unwrap().text().await.unwrap();
    assert!(countdown.contains(':'), "countdown shows minutes and seconds: {countdown:?}");
    let first = client.find(Locator::Css("#paper input[type='radio'], #paper input[type='checkbox']")).await.unwrap();
    let first_id = first.attr("name").await.unwrap().unwrap();
    let first_value = first.attr("value").await.unwrap().unwrap();
    first.click().await.unwrap();
    wait_for_text(&client, "答案已自动保存").await;
    screenshots(&client, "operator-exam", save).await;
    client.refresh().await.unwrap();
    wait_for_text(&client, "交卷截止").await;
    let kept = client.find(Locator::Css(&format!("input[name='{first_id}'][value='{first_value}']"))).await.unwrap();
    assert!(kept.is_selected().await.unwrap(), "the autosaved answer is checked after a reload");

    // Submit and see the result.
    click(&client, "#submit-exam").await;
    client.wait().for_element(Locator::Id("exam-result")).await.unwrap();
    wait_for_text(&client, "得分").await;
    screenshots(&client, "operator-exam-result", save).await;

    // Credits by year.
    client.goto(&format!("{base}/credits?year=2026")).await.unwrap();
    wait_for_text(&client, "已获学分").await;
    screenshots(&client, "operator-credits", save).await;

    // A new mobile number, confirmed with the code to each number; the login code to the
    // old number was sent more than a minute before.
    app.clock.advance(chrono::Duration::seconds(61));
    client.goto(&format!("{base}/home")).await.unwrap();
    click(&client, "#change-mobile").await;
    wait_for_text(&client, "当前号码 138****8000").await;
    fill(&client, "new_mobile", "13900139000").await;
    click(&client, "#send-codes").await;
    wait_for_text(&client, "验证码已发送至新号码").await;
    fill(&client, "new_code", &app.latest_code("13900139000").await).await;
    fill(&client, "old_code", &app.latest_code("13800138000").await).await;
    click(&client, "#confirm-mobile").await;
    client.wait().for_element(Locator::Id("mobile-changed")).await.unwrap();
    wait_for_text(&client, "139****9000").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE mobile = $1", "13900139000").await, 1);

    browser.close().await;
});
