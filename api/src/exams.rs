//! Online exams over the completed courses of an enrollment.
//!
//! Rules, all by the engine's clock and the Beijing calendar date:
//! - an exam starts only in state `studying` and only over completed courses that are
//!   not credited yet;
//! - an enrollment gets at most `max_attempts_per_day` attempts per Beijing date of
//!   their start, and every started attempt counts, whatever became of it;
//! - one attempt is open per enrollment at a time, so two simultaneous starts from two
//!   devices return the same attempt;
//! - the deadline is the start plus `exam_minutes`. Answers are rejected after it, and
//!   answers saved before it are kept and graded;
//! - a paper draws only published questions of the published version of each
//!   completed, uncredited course, by the item's rule in its courseware file
//!   (questions per course, difficulty mix);
//! - the stored paper is exactly what the operator saw (question versions, option
//!   order, pass mark and scoring), so grading and review never depend on later
//!   bank edits.
//!
//! The `finalize_exam` job grades an attempt that is still open at its deadline; both
//! paths send `exam_graded` with the event id `graded:<attempt id>`, so only one counts.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::Duration;
use domain::courseware::{Answer, Course};
use domain::exam::{AnswerGiven, GradeResult, Paper, PaperRule, assemble_paper, grade};
use domain::messages;
use rand::SeedableRng;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use workflows::clock::{beijing_date, beijing_midnight};
use workflows::db::is_unique_violation;
use workers::bank_store;
use workflows::runtime::{EventIn, EventOutcome, Instance};

use crate::auth::allowed::Operators;
use crate::auth::{Allowed, Caller};
use crate::db::{Tx, lock_key, new_id};
use crate::enrollments::{EnrollmentRecord, load_enrollment, own_enrollment};
use crate::error::{ApiError, current_locale};
use crate::extract::Json;
use crate::study::course_progress;
use crate::workflow::{self, context_int, state_label};
use crate::{AppState, beijing_text};

/// Minutes after the deadline during which evidence uploads (snapshots, audio) are
/// still accepted, since they may finish uploading after the last answer.
pub const EVIDENCE_GRACE_MINUTES: i64 = 10;

/// Maximum evidence entries in one upload.
pub const MAX_EVIDENCE_ENTRIES: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/enrollments/{enrollment_id}/exam/start", post(start))
        .route("/api/exams/{attempt_id}", get(show))
        .route("/api/exams/{attempt_id}/answers", put(save_answers))
        .route("/api/exams/{attempt_id}/submit", post(submit))
        .route("/api/exams/{attempt_id}/evidence", post(add_evidence))
}

/// An `exam_attempts` row.
#[derive(Clone, Debug)]
struct Attempt {
    id: String,
    enrollment_id: String,
    operator_id: String,
    beijing_date: String,
    started_at: i64,
    deadline_at: i64,
    finished_at: Option<i64>,
    /// `in_progress`, `submitted` or `expired`.
    status: String,
    paper: Paper,
    answers: HashMap<String, AnswerGiven>,
    score: Option<f64>,
    passed: Option<bool>,
    /// `none`, `pending`, `accepted` or `voided`.
    review_status: String,
}

const ATTEMPT_COLUMNS: &str =
    "id, enrollment_id, operator_id, beijing_date, started_at, deadline_at, finished_at, status, paper, answers, score, passed, review_status";

impl Attempt {
    fn from_row(row: &AnyRow) -> Result<Attempt, ApiError> {
        Ok(Attempt {
            id: row.try_get("id")?,
            enrollment_id: row.try_get("enrollment_id")?,
            operator_id: row.try_get("operator_id")?,
            beijing_date: row.try_get("beijing_date")?,
            started_at: row.try_get("started_at")?,
            deadline_at: row.try_get("deadline_at")?,
            finished_at: row.try_get("finished_at")?,
            status: row.try_get("status")?,
            paper: serde_json::from_str(&row.try_get::<String, _>("paper")?)?,
            answers: serde_json::from_str(&row.try_get::<String, _>("answers")?)?,
            score: row.try_get("score")?,
            passed: row.try_get::<Option<i64>, _>("passed")?.map(|passed| passed != 0),
            review_status: row.try_get("review_status")?,
        })
    }
}

async fn load_attempt<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E, id: &str) -> Result<Option<Attempt>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ATTEMPT_COLUMNS} FROM exam_attempts WHERE id = $1")))
        .bind(id)
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(Attempt::from_row).transpose()
}

