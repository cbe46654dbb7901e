//! The unit admin's path in headless Chromium, against the site served on a loopback
//! port: account login, a roster upload with one bad row, the preview with the row's
//! error, the confirmed import, one operator's records, and a join request from a
//! second unit that the first unit releases. Screenshots at phone (360 px) and desktop
//! widths are written to `docs/screenshots/` by the SQLite run, where the unit admin's
//! guide shows them.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod chromium;

use std::path::PathBuf;
use std::time::Duration;

use chromium::Browser;
use common::{ADMIN_PASSWORD, TestApp, app, id_number, march_5_10am_beijing, uscc};
use fantoccini::{Client, Locator};
use workflows::both_backends;
use workflows::db::{Backend, Db};
use workflows::testing::TempDir;

/// Phone and desktop viewports of the screenshots: (name, width, height).
const VIEWPORTS: [(&str, u32, u32); 2] = [("phone", 360, 780), ("desktop", 1280, 900)];

/// Serves the site on a free loopback port; returns its base URL.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = web::WebConfig { site_name: None, icp_filing: Some("湘ICP备00000000号-1".into()), contact: Some("协会办公室 0731-00000000".into()) };
    let site = web::site(app.state.clone(), config);
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    format!("http://{address}")
}

/// Saves `unit-{name}-{viewport}.png` at each viewport when `save` is set, and returns
/// to the phone viewport.
async fn screenshots(client: &Client, name: &str, save: bool) {
    screenshots_of(client, name, save, None).await;
}

/// Saves screenshots like [`screenshots`] with the element `focus` (a CSS selector)
/// scrolled into view at each viewport.
async fn screenshots_of(client: &Client, name: &str, save: bool, focus: Option<&str>) {
    if !save {
        return;
    }
    let folder = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots"));
    std::fs::create_dir_all(&folder).unwrap();
    for (viewport, width, height) in VIEWPORTS {
        client.set_window_size(width, height).await.unwrap();
        if let Some(selector) = focus {
            let script = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})";
            client.execute(script, vec![serde_json::json!(selector)]).await.unwrap();
        }
        let png = client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(folder.join(format!("unit-{name}-{viewport}.png")), png).unwrap();
    }
    client.set_window_size(VIEWPORTS[0].1, VIEWPORTS[0].2).await.unwrap();
}

async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.wait().for_element(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    client.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

async fn body_text(client: &Client) -> String {
    match client.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits up to 20 s for the page's body to contain `text`.
async fn wait_for_text(client: &Client, text: &str) {
    for _ in 0..200 {
        if body_text(client).await.contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = client.current_url().await.map(|url| url.to_string()).unwrap_or_default();
    panic!("page {url} never showed {text:?}: {}", body_text(client).await);
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
    let base = serve(&app).await;
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
    screenshots_of(&client, "roster-preview", save, Some("#preview-rows tr.row-error")).await;

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
    fill(&client, &format!("reason-{request_id}"), "本人已离职，同意调出").await;
    screenshots(&client, "joins-incoming", save).await;
    click(&client, &format!("#release-{request_id}")).await;
    wait_for_text(&client, "已释放").await;
    screenshots(&client, "joins-released", save).await;
    let unit: Option<String> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1").bind(&operator_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(unit.as_deref(), Some(unit_b.as_str()));

    browser.close().await;
});
