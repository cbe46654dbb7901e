//! Property tests of hostile input: roster files (CSV in UTF-8 and GBK, xlsx) and the
//! institutions' webhook bodies (JSON session reports and xAPI statements).
//!
//! Neither may panic or return 5xx, and every rejection names a catalogue message. Cases:
//! `CERTFLOW_FUZZ_CASES` (defaults below), seed: `CERTFLOW_FUZZ_SEED` (default 1).
//! Long run: `CERTFLOW_FUZZ_CASES=20000 CERTFLOW_FUZZ_SEED=$RANDOM cargo test -p api --release --test input_fuzz`.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use common::{app, id_number, uscc};
use domain::catalogue::Catalogue;
use domain::messages::Locale;
use domain::roster::{RowOutcome, parse_roster};
use rand::Rng;
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;
use workflows::testing::fuzz::Fuzz;

const GBK_ROSTER: &[u8] = include_bytes!("../../domain/tests/data/roster-gbk.csv");
const UTF8_ROSTER: &[u8] = include_bytes!("../../domain/tests/data/operators.csv");
const XLSX_ROSTER: &[u8] = include_bytes!("../../domain/tests/data/roster.xlsx");

/// Returns a CSV roster of random rows in UTF-8 or GBK, with cells drawn from valid
/// values, near misses and structural characters.
fn random_csv(fuzz: &mut Fuzz) -> Vec<u8> {
    let header = ["姓名,身份证号码,手机号码,作业项目代号", "姓名,性别,身份证号码,手机号码,作业项目", "name,id,mobile", ""];
    let cells = [
        "王小明".to_string(),
        "阿依古丽•买买提".to_string(),
        id_number("43010219800101129"),
        "43010219800101129X".to_string(),
        "430102800101123".to_string(),
        "13800138000".to_string(),
        "+86 138-0013-8000".to_string(),
        "T".to_string(),
        "N1".to_string(),
        "电梯修理".to_string(),
        String::new(),
        "\"含,逗号\"".to_string(),
        "\"未闭合".to_string(),
        "=HYPERLINK(\"x\")".to_string(),
    ];
    let mut text = header[fuzz.rng().random_range(0..header.len())].to_string();
    for _ in 0..fuzz.rng().random_range(0..6) {
        text.push_str(if fuzz.rng().random_bool(0.5) { "\r\n" } else { "\n" });
        let columns = fuzz.rng().random_range(0..7);
        let row: Vec<String> = (0..columns)
            .map(|_| if fuzz.rng().random_bool(0.1) { fuzz.string() } else { cells[fuzz.rng().random_range(0..cells.len())].clone() })
            .collect();
        text.push_str(&row.join(","));
    }
    if fuzz.rng().random_bool(0.5) {
        let (bytes, _, _) = encoding_rs::GBK.encode(&text);
        bytes.into_owned()
    } else {
        text.into_bytes()
    }
}

#[test]
fn roster_files_never_panic() {
    let mut fuzz = Fuzz::from_env(300);
    let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let names = ["roster.csv", "roster.xlsx", "roster.txt", "名单.CSV", "roster", "roster.xls", "roster.pdf"];

    for case in 0..fuzz.cases {
        let bytes = match fuzz.rng().random_range(0..6) {
            0 => fuzz.mutate_bytes(GBK_ROSTER),
            1 => fuzz.mutate_bytes(UTF8_ROSTER),
            2 => fuzz.mutate_bytes(XLSX_ROSTER),
            3 => fuzz.bytes(300),
            _ => random_csv(&mut fuzz),
        };
        let file_name = names[fuzz.rng().random_range(0..names.len())];
        let context = format!("case {case} (CERTFLOW_FUZZ_SEED={}), file {file_name}, {} bytes", fuzz.seed, bytes.len());

        let parsed = catch_unwind(AssertUnwindSafe(|| parse_roster(&bytes, file_name, today, Catalogue::embedded())));
        let parsed = parsed.unwrap_or_else(|_| panic!("roster parser panicked on {context}: {:?}", String::from_utf8_lossy(&bytes)));
        match parsed {
            Err(error) => {
                let message = error.message(Locale::ZhCn);
                assert!(!message.is_empty() && message != error.code(), "{context}: {} has no catalogue message", error.code());
                assert!(!message.contains('{'), "{context}: unfilled placeholder in {message}");
            }
            Ok(report) => {
                for row in &report.rows {
                    assert!(row.line >= 1, "{context}: row line {}", row.line);
                    if let RowOutcome::Rejected { field, code, message_zh, .. } = &row.outcome {
                        assert!(!field.is_empty(), "{context}: {code} names no field");
                        assert!(!message_zh.is_empty() && message_zh != code, "{context}: {code} has no catalogue message");
                    }
                }
            }
        }
    }
}

both_backends!(webhook_bodies_never_fail_server, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4M0701");
    app.create_unit(&admin, &unit, "模糊测试公司", "fuzz-unit").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000701", &id_number("43010219800101701"), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;

    let start = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    let report = json!({
        "statement_id": "fuzz-report",
        "enrollment_id": enrollment_id,
        "course_code": "T-01",
        "started_at": start.to_rfc3339(),
        "ended_at": (start + Duration::minutes(50)).to_rfc3339(),
        "face_check": "passed",
        "evidence": { "device": "fuzz" },
    });
    let statement = json!({
        "id": "3f1c2a9e-0001-4a7b-9c1d-00000000f022",
        "actor": { "objectType": "Agent", "account": { "homePage": "https://training.example.cn", "name": "learner-42" } },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "zh-CN": "完成" } },
        "object": { "objectType": "Activity", "id": "https://training.example.cn/courses/T-02" },
        "result": { "duration": "PT50M", "extensions": { "https://certflow.example/xapi/face_check": "passed" } },
        "context": { "registration": enrollment_id },
        "timestamp": (start + Duration::hours(3)).to_rfc3339(),
    });

    let mut fuzz = Fuzz::from_env(80);
    let mut refused = 0;
    for case in 0..fuzz.cases {
        let body = match fuzz.rng().random_range(0..8) {
            0 => fuzz.bytes(200),
            1 => fuzz.json(3).to_string().into_bytes(),
            2 => fuzz.mutate_bytes(report.to_string().as_bytes()),
            3 | 4 => fuzz.mutate_json(&report).to_string().into_bytes(),
            _ => fuzz.mutate_json(&statement).to_string().into_bytes(),
        };
        let reply = app.signed_bytes(&institution, "/api/institution/sessions", body.clone()).await;
        let context = format!("case {case} (CERTFLOW_FUZZ_SEED={}): {}", fuzz.seed, String::from_utf8_lossy(&body));
        assert!(!reply.status.is_server_error(), "{context}\nanswered {} {}", reply.status, reply.body);
        if reply.status.is_client_error() {
            refused += 1;
            let code = reply.code();
            assert!(!code.is_empty(), "{context}\nrefusal without a code: {}", reply.body);
            assert!(!reply.message().is_empty() && reply.message() != code, "{context}\n{code} has no catalogue message");
        } else {
            assert!(reply.body["session_id"].is_string(), "{context}\naccepted without a session id: {}", reply.body);
        }
    }
    assert!(refused > 0, "every random body was accepted, so nothing was checked");

    // Each stored statement id was stored once, whatever arrived.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM study_sessions").fetch_one(&app.db.pool).await.unwrap();
    let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT statement_id) FROM study_sessions").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, distinct);
});
