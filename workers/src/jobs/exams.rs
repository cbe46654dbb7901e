//! Automatic submission at the exam deadline: the attempt is graded on the answers
//! saved before the deadline, with the deadline as its finish time, against the
//! question versions and the rule recorded in its paper.

use std::collections::HashMap;

use domain::exam::{AnswerGiven, Paper, grade};
use serde_json::{Value, json};
use sqlx::Row;
use workflows::runtime::EventIn;
use workflows::runtime::outbox::OutboxEntry;

use super::send;
use crate::actions::ActionError;
use crate::bank_store;
use crate::services::Services;

pub async fn finalize_exam(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let enrollment_id: String = sqlx::query_scalar("SELECT id FROM enrollments WHERE instance_id = $1")
        .bind(&entry.instance_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ActionError::rejected("instance has no enrollment"))?;

    // The latest attempt of the enrollment is the one the timer belonged to.
    let row = sqlx::query("SELECT id, status, paper, answers, deadline_at, passed FROM exam_attempts WHERE enrollment_id = $1 ORDER BY started_at DESC LIMIT 1")
        .bind(&enrollment_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ActionError::rejected("no exam attempt to finalize"))?;
    let attempt_id: String = row.get(0);
    let status: String = row.get(1);

    let paper: Paper = serde_json::from_str(&row.get::<String, _>(2)).map_err(|e| ActionError::invalid(format!("stored paper: {e}")))?;
    let passed = if status == "in_progress" {
        let answers: HashMap<String, AnswerGiven> = serde_json::from_str(&row.get::<String, _>(3)).unwrap_or_default();
        let deadline_at: i64 = row.get(4);
        let answer_key = bank_store::paper_answer_key(pool, &paper).await?;
        let result = grade(&paper, &answers, &answer_key, &paper.grading_rule()).map_err(|e| ActionError::invalid(e.to_string()))?;
        sqlx::query(
            "UPDATE exam_attempts SET status = 'expired', finished_at = $1, score = $2, passed = $3 WHERE id = $4 AND status = 'in_progress'",
        )
        .bind(deadline_at)
        .bind(result.score)
        .bind(i64::from(result.passed))
        .bind(&attempt_id)
        .execute(pool)
        .await?;
        tracing::info!(attempt = %attempt_id, score = result.score, "exam submitted automatically at its deadline");
        result.passed
    } else {
        row.get::<Option<i64>, _>(5) == Some(1)
    };

    let event = EventIn::new(format!("graded:{attempt_id}"), "exam_graded")
        .with("attempt_id", attempt_id.as_str())
        .with("passed", passed)
        .with("pass_mark", i64::from(paper.pass_mark));
    send(services, entry, event).await?;
    Ok(json!({ "attempt": attempt_id, "passed": passed }))
}
