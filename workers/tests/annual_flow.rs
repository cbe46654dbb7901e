//! The annual pipeline's jobs on each backend, driven by events as the API sends them:
//! screened study sessions complete courses, a passed exam is screened and credited, and
//! the 20th credit issues exactly one credit card.

mod support;

use std::collections::{HashMap, HashSet};

use domain::courseware::{Answer, Courseware};
use domain::exam::{AnswerGiven, PaperRule, assemble_paper};
use rand::SeedableRng;
use sqlx::Row;
use support::{Harness, harness, wait_advancing, wait_for};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::{EventIn, EventOutcome};

const OPERATOR: &str = "op-1";

/// Creates a unit, an operator, an enrollment for T in 2026 and its instance, moved to studying.
async fn enrolled(h: &Harness, db: &Db) -> (String, String) {
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', '91430102051321883T', '湖南姚和电梯工程有限公司', 'active', 0)").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ($1, '19246777401', '陈超', '430302198302277431', 'u1', 'complete', 0, 0)")
        .bind(OPERATOR)
        .execute(&db.pool)
        .await
        .unwrap();
    let subject = [("operator", OPERATOR.to_string()), ("year", "2026".to_string()), ("item", "T".to_string())];
    let instance = h.engine.start("annual_ce", &subject, Default::default()).await.unwrap();
    sqlx::query("INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, created_at) VALUES ('en-1', $1, 2026, 'T', $2, 0)")
        .bind(OPERATOR)
        .bind(&instance.id)
        .execute(&db.pool)
        .await
        .unwrap();
    h.engine.send(&instance.id, EventIn::new("handoff-1", "handed_off")).await.unwrap();
    (instance.id, "en-1".to_string())
}

/// Reports a session of `course` lasting `minutes` with the given face check result.
async fn report_session(h: &Harness, db: &Db, instance: &str, id: &str, course: &str, start_ms: i64, minutes: i64, face_check: &str) {
    sqlx::query(
        "INSERT INTO study_sessions (id, statement_id, institution_id, enrollment_id, operator_id, unit_id, course_code, started_at, ended_at, face_check, evidence, status, created_at)
         VALUES ($1, $1, 'inst-1', 'en-1', $2, 'u1', $3, $4, $5, $6, '{}', 'reported', 0)",
    )
    .bind(id)
    .bind(OPERATOR)
    .bind(course)
    .bind(start_ms)
    .bind(start_ms + minutes * 60_000)
    .bind(face_check)
    .execute(&db.pool)
    .await
    .unwrap();
    let outcome = h.engine.send(instance, EventIn::new(format!("session:{id}"), "session_reported").with("session_id", id)).await.unwrap();
    assert!(matches!(outcome, EventOutcome::Applied { .. }), "{outcome:?}");
}

async fn context_int(h: &Harness, instance: &str, name: &str) -> i64 {
    h.engine.instance(instance).await.unwrap().context[name].as_i64().unwrap_or(-1)
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    sqlx::query(sql).fetch_one(&db.pool).await.unwrap().get(0)
}

/// Answers every question of `paper` correctly, as letters in the paper's shuffled order.
fn correct_answers(paper: &domain::exam::Paper, key: &HashMap<String, Answer>) -> HashMap<String, AnswerGiven> {
    let letters = |indices: &[usize], order: &[usize]| -> String {
        let mut shown: Vec<char> = indices.iter().map(|original| (b'A' + order.iter().position(|o| o == original).unwrap() as u8) as char).collect();
        shown.sort();
        shown.into_iter().collect()
    };
    paper
        .questions
        .iter()
        .map(|q| {
            let given = match &key[&q.question_id] {
                Answer::TrueFalse(value) => AnswerGiven::TrueFalse(*value),
                Answer::Single(index) => AnswerGiven::Letters(letters(&[*index], &q.option_order)),
                Answer::Multiple(indices) => AnswerGiven::Letters(letters(indices, &q.option_order)),
            };
            (q.question_id.clone(), given)
        })
        .collect()
}

