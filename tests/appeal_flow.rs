//! Appeals on each backend. The operator appeals a decision with a reason and a file
//! within the window, a different reviewer overturns it, and the restored hours move
//! the workflow. An appeal after the window is rejected.

mod support;

use api::auth::Role;
use serde_json::json;
use support::{Part, Platform, enrolled, platform, report_session, wait_until};
use workflows::both_backends;
use workflows::db::Db;

const HOUR_MS: i64 = 3_600_000;
const MOBILE: &str = "19246777401";

/// Reports a session with a failed face check and returns its open case id.
async fn flagged_case(p: &Platform, operator: &support::Enrolled, reviewer: &str, id: &str, course: &str, start_ms: i64) -> String {
    report_session(p, operator, id, course, start_ms, 45, "failed", json!({})).await;
    wait_until(p, "the flagged session", async || p.count("SELECT COUNT(*) FROM review_cases WHERE subject_id = $1", id).await == 1).await;
    let (_, queue) = p.get("/api/reviews", Some(reviewer)).await;
    queue["cases"].as_array().unwrap().iter().find(|case| case["subject_id"] == id).unwrap()["id"].as_str().unwrap().to_string()
}

fn reason(text: &str) -> Part<'_> {
    Part { name: "reason", file_name: None, content_type: "text/plain; charset=utf-8", bytes: text.as_bytes().to_vec() }
}

both_backends!(appeal_overturned_by_other_reviewer, |db: Db| async move {
    let p = platform(db).await;
    let operator = enrolled(&p, "u1", "op-1", MOBILE).await;
    let first = p.account(Role::Reviewer, "reviewer-1", None, None).await;
    let second = p.account(Role::Reviewer, "reviewer-2", None, None).await;

    // Two courses studied; a third session of course T-01 is flagged and the course cleared.
    let start = p.clock.now_utc().timestamp_millis() - 8 * HOUR_MS;
    report_session(&p, &operator, "s-0", "T-01", start, 45, "passed", json!({})).await;
    report_session(&p, &operator, "s-1", "T-02", start + HOUR_MS, 45, "passed", json!({})).await;
    wait_until(&p, "2 completed courses", async || p.context_int(&operator.instance_id, "completed_courses").await == 2).await;
    let case_id = flagged_case(&p, &operator, &first, "s-bad", "T-01", start + 3 * HOUR_MS).await;
    let (status, body) = p.post(&format!("/api/reviews/{case_id}/decision"), Some(&first), json!({ "decision": "clear_course", "reason": "抓拍照片非本人" })).await;
    assert_eq!(status, 200, "{body}");
    wait_until(&p, "1 completed course", async || p.context_int(&operator.instance_id, "completed_courses").await == 1).await;

    // The operator appeals: a reason is needed and files must be PDF, JPEG or PNG.
    let token = p.login_operator(MOBILE).await["token"].as_str().unwrap().to_string();
    let path = format!("/api/reviews/{case_id}/appeal");
    let pdf = Part { name: "files", file_name: Some("在岗证明.pdf"), content_type: "application/pdf", bytes: b"%PDF-1.4\n% proof of presence\n".to_vec() };
    let (status, body) = p.post_multipart(&path, &token, &[Part { bytes: pdf.bytes.clone(), ..pdf }]).await;
    assert_eq!((status, body["code"].as_str().unwrap_or("")), (400, "appeal.reason_required"));
    let text_file = Part { name: "files", file_name: Some("说明.txt"), content_type: "text/plain", bytes: b"hello".to_vec() };
    let (status, body) = p.post_multipart(&path, &token, &[reason("本人学习，当时光线不足"), text_file]).await;
    assert_eq!((status, body["code"].as_str().unwrap_or("")), (400, "appeal.file_type"));
    let pdf = Part { name: "files", file_name: Some("在岗证明.pdf"), content_type: "application/pdf", bytes: b"%PDF-1.4\n% proof of presence\n".to_vec() };
    let (status, body) = p.post_multipart(&path, &token, &[reason("本人学习，当时光线不足"), pdf]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["files"][0]["content_type"], "application/pdf");
    let appeal_id = body["appeal_id"].as_str().unwrap().to_string();
    let pdf = Part { name: "files", file_name: Some("a.pdf"), content_type: "application/pdf", bytes: b"%PDF-1.4\n".to_vec() };
    let (status, _) = p.post_multipart(&path, &token, &[reason("再次申诉"), pdf]).await;
    assert_eq!(status, 409, "one appeal per decision");

    // The reviewer who decided may not decide the appeal; another one overturns it.
    let decision = format!("/api/appeals/{appeal_id}/decision");
    let (status, body) = p.post(&decision, Some(&first), json!({ "outcome": "overturn", "reason": "x" })).await;
    assert_eq!((status, body["code"].as_str().unwrap_or("")), (403, "appeal.same_reviewer"));
    let (_, open) = p.get("/api/appeals", Some(&second)).await;
    assert_eq!(open["appeals"][0]["files"], 1);
    let (status, body) = p.post(&decision, Some(&second), json!({ "outcome": "overturn", "reason": "补充材料证明为本人学习" })).await;
    assert_eq!(status, 200, "{body}");
    let mut restored: Vec<&str> = body["restored"]["sessions_cleared"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    restored.sort();
    assert_eq!(restored, ["s-0", "s-bad"]);
    wait_until(&p, "2 completed courses again", async || p.context_int(&operator.instance_id, "completed_courses").await == 2).await;
    wait_until(&p, "the operator told", async || p.sms_lines().iter().any(|line| line.contains(MOBILE) && line.contains("申诉成立"))).await;
    let (_, chain) = p.get("/api/archives/op-1", Some(&second)).await;
    let kinds: Vec<&str> = chain["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.ends_with(&["appeal", "appeal_decided"]), "{kinds:?}");

    // A decision older than the appeal window cannot be appealed.
    let case_id = flagged_case(&p, &operator, &first, "s-late", "T-03", p.clock.now_utc().timestamp_millis() - 2 * HOUR_MS).await;
    let (status, body) = p.post(&format!("/api/reviews/{case_id}/decision"), Some(&first), json!({ "decision": "clear_sessions", "reason": "人脸核验未通过" })).await;
    assert_eq!(status, 200, "{body}");
    p.clock.advance(chrono::Duration::days(16));
    let token = p.login_operator(MOBILE).await["token"].as_str().unwrap().to_string();
    let (status, body) = p.post_multipart(&format!("/api/reviews/{case_id}/appeal"), &token, &[reason("迟到的申诉")]).await;
    assert_eq!((status, body["code"].as_str().unwrap_or("")), (409, "appeal.window_closed"), "{body}");
    p.handle.stop().await;
});
