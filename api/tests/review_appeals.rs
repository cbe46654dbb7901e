//! Review decisions and appeals on each backend: the files an operator attaches to an
//! appeal as staff open them, and the notification each decision queues, which invites
//! an appeal only where the API accepts one.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{TimeZone, Utc};
use common::{Reply, TestApp, app, id_number, uscc};
use serde_json::{Value, json};
use workers::notify::Channel;
use workflows::both_backends;
use workflows::db::Db;

const PROOF_PDF: &[u8] = b"%PDF-1.4\n% proof of attendance\n";
const PHOTO_PNG: &[u8] = b"\x89PNG\r\n\x1a\n photo of the classroom";
/// A file name with a semicolon, an equals sign, a space and Chinese characters, which
/// must not reach the `Content-Disposition` header unencoded.
const PROOF_NAME: &str = "在岗证明;x=1 (副本).pdf";

/// An operator of a new unit, enrolled and handed off, with a token and ids.
struct Operator {
    token: String,
    unit_admin: String,
    enrollment_id: String,
    instance_id: String,
    institution: api::CreatedInstitution,
}

async fn operator(app: &TestApp) -> Operator {
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L6661");
    let (_, unit_admin) = app.create_unit(&admin, &unit, "癸公司", "unit-appeal").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000061", &id_number("43010219800101161"), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();
    Operator { token, unit_admin, enrollment_id, instance_id, institution }
}

