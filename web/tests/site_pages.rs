//! Statistics, notices, help and footer pages through the real site router on SQLite
//! and PostgreSQL: who may open them, what is public, escaping of staff texts,
//! and form errors beside their fields.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod visitor;

use api::auth::Role;
use axum::http::StatusCode;
use common::{ADMIN_PASSWORD, TestApp, app, march_5_10am_beijing};
use serde_json::json;
use visitor::Visitor;
use workflows::both_backends;
use workflows::db::Db;

fn site(app: &TestApp) -> axum::Router {
    let config = web::WebConfig { site_name: None, icp_filing: Some("湘ICP备00000000号".into()), contact: Some("0731-00000000".into()) };
    web::site(app.state.clone(), config)
}

/// Logs `login` in at `/login/account` and checks the redirect to `/staff`.
async fn log_in(visitor: &mut Visitor, login: &str) {
    let page = visitor.log_in_account(login, ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/staff");
}

both_backends!(staff_pages_need_staff, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    app.account_token(Role::Reviewer, "site-reviewer", None).await;
    let mut visitor = Visitor::new(site(&app));

    // Without a session every staff page sends the visitor to the account login.
    for path in ["/staff/statistics", "/staff/notices", "/staff/help", "/staff/site"] {
        let page = visitor.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), "/login/account", "{path}");
    }

    // A reviewer opens statistics, notices and help, but not the footer settings.
    log_in(&mut visitor, "site-reviewer").await;
    for path in ["/staff/statistics?by=item", "/staff/notices", "/staff/help"] {
        let page = visitor.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
    }
    let page = visitor.get("/staff/site").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/staff");

    // An unknown grouping in the address falls back to regions.
    let page = visitor.get("/staff/statistics?by=month").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<option value=\"region\" selected>"), "{}", page.html);
    // Handlebars escapes "=" and "&" in attributes, which browsers decode.
    assert!(page.html.contains("/api/statistics/export?year&#x3D;2026&amp;by&#x3D;region"), "{}", page.html);
});

both_backends!(public_notice_and_help_pages, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let created = app.post("/api/site/notices", Some(&admin), json!({ "title": "成绩 < 60 分的补考安排", "body": "第一段\n\n第二段 A & B" })).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    app.post("/api/site/help", Some(&admin), json!({ "slug": "exam", "title": "考试须知", "body": "请按时参加。" })).await;
    let mut visitor = Visitor::new(site(&app));

    // A draft is neither listed nor shown.
    let page = visitor.get("/notices").await;
    assert!(page.html.contains("暂无通知公告"), "{}", page.html);
    let page = visitor.get(&format!("/notices/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // Published, it is listed, shown with escaped text in two paragraphs, and on both login pages.
    app.post(&format!("/api/site/notices/{id}/publish"), Some(&admin), json!({})).await;
    let page = visitor.get(&format!("/notices/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("成绩 &lt; 60 分的补考安排"), "{}", page.html);
    assert!(page.html.contains("<p class=\"plain\">第二段 A &amp; B</p>"), "{}", page.html);
    assert_eq!(page.html.matches("<p class=\"plain\">").count(), 2);
    for login in ["/login", "/login/account"] {
        let page = visitor.get(login).await;
        assert!(page.html.contains(&format!("href=\"/notices/{id}\"")), "{login}: {}", page.html);
    }

    // Help is linked from the footer and lists its pages.
    assert!(page.html.contains("href=\"/help\""), "{}", page.html);
    let page = visitor.get("/help").await;
    assert!(page.html.contains("href=\"/help/exam\""), "{}", page.html);
    let page = visitor.get("/help/exam").await;
    assert!(page.html.contains("请按时参加。"), "{}", page.html);
    let page = visitor.get("/help/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
});

both_backends!(footer_form_errors_and_override, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    app.account_token(Role::AssociationAdmin, "site-admin", None).await;
    let mut visitor = Visitor::new(site(&app));
    log_in(&mut visitor, "site-admin").await;

    // The start-up values show as placeholders until a value is stored.
    let page = visitor.get("/staff/site").await;
    assert!(page.html.contains("placeholder=\"湘ICP备00000000号\""), "{}", page.html);

    // A value with markup comes back beside its field, and nothing is stored.
    let page = visitor.post("/staff/site", &[("site_name", ""), ("icp_filing", "<i>湘ICP备</i>"), ("contact", "")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"icp-filing-error\""), "{}", page.html);
    assert!(page.html.contains("value=\"&lt;i&gt;湘ICP备&lt;/i&gt;\""), "the typed value is kept, escaped: {}", page.html);

    // A valid value replaces the default in every page's footer.
    let page = visitor.post("/staff/site", &[("site_name", "湖南省特种设备协会平台"), ("icp_filing", "湘ICP备12345678号-1"), ("contact", "")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let page = visitor.get("/notices").await;
    assert!(page.html.contains("湘ICP备12345678号-1"), "{}", page.html);
    assert!(!page.html.contains("湘ICP备00000000号"), "{}", page.html);
    assert!(page.html.contains("0731-00000000"), "the contact keeps its default: {}", page.html);
    assert!(page.html.contains("<title>通知公告 · 湖南省特种设备协会平台</title>"), "{}", page.html);
});
