//! Association staff in headless Chromium, against the site served on a loopback port.
//! Staff log in at `/login/account`, change the statistics' grouping and download the
//! xlsx, publish a notice that then shows on the login page, and edit the footer. Screenshots at phone (360 px) and desktop widths are written to
//! `docs/screenshots/` by the SQLite run, where the staff guide shows them.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod chromium;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use api::auth::Role;
use calamine::{Data, Reader, Xlsx};
use chromium::Browser;
use common::{ADMIN_PASSWORD, TestApp, app, id_number, march_5_10am_beijing, uscc};
use fantoccini::{Client, Locator};
use serde_json::json;
use workflows::both_backends;
use workflows::db::{Backend, Db};
use workflows::testing::TempDir;

/// Phone and desktop viewports of the screenshots: (name, width, height).
const VIEWPORTS: [(&str, u32, u32); 2] = [("phone", 360, 780), ("desktop", 1280, 900)];

/// Serves the site on a free loopback port with start-up footer defaults; returns its base URL.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = web::WebConfig { site_name: None, icp_filing: Some("湘ICP备00000000号-1".into()), contact: Some("协会办公室 0731-00000000".into()) };
    let site = web::site(app.state.clone(), config);
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    format!("http://{address}")
}

/// Saves screenshots of the current page at each viewport when `save` is set, then
/// returns to the desktop viewport that staff use.
async fn screenshots(client: &Client, name: &str, save: bool) {
    if !save {
        return;
    }
    let folder = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots"));
    std::fs::create_dir_all(&folder).unwrap();
    for (viewport, width, height) in VIEWPORTS {
        client.set_window_size(width, height).await.unwrap();
        let png = client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(folder.join(format!("staff-{name}-{viewport}.png")), png).unwrap();
    }
    client.set_window_size(VIEWPORTS[1].1, VIEWPORTS[1].2).await.unwrap();
}

async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.wait().for_element(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    client.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

async fn path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_string()
}