both_backends!(flagged_session_waits_for_review, |db: Db| async move {
    let h = harness(db.clone()).await;
    let (instance, _) = enrolled(&h, &db).await;
    let start = h.clock.now_utc().timestamp_millis() - 3 * 3_600_000;
    report_session(&h, &db, &instance, "s-bad", "T-01", start, 60, "failed").await;

    wait_for("the session to be flagged", async || count(&db, "SELECT COUNT(*) FROM review_cases WHERE status = 'open'").await == 1).await;
    let status: String = sqlx::query_scalar("SELECT status FROM study_sessions WHERE id = 's-bad'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "flagged");
    assert_eq!(context_int(&h, &instance, "completed_courses").await, 0, "a flagged session completes nothing");
    h.handle.stop().await;
});

both_backends!(twentieth_credit_issues_one_card, |db: Db| async move {
    let h = harness(db.clone()).await;
    let (instance, enrollment) = enrolled(&h, &db).await;
    let courseware = Courseware::embedded().unwrap();
    let courses: Vec<_> = courseware.item("T").unwrap().courses.iter().take(20).collect();

    // Twenty clean sessions, one per course, back to back in the past.
    let mut start = h.clock.now_utc().timestamp_millis() - 40 * 3_600_000;
    for (index, course) in courses.iter().enumerate() {
        report_session(&h, &db, &instance, &format!("s-{index}"), &course.code, start, i64::from(course.minutes), "passed").await;
        start += i64::from(course.minutes) * 60_000 + 60_000;
    }
    wait_for("20 completed courses", async || context_int(&h, &instance, "completed_courses").await == 20).await;

    // 18 credits from earlier exams.
    for course in &courses[..18] {
        sqlx::query("INSERT INTO credits (enrollment_id, course_code, attempt_id, awarded_at) VALUES ($1, $2, 'earlier', 0)")
            .bind(&enrollment)
            .bind(&course.code)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    h.engine.send(&instance, EventIn::new("credits-18", "credits_updated").with("credits", 18)).await.unwrap();

    // An exam over the two courses not yet credited, answered correctly.
    let rule = PaperRule::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let paper = assemble_paper(&courses[18..], &rule, &HashSet::new(), &mut rng).unwrap();
    let answers = correct_answers(&paper, &courseware.answer_key());
    sqlx::query(
        "INSERT INTO exam_attempts (id, enrollment_id, operator_id, beijing_date, started_at, deadline_at, finished_at, status, paper, answers, score, passed, evidence, review_status, created_at)
         VALUES ('a-1', $1, $2, '2026-03-05', 0, 3600000, 60000, 'submitted', $3, $4, 100.0, 1, '{}', 'none', 0)",
    )
    .bind(&enrollment)
    .bind(OPERATOR)
    .bind(serde_json::to_string(&paper).unwrap())
    .bind(serde_json::to_string(&answers).unwrap())
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(matches!(h.engine.send(&instance, EventIn::new("start:a-1", "exam_started").with("attempt_id", "a-1")).await.unwrap(), EventOutcome::Applied { .. }));
    let graded = EventIn::new("graded:a-1", "exam_graded").with("attempt_id", "a-1").with("passed", true).with("pass_mark", 70);
    assert!(matches!(h.engine.send(&instance, graded.clone()).await.unwrap(), EventOutcome::Applied { .. }));

    wait_for("the card", async || h.engine.instance(&instance).await.unwrap().state == "card_issued").await;
    wait_for("the card record", async || count(&db, "SELECT COUNT(*) FROM cards").await == 1).await;
    assert_eq!(context_int(&h, &instance, "credits").await, 20);

    // A repeated grading, a repeated credit report and a retake change nothing.
    assert_eq!(h.engine.send(&instance, graded).await.unwrap(), EventOutcome::Duplicate);
    let again = h.engine.send(&instance, EventIn::new("credits-20-again", "credits_updated").with("credits", 20)).await.unwrap();
    assert!(matches!(again, EventOutcome::Rejected { .. }));
    let retake = h.engine.send(&instance, EventIn::new("start:a-2", "exam_started").with("attempt_id", "a-2")).await.unwrap();
    assert!(matches!(retake, EventOutcome::Rejected { .. }));

    wait_advancing(&h, "card sync at the simulator", async || {
        h.sim.records(Some(OPERATOR)).await.iter().any(|stored| stored.record.kind.as_str() == "card_issued")
    })
    .await;
    wait_advancing(&h, "the outbox to settle", async || {
        h.engine.outbox_counts().await.unwrap().iter().all(|(_, status, _)| status != "pending")
    })
    .await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM cards WHERE revoked_at IS NULL").await, 1, "exactly one valid card");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM credits WHERE enrollment_id = 'en-1'").await, 20);
    let cards_synced = h.sim.records(Some(OPERATOR)).await.iter().filter(|stored| stored.record.kind.as_str() == "card_issued").count();
    assert_eq!(cards_synced, 1);
    let card_no: String = sqlx::query_scalar("SELECT card_no FROM cards").fetch_one(&db.pool).await.unwrap();
    let sms = support::sms_lines(&h.dir).join("\n");
    assert!(sms.contains(&card_no), "the card SMS names the card number");
    h.handle.stop().await;
});
