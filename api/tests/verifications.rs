//! The manual verification queue on each backend: a unit whose credit code fails the
//! checksum and an operator whose real-name check failed submit documents, and staff
//! approve or reject them.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{TimeZone, Utc};
use common::{Reply, TestApp, app, id_number, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

/// Posts a multipart form of text fields and (file name, bytes) files.
async fn post_form(app: &TestApp, token: &str, fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Reply {
    let (content_type, body) = common::multipart(fields, files);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/verifications")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

const LICENCE: &[u8] = b"%PDF-1.4\n% business licence scan\n";
const ID_SCAN: &[u8] = b"\xFF\xD8\xFF\xE0 id card scan";

both_backends!(unit_code_verified_by_staff, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;

    // A code with a wrong check character is stored for verification, not refused.
    let mut code = uscc("91430100MA4L7777");
    let last = code.pop().unwrap();
    code.push(if last == '0' { '1' } else { '0' });
    let (unit_id, unit_admin) = app.create_unit(&admin, &code, "老字号锅炉厂", "old-unit").await;
    let status: String = sqlx::query_scalar("SELECT status FROM units WHERE id = $1").bind(&unit_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "pending_verification");

    let fields = [("kind", "unit_credit_code"), ("subject_id", unit_id.as_str()), ("note", "2015 年颁发的营业执照")];
    let reply = post_form(&app, &unit_admin, &fields, &[]).await;
    assert_eq!(reply.code(), "verification.documents_required");
    let reply = post_form(&app, &unit_admin, &fields, &[("licence.txt", b"plain text")]).await;
    assert_eq!(reply.code(), "appeal.file_type");
    let reply = post_form(&app, &unit_admin, &fields, &[("营业执照.pdf", LICENCE)]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let verification_id = reply.body["id"].as_str().unwrap().to_string();
    let again = post_form(&app, &unit_admin, &fields, &[("营业执照.pdf", LICENCE)]).await;
    assert_eq!(again.code(), "verification.already_open");

    // Staff see the request with its document and approve it.
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-v", None).await;
    let queue = app.get("/api/verifications", Some(&reviewer)).await;
    assert_eq!(queue.body["verifications"][0]["documents"], 1);
    let forbidden = app.get("/api/verifications", Some(&unit_admin)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let path = format!("/api/verifications/{verification_id}/decision");
    let reply = app.post(&path, Some(&reviewer), json!({ "decision": "approve", "reason": "营业执照原件核对一致" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let status: String = sqlx::query_scalar("SELECT status FROM units WHERE id = $1").bind(&unit_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status, "active");
    let twice = app.post(&path, Some(&reviewer), json!({ "decision": "reject", "reason": "x" })).await;
    assert_eq!(twice.code(), "verification.already_decided");
    let not_needed = post_form(&app, &unit_admin, &fields, &[("营业执照.pdf", LICENCE)]).await;
    assert_eq!(not_needed.code(), "verification.not_needed");
});

both_backends!(operator_real_name_rejected, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L8888");
    app.create_unit(&admin, &unit, "起重机械公司", "unit-r").await;
    let (token, operator_id, _) = app.enrolled_operator("13800000077", &id_number("43010219800101177"), &unit).await;
    sqlx::query("UPDATE operators SET real_name_status = 'failed' WHERE id = $1").bind(&operator_id).execute(&app.db.pool).await.unwrap();

    let other = post_form(&app, &token, &[("kind", "operator_real_name"), ("subject_id", "someone-else")], &[("id.jpg", ID_SCAN)]).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "an operator asks only for themselves");
    let reply = post_form(&app, &token, &[("kind", "operator_real_name"), ("subject_id", operator_id.as_str())], &[("身份证.jpg", ID_SCAN)]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let path = format!("/api/verifications/{}/decision", reply.body["id"].as_str().unwrap());
    let reply = app.post(&path, Some(&admin), json!({ "decision": "reject", "reason": "身份证照片模糊，请重新上传清晰扫描件" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let status: Option<String> = sqlx::query_scalar("SELECT real_name_status FROM operators WHERE id = $1").bind(&operator_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status.as_deref(), Some("failed"));

    // A new request after the rejection is allowed and may be approved.
    let reply = post_form(&app, &token, &[("kind", "operator_real_name"), ("subject_id", operator_id.as_str())], &[("身份证.jpg", ID_SCAN)]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let path = format!("/api/verifications/{}/decision", reply.body["id"].as_str().unwrap());
    let reply = app.post(&path, Some(&admin), json!({ "decision": "approve", "reason": "与公安系统照片核对一致" })).await;
    assert_eq!(reply.status, StatusCode::OK);
    let status: Option<String> = sqlx::query_scalar("SELECT real_name_status FROM operators WHERE id = $1").bind(&operator_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(status.as_deref(), Some("verified_manually"));
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM archive_entries WHERE operator_id = $1 ORDER BY seq").bind(&operator_id).fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(kinds, ["real_name_verification", "real_name_verification"]);
});