/// Loads attempt `id` of the calling operator. Someone else's attempt is a 404.
async fn own_attempt(state: &AppState, caller: &Caller, id: &str) -> Result<Attempt, ApiError> {
    let operator_id = caller.operator_id()?;
    match load_attempt(&state.engine.db.pool, id).await? {
        Some(attempt) if attempt.operator_id == operator_id => Ok(attempt),
        _ => Err(ApiError::not_found("exam.not_found")),
    }
}

async fn open_attempt<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E, enrollment_id: &str) -> Result<Option<Attempt>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ATTEMPT_COLUMNS} FROM exam_attempts WHERE enrollment_id = $1 AND status = 'in_progress'"
    )))
    .bind(enrollment_id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(Attempt::from_row).transpose()
}

/// The paper rule of an enrollment: the item's rule from its courseware file, with the
/// time limit from the instance's `exam_minutes`, which the exam state's timer matches.
fn paper_rule(state: &AppState, instance: &Instance, item_code: &str) -> PaperRule {
    let time_limit_minutes = context_int(instance, "exam_minutes", i64::from(PaperRule::default().time_limit_minutes)).max(1) as u32;
    let item_rule = state.courseware.item(item_code).map(|item| item.exam).unwrap_or_default();
    item_rule.paper_rule(time_limit_minutes)
}

/// `POST /api/enrollments/{enrollment_id}/exam/start` (operator): starts an attempt,
/// or returns the open one. 201 with the paper (without answers) and `deadline_at`.
async fn start(State(state): State<AppState>, Path(enrollment_id): Path<String>, caller: Caller) -> Result<(StatusCode, Json<Value>), ApiError> {
    let enrollment = own_enrollment(&state, &caller, &enrollment_id).await?;
    let now = state.now();
    let now_ms = now.timestamp_millis();

    // Step 1: an open attempt is resumed. This is also how a second device's
    // simultaneous start ends up in the same attempt.
    if let Some(open) = open_attempt(&state.engine.db.pool, &enrollment.id).await? {
        return resume_open(&state, &enrollment, open, now_ms).await;
    }

    // Step 2: the operator agreed to proctoring, and the instance is studying, with
    // completed courses not yet credited.
    crate::proctoring::require_consent(&state, &enrollment.id).await?;
    let instance = state.engine.instance(&enrollment.instance_id).await?;
    if instance.state != "studying" {
        if let Some(open) = open_attempt(&state.engine.db.pool, &enrollment.id).await? {
            return resume_open(&state, &enrollment, open, now_ms).await;
        }
        return Err(ApiError::conflict("exam.not_studying").arg("state", state_label(&state, &instance)));
    }
    let courses = examinable_courses(&state, &enrollment).await?;
    if courses.is_empty() {
        return Err(domain::exam::ExamError::NoCourses.into());
    }
    let rule = paper_rule(&state, &instance, &enrollment.item_code);
    let max_per_day = context_int(&instance, "max_attempts_per_day", 2);

    // Step 3: check the daily limit and store the attempt in one transaction,
    // serialized per enrollment.
    let today = beijing_date(now);
    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, &format!("exam_start:{}", enrollment.id)).await?;
    if let Some(open) = open_attempt(&mut *tx, &enrollment.id).await? {
        drop(tx);
        return resume_open(&state, &enrollment, open, now_ms).await;
    }
    let earlier = attempts_on(&mut tx, &enrollment.id, &today.to_string()).await?;
    if earlier.len() as i64 >= max_per_day {
        let next_start = beijing_midnight(today + Duration::days(1));
        return Err(ApiError::rate_limited("exam.daily_limit", (next_start - now).num_seconds())
            .arg("date", today)
            .arg("count", earlier.len())
            .arg("max", max_per_day)
            .arg("next", beijing_text(next_start.timestamp_millis())));
    }
    let seen_today: HashSet<String> = earlier.iter().flat_map(|paper| paper.questions.iter().map(|q| q.question_id.clone())).collect();
    let course_refs: Vec<&Course> = courses.iter().collect();
    let paper = assemble_paper(&course_refs, &rule, &seen_today, &mut rand::rngs::StdRng::from_os_rng())?;

    let attempt_id = new_id();
    let deadline_at = now_ms + i64::from(rule.time_limit_minutes) * 60_000;
    let inserted = sqlx::query(
        "INSERT INTO exam_attempts (id, enrollment_id, operator_id, beijing_date, started_at, deadline_at, finished_at, status, paper, answers, score, passed, evidence, review_status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, 'in_progress', $7, '{}', NULL, NULL, $8, 'none', $5)",
    )
    .bind(&attempt_id)
    .bind(&enrollment.id)
    .bind(&enrollment.operator_id)
    .bind(today.to_string())
    .bind(now_ms)
    .bind(deadline_at)
    .bind(serde_json::to_string(&paper)?)
    .bind(empty_evidence().to_string())
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => tx.commit().await?,
        // The unique open-attempt index: another start won the race.
        Err(error) if is_unique_violation(&error) => {
            drop(tx);
            let open = open_attempt(&state.engine.db.pool, &enrollment.id)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("open attempt vanished after a unique violation")))?;
            return resume_open(&state, &enrollment, open, now_ms).await;
        }
        Err(error) => return Err(error.into()),
    }

    // Step 4: tell the workflow. If it does not accept the start (for example because
    // its context counts no uncredited course yet), the attempt is removed so that it
    // does not count towards the daily limit.
    let event = EventIn::new(format!("exam_started:{attempt_id}"), "exam_started").with("attempt_id", attempt_id.clone());
    let outcome = state.engine.send(&enrollment.instance_id, event).await?;
    if let EventOutcome::Rejected { state: current, reason } = outcome {
        sqlx::query("DELETE FROM exam_attempts WHERE id = $1").bind(&attempt_id).execute(&state.engine.db.pool).await?;
        tracing::warn!(enrollment = %enrollment.id, attempt = %attempt_id, state = %current, reason = %reason, "workflow rejected the exam start; attempt removed");
        let instance = state.engine.instance(&enrollment.instance_id).await?;
        return Err(ApiError::Rejected { state: current, state_label: state_label(&state, &instance), reason });
    }
    tracing::info!(
        operator = %enrollment.operator_id,
        enrollment = %enrollment.id,
        attempt = %attempt_id,
        questions = paper.questions.len(),
        attempt_of_day = earlier.len() + 1,
        "exam started"
    );

    let attempt = load_attempt(&state.engine.db.pool, &attempt_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("attempt {attempt_id} vanished after insert")))?;
    Ok((StatusCode::CREATED, Json(attempt_json(&attempt, now_ms))))
}