/// Returns the text of the page's body, or nothing while a navigation replaces it.
async fn body_text(client: &Client) -> String {
    match client.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits up to 10 s for the page's body to contain `text`.
async fn wait_for_text(client: &Client, text: &str) {
    for _ in 0..100 {
        if body_text(client).await.contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("page {} never showed {text:?}: {}", path(client).await, body_text(client).await);
}

/// Waits up to 20 s for a finished `.xlsx` file in `folder` and returns its bytes.
async fn wait_for_download(folder: &Path) -> Vec<u8> {
    for _ in 0..200 {
        let finished = std::fs::read_dir(folder).unwrap().filter_map(Result::ok).map(|entry| entry.path()).find(|file| file.extension().is_some_and(|extension| extension == "xlsx"));
        if let Some(file) = finished {
            return std::fs::read(file).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no xlsx file arrived in {}", folder.display());
}

/// Registers two units in two regions and enrolls three operators for T in 2026.
async fn seed(app: &TestApp) {
    let admin = app.admin_token().await;
    for (index, (region, name)) in [("430100", "长沙电梯维保有限公司"), ("430200", "株洲起重机械厂")].iter().enumerate() {
        let body = json!({
            "uscc": uscc(&format!("91430100MA4L{index:04}")),
            "name": name,
            "region_code": region,
            "admin": { "login": format!("unit-{index}"), "password": ADMIN_PASSWORD, "display_name": "单位管理员" },
        });
        let reply = app.post("/api/units", Some(&admin), body).await;
        assert_eq!(reply.status, axum::http::StatusCode::CREATED, "{:?}", reply.body);
    }
    let operators = [("13800138001", "43010219900101001", 0), ("13800138002", "43010219900101002", 0), ("13800138003", "43010219900101003", 1)];
    for (mobile, id_body, unit) in operators {
        app.enrolled_operator(mobile, &id_number(id_body), &uscc(&format!("91430100MA4L{unit:04}"))).await;
    }
}

both_backends!(staff_statistics_notices_footer, |db: Db| async move {
    let save = db.backend == Backend::Sqlite;
    let app = app(db, march_5_10am_beijing()).await;
    seed(&app).await;
    app.account_token(Role::AssociationAdmin, "assoc-staff", None).await;
    let base = serve(&app).await;
    let downloads = TempDir::new();
    let browser = Browser::start_downloading_to(&downloads.path).await;
    let client = browser.client.clone();
    client.set_window_size(VIEWPORTS[1].1, VIEWPORTS[1].2).await.unwrap();

    // Staff log in with account and password.
    client.goto(&format!("{base}/login/account")).await.unwrap();
    fill(&client, "login", "assoc-staff").await;
    fill(&client, "password", ADMIN_PASSWORD).await;
    click(&client, "#account-login").await;
    for _ in 0..100 {
        if path(&client).await != "/login/account" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(path(&client).await, "/staff");

    // Statistics by region: two regions with their operators, a chart and a table.
    client.goto(&format!("{base}/staff/statistics")).await.unwrap();
    wait_for_text(&client, "明细表").await;
    let table = client.find(Locator::Id("statistics-table")).await.unwrap().text().await.unwrap();
    assert!(table.contains("430100"), "{table}");
    assert!(table.contains("430200"), "{table}");
    let total_cells = client.find_all(Locator::Css("#statistics-table tfoot td")).await.unwrap();
    assert_eq!(total_cells[0].text().await.unwrap(), "3", "three operators in total");
    assert_eq!(total_cells[1].text().await.unwrap(), "3", "three enrollments in total");
    let bars = client.find_all(Locator::Css("#statistics-chart rect")).await.unwrap();
    assert_eq!(bars.len(), 2, "one bar per region");
    let chart_title = client.find(Locator::Css("#statistics-chart title")).await.unwrap().html(true).await.unwrap();
    assert!(chart_title.contains("条形图"), "{chart_title}");
    screenshots(&client, "statistics-region", save).await;

    // Grouped by unit, the units' names label the rows.
    client.find(Locator::Id("by")).await.unwrap().select_by_value("unit").await.unwrap();
    click(&client, "#statistics-show").await;
    wait_for_text(&client, "株洲起重机械厂").await;
    assert!(client.current_url().await.unwrap().query().unwrap_or("").contains("by=unit"));
    screenshots(&client, "statistics-unit", save).await;

    // The download contains the same figures under zh-CN headers.
    click(&client, "#statistics-export").await;
    let bytes = wait_for_download(&downloads.path).await;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("the download is an xlsx workbook");
    let range = workbook.worksheet_range("统计").expect("sheet 统计");
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows[1][0], Data::String("单位".into()));
    assert_eq!(rows[1][1], Data::String("参训人数".into()));
    // Units are ordered by id, which grows with registration time.
    assert_eq!(rows[2][0], Data::String("长沙电梯维保有限公司".into()));
    assert_eq!(rows[2][1], Data::Float(2.0));
    assert_eq!(rows[3][0], Data::String("株洲起重机械厂".into()));
    assert_eq!(rows[3][1], Data::Float(1.0));
    let total = rows.last().unwrap();
    assert_eq!(total[0], Data::String("合计".into()));
    assert_eq!(total[1], Data::Float(3.0));

    // A notice saved as a draft is not public; published, it shows on the login page.
    client.goto(&format!("{base}/staff/notices")).await.unwrap();
    fill(&client, "notice-title", "2026年度继续教育报名开始").await;
    fill(&client, "notice-body", "请各单位组织作业人员报名。\n\n报名截止时间另行通知。<b>不是标记</b>").await;
    click(&client, "#notice-save").await;
    // The body contains "<b>", which the API rejects as markup, so the form comes back.
    let error = client.wait().for_element(Locator::Id("body-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("HTML"), "{error}");
    fill(&client, "notice-body", "请各单位组织作业人员报名。\n\n报名截止时间另行通知。").await;
    click(&client, "#notice-save").await;
    wait_for_text(&client, "全部通知公告").await;
    client.wait().for_element(Locator::Id("publish-0")).await.unwrap();
    assert_eq!(app.get("/api/notices", None).await.body["notices"], json!([]), "a draft is not public");
    screenshots(&client, "notices-draft", save).await;
    click(&client, "#publish-0").await;
    wait_for_text(&client, "撤回").await;
    screenshots(&client, "notices-published", save).await;

    client.goto(&format!("{base}/login/account")).await.unwrap();
    wait_for_text(&client, "最新通知").await;
    wait_for_text(&client, "2026年度继续教育报名开始").await;
    screenshots(&client, "notices-login", save).await;
    click(&client, ".notice-list a").await;
    wait_for_text(&client, "报名截止时间另行通知。").await;
    let paragraphs = client.find_all(Locator::Css("article p.plain")).await.unwrap();
    assert_eq!(paragraphs.len(), 2, "two paragraphs");

    // The footer's ICP filing number changes on every page once saved.
    client.goto(&format!("{base}/staff/site")).await.unwrap();
    wait_for_text(&client, "ICP备案号").await;
    fill(&client, "icp-filing", "<b>湘ICP备</b>").await;
    click(&client, "#site-save").await;
    wait_for_text(&client, "不支持 HTML").await;
    fill(&client, "icp-filing", "湘ICP备87654321号-2").await;
    click(&client, "#site-save").await;
    wait_for_text(&client, "已保存").await;
    let footer = client.find(Locator::Css("footer.site")).await.unwrap().text().await.unwrap();
    assert!(footer.contains("湘ICP备87654321号-2"), "{footer}");
    assert!(footer.contains("协会办公室 0731-00000000"), "the contact default stays: {footer}");
    wait_for_text(&client, "修改记录").await;
    screenshots(&client, "site", save).await;
    client.goto(&format!("{base}/help")).await.unwrap();
    let footer = client.find(Locator::Css("footer.site")).await.unwrap().text().await.unwrap();
    assert!(footer.contains("湘ICP备87654321号-2"), "{footer}");

    browser.close().await;
});
