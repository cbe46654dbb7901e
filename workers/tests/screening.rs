//! Screening jobs on each backend with the facts only the database has: overlapping
//! sessions of one operator, one device or IP address serving several operators at
//! once, earlier sessions of a course, exam answer timing, and the deterministic sample
//! of clean records.

mod support;

use domain::review::{ReviewSettings, is_sampled};
use serde_json::{Value, json};
use support::{Harness, harness, wait_for};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

const HOUR_MS: i64 = 3_600_000;

/// Creates operator `operator` of unit u1 enrolled for T in 2026 and studying; returns its instance.
async fn enrolled(h: &Harness, db: &Db, operator: &str) -> String {
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', 'U1', '湖南姚和电梯工程有限公司', 'active', 0) ON CONFLICT (id) DO NOTHING").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, unit_id, status, created_at, updated_at) VALUES ($1, $2, '陈超', 'u1', 'complete', 0, 0)")
        .bind(operator)
        .bind(format!("mobile-{operator}"))
        .execute(&db.pool)
        .await
        .unwrap();
    let subject = [("operator", operator.to_string()), ("year", "2026".to_string()), ("item", "T".to_string())];
    let instance = h.engine.start("annual_ce", &subject, Default::default()).await.unwrap();
    sqlx::query("INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, created_at) VALUES ($1, $2, 2026, 'T', $3, 0)")
        .bind(format!("en-{operator}"))
        .bind(operator)
        .bind(&instance.id)
        .execute(&db.pool)
        .await
        .unwrap();
    h.engine.send(&instance.id, EventIn::new(format!("handoff-{operator}"), "handed_off")).await.unwrap();
    instance.id
}

/// Reports session `id` of T-01 and waits until screening has decided it; returns the
/// rules of its findings, or an empty list when it was cleared without a case.
async fn screened(h: &Harness, db: &Db, instance: &str, operator: &str, id: &str, start_ms: i64, minutes: i64, evidence: Value) -> Vec<String> {
    screened_with_face_check(h, db, instance, operator, id, start_ms, minutes, "passed", evidence).await
}

/// Like [`screened`], with the face check at the start as reported.
#[allow(clippy::too_many_arguments)]
async fn screened_with_face_check(h: &Harness, db: &Db, instance: &str, operator: &str, id: &str, start_ms: i64, minutes: i64, face_check: &str, evidence: Value) -> Vec<String> {
    sqlx::query(
        "INSERT INTO study_sessions (id, statement_id, institution_id, enrollment_id, operator_id, unit_id, course_code, started_at, ended_at, face_check, evidence, status, created_at)
         VALUES ($1, $1, 'inst-1', $2, $3, 'u1', 'T-01', $4, $5, $7, $6, 'reported', 0)",
    )
    .bind(id)
    .bind(format!("en-{operator}"))
    .bind(operator)
    .bind(start_ms)
    .bind(start_ms + minutes * 60_000)
    .bind(evidence.to_string())
    .bind(face_check)
    .execute(&db.pool)
    .await
    .unwrap();
    h.engine.send(instance, EventIn::new(format!("session:{id}"), "session_reported").with("session_id", id)).await.unwrap();
    let status = async || -> String { sqlx::query_scalar("SELECT status FROM study_sessions WHERE id = $1").bind(id).fetch_one(&db.pool).await.unwrap() };
    wait_for("screening", async || status().await != "reported").await;
    let findings: Option<String> = sqlx::query_scalar("SELECT findings FROM review_cases WHERE subject_id = $1").bind(id).fetch_optional(&db.pool).await.unwrap();
    let findings: Value = serde_json::from_str(&findings.unwrap_or_else(|| "[]".into())).unwrap();
    findings.as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect()
}