/// Resumes an open attempt after making sure the workflow heard of its start. Storing
/// the attempt and telling the workflow are two transactions, so a crash between them
/// leaves an attempt the workflow never heard of. The event is therefore sent again
/// under its first id: the engine ignores it when it was applied and applies it when it
/// was lost.
async fn resume_open(state: &AppState, enrollment: &EnrollmentRecord, open: Attempt, now_ms: i64) -> Result<(StatusCode, Json<Value>), ApiError> {
    let event = EventIn::new(format!("exam_started:{}", open.id), "exam_started").with("attempt_id", open.id.clone());
    match state.engine.send(&enrollment.instance_id, event).await? {
        EventOutcome::Duplicate => {}
        EventOutcome::Rejected { state: current, reason } => {
            sqlx::query("DELETE FROM exam_attempts WHERE id = $1 AND status = 'in_progress'").bind(&open.id).execute(&state.engine.db.pool).await?;
            tracing::warn!(enrollment = %enrollment.id, attempt = %open.id, state = %current, reason = %reason, "workflow rejected a stored exam start; attempt removed");
            let instance = state.engine.instance(&enrollment.instance_id).await?;
            return Err(ApiError::Rejected { state: current, state_label: state_label(state, &instance), reason });
        }
        outcome => tracing::warn!(enrollment = %enrollment.id, attempt = %open.id, ?outcome, "exam start stored before a crash reached the workflow on resume"),
    }
    resume(open, now_ms)
}

/// Returns the response to a start request that found an open attempt: 200 with the
/// attempt while it runs, 409 once its deadline passed and automatic grading has not
/// finished it yet.
fn resume(open: Attempt, now_ms: i64) -> Result<(StatusCode, Json<Value>), ApiError> {
    if open.deadline_at < now_ms {
        return Err(ApiError::conflict("exam.grading_pending"));
    }
    Ok((StatusCode::OK, Json(attempt_json(&open, now_ms))))
}

