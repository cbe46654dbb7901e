//! The mobile number change pages through the site's router on SQLite and PostgreSQL:
//! the operator's two-code form, the unit admin's override on the operator page and
//! the association admin's search and override at `/staff/operators`.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod visitor;

use axum::http::StatusCode;
use chrono::Duration;
use common::{ADMIN_PASSWORD, TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use visitor::Visitor;
use workflows::both_backends;
use workflows::db::Db;

const OLD: &str = "13500000011";
const NEW: &str = "13600000022";

fn site(app: &TestApp) -> axum::Router {
    web::site(app.state.clone(), web::WebConfig { site_name: None, icp_filing: None, contact: None })
}

/// Creates a unit with admin `unit-admin` and an operator of it signed in as `OLD`;
/// returns the operator id.
async fn operator_of_unit(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4P0001");
    app.create_unit(&admin, &unit_uscc, "页面电梯公司", "unit-admin").await;
    let token = app.login_token(OLD).await;
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": "孙换号", "id_number": id_number("43010219880808001") })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": unit_uscc })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    app.clock.advance(Duration::seconds(61));
    reply.body["operator_id"].as_str().unwrap().to_string()
}

async fn account_visitor(app: &TestApp, login: &str) -> Visitor {
    let mut visitor = Visitor::new(site(app));
    let page = visitor.log_in_account(login, ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    visitor
}

/// Returns the value of the hidden `request_id` field of `html`.
fn request_id(html: &str) -> String {
    let start = html.find("name=\"request_id\" value=\"").expect("a request_id field") + "name=\"request_id\" value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

both_backends!(operator_changes_number_on_the_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    operator_of_unit(&app).await;
    let mut visitor = Visitor::new(site(&app));
    visitor.get("/login").await;
    visitor.post("/login/code", &[("mobile", OLD)]).await;
    let code = app.latest_code(OLD).await;
    let page = visitor.post("/login", &[("mobile", OLD), ("code", &code)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    app.clock.advance(Duration::seconds(61));

    let page = visitor.get("/home").await;
    assert!(page.html.contains("href=\"/profile/mobile\""), "{}", page.html);
    let page = visitor.get("/profile/mobile").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("135****0011"), "the current number is shown masked: {}", page.html);
    assert!(!page.html.contains(OLD), "{}", page.html);

    // The number of the signed-in operator is refused beside the field.
    let page = visitor.post("/profile/mobile", &[("new_mobile", OLD)]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"new_mobile-error\""), "{}", page.html);
    assert!(page.html.contains("new_mobile"), "{}", page.html);

    let page = visitor.post("/profile/mobile", &[("new_mobile", NEW)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"old_code\""), "{}", page.html);
    let request = request_id(&page.html);
    let new_code = app.latest_code(NEW).await;
    let old_code = app.latest_code(OLD).await;

    // A wrong code keeps the code form with the error beside the field.
    let wrong = if old_code == "000000" { "111111" } else { "000000" };
    let page = visitor.post("/profile/mobile/confirm", &[("request_id", &request), ("new_code", &new_code), ("old_code", wrong)]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"old_code-error\""), "{}", page.html);
    assert_eq!(request_id(&page.html), request);

    let page = visitor.post("/profile/mobile/confirm", &[("request_id", &request), ("new_code", &new_code), ("old_code", &old_code)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"mobile-changed\""), "{}", page.html);
    assert!(page.html.contains("136****0022"), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE mobile = $1", NEW).await, 1);
});

both_backends!(unit_admin_overrides_on_the_operator_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let operator_id = operator_of_unit(&app).await;
    let mut visitor = account_visitor(&app, "unit-admin").await;
    let page = visitor.get(&format!("/unit/staff/{operator_id}")).await;
    assert!(page.html.contains("id=\"override-send-code\""), "{}", page.html);

    let action = format!("/unit/staff/{operator_id}/mobile");
    let page = visitor.post(&action, &[("new_mobile", NEW), ("reason", "")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"override-reason-error\""), "{}", page.html);

    let page = visitor.post(&action, &[("new_mobile", NEW), ("reason", "原号码已停用")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("136****0022"), "{}", page.html);
    let request = request_id(&page.html);
    let code = app.latest_code(NEW).await;
    let page = visitor.post(&format!("{action}/confirm"), &[("request_id", &request), ("new_code", &code)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"mobile-changed\""), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM mobile_changes WHERE kind = $1", "unit_override").await, 1);
});

both_backends!(staff_find_and_override_any_operator, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let operator_id = operator_of_unit(&app).await;
    app.account_token(api::auth::Role::Reviewer, "page-reviewer", None).await;

    // Reviewers do not get the page; the admin finds the operator with masked numbers.
    let mut reviewer = account_visitor(&app, "page-reviewer").await;
    assert_eq!(reviewer.get("/staff/operators").await.status, StatusCode::SEE_OTHER);
    let mut admin = account_visitor(&app, "assoc-admin").await;
    let page = admin.get("/staff").await;
    assert!(page.html.contains("href=\"/staff/operators\""), "{}", page.html);
    let page = admin.get(&format!("/staff/operators?q={OLD}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("孙换号"), "{}", page.html);
    assert!(page.html.contains("135****0011"), "{}", page.html);
    // The number typed stays in the search box; the result shows it masked, and the ID
    // number never appears whole.
    assert!(page.html.contains("<p>135****0011"), "{}", page.html);
    assert!(!page.html.contains(&id_number("43010219880808001")), "{}", page.html);

    let action = format!("/staff/operators/{operator_id}/mobile");
    let page = admin.post(&action, &[("q", OLD), ("new_mobile", NEW), ("reason", "本人来电，原号码丢失")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let request = request_id(&page.html);
    let code = app.latest_code(NEW).await;
    let page = admin.post(&format!("{action}/confirm"), &[("q", OLD), ("request_id", &request), ("new_code", &code)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"mobile-changed\""), "{}", page.html);

    let page = admin.get(&format!("/staff/operators?q={NEW}")).await;
    assert!(page.html.contains("association_override"), "{}", page.html);
    assert!(page.html.contains("本人来电，原号码丢失"), "{}", page.html);
});
