//! Past-year records on each backend: a unit uploads an earlier year's credits for its
//! operator, the current year is rejected, and an approved record enters the archive.

mod common;

use axum::http::StatusCode;
use common::{app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

both_backends!(past_record_counts_after_approval, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L6666");
    let (_, unit_admin) = app.create_unit(&admin, &unit, "电梯维保公司", "unit-p").await;
    let (operator_token, operator_id, _) = app.enrolled_operator("13800000066", &id_number("43010219800101166"), &unit).await;
    let record = |year: i64, credits: i64| json!({ "operator_id": operator_id, "year": year, "item_code": "T", "credits": credits, "source": "原省继续教育平台导出" });

    let reply = app.post("/api/past-records", Some(&unit_admin), record(2026, 20)).await;
    assert_eq!(reply.code(), "past_record.year_invalid", "the current year counts only platform data");
    let reply = app.post("/api/past-records", Some(&unit_admin), record(2025, 21)).await;
    assert_eq!(reply.code(), "past_record.credits_invalid");
    let reply = app.post("/api/past-records", Some(&unit_admin), record(2025, 20)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let record_id = reply.body["id"].as_str().unwrap().to_string();
    let again = app.post("/api/past-records", Some(&unit_admin), record(2025, 18)).await;
    assert_eq!(again.code(), "past_record.exists");

    // Nothing counts before review.
    let archived = app.count("SELECT COUNT(*) FROM archive_entries WHERE operator_id = $1 AND kind = 'past_year_record'", &operator_id).await;
    assert_eq!(archived, 0);
    let credits = app.get("/api/credits?year=2025", Some(&operator_token)).await;
    assert_eq!(credits.body["past_records"], json!([]));
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-p", None).await;
    let queue = app.get("/api/past-records", Some(&reviewer)).await;
    assert_eq!(queue.body["records"][0]["credits"], 20);
    let reply = app.post(&format!("/api/past-records/{record_id}/decision"), Some(&reviewer), json!({ "decision": "approve", "reason": "与原平台导出记录一致" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let archived = app.count("SELECT COUNT(*) FROM archive_entries WHERE operator_id = $1 AND kind = 'past_year_record'", &operator_id).await;
    assert_eq!(archived, 1);
    let credits = app.get("/api/credits?year=2025", Some(&operator_token)).await;
    assert_eq!(credits.body["past_records"][0]["credits"], 20, "{:?}", credits.body);
    assert_eq!(credits.body["past_records"][0]["item_code"], "T");
    let twice = app.post(&format!("/api/past-records/{record_id}/decision"), Some(&reviewer), json!({ "decision": "reject", "reason": "x" })).await;
    assert_eq!(twice.code(), "past_record.already_decided");

    // Another unit's admin may not upload for this operator.
    let other = uscc("91430100MA4L5555");
    let (_, other_admin) = app.create_unit(&admin, &other, "另一家公司", "unit-q").await;
    let reply = app.post("/api/past-records", Some(&other_admin), record(2024, 20)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
});