/// Returns the completed, uncredited courses of an enrollment as published in the
/// bank, each with its published questions. A course without any published question
/// is left out, so the exam covers the others and credits only them.
async fn examinable_courses(state: &AppState, enrollment: &EnrollmentRecord) -> Result<Vec<Course>, ApiError> {
    let progress = course_progress(state, &enrollment.id, &enrollment.item_code, enrollment.year).await?;
    let wanted: Vec<String> = progress.into_iter().filter(|course| course.completed && !course.credited).map(|course| course.code).collect();
    let courses = bank_store::published_courses(&state.engine.db.pool, &enrollment.item_code, enrollment.year, &wanted).await?;
    let (drawable, empty): (Vec<Course>, Vec<Course>) = courses.into_iter().partition(|course| !course.questions.is_empty());
    for course in &empty {
        tracing::warn!(enrollment = %enrollment.id, course = %course.code, "completed course has no published question; left out of the paper");
    }
    Ok(drawable)
}

/// Returns the papers of the enrollment's attempts started on Beijing date `date`.
async fn attempts_on(tx: &mut Tx, enrollment_id: &str, date: &str) -> Result<Vec<Paper>, ApiError> {
    let papers: Vec<String> = sqlx::query_scalar("SELECT paper FROM exam_attempts WHERE enrollment_id = $1 AND beijing_date = $2")
        .bind(enrollment_id)
        .bind(date)
        .fetch_all(&mut **tx)
        .await?;
    papers.iter().map(|paper| serde_json::from_str(paper).map_err(ApiError::from)).collect()
}

fn empty_evidence() -> Value {
    json!({ "face_checks": [], "snapshots": [], "audio": [], "focus_loss": [] })
}

/// Describes an attempt for the operator: the paper without correct answers, the
/// saved answers and the times.
fn attempt_json(attempt: &Attempt, now_ms: i64) -> Value {
    let locale = current_locale();
    let questions: Vec<Value> = attempt
        .paper
        .questions
        .iter()
        .map(|question| {
            let options: Vec<Value> = question
                .options
                .iter()
                .enumerate()
                .map(|(index, text)| json!({ "letter": letter(index), "text": text }))
                .collect();
            json!({
                "question_id": question.question_id,
                "course_code": question.course_code,
                "kind": question.kind,
                "kind_label": messages::text(locale, question.kind.message_code(), &[]),
                "stem": question.stem,
                "options": options,
                "points": f64::from(question.points_hundredths) / 100.0,
            })
        })
        .collect();
    json!({
        "attempt_id": attempt.id,
        "enrollment_id": attempt.enrollment_id,
        "status": attempt.status,
        "beijing_date": attempt.beijing_date,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "deadline_beijing": beijing_text(attempt.deadline_at),
        "remaining_seconds": if attempt.status == "in_progress" { ((attempt.deadline_at - now_ms) / 1000).max(0) } else { 0 },
        "time_limit_minutes": attempt.paper.time_limit_minutes,
        "questions": questions,
        "answers": attempt.answers,
        "finished_at": attempt.finished_at,
        "score": attempt.score,
        "passed": attempt.passed,
        "review_status": attempt.review_status,
    })
}

/// Returns the option letter shown for the option at `index` (A, B, …).
fn letter(index: usize) -> String {
    char::from(b'A' + (index % 26) as u8).to_string()
}

/// `GET /api/exams/{attempt_id}` (operator): the attempt in its current state, for
/// resuming on another device or after a reload.
async fn show(State(state): State<AppState>, Path(attempt_id): Path<String>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let attempt = own_attempt(&state, &caller, &attempt_id).await?;
    Ok(Json(attempt_json(&attempt, state.now_ms())))
}

#[derive(Deserialize)]
struct AnswersRequest {
    answers: HashMap<String, AnswerGiven>,
}

