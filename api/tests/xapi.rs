//! Session reports as xAPI statements at the signed webhook on each backend, and the
//! repeated-report case: the same statement id sent again after the first report was
//! processed counts once and is acknowledged as a duplicate.

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;

const SESSIONS: &str = "/api/institution/sessions";

fn statement(id: &str, enrollment_id: &str, course: &str, ended: DateTime<Utc>, duration: &str) -> Value {
    json!({
        "id": id,
        "actor": { "objectType": "Agent", "account": { "homePage": "https://training.example.cn", "name": "learner-42" } },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "zh-CN": "完成" } },
        "object": { "objectType": "Activity", "id": format!("https://training.example.cn/courses/{course}") },
        "result": { "duration": duration, "extensions": { "https://certflow.example/xapi/face_check": "passed" } },
        "context": { "registration": enrollment_id },
        "timestamp": ended.to_rfc3339(),
    })
}

/// Registers a unit and an operator enrolled in T for 2026, handed off to an institution.
async fn handed_off(t: &TestApp) -> (String, api::CreatedInstitution) {
    let admin = t.admin_token().await;
    let unit = uscc("91430100MA4L7777");
    t.create_unit(&admin, &unit, "戊公司", "unit-e").await;
    let (token, _, enrollment_id) = t.enrolled_operator("13800000012", &id_number("43010219800101124"), &unit).await;
    let institution = t.handed_off(&token, &enrollment_id).await;
    (enrollment_id, institution)
}

async fn studied_minutes(t: &TestApp, enrollment_id: &str, course: &str) -> i64 {
    let enrollment = api::enrollments::load_enrollment(&t.state, enrollment_id).await.unwrap();
    let json = api::enrollments::enrollment_json(&t.state, &enrollment).await.unwrap();
    json["courses"].as_array().unwrap().iter().find(|c| c["code"] == course).unwrap()["studied_minutes"].as_i64().unwrap()
}

both_backends!(repeated_report_counts_once, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let (enrollment_id, institution) = handed_off(&t).await;
    let ended = Utc.with_ymd_and_hms(2026, 3, 5, 1, 20, 0).unwrap();

    // The first report is stored and then processed (screened clean, course completed).
    let first = t.signed(&institution, SESSIONS, &statement("3f1c2a9e-0001-4a7b-9c1d-000000000001", &enrollment_id, "T-01", ended, "PT50M")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    assert_eq!(first.body["duplicate"], false);
    t.clear_sessions(&enrollment_id, 1).await;
    assert_eq!(studied_minutes(&t, &enrollment_id, "T-01").await, 50);

    // The same statement an hour later: acknowledged as a duplicate, counted once.
    t.clock.advance(Duration::hours(1));
    let again = t.signed(&institution, SESSIONS, &statement("3f1c2a9e-0001-4a7b-9c1d-000000000001", &enrollment_id, "T-01", ended, "PT50M")).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["session_id"], first.body["session_id"]);
    assert_eq!(t.count("SELECT COUNT(*) FROM study_sessions WHERE enrollment_id = $1", &enrollment_id).await, 1);
    assert_eq!(studied_minutes(&t, &enrollment_id, "T-01").await, 50, "study minutes counted once");
    let enrollment = api::enrollments::load_enrollment(&t.state, &enrollment_id).await.unwrap();
    let instance = t.state.engine.instance(&enrollment.instance_id).await.unwrap();
    assert_eq!(instance.context["completed_courses"], 1, "completed courses counted once");
    assert_eq!(instance.context["credits"], 0, "no credit without an exam");

    // The same statement in certflow's JSON form is the same duplicate.
    let json_form = json!({
        "statement_id": "3f1c2a9e-0001-4a7b-9c1d-000000000001", "enrollment_id": enrollment_id, "course_code": "T-01",
        "started_at": (ended - Duration::minutes(50)).to_rfc3339(), "ended_at": ended.to_rfc3339(), "face_check": "passed",
    });
    assert_eq!(t.signed(&institution, SESSIONS, &json_form).await.body["duplicate"], true);
});

both_backends!(xapi_statement_maps_to_session, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let (enrollment_id, institution) = handed_off(&t).await;
    let ended = Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap();

    let reply = t.signed(&institution, SESSIONS, &statement("stmt-x-1", &enrollment_id, "T-02", ended, "PT1H5M30S")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let row: (String, i64, i64, String, String) = sqlx::query_as("SELECT course_code, started_at, ended_at, face_check, evidence FROM study_sessions WHERE statement_id = 'stmt-x-1'")
        .fetch_one(&t.db.pool)
        .await
        .unwrap();
    assert_eq!(row.0, "T-02");
    assert_eq!(row.2, ended.timestamp_millis());
    assert_eq!(row.2 - row.1, 3_930_000, "started 1 h 5 min 30 s before the timestamp");
    assert_eq!(row.3, "passed");
    let evidence: Value = serde_json::from_str(&row.4).unwrap();
    assert_eq!(evidence["format"], "xapi");
    assert_eq!(evidence["actor"]["account"]["name"], "learner-42");
});

both_backends!(xapi_bad_statements_rejected, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let (enrollment_id, institution) = handed_off(&t).await;
    let now = t.state.now();

    // A timestamp after the server's clock.
    let future = t.signed(&institution, SESSIONS, &statement("stmt-f", &enrollment_id, "T-01", now + Duration::minutes(30), "PT40M")).await;
    assert_eq!(future.status, StatusCode::BAD_REQUEST);
    assert_eq!(future.code(), "session.in_future");
    assert_eq!(future.body["field"], "ended_at");

    // A timestamp in another year, and a session of 20 hours.
    let last_year = t.signed(&institution, SESSIONS, &statement("stmt-o", &enrollment_id, "T-01", Utc.with_ymd_and_hms(2025, 6, 1, 2, 0, 0).unwrap(), "PT40M")).await;
    assert_eq!(last_year.code(), "session.outside_year");
    let long = t.signed(&institution, SESSIONS, &statement("stmt-l", &enrollment_id, "T-01", now - Duration::minutes(5), "PT20H")).await;
    assert_eq!(long.code(), "session.duration_implausible");
    assert!(long.message().contains("1200"), "{}", long.message());

    // Unsupported verb, missing registration, bad duration.
    let mut voided = statement("stmt-v", &enrollment_id, "T-01", now - Duration::minutes(5), "PT40M");
    voided["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/voided");
    let reply = t.signed(&institution, SESSIONS, &voided).await;
    assert_eq!(reply.code(), "xapi.verb_unsupported");
    assert_eq!(reply.body["field"], "verb.id");
    let mut anonymous = statement("stmt-r", &enrollment_id, "T-01", now - Duration::minutes(5), "PT40M");
    anonymous["context"] = json!({});
    let reply = t.signed(&institution, SESSIONS, &anonymous).await;
    assert_eq!(reply.code(), "xapi.field_missing");
    assert_eq!(reply.body["field"], "context.registration");
    let reply = t.signed(&institution, SESSIONS, &statement("stmt-d", &enrollment_id, "T-01", now - Duration::minutes(5), "45 minutes")).await;
    assert_eq!(reply.code(), "xapi.duration_invalid");
    assert_eq!(t.count("SELECT COUNT(*) FROM study_sessions WHERE enrollment_id = $1", &enrollment_id).await, 0);
});
