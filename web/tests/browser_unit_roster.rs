//! The unit admin's path in headless Chromium, against the site served on a loopback
//! port: account login, a roster upload with one bad row, the preview with the row's
//! error, the confirmed import, one operator's records, and a join request from a
//! second unit that the first unit releases. Screenshots at phone (360 px) and desktop
//! widths are written to `docs/screenshots/` by the SQLite run, where the unit admin's
//! guide shows them.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod chromium;

use std::time::Duration;

use chromium::{Browser, VIEWPORTS, body_text, click, fill, serve, wait_for_text};
use common::{ADMIN_PASSWORD, app, id_number, march_5_10am_beijing, uscc};
use fantoccini::{Client, Locator};
use workflows::both_backends;
use workflows::db::{Backend, Db};
use workflows::testing::TempDir;

/// Saves `unit-{name}-{viewport}.png` screenshots when `save` is set.
async fn screenshots(client: &Client, name: &str, save: bool) {
    chromium::screenshots(client, &format!("unit-{name}"), save).await;
}

/// Signs in at `/login/account`.
async fn account_login(client: &Client, base: &str, login: &str) {
    client.goto(&format!("{base}/login/account")).await.unwrap();
    fill(client, "login", login).await;
    fill(client, "password", ADMIN_PASSWORD).await;
    click(client, "#account-login").await;
    for _ in 0..100 {
        if !client.current_url().await.unwrap().path().starts_with("/login") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("login of {login} did not leave the login page: {}", body_text(client).await);
}

both_backends!(unit_admin_roster_and_join, |db: Db| async move {
    let save = db.backend == Backend::Sqlite;
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let (unit_a, _) = app.create_unit(&admin, &uscc("91430100MA4W0001"), "长沙市安达电梯工程有限公司", "anda-admin").await;
    let (unit_b, _) = app.create_unit(&admin, &uscc("91430100MA4W0002"), "湘潭市恒通机电设备有限公司", "hengtong-admin").await;
    let base = serve(&app.state).await;
    let browser = Browser::start().await;
    let client = browser.client.clone();
    client.set_window_size(VIEWPORTS[0].1, VIEWPORTS[0].2).await.unwrap();

    // A roster with three good rows and one whose ID number has a wrong check character.
    let zhang = id_number("43010219800101001");
    let good_2 = id_number("43010219810202002");
    let good_3 = id_number("43010219820303003");
    let bad = id_number("43010219830404004");
    let bad = format!("{}{}", &bad[..17], if bad.ends_with('0') { '1' } else { '0' });
    let csv = format!(
        "序号,姓名,身份证号码,手机号码,作业项目代号,作业项目\n1,张建国,{zhang},13700000001,T,电梯修理\n2,李红梅,{good_2},13700000002,T,电梯修理\n3,王志强,{bad},13700000003,T,电梯修理\n4,赵小军,{good_3},13700000004,N1,叉车司机\n"
    );
    let folder = TempDir::new();
    let file = folder.path.join("花名册.csv");
    std::fs::write(&file, csv).unwrap();

    // Unit A's admin uploads it and sees the preview with the bad row's error.
    account_login(&client, &base, "anda-admin").await;
    client.goto(&format!("{base}/unit/roster")).await.unwrap();
    wait_for_text(&client, "上传并预览").await;
    screenshots(&client, "roster-upload", save).await;
    client.wait().for_element(Locator::Id("file")).await.unwrap().send_keys(&file.display().to_string()).await.unwrap();
    click(&client, "#preview-roster").await;
    wait_for_text(&client, "逐行检查结果").await;
    let error_row = client.find(Locator::Css("#preview-rows tr.row-error")).await.unwrap().text().await.unwrap();
    assert!(error_row.contains("身份证号码"), "the bad row names its column: {error_row}");
    assert_eq!(client.find_all(Locator::Css("#preview-rows tr.row-new")).await.unwrap().len(), 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_a).await, 0, "the preview writes nothing");
    chromium::screenshots_of(&client, "unit-roster-preview", save, "#preview-rows tr.row-error").await;

    // The confirmed import writes the three good rows.
    click(&client, "#confirm-import").await;
    wait_for_text(&client, "导入完成").await;
    let done = client.find(Locator::Id("import-done")).await.unwrap().text().await.unwrap();
    assert!(done.contains("3 行已导入"), "{done}");
    assert!(done.contains("1 行未导入"), "{done}");
    let rejected = client.find(Locator::Id("rejected-rows")).await.unwrap().text().await.unwrap();
    assert!(rejected.contains("身份证号码"), "the rejected row is listed with its reason: {rejected}");
    screenshots(&client, "roster-done", save).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_a).await, 3);

    // One operator's records.
    let operator_id: String = sqlx::query_scalar("SELECT id FROM operators WHERE name = '张建国'").fetch_one(&app.db.pool).await.unwrap();
    client.goto(&format!("{base}/unit/staff/{operator_id}")).await.unwrap();
    wait_for_text(&client, "在本单位的期间").await;
    let heading = client.find(Locator::Id("operator-name")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("张建国"), "{heading}");
    assert!(!heading.contains(&zhang), "the ID number is masked: {heading}");
    screenshots(&client, "roster-staff", save).await;

    // Unit B's admin asks for that operator.
    account_login(&client, &base, "hengtong-admin").await;
    client.goto(&format!("{base}/unit/joins")).await.unwrap();
    wait_for_text(&client, "申请调入人员").await;
    fill(&client, "id_number", &zhang).await;
    fill(&client, "name", "张建国").await;
    fill(&client, "request-reason", "已与本单位签订劳动合同").await;
    click(&client, "#request-join").await;
    wait_for_text(&client, "待处理").await;
    screenshots(&client, "joins-request", save).await;
    let request_id: String = sqlx::query_scalar("SELECT id FROM join_requests").fetch_one(&app.db.pool).await.unwrap();

    // Unit A's admin sees the incoming request and releases the operator.
    account_login(&client, &base, "anda-admin").await;
    client.goto(&format!("{base}/unit/joins")).await.unwrap();
    wait_for_text(&client, "湘潭市恒通机电设备有限公司").await;

    // Released without a reason, the error appears beside the reason field.
    click(&client, &format!("#release-{request_id}")).await;
    let error = client.wait().for_element(Locator::Id(&format!("reason-{request_id}-error"))).await.unwrap();
    assert!(error.text().await.unwrap().contains("理由"), "the error names the reason");
    let described_by = client.find(Locator::Id(&format!("reason-{request_id}"))).await.unwrap().attr("aria-describedby").await.unwrap();
    assert_eq!(described_by, Some(format!("reason-{request_id}-error")));
    fill(&client, &format!("reason-{request_id}"), "本人已离职，同意调出").await;
    screenshots(&client, "joins-incoming", save).await;
    click(&client, &format!("#release-{request_id}")).await;
    wait_for_text(&client, "已释放").await;
    screenshots(&client, "joins-released", save).await;
    let unit: Option<String> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1").bind(&operator_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(unit.as_deref(), Some(unit_b.as_str()));

    browser.close().await;
});
