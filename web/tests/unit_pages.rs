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
    other.get("/login/account").await;
    let page = other.post("/login/account", &[("login", "page-other-admin"), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = other.get(&format!("/unit/staff/{operator_id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    assert!(!page.html.contains("孙页面"), "{}", page.html);

    // The unit's own admin gets the records and the release form.
    let mut visitor = Visitor::new(site);
    visitor.get("/login/account").await;
    let page = visitor.post("/login/account", &[("login", "page-unit-admin"), ("password", ADMIN_PASSWORD)]).await;
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
