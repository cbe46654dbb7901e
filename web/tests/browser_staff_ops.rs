//! An association admin's operations in headless Chromium, against the site served on a
//! loopback port. The admin logs in at `/login/account`, registers an institution,
//! retries an incident and replays a provincial dead letter. Then the admin validates a
//! definition with an error, publishes the fixed version, and plans and applies a
//! migration. Screenshots at phone (360 px) and desktop widths go to
//! `docs/screenshots/staff-*.png` from the SQLite run, where the staff guide shows them.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod chromium;
mod staff_fixtures;

use std::time::Duration;

use chromium::{Browser, click, fill, path, screenshots, serve, wait_for_text};
use common::{app, march_5_10am_beijing, uscc};
use fantoccini::{Client, Locator};
use serde_json::json;
use staff_fixtures::{REMINDER, REMINDER_V2, failed_notification, rejected_sync_record};
use workflows::both_backends;
use workflows::db::{Backend, Db};

/// Replaces the text of the definition's textarea, as pasting would.
async fn set_source(client: &Client, text: &str) {
    client.wait().for_element(Locator::Id("source")).await.unwrap();
    client.execute("document.getElementById('source').value = arguments[0];", vec![json!(text)]).await.unwrap();
}

/// Waits up to 10 s for the diagram image to be loaded and drawn.
async fn wait_for_diagram(client: &Client) {
    for _ in 0..100 {
        let loaded = client.execute("const image = document.getElementById('diagram'); return image !== null && image.complete && image.naturalWidth > 0;", vec![]).await.unwrap();
        if loaded == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the diagram never loaded on {}", path(client).await);
}

both_backends!(admin_runs_operations, |db: Db| async move {
    let save = db.backend == Backend::Sqlite;
    let app = app(db, march_5_10am_beijing()).await;
    let admin_token = app.admin_token().await;
    let incident_id = failed_notification(&app, &admin_token, "op-1", "短信网关拒收模板 credits_short").await;
    let dead_letter_id = rejected_sync_record(&app, "13800138000", "op-0001").await;
    let base = serve(&app.state).await;
    let browser = Browser::start().await;
    let client = browser.client.clone();
    client.set_window_size(1280, 900).await.unwrap();

    // Login with the account and password.
    client.goto(&format!("{base}/login/account")).await.unwrap();
    fill(&client, "login", "assoc-admin").await;
    fill(&client, "password", common::ADMIN_PASSWORD).await;
    click(&client, "#account-login").await;
    for _ in 0..100 {
        if path(&client).await == "/staff" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(path(&client).await, "/staff");

    // Institutions: the register, then a registration with the secret shown once.
    client.goto(&format!("{base}/staff/institutions")).await.unwrap();
    wait_for_text(&client, "对接参数").await;
    fill(&client, "name", "湖南省特种设备安全培训中心").await;
    fill(&client, "uscc", &uscc("91430100MA4L0000")).await;
    click(&client, "input[name='items'][value='T']").await;
    screenshots(&client, "staff-institutions-form", save).await;
    click(&client, "#create-institution").await;
    wait_for_text(&client, "密钥只显示这一次").await;
    let secret: String = sqlx::query_scalar("SELECT secret FROM institutions").fetch_one(&app.db.pool).await.unwrap();
    let shown = client.find(Locator::Id("secret")).await.unwrap().text().await.unwrap();
    assert_eq!(shown, secret);
    screenshots(&client, "staff-institutions-created", save).await;
    click(&client, "#back-to-institutions").await;
    wait_for_text(&client, "湖南省特种设备安全培训中心").await;
    screenshots(&client, "staff-institutions-list", save).await;

    // Incidents: retry after the confirmation, and see the outcome.
    client.goto(&format!("{base}/staff/incidents")).await.unwrap();
    wait_for_text(&client, "短信网关拒收模板").await;
    screenshots(&client, "staff-incidents-list", save).await;
    click(&client, &format!("a[href='/staff/incidents/{incident_id}/retry']")).await;
    wait_for_text(&client, "从第 1 次尝试起").await;
    screenshots(&client, "staff-incidents-confirm", save).await;
    click(&client, "#confirm").await;
    wait_for_text(&client, "已重试").await;
    screenshots(&client, "staff-incidents-outcome", save).await;
    let status: String = sqlx::query_scalar("SELECT status FROM wf_incidents WHERE id = $1").bind(&incident_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "retried");

    // Provincial sync: the dead letter with its error, replayed.
    client.goto(&format!("{base}/staff/sync")).await.unwrap();
    wait_for_text(&client, "body.id_number").await;
    screenshots(&client, "staff-sync-dead-letters", save).await;
    click(&client, &format!("a[href='/staff/sync/{dead_letter_id}/replay']")).await;
    wait_for_text(&client, "按当前数据重新生成").await;
    click(&client, "#confirm").await;
    wait_for_text(&client, "已重新上报").await;
    screenshots(&client, "staff-sync-replayed", save).await;
    let status: String = sqlx::query_scalar("SELECT status FROM wf_incidents WHERE id = $1").bind(&dead_letter_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "retried");

    // Definitions: the list, the versions with the diagram.
    client.goto(&format!("{base}/staff/definitions")).await.unwrap();
    wait_for_text(&client, "reminder_loop").await;
    screenshots(&client, "staff-definitions-list", save).await;
    click(&client, "a[href='/staff/definitions/reminder_loop']").await;
    wait_for_text(&client, "各状态的流程实例数").await;
    wait_for_diagram(&client).await;
    screenshots(&client, "staff-definitions-versions", save).await;

    // An edit with an invalid date: the error names its line.
    click(&client, "#edit-definition").await;
    let invalid = REMINDER.replace("at: \"09:00\"", "at: \"04-31 09:00\"");
    set_source(&client, &invalid).await;
    click(&client, "#validate").await;
    wait_for_text(&client, "第 23 行第").await;
    screenshots(&client, "staff-definitions-invalid", save).await;

    // The fixed version validates and is published.
    let fixed = REMINDER_V2.replace("  parked:\n    label: 搁置\n", "");
    set_source(&client, &fixed).await;
    fill(&client, "label", "状态改名为待提醒").await;
    click(&client, "#validate").await;
    wait_for_text(&client, "校验通过").await;
    screenshots(&client, "staff-definitions-valid", save).await;
    click(&client, "#publish").await;
    wait_for_text(&client, "已发布新版本").await;
    assert_eq!(app.state.engine.versions("reminder_loop").await.unwrap()[0].label, "状态改名为待提醒");

    // The migration: a plan without the map is refused, with the map it is safe and applied.
    click(&client, "#migrate-definition").await;
    wait_for_text(&client, "状态对应关系").await;
    click(&client, "#plan").await;
    wait_for_text(&client, "新版本中没有目标状态").await;
    screenshots(&client, "staff-definitions-plan-refused", save).await;
    fill(&client, "map-waiting", "pending").await;
    click(&client, "#plan").await;
    wait_for_text(&client, "计划没有问题").await;
    screenshots(&client, "staff-definitions-plan", save).await;
    click(&client, "#apply").await;
    wait_for_text(&client, "已迁移 1 个实例").await;
    screenshots(&client, "staff-definitions-migrated", save).await;

    browser.close().await;
});