both_backends!(session_rules_across_records, |db: Db| async move {
    let h = harness(db.clone()).await;
    let a = enrolled(&h, &db, "op-a").await;
    let b = enrolled(&h, &db, "op-b").await;
    let base = h.clock.now_utc().timestamp_millis() - 10 * HOUR_MS;

    // op-a on device d-1, then op-b on the same device at the same time.
    assert_eq!(screened(&h, &db, &a, "op-a", "a-1", base, 60, json!({ "device": "d-1", "ip": "10.0.0.9" })).await, Vec::<String>::new());
    assert_eq!(screened(&h, &db, &b, "op-b", "b-1", base + 10 * 60_000, 60, json!({ "device": "d-1", "ip": "10.0.0.9" })).await, ["shared_device"]);
    let case: String = sqlx::query_scalar("SELECT findings FROM review_cases WHERE subject_id = 'b-1'").fetch_one(&db.pool).await.unwrap();
    let case: Value = serde_json::from_str(&case).unwrap();
    assert_eq!(case[0]["evidence"]["sessions"], json!(["a-1"]));
    assert_eq!(case[0]["evidence"]["operators"], 2);

    // a-1, screened clean before b-1 arrived, now goes to a reviewer as well, and its
    // hours still count until the reviewer decides.
    let partner: String = sqlx::query_scalar("SELECT findings FROM review_cases WHERE subject_id = 'a-1'").fetch_one(&db.pool).await.unwrap();
    let partner: Value = serde_json::from_str(&partner).unwrap();
    assert_eq!(partner[0]["rule"], "shared_device");
    assert_eq!(partner[0]["evidence"]["reported_with"], "b-1");
    let a1_status: String = sqlx::query_scalar("SELECT status FROM study_sessions WHERE id = 'a-1'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(a1_status, "cleared");

    // op-a overlapping herself by 30 minutes on another device.
    assert_eq!(screened(&h, &db, &a, "op-a", "a-2", base + 30 * 60_000, 60, json!({ "device": "d-2" })).await, ["overlapping_sessions"]);

    // Marked as completing T-01 after 20 minutes, with the 60 minutes of a-1 before it.
    let later = base + 5 * HOUR_MS;
    assert_eq!(screened(&h, &db, &a, "op-a", "a-3", later, 20, json!({ "course_completed": true })).await, Vec::<String>::new());
    assert_eq!(screened(&h, &db, &b, "op-b", "b-2", later, 20, json!({ "course_completed": true })).await, ["shorter_than_course"], "b-1 was flagged, so it does not count");
    h.handle.stop().await;
});

both_backends!(clean_records_sampled_by_id, |db: Db| async move {
    let h = harness(db.clone()).await;
    let instance = enrolled(&h, &db, "op-c").await;
    let sampling = &ReviewSettings::current().sampling;
    let sampled = (0..200).map(|n| format!("c-{n}")).find(|id| is_sampled(sampling, id)).expect("a 5% sample of 200 ids has a member");
    let clean = (0..200).map(|n| format!("c-{n}")).find(|id| !is_sampled(sampling, id)).unwrap();
    let base = h.clock.now_utc().timestamp_millis() - 10 * HOUR_MS;

    assert!(screened(&h, &db, &instance, "op-c", &clean, base, 60, json!({})).await.is_empty());
    assert!(screened(&h, &db, &instance, "op-c", &sampled, base + 2 * HOUR_MS, 60, json!({})).await.is_empty());
    let outcome: Option<String> = sqlx::query_scalar("SELECT outcome FROM review_cases WHERE subject_id = $1").bind(&clean).fetch_optional(&db.pool).await.unwrap();
    assert_eq!(outcome, None, "an unsampled clean session opens no case");
    let outcome: String = sqlx::query_scalar("SELECT outcome FROM review_cases WHERE subject_id = $1").bind(&sampled).fetch_one(&db.pool).await.unwrap();
    assert_eq!(outcome, "sample");
    let status: String = sqlx::query_scalar("SELECT status FROM study_sessions WHERE id = $1").bind(&sampled).fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "cleared", "a sampled session counts at once");
    h.handle.stop().await;
});

