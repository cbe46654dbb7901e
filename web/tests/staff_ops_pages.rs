//! The staff operations pages through the real site router on SQLite and PostgreSQL.
//! They cover institutions with registration and the secret shown once, incidents with
//! their confirmation and outcome, provincial sync with replay and skip, and definitions
//! with validation, publishing and a planned and applied migration. Each page is also
//! checked for the reviewer (no admin-only actions) and for other roles.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod staff_fixtures;
mod visitor;

use api::auth::Role;
use axum::http::StatusCode;
use common::{TestApp, app, march_5_10am_beijing, uscc};
use serde_json::json;
use staff_fixtures::{REMINDER, REMINDER_V2, failed_notification, rejected_sync_record};
use visitor::Visitor;
use workflows::both_backends;
use workflows::db::Db;

fn site(app: &TestApp) -> axum::Router {
    let config = web::WebConfig { site_name: None, icp_filing: None, contact: None };
    web::site(app.state.clone(), config)
}

/// Creates a staff account of `role` and logs a visitor in with it at `/login/account`.
async fn staff_visitor(app: &TestApp, role: Role, login: &str) -> Visitor {
    let account = api::NewAccount {
        role,
        login,
        password: common::ADMIN_PASSWORD,
        display_name: "协会工作人员",
        unit_id: None,
        institution_id: None,
        mobile: None,
        email: None,
    };
    api::create_account(&app.db, &account, app.state.now_ms()).await.unwrap();
    let mut visitor = Visitor::new(site(app));
    let page = visitor.log_in_account(login, common::ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/staff");
    visitor
}

both_backends!(staff_institutions_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let mut anonymous = Visitor::new(site(&app));
    assert_eq!(anonymous.get("/staff/institutions").await.location(), "/login/account");
    let mut admin = staff_visitor(&app, Role::AssociationAdmin, "staff-admin").await;

    // The page shows the integration settings and an empty register.
    let page = admin.get("/staff/institutions").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("/api/institution/handoff/verify"), "{}", page.html);
    assert!(page.html.contains("/api/institution/sessions"));
    assert!(page.html.contains("300 秒"), "{}", page.html);
    assert!(page.html.contains("还没有登记施教机构"));
    assert!(page.html.contains("id=\"create-institution\""));

    // Errors stand beside their fields, with the typed values kept.
    let page = admin.post("/staff/institutions", &[("name", "湖南省特种设备安全培训中心"), ("uscc", &uscc("91430100MA4L0000"))]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("id=\"items-error\""), "{}", page.html);
    assert!(page.html.contains("请至少填写一个授课的作业项目"), "{}", page.html);
    assert!(page.html.contains("value=\"湖南省特种设备安全培训中心\""));
    let page = admin.post("/staff/institutions", &[("name", "湖南省特种设备安全培训中心"), ("uscc", "91430100MA4L0000X"), ("items", "T")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("id=\"uscc-error\""), "{}", page.html);
    assert!(page.html.contains("value=\"T\" checked"), "the chosen item stays checked: {}", page.html);

    // Registration shows the key id and the secret once.
    let page = admin.post("/staff/institutions", &[("name", "湖南省特种设备安全培训中心"), ("uscc", &uscc("91430100MA4L0000")), ("items", "T"), ("items", "N1")]).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.html);
    let (key_id, secret): (String, String) = sqlx::query_as("SELECT key_id, secret FROM institutions").fetch_one(&app.db.pool).await.unwrap();
    assert!(page.html.contains(&key_id), "{}", page.html);
    assert!(page.html.contains(&secret), "{}", page.html);
    assert!(page.html.contains("密钥只显示这一次"));
    let items: String = sqlx::query_scalar("SELECT items FROM institutions").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(items, "T,N1");

    // The register lists it with its items and key id, never the secret.
    let page = admin.get("/staff/institutions").await;
    assert!(page.html.contains("湖南省特种设备安全培训中心"), "{}", page.html);
    assert!(page.html.contains(&key_id));
    assert!(page.html.contains("N1 "), "{}", page.html);
    assert!(!page.html.contains(&secret), "the secret is not shown again");

    // A reviewer reads the register but gets no form, and a post is refused.
    let mut reviewer = staff_visitor(&app, Role::Reviewer, "staff-reviewer").await;
    let page = reviewer.get("/staff/institutions").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains(&key_id));
    assert!(!page.html.contains("id=\"create-institution\""));
    let page = reviewer.post("/staff/institutions", &[("name", "另一家学校"), ("uscc", &uscc("52430100MJ000109")), ("items", "T")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.html.contains("无权"), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM institutions WHERE name = $1", "另一家学校").await, 0);

    // A unit admin is sent to the unit's start page.
    let admin_token = app.admin_token().await;
    app.create_unit(&admin_token, &uscc("91430100MA4L2222"), "株洲起重机械有限公司", "unit-admin-i").await;
    let mut unit_admin = Visitor::new(site(&app));
    unit_admin.log_in_account("unit-admin-i", common::ADMIN_PASSWORD).await;
    assert_eq!(unit_admin.get("/staff/institutions").await.location(), "/unit");
});

