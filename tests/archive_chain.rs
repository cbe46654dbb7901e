//! Operator archives end to end on each backend. The pipeline appends sessions,
//! findings and decisions, and staff append a correction with an approver. The xlsx
//! export carries every entry, and `certflow archive verify` passes until a stored row
//! is changed, then names the first broken entry.

mod support;

use std::io::Cursor;
use std::process::Command;

use api::auth::Role;
use calamine::{Reader, Xlsx};
use serde_json::{Value, json};
use support::{Platform, enrolled, platform, report_session, wait_until};
use workflows::both_backends;
use workflows::db::Db;

const HOUR_MS: i64 = 3_600_000;

fn verify(database_url: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_certflow")).args(["archive", "verify"]).env("DATABASE_URL", database_url).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn kinds(p: &Platform, token: &str, operator_id: &str) -> Vec<String> {
    let (status, body) = p.get(&format!("/api/archives/{operator_id}?archive=continuing_education"), Some(token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["chain_intact"], true);
    body["entries"].as_array().unwrap().iter().map(|entry| entry["kind"].as_str().unwrap().to_string()).collect()
}

both_backends!(archive_records_and_verifies, |db: Db| async move {
    let url = db.url.clone();
    let p = platform(db).await;
    let operator = enrolled(&p, "u1", "op-1", "19246777401").await;
    let admin = p.account(Role::AssociationAdmin, "assoc-admin", None, None).await;
    let reviewer = p.account(Role::Reviewer, "reviewer-1", None, None).await;

    // A clean session, then a flagged one whose hours a reviewer clears.
    let start = p.clock.now_utc().timestamp_millis() - 6 * HOUR_MS;
    report_session(&p, &operator, "s-1", "T-01", start, 60, "passed", json!({})).await;
    wait_until(&p, "the first session screened", async || p.count("SELECT COUNT(*) FROM study_sessions WHERE id = $1 AND status <> 'reported'", "s-1").await == 1).await;
    report_session(&p, &operator, "s-2", "T-02", start + 2 * HOUR_MS, 60, "failed", json!({})).await;
    wait_until(&p, "the flagged session", async || p.count("SELECT COUNT(*) FROM review_cases WHERE subject_id = $1", "s-2").await == 1).await;
    let (_, queue) = p.get("/api/reviews", Some(&reviewer)).await;
    let case_id = queue["cases"].as_array().unwrap().iter().find(|c| c["subject_id"] == "s-2").unwrap()["id"].as_str().unwrap().to_string();
    let (status, body) = p.post(&format!("/api/reviews/{case_id}/decision"), Some(&reviewer), json!({ "decision": "clear_sessions", "reason": "人脸核验未通过" })).await;
    assert_eq!(status, 200, "{body}");

    let recorded = kinds(&p, &admin, "op-1").await;
    assert_eq!(recorded, ["session", "session", "finding", "decision"]);
    let (_, chain) = p.get("/api/archives/op-1", Some(&admin)).await;
    let decision = &chain["entries"][3];
    assert_eq!(decision["body"]["decision"], "clear_sessions");
    assert_eq!(decision["reason"], "人脸核验未通过");
    assert_ne!(decision["recorded_by"], "system", "the reviewer is recorded");
    assert_eq!(chain["entries"][1]["hash"], chain["entries"][2]["prev_hash"]);

    // A correction supersedes entry 1 with a reason and another staff member's approval.
    let reviewer_id: String = sqlx::query_scalar("SELECT id FROM accounts WHERE login = 'reviewer-1'").fetch_one(&p.db.pool).await.unwrap();
    let admin_id: String = sqlx::query_scalar("SELECT id FROM accounts WHERE login = 'assoc-admin'").fetch_one(&p.db.pool).await.unwrap();
    let correction = json!({ "supersedes": 1, "reason": "机构上报的课程代码有误", "approved_by": admin_id, "body": { "course_code": "T-03" } });
    let (status, body) = p.post("/api/archives/op-1/corrections", Some(&admin), correction.clone()).await;
    assert_eq!((status, body["code"].as_str().unwrap_or("")), (400, "archive.approver_invalid"), "one cannot approve one's own correction");
    let mut correction = correction;
    correction["approved_by"] = json!(reviewer_id);
    let (status, body) = p.post("/api/archives/op-1/corrections", Some(&admin), correction).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seq"], 5);
    let (_, chain) = p.get("/api/archives/op-1", Some(&admin)).await;
    assert_eq!(chain["entries"][4]["supersedes"], 1);
    assert_eq!(chain["entries"][4]["approved_by"], reviewer_id.as_str());
    assert_eq!(chain["entries"][0]["body"]["course_code"], "T-01", "the corrected entry itself is unchanged");

    // An unknown archive name is rejected.
    let (status, _) = p.get("/api/archives/op-1?archive=nonsense", Some(&admin)).await;
    assert_eq!(status, 400);

    // The xlsx export has a header row and one row per entry.
    let response = p.http.get(format!("{}/api/archives/op-1/export", p.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let sheet_name = workbook.sheet_names()[0].clone();
    assert_eq!(sheet_name, "继续教育档案");
    let range = workbook.worksheet_range(&sheet_name).unwrap();
    let rows: Vec<Vec<String>> = range.rows().map(|row| row.iter().map(|cell| cell.to_string()).collect()).collect();
    assert_eq!(rows[1][0], "序号");
    assert_eq!(rows[2][1], "学习记录");
    assert_eq!(rows[5][1], "审核决定");
    assert_eq!(rows[6][1], "更正");
    assert!(rows.last().unwrap()[0].contains("校验通过"), "{:?}", rows.last());

    // Content reads as labelled fields, and people appear by name, not by id.
    assert!(rows[2][4].contains("课程：T-01"), "{:?}", rows[2]);
    assert!(!rows[2][4].contains('{'), "{:?}", rows[2]);
    assert!(!rows[6][6].is_empty(), "{:?}", rows[6]);
    assert_ne!(rows[6][6], reviewer_id, "the approver is shown by name: {:?}", rows[6]);
    assert!(!rows[0][0].contains("op-1"), "the title names the operator: {:?}", rows[0]);

    // The PDF export carries the same entries, with Chinese text that pdftotext reads back.
    let response = p.http.get(format!("{}/api/archives/op-1/export?format=pdf", p.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let pdf_path = std::env::temp_dir().join(format!("archive-{}.pdf", uuid::Uuid::new_v4().simple()));
    std::fs::write(&pdf_path, &bytes).unwrap();
    let text = std::process::Command::new("pdftotext").arg(&pdf_path).arg("-").output().expect("pdftotext runs (Debian's poppler-utils, installed by scripts/test)");
    std::fs::remove_file(&pdf_path).unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("继续教育档案"), "{text}");
    assert!(text.contains("学习记录"), "{text}");
    assert!(text.contains("更正"), "{text}");
    assert!(text.contains("校验通过"), "{text}");

    // An unknown format is rejected with the field named.
    let (status, body) = p.get("/api/archives/op-1/export?format=doc", Some(&admin)).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "format");

    // Verify passes, then fails at the changed row.
    let (ok, output) = verify(&url);
    assert!(ok, "{output}");
    assert!(output.contains("0 条未通过"), "{output}");
    sqlx::query("UPDATE archive_entries SET body = $1 WHERE operator_id = 'op-1' AND seq = 2").bind(Value::from("{}").to_string()).execute(&p.db.pool).await.unwrap();
    let (ok, output) = verify(&url);
    assert!(!ok, "a changed row fails verification: {output}");
    assert!(output.contains("op-1"), "{output}");
    assert!(output.contains("第 2 条"), "{output}");
    let (_, chain) = p.get("/api/archives/op-1", Some(&admin)).await;
    assert_eq!(chain["chain_intact"], false);
    p.handle.stop().await;
});