both_backends!(session_rules_of_one_record, |db: Db| async move {
    let h = harness(db.clone()).await;
    let instance = enrolled(&h, &db, "op-d").await;
    let base = h.clock.now_utc().timestamp_millis() - 20 * HOUR_MS;
    let at = |hour: i64| base + hour * HOUR_MS;

    let random = json!({ "random_checks": [{ "result": "passed" }, { "result": "missed" }] });
    assert_eq!(screened(&h, &db, &instance, "op-d", "d-1", at(0), 45, random).await, ["random_check_failures"]);
    let other = json!({ "snapshots": [{ "same_person": false }] });
    assert_eq!(screened(&h, &db, &instance, "op-d", "d-2", at(1), 45, other).await, ["different_person"]);
    assert_eq!(screened(&h, &db, &instance, "op-d", "d-3", at(2), 45, json!({ "media_seconds": 5400 })).await, ["faster_than_real_time"]);
    let resumes = json!({ "resumes": [{ "paused_at": "2026-03-04T10:00:00Z", "resumed_at": "2026-03-04T11:00:00Z", "face_check": "missing" }] });
    assert_eq!(screened(&h, &db, &instance, "op-d", "d-4", at(3), 45, resumes).await, ["resume_gap"]);

    assert_eq!(screened_with_face_check(&h, &db, &instance, "op-d", "d-5", at(4), 45, "missing", json!({})).await, ["face_check_start"]);
    assert_eq!(screened_with_face_check(&h, &db, &instance, "op-d", "d-6", at(5), 45, "failed", json!({})).await, ["face_check_start"]);
    let status: String = sqlx::query_scalar("SELECT status FROM study_sessions WHERE id = 'd-2'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "flagged", "a session with a finding does not count until decided");
    h.handle.stop().await;
});

both_backends!(shared_ip_beyond_limit, |db: Db| async move {
    let h = harness(db.clone()).await;
    let base = h.clock.now_utc().timestamp_millis() - 10 * HOUR_MS;
    let allowed = ReviewSettings::current().session.max_operators_per_ip;
    let mut last = Vec::new();
    for n in 0..=allowed {
        let operator = format!("op-ip-{n}");
        let instance = enrolled(&h, &db, &operator).await;
        let evidence = json!({ "ip": "10.1.1.1", "device": format!("dev-{n}") });
        last = screened(&h, &db, &instance, &operator, &format!("ip-{n}"), base + n as i64 * 60_000, 60, evidence).await;
        if (n as usize) < allowed as usize {
            assert!(last.is_empty(), "operator {n} of {allowed} on one IP address is allowed: {last:?}");
        }
    }
    assert_eq!(last, ["shared_ip"], "one operator more than max_operators_per_ip");
    h.handle.stop().await;
});

/// Takes operator `operator` through a passed exam attempt `id` with `evidence`,
/// answering `answered` questions in `seconds`. Waits for its screening and returns
/// the rules of its findings.
async fn screened_exam(h: &Harness, db: &Db, operator: &str, id: &str, evidence: Value, answered: usize, seconds: i64) -> Vec<String> {
    let instance = enrolled(h, db, operator).await;
    h.engine.send(&instance, EventIn::new(format!("courses-{id}"), "courses_updated").with("completed", 1)).await.unwrap();
    h.engine.send(&instance, EventIn::new(format!("start-{id}"), "exam_started").with("attempt_id", id)).await.unwrap();
    let started = h.clock.now_utc().timestamp_millis() - seconds * 1000;
    let answers: serde_json::Map<String, Value> = (0..answered).map(|n| (format!("q-{n}"), json!("A"))).collect();
    sqlx::query(
        "INSERT INTO exam_attempts (id, enrollment_id, operator_id, beijing_date, started_at, deadline_at, finished_at, status, paper, answers, score, passed, evidence, review_status, created_at)
         VALUES ($1, $2, $3, '2026-03-05', $4, $5, $6, 'submitted', '{}', $7, 90, 1, $8, 'none', 0)",
    )
    .bind(id)
    .bind(format!("en-{operator}"))
    .bind(operator)
    .bind(started)
    .bind(started + 3_600_000)
    .bind(started + seconds * 1000)
    .bind(Value::Object(answers).to_string())
    .bind(evidence.to_string())
    .execute(&db.pool)
    .await
    .unwrap();
    let graded = EventIn::new(format!("graded-{id}"), "exam_graded").with("attempt_id", id).with("passed", true).with("pass_mark", 70);
    h.engine.send(&instance, graded).await.unwrap();
    let status = async || -> String { sqlx::query_scalar("SELECT review_status FROM exam_attempts WHERE id = $1").bind(id).fetch_one(&db.pool).await.unwrap() };
    wait_for("exam screening", async || status().await != "none").await;
    let findings: Option<String> = sqlx::query_scalar("SELECT findings FROM review_cases WHERE subject_id = $1").bind(id).fetch_optional(&db.pool).await.unwrap();
    let findings: Value = serde_json::from_str(&findings.unwrap_or_else(|| "[]".into())).unwrap();
    findings.as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect()
}

both_backends!(exam_rules_each_open_case, |db: Db| async move {
    let h = harness(db.clone()).await;
    let face = json!({ "face_checks": [{ "result": "passed" }, { "result": "failed" }] });
    assert_eq!(screened_exam(&h, &db, "op-e1", "x-1", face, 50, 1800).await, ["exam_face_mismatch"]);
    let focus: Vec<Value> = (0..6).map(|n| json!({ "at": n, "seconds": 5 })).collect();
    assert_eq!(screened_exam(&h, &db, "op-e2", "x-2", json!({ "focus_loss": focus }), 50, 1800).await, ["focus_lost_repeatedly"]);
    let audio = json!({ "audio": [{ "flagged": true }] });
    assert_eq!(screened_exam(&h, &db, "op-e3", "x-3", audio, 50, 1800).await, ["audio_flagged"]);
    assert_eq!(screened_exam(&h, &db, "op-e4", "x-4", json!({}), 50, 60).await, ["impossible_timing"], "50 answers in 60 seconds");
    let status: String = sqlx::query_scalar("SELECT review_status FROM exam_attempts WHERE id = 'x-4'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "pending", "the attempt waits for a reviewer");
    h.handle.stop().await;
});