/// Reports a session of `course` and opens review case `case_id` on it, as
/// screen_session does for a suspicious session.
async fn flagged_case(app: &TestApp, operator: &Operator, statement_id: &str, course: &str, case_id: &str) {
    let start = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    let reply = app.report_session(&operator.institution, &operator.enrollment_id, statement_id, course, start, 60).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let session_id = reply.body["session_id"].as_str().unwrap().to_string();
    sqlx::query("UPDATE study_sessions SET status = 'flagged' WHERE id = $1").bind(&session_id).execute(&app.db.pool).await.unwrap();
    sqlx::query("INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, created_at) VALUES ($1, 'session', $2, $3, '[{\"rule\":\"face_missing\"}]', 'open', 0)")
        .bind(case_id)
        .bind(&session_id)
        .bind(&operator.enrollment_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

/// Files an appeal on `case_id` with `files` and returns the appeal id.
async fn appeal(app: &TestApp, operator: &Operator, case_id: &str, files: &[(&str, &[u8])]) -> String {
    let reply = post_appeal(app, operator, case_id, files).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["appeal_id"].as_str().unwrap().to_string()
}

async fn post_appeal(app: &TestApp, operator: &Operator, case_id: &str, files: &[(&str, &[u8])]) -> Reply {
    let (content_type, body) = common::multipart(&[("reason", "本人学习，当时光线不足")], files);
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/reviews/{case_id}/appeal"))
        .header("authorization", format!("Bearer {}", operator.token))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

/// Returns the templates of the `review_decided*` notifications queued for `instance_id`,
/// by the id of the event that queued them.
async fn decision_notices(app: &TestApp, instance_id: &str) -> Vec<(String, String)> {
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM wf_outbox WHERE kind = 'notify' AND instance_id = $1").bind(instance_id).fetch_all(&app.db.pool).await.unwrap();
    let mut notices: Vec<(String, String)> = actions
        .iter()
        .map(|text| serde_json::from_str::<Value>(text).unwrap())
        .filter_map(|action| {
            let template = action["action"]["template"].as_str()?.to_string();
            template.starts_with("review_decided").then(|| (action["event_id"].as_str().unwrap_or_default().to_string(), template))
        })
        .collect();
    notices.sort();
    notices
}

both_backends!(appeal_files_served_to_staff, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let operator = operator(&app).await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-a", None).await;
    flagged_case(&app, &operator, "flagged-1", "T-01", "case-1").await;
    let reply = app.post("/api/reviews/case-1/decision", Some(&reviewer), json!({ "decision": "clear_sessions", "reason": "人脸核验未通过" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let appeal_id = appeal(&app, &operator, "case-1", &[(PROOF_NAME, PROOF_PDF), ("教室.png", PHOTO_PNG)]).await;

    // The list numbers the files for the file route.
    let list = app.get("/api/appeals", Some(&reviewer)).await;
    assert_eq!(list.body["appeals"][0]["files"], 2);
    let files = &list.body["appeals"][0]["file_list"];
    assert_eq!(files[0]["seq"], 0);
    assert_eq!(files[0]["file_name"], PROOF_NAME);
    assert_eq!(files[0]["size"], PROOF_PDF.len());
    assert_eq!(files[1]["seq"], 1);
    assert_eq!(files[1]["content_type"], "image/png");

    // Each file is served inline with its sniffed type and a percent-encoded name.
    let path = |seq: usize| format!("/api/appeals/{appeal_id}/files?seq={seq}");
    let pdf = app.get(&path(0), Some(&reviewer)).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert_eq!(pdf.headers["content-disposition"], "inline; filename*=UTF-8''%E5%9C%A8%E5%B2%97%E8%AF%81%E6%98%8E%3Bx%3D1%20%28%E5%89%AF%E6%9C%AC%29.pdf");
    assert_eq!(pdf.headers["cache-control"], "no-store");
    assert_eq!(pdf.headers["x-content-type-options"], "nosniff");
    assert_eq!(pdf.body, Value::String(String::from_utf8(PROOF_PDF.to_vec()).unwrap()));
    let png = app.get(&path(1), Some(&reviewer)).await;
    assert_eq!(png.status, StatusCode::OK);
    assert_eq!(png.headers["content-type"], "image/png");
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence_access_log WHERE subject_kind = 'appeal' AND subject_id = $1 AND purpose = 'appeal'", &appeal_id).await, 2);

    // Missing files and appeals are 404, and only staff may open a file.
    let missing: Reply = app.get(&path(2), Some(&reviewer)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);
    assert_eq!(missing.code(), "appeal.file_not_found");
    let unknown = app.get("/api/appeals/no-such-appeal/files?seq=0", Some(&reviewer)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    assert_eq!(unknown.code(), "appeal.not_found");
    let traversal = app.get(&format!("/api/appeals/{appeal_id}/files?seq=..%2F1"), Some(&reviewer)).await;
    assert_eq!(traversal.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get(&path(0), Some(&operator.token)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&path(0), Some(&operator.unit_admin)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&path(0), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence_access_log WHERE subject_id = $1", &appeal_id).await, 2, "refused requests are not logged as views");
});

both_backends!(decision_notice_matches_appeal_right, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let operator = operator(&app).await;
    let first = app.account_token(api::auth::Role::Reviewer, "reviewer-a", None).await;
    let second = app.account_token(api::auth::Role::Reviewer, "reviewer-b", None).await;
    flagged_case(&app, &operator, "flagged-1", "T-01", "case-accept").await;
    flagged_case(&app, &operator, "flagged-2", "T-02", "case-clear").await;

    // `accept` cannot be appealed, so its notice is the final one; a clearing decision
    // can, so its notice invites the appeal.
    let reply = app.post("/api/reviews/case-accept/decision", Some(&first), json!({ "decision": "accept" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let final_appeal = post_appeal(&app, &operator, "case-accept", &[("证明.pdf", PROOF_PDF)]).await;
    assert_eq!(final_appeal.status, StatusCode::CONFLICT, "{:?}", final_appeal.body);
    assert_eq!(final_appeal.code(), "appeal.not_appealable");
    let reply = app.post("/api/reviews/case-clear/decision", Some(&first), json!({ "decision": "clear_sessions", "reason": "人脸核验未通过" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let notices = decision_notices(&app, &operator.instance_id).await;
    let template_of = |event_prefix: &str| notices.iter().filter(|(event_id, _)| event_id.starts_with(event_prefix)).map(|(_, template)| template.clone()).collect::<Vec<_>>();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(template_of("review:case-accept"), ["review_decided_final"], "{notices:?}");
    assert_eq!(template_of("review:case-clear"), ["review_decided"], "{notices:?}");

    // The appeal's outcome is final too.
    let appeal_id = appeal(&app, &operator, "case-clear", &[("证明.pdf", PROOF_PDF)]).await;
    let reply = app.post(&format!("/api/appeals/{appeal_id}/decision"), Some(&second), json!({ "outcome": "uphold", "reason": "材料不足" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let notices = decision_notices(&app, &operator.instance_id).await;
    assert_eq!(notices.iter().filter(|(event_id, _)| event_id == &format!("appeal:{appeal_id}")).map(|(_, template)| template.as_str()).collect::<Vec<_>>(), ["review_decided_final"], "{notices:?}");

    // Only the appealable notice mentions an appeal, in both locales and channels.
    let data = json!({ "name": "王小明", "item_name": "T 电梯修理", "reason": "审核通过，记录有效" });
    for channel in [Channel::Sms, Channel::Email] {
        for (locale, word, final_words) in [("zh-CN", "申诉", "不可再申诉"), ("en", "appeal", "cannot be appealed")] {
            let open = app.state.templates.render(channel, "review_decided", locale, &data).unwrap();
            let last = app.state.templates.render(channel, "review_decided_final", locale, &data).unwrap();
            assert!(open.body.contains(word), "{channel} {locale}: the appealable notice lacks {word:?}: {}", open.body);
            assert!(!open.body.contains("不可再"), "{channel} {locale}: the appealable notice calls the result final: {}", open.body);
            assert!(!open.body.contains("cannot be appealed"), "{channel} {locale}: the appealable notice calls the result final: {}", open.body);
            assert!(last.body.contains("审核通过，记录有效"), "{channel} {locale}: the final notice lacks the reason: {}", last.body);
            assert!(last.body.contains(final_words), "{channel} {locale}: the final notice lacks {final_words:?}: {}", last.body);
        }
    }
});