/// `PUT /api/exams/{attempt_id}/answers {answers: {question_id: "B" | true}}` (operator):
/// saves answers, merging them with those saved before. Rejected after the deadline.
async fn save_answers(
    State(state): State<AppState>,
    Path(attempt_id): Path<String>,
    caller: Allowed<Operators>,
    Json(request): Json<AnswersRequest>,
) -> Result<Json<Value>, ApiError> {
    let attempt = own_attempt(&state, &caller, &attempt_id).await?;
    let on_paper: HashSet<&str> = attempt.paper.questions.iter().map(|question| question.question_id.as_str()).collect();
    if let Some(unknown) = request.answers.keys().find(|id| !on_paper.contains(id.as_str())) {
        return Err(ApiError::invalid("exam.unknown_question").field("answers").arg("question", unknown));
    }

    // Read, merge and write under the attempt's lock, so two autosaves from two tabs
    // do not drop each other's answers.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, &format!("exam_attempt:{attempt_id}")).await?;
    let current = load_attempt(&mut *tx, &attempt_id).await?.ok_or_else(|| ApiError::not_found("exam.not_found"))?;
    check_open(&current, now_ms)?;
    let mut answers = current.answers;
    let saved = request.answers.len();
    answers.extend(request.answers);
    let updated = sqlx::query("UPDATE exam_attempts SET answers = $1 WHERE id = $2 AND status = 'in_progress' AND deadline_at >= $3")
        .bind(serde_json::to_string(&answers)?)
        .bind(&attempt_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::conflict("exam.not_in_progress"));
    }
    tx.commit().await?;

    Ok(Json(json!({
        "saved": saved,
        "answered": answers.len(),
        "deadline_at": current.deadline_at,
        "remaining_seconds": (current.deadline_at - now_ms) / 1000,
    })))
}

/// Fails unless the attempt takes answers at `now_ms`.
fn check_open(attempt: &Attempt, now_ms: i64) -> Result<(), ApiError> {
    if attempt.status != "in_progress" {
        return Err(ApiError::conflict("exam.not_in_progress"));
    }
    if now_ms > attempt.deadline_at {
        return Err(ApiError::conflict("exam.deadline_passed").arg("deadline", beijing_text(attempt.deadline_at)));
    }
    Ok(())
}

/// `POST /api/exams/{attempt_id}/submit` (operator): grades the attempt with the answers
/// saved until now or until the deadline, and sends `exam_graded`. Submitting a graded
/// attempt again returns the same result.
async fn submit(State(state): State<AppState>, Path(attempt_id): Path<String>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let attempt = own_attempt(&state, &caller, &attempt_id).await?;
    let enrollment = load_enrollment(&state, &attempt.enrollment_id).await?;
    let rule = attempt.paper.grading_rule();
    let bank_questions = bank_store::paper_questions(&state.engine.db.pool, &attempt.paper).await?;
    let answer_key: HashMap<String, Answer> = bank_questions.iter().map(|(id, question)| (id.clone(), question.answer.clone())).collect();
    let now_ms = state.now_ms();

    // Step 1: grade and store, unless grading happened already.
    let mut attempt = attempt;
    if attempt.status == "in_progress" {
        let result = grade(&attempt.paper, &attempt.answers, &answer_key, &rule)?;
        let finished_at = now_ms.min(attempt.deadline_at);
        let stored = sqlx::query(
            "UPDATE exam_attempts SET status = 'submitted', score = $1, passed = $2, finished_at = $3, review_status = $4
             WHERE id = $5 AND status = 'in_progress'",
        )
        .bind(result.score)
        .bind(i64::from(result.passed))
        .bind(finished_at)
        .bind(if result.passed { "pending" } else { "none" })
        .bind(&attempt.id)
        .execute(&state.engine.db.pool)
        .await?;
        if stored.rows_affected() == 1 {
            tracing::info!(attempt = %attempt.id, enrollment = %enrollment.id, score = result.score, passed = result.passed, "exam submitted");
        }
        attempt = load_attempt(&state.engine.db.pool, &attempt.id).await?.ok_or_else(|| ApiError::not_found("exam.not_found"))?;
    }
    let Some(passed) = attempt.passed else {
        return Err(ApiError::conflict("exam.grading_pending"));
    };

    // Step 2: tell the workflow. The event id is shared with automatic grading, and a
    // repeat after a crash between the two steps is harmless.
    let event = EventIn::new(format!("graded:{}", attempt.id), "exam_graded")
        .with("attempt_id", attempt.id.clone())
        .with("passed", passed)
        .with("pass_mark", i64::from(attempt.paper.pass_mark));
    workflow::send(&state, &enrollment.instance_id, event).await?;

    let result = grade(&attempt.paper, &attempt.answers, &answer_key, &rule)?;
    Ok(Json(result_json(&attempt, &result, rule.pass_mark)))
}

