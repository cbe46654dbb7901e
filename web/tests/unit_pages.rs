//! The unit admin's operator page through the site's router on SQLite and PostgreSQL:
//! the release needs the confirmation box and a reason, and another unit's admin
//! cannot open the page.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod visitor;

use axum::http::StatusCode;
use common::{ADMIN_PASSWORD, app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use visitor::Visitor;
use workflows::both_backends;
use workflows::db::Db;

both_backends!(release_needs_confirmation, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4P0001");
    let (unit_id, _) = app.create_unit(&admin, &unit_uscc, "页面电梯公司", "page-unit-admin").await;
    app.create_unit(&admin, &uscc("91430100MA4P0002"), "别的电梯公司", "page-other-admin").await;
    let token = app.login_token("13500000001").await;
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": "孙页面", "id_number": id_number("43010219880808001") })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": unit_uscc })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let operator_id = reply.body["operator_id"].as_str().unwrap().to_string();
    let config = web::WebConfig { site_name: None, icp_filing: None, contact: None };
    let site = web::site(app.state.clone(), config);

    // Another unit's admin gets the error page, not the records.
    let mut other = Visitor::new(site.clone());
    let page = other.log_in_account("page-other-admin", ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = other.get(&format!("/unit/staff/{operator_id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    assert!(!page.html.contains("孙页面"), "{}", page.html);

    // The unit's own admin gets the records and the release form.
    let mut visitor = Visitor::new(site);
    let page = visitor.log_in_account("page-unit-admin", ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = visitor.get(&format!("/unit/staff/{operator_id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("孙页面"), "{}", page.html);
    assert!(page.html.contains("id=\"release\""), "{}", page.html);

    // Without the confirmation box nothing is sent.
    let release = format!("/unit/staff/{operator_id}/release");
    let page = visitor.post(&release, &[("reason", "离职")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"confirm-error\""), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, 1);

    // A blank reason is named beside its field.
    let page = visitor.post(&release, &[("reason", " "), ("confirm", "yes")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"reason-error\""), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, 1);

    // Confirmed with a reason, the operator is released.
    let page = visitor.post(&release, &[("reason", "本人已离职"), ("confirm", "yes")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, 0);
    let page = visitor.get(&format!("/unit/staff/{operator_id}")).await;
    assert!(page.html.contains("现已不属于本单位"), "{}", page.html);
    assert!(!page.html.contains("id=\"release\""), "{}", page.html);
});

// A roster saved as CSV by a Chinese-locale spreadsheet program (GBK, CRLF, Chinese
// headers) previews through the page with the encoding named and every row listed
// under the same names as the UTF-8 operator data, then imports those names.
both_backends!(gbk_roster_through_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let (unit_id, _) = app.create_unit(&admin, "91430102051321883T", "长沙测试电梯有限公司", "gbk-unit-admin").await;
    let file = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/tests/data/roster-gbk.csv")).unwrap();
    let utf8 = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/tests/data/operators.csv")).unwrap();
    let names_by_id: std::collections::HashMap<String, String> = utf8
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .map(|columns| (columns[2].to_string(), columns[0].to_string()))
        .collect();

    let config = web::WebConfig { site_name: None, icp_filing: None, contact: None };
    let mut visitor = Visitor::new(web::site(app.state.clone(), config));
    let page = visitor.log_in_account("gbk-unit-admin", ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // A file that is no roster is named beside the file field.
    visitor.get("/unit/roster").await;
    let page = visitor.post_multipart("/unit/roster", &[], "file", "notes.txt", b"not a roster").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("aria-describedby=\"roster-error file-hint\""), "{}", page.html);

    visitor.get("/unit/roster").await;
    let page = visitor.post_multipart("/unit/roster", &[], "file", "花名册.csv", &file).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("读取文件使用的编码：GBK"), "{}", page.html);
    let rows: Vec<&str> = page.html.split("<tr class=\"row-").skip(1).collect();
    assert_eq!(rows.len(), 8, "every row is listed: {}", page.html);
    assert!(rows.iter().all(|row| row.starts_with("new")), "{}", page.html);
    // ID numbers are ASCII, so they read the same in GBK and UTF-8.
    let gbk_ids: Vec<String> = file
        .split(|byte| *byte == b'\n')
        .skip(1)
        .map(String::from_utf8_lossy)
        .filter_map(|line| line.split(',').nth(3).map(str::to_string))
        .collect();
    assert_eq!(gbk_ids.len(), 8);
    for id in &gbk_ids {
        let name = names_by_id.get(id).expect("every GBK row is in the UTF-8 data");
        assert!(page.html.contains(&format!("{name} <span class=\"hint\">")), "{name} is shown decoded: {}", page.html);
    }

    // Confirmed, the background import stores the same names.
    let import_id = page.html.split("/unit/roster/").nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_string();
    let page = visitor.post(&format!("/unit/roster/{import_id}/confirm"), &[]).await;
    assert_eq!(page.location(), format!("/unit/roster/{import_id}"), "{}", page.html);
    // The import runs on a spawned task, so the page is read until it reports the end.
    let mut page = visitor.get(&format!("/unit/roster/{import_id}")).await;
    for _ in 0..120 {
        if page.html.contains("id=\"import-done\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        page = visitor.get(&format!("/unit/roster/{import_id}")).await;
    }
    assert!(page.html.contains("id=\"import-done\""), "{}", page.html);
    assert!(page.html.contains("8 行已导入"), "{}", page.html);
    assert!(page.html.contains("读取文件使用的编码：GBK"), "the finished import names the encoding as the preview did: {}", page.html);
    let changes = page.html.split("id=\"import-changes\"").nth(1).unwrap().split("</ul>").next().unwrap();
    assert!(changes.contains("</span> 8</li>"), "the new rows are counted: {changes}");
    for id in &gbk_ids {
        let stored: String = sqlx::query_scalar("SELECT name FROM operators WHERE id_number = $1 AND unit_id = $2").bind(id).bind(&unit_id).fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(&stored, &names_by_id[id]);
    }
});
