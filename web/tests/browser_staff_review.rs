//! A reviewer's path in headless Chromium, against the site served on a loopback port:
//! account login, the staff dashboard, a flagged case with its snapshot and audio clip
//! loaded through the API, a decision, and the operator's appeal, which the deciding
//! reviewer may not decide and a second reviewer overturns. Screenshots at phone
//! (360 px) and desktop widths are written to `docs/screenshots/` by the SQLite run.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod chromium;
mod staff_fixture;

use std::time::Duration;

use api::auth::Role;
use chrono::{TimeZone, Utc};
use chromium::{Browser, VIEWPORTS, click, fill, path, screenshots, serve, wait_for_text};
use common::{ADMIN_PASSWORD, TestApp, app, march_5_10am_beijing};
use fantoccini::{Client, Locator};
use serde_json::json;
use staff_fixture::{PNG_BASE64, WAV_BASE64, case_of, post_multipart, report, studying};
use workflows::both_backends;
use workflows::db::{Backend, Db};

/// Logs `login` in at the account login page and waits for the staff dashboard.
async fn log_in(client: &Client, base: &str, login: &str) {
    client.goto(&format!("{base}/login/account")).await.unwrap();
    fill(client, "login", login).await;
    fill(client, "password", ADMIN_PASSWORD).await;
    click(client, "#account-login").await;
    wait_for_text(client, "协会工作台").await;
    assert_eq!(path(client).await, "/staff");
}

/// Returns the evidence views logged for the session reported as `statement_id`.
async fn evidence_views(app: &TestApp, statement_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM evidence_access_log l JOIN study_sessions s ON s.id = l.subject_id WHERE s.statement_id = $1")
        .bind(statement_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// Scrolls the element `css` to the top of the window, so a screenshot shows it.
async fn scroll_to(client: &Client, css: &str) {
    client.execute("document.querySelector(arguments[0]).scrollIntoView();", vec![json!(css)]).await.unwrap();
}

/// Waits up to 10 s for the first image of the evidence to be decoded by the browser.
async fn wait_for_image(client: &Client) {
    for _ in 0..100 {
        let loaded = client.execute("const image = document.querySelector('#evidence img'); return image !== null && image.complete && image.naturalWidth > 0;", vec![]).await.unwrap();
        if loaded == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the evidence snapshot never loaded");
}

both_backends!(reviewer_decides_case_and_appeal, |db: Db| async move {
    let save = db.backend == Backend::Sqlite;
    let app = app(db, march_5_10am_beijing()).await;
    let runner = app.job_runner();
    let op = studying(&app, "13700137002").await;
    app.account_token(Role::Reviewer, "reviewer-1", None).await;
    app.account_token(Role::Reviewer, "reviewer-2", None).await;

    // A session of T-01 whose face check failed, with a snapshot and an audio clip.
    let evidence = json!({
        "device": "pad-7",
        "ip": "198.51.100.20",
        "snapshots": [{ "at": "2026-03-04T01:20:00Z", "same_person": true, "image": format!("data:image/png;base64,{PNG_BASE64}") }],
        "audio": [{ "at": "2026-03-04T01:25:00Z", "clip": format!("data:audio/wav;base64,{WAV_BASE64}") }],
    });
    report(&app, &op.institution, &op.enrollment_id, "s-flagged", "T-01", Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap(), "failed", evidence).await;
    app.run_due(&runner).await;
    let case_id = case_of(&app, "s-flagged").await;

    let base = serve(&app.state).await;
    let browser = Browser::start().await;
    let client = browser.client.clone();
    client.set_window_size(VIEWPORTS[1].1, VIEWPORTS[1].2).await.unwrap();

    // Login and the dashboard with the open case counted.
    log_in(&client, &base, "reviewer-1").await;
    let count = client.find(Locator::Id("count-reviews")).await.unwrap().text().await.unwrap();
    assert!(count.starts_with('1'), "{count:?}");
    screenshots(&client, "staff-dashboard", save).await;

    // The queue, then the case: the snapshot is shown, and each view is logged.
    click(&client, "#count-reviews").await;
    wait_for_text(&client, "开始时人脸核验未通过").await;
    screenshots(&client, "staff-review-queue", save).await;
    click(&client, &format!("a[href='/staff/reviews/{case_id}']")).await;
    wait_for_text(&client, "作出处理决定").await;
    wait_for_image(&client).await;
    client.find(Locator::Css("#evidence audio[controls]")).await.unwrap();
    assert!(evidence_views(&app, "s-flagged").await >= 2, "the case view and the snapshot are logged");
    scroll_to(&client, "#findings").await;
    screenshots(&client, "staff-review-case", save).await;

    // Without a reason the decision is refused beside the field; with one it is made.
    click(&client, "#decision-clear_sessions").await;
    click(&client, "#decide").await;
    client.wait().for_element(Locator::Id("reason-error")).await.unwrap();
    scroll_to(&client, "#decision-form").await;
    screenshots(&client, "staff-review-error", save).await;
    fill(&client, "reason", "开始学习时人脸核验未通过，抓拍无法确认本人").await;
    click(&client, "#decide").await;
    wait_for_text(&client, "处理结果").await;
    scroll_to(&client, "#decision-made").await;
    screenshots(&client, "staff-review-decided", save).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM review_cases WHERE id = $1 AND decision = 'clear_sessions'", &case_id).await, 1);

    // The operator appeals; the reviewer who decided the case is refused.
    let reply = post_multipart(&app, &format!("/api/reviews/{case_id}/appeal"), &op.token, &[("reason", "当时网络卡顿，本人一直在学习")], &[("学习记录截图.pdf", b"%PDF-1.4\n% screenshot\n")]).await;
    assert_eq!(reply.status, axum::http::StatusCode::CREATED, "{:?}", reply.body);
    let appeal_id = reply.body["appeal_id"].as_str().unwrap().to_string();
    client.goto(&format!("{base}/staff/appeals")).await.unwrap();
    wait_for_text(&client, "当时网络卡顿").await;
    click(&client, &format!("#appeal-{appeal_id} input[value='overturn']")).await;
    fill(&client, &format!("appeal-{appeal_id}-reason"), "补充材料可证明本人学习").await;
    click(&client, &format!("#appeal-{appeal_id}-submit")).await;
    client.wait().for_element(Locator::Id(&format!("appeal-{appeal_id}-refused"))).await.unwrap();
    scroll_to(&client, &format!("#appeal-{appeal_id}")).await;
    screenshots(&client, "staff-review-appeal-refused", save).await;

    // A second reviewer overturns the decision.
    click(&client, "header.site button.link").await;
    wait_for_text(&client, "获取验证码").await;
    log_in(&client, &base, "reviewer-2").await;
    client.goto(&format!("{base}/staff/appeals")).await.unwrap();
    wait_for_text(&client, "当时网络卡顿").await;
    click(&client, &format!("#appeal-{appeal_id} input[value='overturn']")).await;
    fill(&client, &format!("appeal-{appeal_id}-reason"), "补充材料可证明本人学习").await;
    screenshots(&client, "staff-review-appeal", save).await;
    click(&client, &format!("#appeal-{appeal_id}-submit")).await;
    wait_for_text(&client, "补充材料可证明本人学习").await;
    assert_eq!(path(&client).await, "/staff/appeals");
    assert_eq!(app.count("SELECT COUNT(*) FROM review_appeals WHERE id = $1 AND status = 'overturned'", &appeal_id).await, 1);
    screenshots(&client, "staff-review-appeal-decided", save).await;

    browser.close().await;
});
