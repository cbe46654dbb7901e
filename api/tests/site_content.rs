//! Notices, help pages and footer settings: who may change them, what is public,
//! and how their texts are checked.

mod common;

use api::auth::Role;
use axum::http::{Method, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use common::app;
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

both_backends!(notice_publish_and_withdraw, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let reviewer = app.account_token(Role::Reviewer, "notice-reviewer", None).await;

    // A draft is visible to staff only.
    let body = json!({ "title": "2026年度继续教育开班通知", "body": "第一段。\n\n第二段：请按时参加。" });
    let created = app.post("/api/site/notices", Some(&reviewer), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["status"], "draft");
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/api/notices/{id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/notices", None).await.body["notices"].as_array().unwrap().len(), 0);

    // Published, it shows in the public list and by id.
    let published = app.post(&format!("/api/site/notices/{id}/publish"), Some(&reviewer), json!({})).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    assert_eq!(published.body["visible"], true);
    let public = app.get(&format!("/api/notices/{id}"), None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.body["body"], "第一段。\n\n第二段：请按时参加。");
    assert!(public.body.get("created_by").is_none(), "the public view names no account: {:?}", public.body);
    let list = app.get("/api/notices", None).await;
    assert_eq!(list.body["notices"][0]["id"], id.as_str());

    // Withdrawn, it is gone from the public and kept for staff.
    let withdrawn = app.post(&format!("/api/site/notices/{id}/withdraw"), Some(&reviewer), json!({})).await;
    assert_eq!(withdrawn.body["status"], "withdrawn");
    assert_eq!(app.get(&format!("/api/notices/{id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/notices", None).await.body["notices"].as_array().unwrap().len(), 0);
    let staff_list = app.get("/api/site/notices", Some(&reviewer)).await;
    assert_eq!(staff_list.body["notices"][0]["status"], "withdrawn");

    // Published again with a future publish time, it waits for that time.
    let later = (app.state.now() + Duration::hours(2)).to_rfc3339();
    let scheduled = app.post(&format!("/api/site/notices/{id}/publish"), Some(&reviewer), json!({ "publish_at": later })).await;
    assert_eq!(scheduled.body["status"], "published");
    assert_eq!(scheduled.body["visible"], false);
    assert_eq!(app.get(&format!("/api/notices/{id}"), None).await.status, StatusCode::NOT_FOUND);
    app.clock.advance(Duration::hours(3));
    assert_eq!(app.get(&format!("/api/notices/{id}"), None).await.status, StatusCode::OK);
});

both_backends!(notice_order_and_edit, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;

    let mut ids = Vec::new();
    for (index, title) in ["第一则", "第二则", "第三则"].iter().enumerate() {
        let publish_at = (app.state.now() - Duration::days(3 - index as i64)).to_rfc3339();
        let created = app.post("/api/site/notices", Some(&admin), json!({ "title": title, "body": "正文", "publish_at": publish_at })).await;
        let id = created.body["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/site/notices/{id}/publish"), Some(&admin), json!({})).await;
        ids.push(id);
    }
    let newest_two = app.get("/api/notices?limit=2", None).await;
    let titles: Vec<&str> = newest_two.body["notices"].as_array().unwrap().iter().map(|notice| notice["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["第三则", "第二则"]);

    let edited = app.call(Method::PUT, &format!("/api/site/notices/{}", ids[0]), Some(&admin), Some(json!({ "title": "第一则（更正）", "body": "新正文" }))).await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    assert_eq!(edited.body["status"], "published", "editing keeps the status");
    assert_eq!(app.get(&format!("/api/notices/{}", ids[0]), None).await.body["title"], "第一则（更正）");

    let missing = app.post("/api/site/notices/no-such-notice/publish", Some(&admin), json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
});

both_backends!(notice_text_checks, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;
    let cases = [
        (json!({ "title": "<b>通知</b>", "body": "正文" }), "site_text.markup", "title"),
        (json!({ "title": "通知", "body": "见 <a href=\"x\">链接</a>" }), "site_text.markup", "body"),
        (json!({ "title": "  ", "body": "正文" }), "site_text.required", "title"),
        (json!({ "title": "通".repeat(101), "body": "正文" }), "site_text.too_long", "title"),
        (json!({ "title": "通知", "body": "正文", "publish_at": "明天" }), "notice.publish_at_invalid", "publish_at"),
    ];
    for (body, code, field) in cases {
        let reply = app.post("/api/site/notices", Some(&admin), body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code(), code, "{body}");
        assert_eq!(reply.body["field"], field, "{body}");
    }
    let too_long = app.post("/api/site/notices", Some(&admin), json!({ "title": "通".repeat(101), "body": "正文" })).await;
    assert!(too_long.message().contains("100"), "{}", too_long.message());

    // A lone "<" in ordinary text is not markup.
    let plain = app.post("/api/site/notices", Some(&admin), json!({ "title": "成绩 < 60 分的补考安排", "body": "A & B" })).await;
    assert_eq!(plain.status, StatusCode::CREATED, "{:?}", plain.body);
});

both_backends!(help_slugs_unique, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let reviewer = app.account_token(Role::Reviewer, "help-reviewer", None).await;

    let first = app.post("/api/site/help", Some(&reviewer), json!({ "slug": "login", "title": "如何登录", "body": "用手机号登录。", "position": 2 })).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let second = app.post("/api/site/help", Some(&reviewer), json!({ "slug": "exam", "title": "考试须知", "body": "按时参加。", "position": 1 })).await;
    assert_eq!(second.status, StatusCode::CREATED);

    let taken = app.post("/api/site/help", Some(&reviewer), json!({ "slug": "login", "title": "重复", "body": "x" })).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.code(), "help.slug_taken");
    assert_eq!(taken.body["field"], "slug");
    assert_eq!(app.get("/api/help/login", None).await.body["title"], "如何登录", "the first page is unchanged");

    for slug in ["Login", "登录", "-x", "a b", ""] {
        let reply = app.post("/api/site/help", Some(&reviewer), json!({ "slug": slug, "title": "t", "body": "b" })).await;
        assert_eq!(reply.code(), "help.slug_invalid", "slug {slug:?}");
    }

    let list = app.get("/api/help", None).await;
    let slugs: Vec<&str> = list.body["pages"].as_array().unwrap().iter().map(|page| page["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["exam", "login"], "ordered by position");

    let edited = app.call(Method::PUT, "/api/site/help/login", Some(&reviewer), Some(json!({ "title": "登录帮助", "body": "新内容", "position": 0 }))).await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let renamed = app.call(Method::PUT, "/api/site/help/login", Some(&reviewer), Some(json!({ "slug": "signin", "title": "x", "body": "y" }))).await;
    assert_eq!(renamed.code(), "help.slug_fixed");

    let removed = app.call(Method::DELETE, "/api/site/help/exam", Some(&reviewer), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/help/exam", None).await.status, StatusCode::NOT_FOUND);
});

both_backends!(footer_settings_validated_and_logged, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;

    let empty = app.get("/api/site/footer", None).await;
    assert_eq!(empty.body, json!({ "site_name": null, "icp_filing": null, "contact": null }));

    let body = json!({ "site_name": "湖南省特种设备协会继续教育平台", "icp_filing": "湘ICP备12345678号-1", "contact": "0731-88888888" });
    let saved = app.call(Method::PUT, "/api/site/settings", Some(&admin), Some(body)).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(app.get("/api/site/footer", None).await.body["icp_filing"], "湘ICP备12345678号-1");

    // A bad value changes nothing, not even the valid fields beside it.
    let cases = [
        (json!({ "site_name": "平台", "icp_filing": "<script>x</script>", "contact": "电话" }), "site_text.markup", "icp_filing"),
        (json!({ "site_name": "名".repeat(41), "icp_filing": "", "contact": "" }), "site_text.too_long", "site_name"),
        (json!({ "site_name": "平台", "icp_filing": "", "contact": "第一行\n第二行" }), "site_text.control_character", "contact"),
    ];
    for (body, code, field) in cases {
        let reply = app.call(Method::PUT, "/api/site/settings", Some(&admin), Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code(), code, "{body}");
        assert_eq!(reply.body["field"], field, "{body}");
    }
    assert_eq!(app.get("/api/site/footer", None).await.body["site_name"], "湖南省特种设备协会继续教育平台");

    // Clearing one value returns it to the default and logs the change.
    app.clock.advance(Duration::minutes(5));
    let cleared = app.call(Method::PUT, "/api/site/settings", Some(&admin), Some(json!({ "site_name": "湖南省特种设备协会继续教育平台", "icp_filing": "湘ICP备12345678号-1", "contact": "" }))).await;
    assert_eq!(cleared.body["contact"], serde_json::Value::Null);

    let settings = app.get("/api/site/settings", Some(&admin)).await;
    let log = settings.body["log"].as_array().unwrap();
    assert_eq!(log.len(), 4, "three values set, then one cleared: {log:?}");
    assert_eq!(log[0]["name"], "contact");
    assert_eq!(log[0]["old_value"], "0731-88888888");
    assert_eq!(log[0]["new_value"], serde_json::Value::Null);
    assert_eq!(log[0]["changed_by_name"], "测试账号");
    assert_eq!(log[0]["changed_text"], "2026-03-05 10:05:00");

    let reviewer = app.account_token(Role::Reviewer, "footer-reviewer", None).await;
    let refused = app.call(Method::PUT, "/api/site/settings", Some(&reviewer), Some(json!({ "site_name": "x" }))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
});