both_backends!(staff_incidents_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin_token = app.admin_token().await;
    let incident = failed_notification(&app, &admin_token, "op-1", "gateway refused the template").await;
    let mut admin = staff_visitor(&app, Role::AssociationAdmin, "staff-admin").await;

    // The open incident is listed with its error and the admin's actions.
    let page = admin.get("/staff/incidents").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(&incident), "{}", page.html);
    assert!(page.html.contains("gateway refused the template"));
    assert!(page.html.contains("动作执行失败"));
    assert!(page.html.contains(&format!("href=\"/staff/incidents/{incident}/retry\"")));

    // The kind filter hides it; another status does too.
    let page = admin.get("/staff/incidents?status=open&kind=stuck_instance").await;
    assert!(!page.html.contains(&incident), "{}", page.html);
    assert!(page.html.contains("没有符合条件的异常事项"));
    let page = admin.get("/staff/incidents?status=retried").await;
    assert!(!page.html.contains(&incident));

    // The confirmation page explains retry, and confirming shows the outcome.
    let page = admin.get(&format!("/staff/incidents/{incident}/retry")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("从第 1 次尝试起"), "{}", page.html);
    assert!(page.html.contains("gateway refused the template"));
    let page = admin.post(&format!("/staff/incidents/{incident}/retry"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let outcome = page.location().to_string();
    assert!(outcome.starts_with("/staff/incidents?done=retry"), "{outcome}");
    let page = admin.get(&outcome).await;
    assert!(page.html.contains("id=\"outcome\""), "{}", page.html);
    assert!(page.html.contains(&format!("异常事项 {incident} 已重试")), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM wf_incidents WHERE status = $1", "retried").await, 1);
    let page = admin.get("/staff/incidents?status=retried").await;
    assert!(page.html.contains(&incident), "{}", page.html);

    // A resolved incident has no confirmation page, and an unknown action is not found.
    let page = admin.get(&format!("/staff/incidents/{incident}/skip")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    let page = admin.get(&format!("/staff/incidents/{incident}/explode")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // A reviewer sees incidents without actions; a post is refused and changes nothing.
    let second = failed_notification(&app, &admin_token, "op-2", "gateway refused again").await;
    let mut reviewer = staff_visitor(&app, Role::Reviewer, "staff-reviewer").await;
    let page = reviewer.get("/staff/incidents").await;
    assert!(page.html.contains(&second), "{}", page.html);
    assert!(!page.html.contains(&format!("href=\"/staff/incidents/{second}/retry\"")));
    let page = reviewer.post(&format!("/staff/incidents/{second}/cancel"), &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM wf_incidents WHERE status = $1", "open").await, 1);

    // Cancel by the admin.
    admin.get(&format!("/staff/incidents/{second}/cancel")).await;
    let page = admin.post(&format!("/staff/incidents/{second}/cancel"), &[]).await;
    let page = admin.get(page.location()).await;
    assert!(page.html.contains(&format!("异常事项 {second} 已取消")), "{}", page.html);
});

both_backends!(staff_sync_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let mut admin = staff_visitor(&app, Role::AssociationAdmin, "staff-admin").await;

    // Nothing queued: the sync is idle.
    let page = admin.get("/staff/sync").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("同步正常"), "{}", page.html);
    assert!(page.html.contains("没有待处理的记录"));

    // Two rejected records wait for staff, with their error and body.
    let first = rejected_sync_record(&app, "13800138001", "op-a").await;
    let second = rejected_sync_record(&app, "13800138002", "op-b").await;
    let page = admin.get("/staff/sync").await;
    assert!(page.html.contains("有记录需要人工处理"), "{}", page.html);
    assert!(page.html.contains("id=\"count-dead\">2<"), "{}", page.html);
    assert!(page.html.contains("body.id_number"), "{}", page.html);
    assert!(page.html.contains("陈超"));
    assert!(page.html.contains("作业人员信息"), "the record kind's name: {}", page.html);
    assert!(page.html.contains(&format!("href=\"/staff/sync/{first}/replay\"")));

    // Replay, after its confirmation page.
    let page = admin.get(&format!("/staff/sync/{first}/replay")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("按当前数据重新生成"), "{}", page.html);
    let page = admin.post(&format!("/staff/sync/{first}/replay"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let page = admin.get(page.location()).await;
    assert!(page.html.contains("已重新上报"), "{}", page.html);
    assert!(page.html.contains("id=\"count-dead\">1<"), "{}", page.html);
    let status: String = sqlx::query_scalar("SELECT o.status FROM wf_outbox o JOIN wf_incidents n ON n.outbox_id = o.id WHERE n.id = $1").bind(&first).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "pending");

    // A reviewer may skip too.
    let mut reviewer = staff_visitor(&app, Role::Reviewer, "staff-reviewer").await;
    reviewer.get(&format!("/staff/sync/{second}/skip")).await;
    let page = reviewer.post(&format!("/staff/sync/{second}/skip"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let page = reviewer.get(page.location()).await;
    assert!(page.html.contains("已跳过"), "{}", page.html);
    assert!(page.html.contains("没有待处理的记录"), "{}", page.html);
    let skipped: String = sqlx::query_scalar("SELECT status FROM sync_records WHERE operator_ref = $1").bind("op-b").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(skipped, "skipped");

    // A dead letter already handled is not found.
    let page = admin.post(&format!("/staff/sync/{second}/replay"), &[]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
});

both_backends!(staff_definitions_pages, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin_token = app.admin_token().await;
    let reply = app.post("/api/definitions", Some(&admin_token), json!({ "source": REMINDER, "label": "每日提醒" })).await;
    let v1 = reply.body["version"].as_str().unwrap().to_string();
    let instance = app.state.engine.start("reminder_loop", &[("operator", "op-1".to_string())], Default::default()).await.unwrap();
    let mut admin = staff_visitor(&app, Role::AssociationAdmin, "staff-admin").await;

    // The list and the versions with author, instances by state and the diagram.
    let page = admin.get("/staff/definitions").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("href=\"/staff/definitions/reminder_loop\""), "{}", page.html);
    assert!(page.html.contains("annual_ce"));
    assert!(page.html.contains("运行中 1"), "the status totals are named in zh-CN: {}", page.html);
    let page = admin.get("/staff/definitions/reminder_loop").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("每日提醒"));
    assert!(page.html.contains("测试账号"), "the author: {}", page.html);
    assert!(page.html.contains("等待"), "{}", page.html);
    assert!(page.html.contains("<td>运行中</td>"), "the instance status is named in zh-CN: {}", page.html);
    assert!(page.html.contains(&format!("/staff/definitions/reminder_loop/diagram/{v1}")), "{}", page.html);
    let diagram = admin.get(&format!("/staff/definitions/reminder_loop/diagram/{v1}")).await;
    assert_eq!(diagram.status, StatusCode::OK);
    assert_eq!(diagram.headers["content-type"], "image/svg+xml; charset=utf-8");
    assert!(diagram.html.contains("<svg"));
    assert_eq!(admin.get("/staff/definitions/no_such_definition").await.status, StatusCode::NOT_FOUND);

    // With one published version there is nothing to migrate to, and the page states
    // it instead of offering that version on both sides.
    let page = admin.get("/staff/definitions/reminder_loop/migrate").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"only-version\""), "{}", page.html);
    assert!(page.html.contains("只有一个已发布版本"), "{}", page.html);
    assert!(!page.html.contains("迁出版本没有运行中或暂停的实例"), "{}", page.html);
    assert!(!page.html.contains("name=\"to\""), "{}", page.html);

    // The edit form starts from the version's text.
    let page = admin.get("/staff/definitions/reminder_loop/edit").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id: reminder_loop"), "{}", page.html);
    assert!(page.html.contains("id=\"publish\""));

    // An invalid edit is shown with its line and column in Chinese and not published.
    let invalid = REMINDER.replace("at: \"09:00\"", "at: \"04-31 09:00\"");
    let page = admin.post("/staff/definitions/reminder_loop/validate", &[("source", &invalid), ("label", "")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    assert!(page.html.contains("第 23 行第"), "{}", page.html);
    assert!(page.html.contains("2 月 29 日"), "{}", page.html);
    assert!(page.html.contains("04-31 09:00"), "the line's text and the typed source are shown");
    let page = admin.post("/staff/definitions/reminder_loop/publish", &[("source", &invalid), ("label", "错误")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    assert!(page.html.contains("第 23 行第"), "{}", page.html);
    assert_eq!(app.state.engine.versions("reminder_loop").await.unwrap().len(), 1);

    // A valid edit passes and an admin publishes it.
    let v2_source = REMINDER_V2.replace("  parked:\n    label: 搁置\n", "");
    let page = admin.post("/staff/definitions/reminder_loop/validate", &[("source", &v2_source), ("label", "改名")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"valid\""), "{}", page.html);
    let page = admin.post("/staff/definitions/reminder_loop/publish", &[("source", &v2_source), ("label", "改名")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert!(page.location().starts_with("/staff/definitions/reminder_loop?published="), "{}", page.location());
    let page = admin.get(page.location()).await;
    assert!(page.html.contains("id=\"published\""), "{}", page.html);
    let versions = app.state.engine.versions("reminder_loop").await.unwrap();
    assert_eq!(versions.len(), 2);
    let v2 = versions[0].version.clone();
    assert_eq!(versions[0].label, "改名");

    // The migration form offers the state that contains the instance.
    let page = admin.get("/staff/definitions/reminder_loop/migrate").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("name=\"map.waiting\""), "{}", page.html);
    assert!(page.html.contains("1 个实例"), "{}", page.html);
    let to_select = page.html.split("name=\"to\"").nth(1).unwrap().split("</select>").next().unwrap();
    assert!(to_select.contains(&v2), "{to_select}");
    assert!(!to_select.contains(&v1), "the source version is not offered as target: {to_select}");

    // Without a map the plan is refused in Chinese, with no apply button.
    let page = admin.post("/staff/definitions/reminder_loop/migrate/plan", &[("from_version", &v1), ("to_version", &v2), ("map.waiting", "waiting")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"refused\""), "{}", page.html);
    assert!(page.html.contains("新版本中没有目标状态"), "{}", page.html);
    assert!(!page.html.contains("id=\"apply\""));

    // Applying a refused map changes nothing and shows the problems.
    let page = admin.post("/staff/definitions/reminder_loop/migrate/apply", &[("from_version", &v1), ("to_version", &v2), ("map.waiting", "waiting")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);
    assert!(page.html.contains("新版本中没有目标状态"), "{}", page.html);
    assert_eq!(app.state.engine.instance(&instance.id).await.unwrap().version, v1);

    // With the map the plan is safe; a reviewer may plan but not apply.
    let map = [("from_version", v1.as_str()), ("to_version", v2.as_str()), ("map.waiting", "pending")];
    let mut reviewer = staff_visitor(&app, Role::Reviewer, "staff-reviewer").await;
    reviewer.get("/staff/definitions/reminder_loop/migrate").await;
    let page = reviewer.post("/staff/definitions/reminder_loop/migrate/plan", &map).await;
    assert!(page.html.contains("id=\"plan-safe\""), "{}", page.html);
    assert!(!page.html.contains("id=\"apply\""), "{}", page.html);
    let page = reviewer.post("/staff/definitions/reminder_loop/migrate/apply", &map).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    let page = reviewer.post("/staff/definitions/reminder_loop/publish", &[("source", REMINDER), ("label", "")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.html.contains("id=\"form-error\""), "{}", page.html);

    let page = admin.post("/staff/definitions/reminder_loop/migrate/plan", &map).await;
    assert!(page.html.contains("id=\"plan-safe\""), "{}", page.html);
    assert!(page.html.contains("id=\"apply\""), "{}", page.html);
    let page = admin.post("/staff/definitions/reminder_loop/migrate/apply", &map).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("已迁移 1 个实例"), "{}", page.html);
    let moved = app.state.engine.instance(&instance.id).await.unwrap();
    assert_eq!((moved.version.as_str(), moved.state.as_str()), (v2.as_str(), "pending"));
});

#[test]
fn record_kinds_have_page_names() {
    let catalogue = domain::messages::Catalogue::global();
    for kind in workers::provincial::RecordKind::ALL {
        let code = format!("web.staff.sync.record.{}", kind.as_str());
        assert!(catalogue.contains(&code), "{code} is missing from definitions/messages/web.yaml");
    }
}

/// Posts the unit registration form with `fields`.
async fn post_unit(visitor: &mut Visitor, fields: &[(&str, String)]) -> visitor::Page {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    visitor.post("/staff/units", &pairs).await
}

both_backends!(staff_units_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let mut anonymous = Visitor::new(site(&app));
    assert_eq!(anonymous.get("/staff/units").await.location(), "/login/account");
    let mut admin = staff_visitor(&app, Role::AssociationAdmin, "staff-admin").await;

    // The dashboard links to the page, and a fresh install has no unit.
    let page = admin.get("/staff").await;
    assert!(page.html.contains("href=\"/staff/units\""), "{}", page.html);
    let page = admin.get("/staff/units").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"no-units\""), "{}", page.html);
    assert!(page.html.contains("id=\"register-unit\""), "{}", page.html);
    assert!(page.html.contains("<option value=\"430102\">长沙市芙蓉区</option>"), "known regions are suggested: {}", page.html);

    // Errors stand beside their fields, with the typed values kept and no password.
    let unit_uscc = uscc("91430100MA4L3333");
    let fields = |code: &str, region: &str, password: &str| {
        vec![
            ("name", "长沙安达电梯有限公司".to_string()),
            ("uscc", code.to_string()),
            ("region_code", region.to_string()),
            ("admin_login", "anda-admin".to_string()),
            ("admin_display_name", "李安".to_string()),
            ("admin_password", password.to_string()),
        ]
    };
    let page = post_unit(&mut admin, &fields("91430100MA4L3333X", "430102", common::ADMIN_PASSWORD)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("id=\"uscc-error\""), "{}", page.html);
    assert!(page.html.contains("统一社会信用代码"), "{}", page.html);
    assert!(page.html.contains("value=\"长沙安达电梯有限公司\""), "typed values stay: {}", page.html);
    assert!(!page.html.contains(common::ADMIN_PASSWORD), "the password is not sent back");
    let page = post_unit(&mut admin, &fields(&unit_uscc, "4301", common::ADMIN_PASSWORD)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("id=\"region_code-error\""), "{}", page.html);
    let page = post_unit(&mut admin, &fields(&unit_uscc, "430102", "short")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("id=\"admin_password-error\""), "the admin's errors stand beside the admin's fields: {}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM units WHERE uscc = $1", &unit_uscc).await, 0);

    // Registered, the unit is listed with its region's name, and its admin can sign in.
    let page = post_unit(&mut admin, &fields(&unit_uscc.to_lowercase(), "430102", common::ADMIN_PASSWORD)).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.html);
    assert!(page.html.contains("id=\"unit-created\""), "{}", page.html);
    assert!(page.html.contains(&unit_uscc), "the code is stored normalized: {}", page.html);
    assert!(page.html.contains("长沙市芙蓉区"), "{}", page.html);
    assert!(page.html.contains("<td>正常</td>"), "{}", page.html);
    let mut unit_admin = Visitor::new(site(&app));
    let page = unit_admin.log_in_account("anda-admin", common::ADMIN_PASSWORD).await;
    assert_eq!(page.location(), "/unit", "{}", page.html);

    // The same code again is refused beside its field.
    let page = post_unit(&mut admin, &fields(&unit_uscc, "430102", common::ADMIN_PASSWORD)).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);
    assert!(page.html.contains("id=\"uscc-error\""), "{}", page.html);

    // A code that fails only its check character is registered for verification.
    let valid = uscc("91430100MA4L4444");
    let last = valid.chars().last().unwrap();
    let mismatched = format!("{}{}", &valid[..17], if last == '0' { '1' } else { '0' });
    let mut second = fields(&mismatched, "", common::ADMIN_PASSWORD);
    second[0].1 = "株洲起重机械厂".to_string();
    second[3].1 = "zhuzhou-admin".to_string();
    let page = post_unit(&mut admin, &second).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.html);
    assert!(page.html.contains("id=\"unit-pending\""), "{}", page.html);
    assert!(page.html.contains("<td>待核实</td>"), "{}", page.html);

    // Search by part of the name or the start of the code. One character is rejected.
    let page = admin.get("/staff/units?q=%E5%AE%89%E8%BE%BE").await;
    assert!(page.html.contains("长沙安达电梯有限公司"), "{}", page.html);
    assert!(!page.html.contains("株洲起重机械厂"), "{}", page.html);
    let page = admin.get(&format!("/staff/units?q={}", &mismatched[..10])).await;
    assert!(page.html.contains("株洲起重机械厂"), "{}", page.html);
    let page = admin.get("/staff/units?q=%E5%AE%89").await;
    assert!(page.html.contains("id=\"q-error\""), "{}", page.html);
    let page = admin.get("/staff/units").await;
    assert!(page.html.contains("长沙安达电梯有限公司"), "{}", page.html);
    assert!(page.html.contains("株洲起重机械厂"), "{}", page.html);

    // A reviewer gets the register without the form, and the API rejects a registration.
    let mut reviewer = staff_visitor(&app, Role::Reviewer, "staff-reviewer").await;
    let page = reviewer.get("/staff/units").await;
    assert!(page.html.contains("长沙安达电梯有限公司"), "{}", page.html);
    assert!(!page.html.contains("id=\"register-unit\""), "{}", page.html);
    let mut third = fields(&uscc("91430100MA4L5555"), "", common::ADMIN_PASSWORD);
    third[3].1 = "third-admin".to_string();
    let page = post_unit(&mut reviewer, &third).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.html.contains("id=\"form-error\""), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM units WHERE name = $1", "长沙安达电梯有限公司").await, 1);
});
