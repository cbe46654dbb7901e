//! What a review decision changes, applied inside the decision's transaction, and the
//! workflow event it sends after the commit.
//!
//! Study decisions: `accept` clears a flagged session; `clear_sessions` voids named
//! sessions; `clear_course` voids every session of the case's course (the operator
//! studies it again); `clear_year` voids every session of the enrollment. Exam
//! decisions: `accept`, or `void_score`. Afterwards the completed courses are counted
//! again, and every credit whose course is no longer complete, or that the voided
//! attempt awarded, is withdrawn.

use std::collections::{HashMap, HashSet};

use domain::messages::{self, Locale};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;
use domain::study::completes_course;
use workers::records::EnrollmentRow;
use workflows::runtime::EventIn;

use crate::db::Tx;
use crate::error::ApiError;
use crate::study::courses_for;
use crate::AppState;

/// A reviewer's decision on a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    ClearSessions,
    ClearCourse,
    ClearYear,
    VoidScore,
    /// Rejects the case's own record: `clear_sessions` of the case's session for a study
    /// case, `void_score` for an exam case. Kept for clients of the first API version.
    Reject,
}

impl Decision {
    /// Returns the decision `Reject` stands for on a case of `kind`; others unchanged.
    pub fn resolve(self, kind: &str) -> Decision {
        match (self, kind) {
            (Decision::Reject, "exam") => Decision::VoidScore,
            (Decision::Reject, _) => Decision::ClearSessions,
            (decision, _) => decision,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::ClearSessions => "clear_sessions",
            Decision::ClearCourse => "clear_course",
            Decision::ClearYear => "clear_year",
            Decision::VoidScore => "void_score",
            Decision::Reject => "reject",
        }
    }

    /// Returns whether the decision applies to cases of `kind` (`session` or `exam`).
    pub fn fits(self, kind: &str) -> bool {
        match self {
            Decision::Accept => true,
            Decision::ClearSessions | Decision::ClearCourse | Decision::ClearYear => kind == "session",
            Decision::VoidScore => kind == "exam",
            Decision::Reject => true,
        }
    }
}

/// The case a decision is about.
#[derive(Clone, Debug)]
pub struct CaseRef {
    pub id: String,
    /// `session` or `exam`.
    pub kind: String,
    pub subject_id: String,
    /// `review` or `sample`.
    pub outcome: String,
    pub enrollment: EnrollmentRow,
    pub instance_id: String,
}

impl CaseRef {
    /// Loads case `case_id` with its enrollment, or 404.
    pub async fn load(state: &AppState, case_id: &str) -> Result<(CaseRef, String), ApiError> {
        let row = sqlx::query(
            "SELECT c.kind, c.subject_id, c.outcome, c.status, e.id AS enrollment_id, e.operator_id, e.year, e.item_code, e.instance_id
             FROM review_cases c JOIN enrollments e ON e.id = c.enrollment_id WHERE c.id = $1",
        )
        .bind(case_id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("review.not_found"))?;
        let case = CaseRef {
            id: case_id.to_string(),
            kind: row.try_get("kind")?,
            subject_id: row.try_get("subject_id")?,
            outcome: row.try_get("outcome")?,
            enrollment: EnrollmentRow {
                id: row.try_get("enrollment_id")?,
                operator_id: row.try_get("operator_id")?,
                year: row.try_get("year")?,
                item_code: row.try_get("item_code")?,
            },
            instance_id: row.try_get("instance_id")?,
        };
        Ok((case, row.try_get("status")?))
    }
}

/// The records a decision changed, stored on the case as JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Effects {
    pub sessions_voided: Vec<String>,
    pub sessions_cleared: Vec<String>,
    pub attempt_voided: Option<String>,
    pub credits_withdrawn: Vec<String>,
    /// Completed courses and credits after the decision.
    pub completed: i64,
    pub credits: i64,
}

