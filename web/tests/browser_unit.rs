//! The unit admin's path in headless Chromium, against the site served on a loopback
//! port: account login, the staff list filtered by state, enrollment of two ticked
//! operators, a reminder to them, and the download of the year's card archive.
//! Screenshots at phone (360 px) and desktop widths go to `docs/screenshots/` from the
//! SQLite run, where the unit admin's guide shows them.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod chromium;


use axum::http::StatusCode;
use chromium::{Browser, VIEWPORTS, click, serve, wait_for_text};
use common::{ADMIN_PASSWORD, TestApp, app, id_number, march_5_10am_beijing, uscc};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::{Backend, Db};

/// Saves `unit-{name}-{viewport}.png` at each viewport when `save` is set.
async fn screenshots(client: &Client, name: &str, save: bool) {
    chromium::screenshots(client, &format!("unit-{name}"), save).await;
}

/// Scrolls the element with id `id` to the top of the window for the next screenshot.
async fn scroll_to(client: &Client, id: &str) {
    client.execute("document.getElementById(arguments[0]).scrollIntoView()", vec![Value::String(id.to_string())]).await.unwrap();
}

/// Registers `name` with complete info at unit `unit_uscc`; returns the operator id.
async fn operator_of(app: &TestApp, mobile: &str, name: &str, id: &str, unit_uscc: &str) -> String {
    let login = app.login(mobile).await;
    let token = login["token"].as_str().unwrap().to_string();
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": name, "id_number": id })).await;
    assert_eq!(reply.status, StatusCode::OK, "register failed: {:?}", reply.body);
    let reply = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": unit_uscc, "items": [{ "item_code": "T" }] })).await;
    assert_eq!(reply.status, StatusCode::OK, "info failed: {:?}", reply.body);
    login["operator_id"].as_str().unwrap().to_string()
}

both_backends!(unit_admin_main_path, |db: Db| async move {
    let save = db.backend == Backend::Sqlite;
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4L5555");
    app.create_unit(&admin, &unit_uscc, "长沙市安达电梯工程有限公司", "anda-admin").await;

    // One operator enrolled with a card of 2026, two not enrolled yet.
    let (_, holder, enrollment) = app.enrolled_operator("13800138001", &id_number("43010219800101401"), &unit_uscc).await;
    let first = operator_of(&app, "13800138002", "李建国", &id_number("43010219800101402"), &unit_uscc).await;
    let second = operator_of(&app, "13800138003", "欧阳青松", &id_number("43010219800101403"), &unit_uscc).await;
    sqlx::query(
        "INSERT INTO cards (id, card_no, operator_id, enrollment_id, year, item_code, unit_name, credits, issued_at, revoked_at, revoke_reason)
         VALUES ('card-1', 'XF2026T200001', $1, $2, 2026, 'T', '长沙市安达电梯工程有限公司', 20, $3, NULL, NULL)",
    )
    .bind(&holder)
    .bind(&enrollment)
    .bind(app.state.now_ms())
    .execute(&app.db.pool)
    .await
    .unwrap();

    let base = serve(&app.state).await;
    let browser = Browser::start().await;
    let client = browser.client.clone();
    client.set_window_size(VIEWPORTS[1].1, VIEWPORTS[1].2).await.unwrap();

    // Login with the account goes to the staff list.
    client.goto(&format!("{base}/login/account")).await.unwrap();
    client.wait().for_element(Locator::Id("login")).await.unwrap().send_keys("anda-admin").await.unwrap();
    client.find(Locator::Id("password")).await.unwrap().send_keys(ADMIN_PASSWORD).await.unwrap();
    click(&client, "#account-login").await;
    wait_for_text(&client, "本单位作业人员").await;
    assert_eq!(client.current_url().await.unwrap().path(), "/unit");
    wait_for_text(&client, "共 3 名作业人员").await;
    assert!(client.find(Locator::Css("svg.chart title")).await.is_ok(), "the chart has a title");
    screenshots(&client, "staff", save).await;

    // Filter: those not enrolled, then tick both and enroll them for T.
    click(&client, "#state option[value='not_enrolled']").await;
    click(&client, "#filter").await;
    wait_for_text(&client, "符合条件 2 人").await;
    click(&client, &format!("#select-{first}")).await;
    click(&client, &format!("#select-{second}")).await;
    click(&client, "#item_code option[value='T']").await;
    scroll_to(&client, "bulk").await;
    screenshots(&client, "filtered", save).await;
    click(&client, "#bulk-enroll").await;
    wait_for_text(&client, "代报名结果").await;
    let results = client.find(Locator::Id("results")).await.unwrap().text().await.unwrap();
    assert!(results.contains("李建国：已报名"), "{results}");
    assert!(results.contains("欧阳青松：已报名"), "{results}");
    scroll_to(&client, "results").await;
    screenshots(&client, "enrolled", save).await;
    let enrolled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enrollments WHERE year = 2026").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(enrolled, 3);

    // A reminder to the same two, from the unfiltered list.
    client.goto(&format!("{base}/unit?year=2026")).await.unwrap();
    wait_for_text(&client, "符合条件 3 人").await;
    click(&client, &format!("#select-{first}")).await;
    click(&client, &format!("#select-{second}")).await;
    click(&client, "#bulk-remind").await;
    wait_for_text(&client, "提醒结果").await;
    let results = client.find(Locator::Id("results")).await.unwrap().text().await.unwrap();
    assert_eq!(results.matches("提醒已排队发送").count(), 2, "{results}");
    scroll_to(&client, "results").await;
    screenshots(&client, "reminded", save).await;

    // The card archive, fetched by the page's own link with the browser's session.
    let href = client.find(Locator::Id("cards")).await.unwrap().attr("href").await.unwrap().unwrap();
    let script = "const [href, done] = arguments;
        fetch(href).then(async (response) => done({ status: response.status, type: response.headers.get('content-type'), bytes: Array.from(new Uint8Array(await response.arrayBuffer())) }));";
    let download = client.execute_async(script, vec![Value::String(href)]).await.unwrap();
    assert_eq!(download["status"], 200, "{}", download["type"]);
    assert_eq!(download["type"], "application/zip");
    let bytes: Vec<u8> = download["bytes"].as_array().unwrap().iter().map(|byte| byte.as_u64().unwrap() as u8).collect();
    assert!(bytes.starts_with(b"PK\x03\x04"), "a zip archive");
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|window| window == needle);
    assert!(contains(b"XF2026T200001"), "the valid card is in the archive");
    assert!(contains(b"revoked.txt"), "the list of revoked cards is in the archive");

    browser.close().await;
});
