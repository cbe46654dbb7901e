//! Credits for the courses a passed and accepted exam covered: one credit per course,
//! only for courses completed and not credited before.

use std::collections::HashSet;

use domain::archive::Archive;
use domain::exam::{Paper, courses_covered};
use serde_json::{Value, json};
use workflows::runtime::EventIn;
use workflows::runtime::outbox::OutboxEntry;

use super::{payload_str, send};
use crate::actions::ActionError;
use crate::archive::{self, NewEntry};
use crate::records;
use crate::services::Services;

pub async fn award_credits(services: &Services, entry: &OutboxEntry) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let attempt_id = payload_str(entry, "attempt_id").ok_or_else(|| ActionError::invalid("award_credits without attempt_id"))?;
    let enrollment = records::enrollment_of_instance(pool, &entry.instance_id).await?.ok_or_else(|| ActionError::rejected("instance has no enrollment"))?;

    // Step 1: the courses this passed attempt covered that the operator completed.
    let paper_text: String = sqlx::query_scalar("SELECT paper FROM exam_attempts WHERE id = $1 AND passed = 1")
        .bind(attempt_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ActionError::rejected(format!("attempt {attempt_id} is not a passed attempt")))?;
    let paper: Paper = serde_json::from_str(&paper_text).map_err(|e| ActionError::invalid(format!("stored paper: {e}")))?;
    let completed: HashSet<String> = records::completed_courses(pool, &enrollment).await?.into_iter().collect();
    let covered: Vec<String> = courses_covered(&paper).into_iter().filter(|course| completed.contains(course)).collect();

    // Step 2: one credit row per course. A standing row (a repeat, or credit from an
    // earlier exam) is left as it is; a row a review decision withdrew is awarded
    // again, since the course was studied and passed anew.
    let now_ms = services.engine.now_ms();
    let mut tx = services.engine.db.begin_write().await?;
    for course in &covered {
        sqlx::query(
            "INSERT INTO credits (enrollment_id, course_code, attempt_id, awarded_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (enrollment_id, course_code) DO UPDATE SET attempt_id = excluded.attempt_id, awarded_at = excluded.awarded_at, withdrawn_at = NULL
             WHERE credits.withdrawn_at IS NOT NULL",
        )
        .bind(&enrollment.id)
        .bind(course)
        .bind(attempt_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    let body = json!({ "attempt_id": attempt_id, "enrollment_id": enrollment.id, "year": enrollment.year, "item_code": enrollment.item_code, "courses": covered });
    let archived = NewEntry::system(&enrollment.operator_id, Archive::ContinuingEducation, "credit", format!("credit:{attempt_id}"), body);
    archive::append(&mut tx, services.engine.db.backend, archived, now_ms).await?;
    tx.commit().await?;

    // Step 3: report the total.
    let credits = records::credit_count(pool, &enrollment.id).await?;
    send(services, entry, EventIn::new(format!("credits:{attempt_id}"), "credits_updated").with("credits", credits)).await?;
    Ok(json!({ "attempt": attempt_id, "covered": covered, "credits": credits }))
}