/// Applies `decision` to the records inside `tx`. `session_ids` names the sessions of
/// `clear_sessions`; empty means the case's own session.
pub async fn apply(state: &AppState, tx: &mut Tx, case: &CaseRef, decision: Decision, session_ids: &[String], now_ms: i64) -> Result<Effects, ApiError> {
    let enrollment = &case.enrollment;
    let mut effects = Effects::default();

    // Step 1: the sessions or the attempt.
    let to_void: Vec<String> = match decision {
        Decision::Accept if case.kind == "session" => {
            let cleared = sqlx::query("UPDATE study_sessions SET status = 'cleared' WHERE id = $1 AND status = 'flagged'").bind(&case.subject_id).execute(&mut **tx).await?;
            if cleared.rows_affected() > 0 {
                effects.sessions_cleared.push(case.subject_id.clone());
            }
            Vec::new()
        }
        Decision::Accept => {
            sqlx::query("UPDATE exam_attempts SET review_status = 'accepted' WHERE id = $1").bind(&case.subject_id).execute(&mut **tx).await?;
            Vec::new()
        }
        Decision::VoidScore => {
            sqlx::query("UPDATE exam_attempts SET review_status = 'voided' WHERE id = $1").bind(&case.subject_id).execute(&mut **tx).await?;
            effects.attempt_voided = Some(case.subject_id.clone());
            Vec::new()
        }
        Decision::ClearSessions | Decision::Reject => {
            let named = if session_ids.is_empty() { vec![case.subject_id.clone()] } else { session_ids.to_vec() };
            for session_id in &named {
                let owner: Option<String> = sqlx::query_scalar("SELECT enrollment_id FROM study_sessions WHERE id = $1").bind(session_id).fetch_optional(&mut **tx).await?;
                if owner.as_deref() != Some(enrollment.id.as_str()) {
                    return Err(ApiError::invalid("review.session_not_in_enrollment").field("session_ids").arg("session", session_id));
                }
            }
            named
        }
        Decision::ClearCourse => {
            let course: String = sqlx::query_scalar("SELECT course_code FROM study_sessions WHERE id = $1").bind(&case.subject_id).fetch_one(&mut **tx).await?;
            sqlx::query_scalar("SELECT id FROM study_sessions WHERE enrollment_id = $1 AND course_code = $2 AND status <> 'voided' ORDER BY started_at, id")
                .bind(&enrollment.id)
                .bind(&course)
                .fetch_all(&mut **tx)
                .await?
        }
        Decision::ClearYear => {
            sqlx::query_scalar("SELECT id FROM study_sessions WHERE enrollment_id = $1 AND status <> 'voided' ORDER BY started_at, id")
                .bind(&enrollment.id)
                .fetch_all(&mut **tx)
                .await?
        }
    };
    for session_id in &to_void {
        let voided = sqlx::query("UPDATE study_sessions SET status = 'voided' WHERE id = $1 AND status <> 'voided'").bind(session_id).execute(&mut **tx).await?;
        if voided.rows_affected() > 0 {
            effects.sessions_voided.push(session_id.clone());
        }
    }

    // Step 2: count again and withdraw the credits that lost their ground.
    let completed = completed_courses(state, tx, enrollment).await?;
    let credit_rows = sqlx::query("SELECT course_code, attempt_id FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL ORDER BY course_code")
        .bind(&enrollment.id)
        .fetch_all(&mut **tx)
        .await?;
    for row in &credit_rows {
        let course: String = row.try_get("course_code")?;
        let attempt_id: String = row.try_get("attempt_id")?;
        let from_voided_attempt = effects.attempt_voided.as_deref() == Some(attempt_id.as_str());
        if from_voided_attempt || !completed.contains(&course) {
            sqlx::query("UPDATE credits SET withdrawn_at = $1 WHERE enrollment_id = $2 AND course_code = $3 AND withdrawn_at IS NULL")
                .bind(now_ms)
                .bind(&enrollment.id)
                .bind(&course)
                .execute(&mut **tx)
                .await?;
            effects.credits_withdrawn.push(course);
        }
    }
    effects.completed = completed.len() as i64;
    effects.credits = (credit_rows.len() - effects.credits_withdrawn.len()) as i64;
    Ok(effects)
}