/// Describes a graded attempt for the operator who took it: the score, pass or fail,
/// the results per course and whether each question was answered right. The answer key
/// and the explanations stay out, because a failed operator retakes an exam drawn from
/// the same questions. Staff see them through the bank and review routes.
fn result_json(attempt: &Attempt, result: &GradeResult, pass_mark: u32) -> Value {
    let per_question: Vec<Value> = result
        .per_question
        .iter()
        .map(|question| {
            json!({
                "question_id": question.question_id,
                "course_code": question.course_code,
                "outcome": question.outcome,
                "points": f64::from(question.points_hundredths) / 100.0,
                "awarded": f64::from(question.awarded_hundredths) / 100.0,
            })
        })
        .collect();
    json!({
        "attempt_id": attempt.id,
        "status": attempt.status,
        "score": attempt.score,
        "passed": attempt.passed,
        "pass_mark": pass_mark,
        "finished_at": attempt.finished_at,
        "review_status": attempt.review_status,
        "per_course": result.per_course,
        "per_question": per_question,
    })
}

#[derive(Deserialize)]
struct EvidenceRequest {
    #[serde(default)]
    face_checks: Vec<Value>,
    #[serde(default)]
    snapshots: Vec<Value>,
    #[serde(default)]
    audio: Vec<Value>,
    #[serde(default)]
    focus_loss: Vec<Value>,
}

/// `POST /api/exams/{attempt_id}/evidence {face_checks?, snapshots?, audio?, focus_loss?}`
/// (operator): appends evidence entries (JSON objects) to the attempt, each stamped
/// with the server's `received_at`. Accepted until shortly after the deadline.
async fn add_evidence(
    State(state): State<AppState>,
    Path(attempt_id): Path<String>,
    caller: Allowed<Operators>,
    Json(request): Json<EvidenceRequest>,
) -> Result<Json<Value>, ApiError> {
    let attempt = own_attempt(&state, &caller, &attempt_id).await?;
    let now_ms = state.now_ms();
    if now_ms > attempt.deadline_at + EVIDENCE_GRACE_MINUTES * 60_000 {
        return Err(ApiError::conflict("exam.evidence_closed"));
    }
    // Snapshots that arrive without a face check of their own (from a browser rather
    // than a client with a face provider) are compared with the ID photo by the
    // deployment's provider. Without one they get an `unverified` check, which the exam
    // screening sends to a reviewer.
    if request.snapshots.len() > MAX_EVIDENCE_ENTRIES {
        return Err(ApiError::invalid("exam.evidence_too_many").arg("max", MAX_EVIDENCE_ENTRIES));
    }
    let mut face_checks = request.face_checks;
    if !request.snapshots.is_empty() && face_checks.is_empty() {
        let id_number: Option<String> = sqlx::query_scalar("SELECT id_number FROM operators WHERE id = $1").bind(&attempt.operator_id).fetch_one(&state.engine.db.pool).await?;
        face_checks = crate::realname::face_checks(&state, &attempt.id, id_number.as_deref(), &request.snapshots).await;
    }
    let groups = [
        ("face_checks", face_checks),
        ("snapshots", request.snapshots),
        ("audio", request.audio),
        ("focus_loss", request.focus_loss),
    ];
    let total: usize = groups.iter().map(|(_, entries)| entries.len()).sum();
    if total > MAX_EVIDENCE_ENTRIES {
        return Err(ApiError::invalid("exam.evidence_too_many").arg("max", MAX_EVIDENCE_ENTRIES));
    }
    if groups.iter().flat_map(|(_, entries)| entries).any(|entry| !entry.is_object()) {
        return Err(ApiError::invalid("exam.evidence_invalid"));
    }

    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, &format!("exam_attempt:{attempt_id}")).await?;
    let stored: String = sqlx::query_scalar("SELECT evidence FROM exam_attempts WHERE id = $1").bind(&attempt_id).fetch_one(&mut *tx).await?;
    let mut evidence: Value = serde_json::from_str(&stored).unwrap_or_else(|_| empty_evidence());
    if !evidence.is_object() {
        evidence = empty_evidence();
    }
    for (name, entries) in groups {
        let list = evidence.as_object_mut().expect("checked above").entry(name).or_insert_with(|| json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        let list = list.as_array_mut().expect("made an array above");
        for mut entry in entries {
            entry.as_object_mut().expect("checked above").insert("received_at".to_string(), json!(now_ms));
            list.push(entry);
        }
    }
    sqlx::query("UPDATE exam_attempts SET evidence = $1 WHERE id = $2").bind(evidence.to_string()).bind(&attempt_id).execute(&mut *tx).await?;
    tx.commit().await?;

    Ok(Json(json!({ "appended": total })))
}