/// Returns the courses the enrollment's cleared sessions complete, read inside `tx`
/// with the same rule as [`crate::study::course_progress`], and the courses an approved
/// internal training event credited, which no study decision takes away.
pub(crate) async fn completed_courses(state: &AppState, tx: &mut Tx, enrollment: &EnrollmentRow) -> Result<HashSet<String>, ApiError> {
    let rows = sqlx::query("SELECT course_code, started_at, ended_at FROM study_sessions WHERE enrollment_id = $1 AND status = 'cleared'")
        .bind(&enrollment.id)
        .fetch_all(&mut **tx)
        .await?;
    let mut intervals: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for row in rows {
        intervals.entry(row.try_get("course_code")?).or_default().push((row.try_get("started_at")?, row.try_get("ended_at")?));
    }
    let mut completed: HashSet<String> = courses_for(&state.courseware, &enrollment.item_code, enrollment.year as i32)
        .into_iter()
        .filter(|course| intervals.remove(&course.code).is_some_and(|spans| completes_course(spans, course.minutes)))
        .map(|course| course.code.clone())
        .collect();
    completed.extend(workers::records::training_courses(&mut **tx, &enrollment.id).await?);
    Ok(completed)
}

/// Renders the decision for the operator's notification and the provincial record,
/// in zh-CN: what was decided, then the reviewer's reason.
pub fn decision_text(case: &CaseRef, decision: Decision, effects: &Effects, reason: Option<&str>) -> String {
    let locale = Locale::ZhCn;
    let count = effects.sessions_voided.len().to_string();
    let year = case.enrollment.year.to_string();
    let what = match decision {
        Decision::Accept => messages::text(locale, "review.decision.accept", &[]),
        Decision::ClearSessions => messages::text(locale, "review.decision.clear_sessions", &[("count", &count)]),
        Decision::ClearCourse => messages::text(locale, "review.decision.clear_course", &[("count", &count)]),
        Decision::ClearYear => messages::text(locale, "review.decision.clear_year", &[("year", &year)]),
        Decision::VoidScore | Decision::Reject => messages::text(locale, "review.decision.void_score", &[]),
    };
    match reason {
        Some(reason) => messages::text(locale, "review.decision.with_reason", &[("decision", &what), ("reason", reason)]),
        None => what,
    }
}

/// Returns the workflow events of a decision, in the order to send them, for an
/// instance now in `instance_state`. An exam case whose instance waits in
/// `under_review` continues with `review_passed` or `review_rejected`; every other
/// decision sends `review_decided` with the new counts, which notifies the operator and
/// the unit admin, pushes the decision to the provincial platform and, when the credits
/// fall short, revokes the card. Its `appealable` is false for `accept`, the one
/// decision that cannot be appealed, so that the notification does not invite an appeal. Event ids derive from `event_key`, so a repeated
/// delivery cannot apply twice.
pub fn workflow_events(case: &CaseRef, instance_state: &str, decision: Decision, effects: &Effects, text: &str, event_key: &str) -> Vec<(String, EventIn)> {
    let waiting_exam = case.kind == "exam" && case.outcome == "review" && instance_state == "under_review";
    if waiting_exam && decision == Decision::VoidScore {
        let event = EventIn::new(format!("{event_key}:exam"), "review_rejected").with("attempt_id", case.subject_id.clone()).with("reason", text.to_string());
        return vec![(case.instance_id.clone(), event)];
    }

    let decided = EventIn::new(event_key.to_string(), "review_decided")
        .with("completed", effects.completed)
        .with("credits", effects.credits)
        .with("reason", text.to_string())
        .with("case_id", case.id.clone())
        .with("decision", decision.as_str())
        .with("appealable", decision != Decision::Accept);
    let mut events = vec![(case.instance_id.clone(), decided)];
    if waiting_exam {
        let passed = EventIn::new(format!("{event_key}:exam"), "review_passed").with("attempt_id", case.subject_id.clone());
        events.push((case.instance_id.clone(), passed));
    }
    events
}

/// Returns the effects as stored JSON.
pub fn effects_json(effects: &Effects) -> Value {
    json!(effects)
}
