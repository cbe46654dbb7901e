//! Reading the bank: course versions and question versions with their status, and one
//! question version with its review history.

use axum::extract::{Path, State};
use domain::bank::BankStatus;
use domain::courseware::Question;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::staff_account;
use crate::AppState;
use crate::auth::allowed::Staff;
use crate::auth::{Allowed, Caller};
use crate::error::{ApiError, current_locale};
use crate::extract::{Json, Query};

/// Maximum rows of one list response.
const MAX_LIST_ROWS: i64 = 2000;

#[derive(Deserialize)]
pub struct CourseFilter {
    item_code: Option<String>,
    year: Option<i32>,
    status: Option<String>,
}

/// `GET /api/bank/courses?item_code=&year=&status=`: course versions, newest first
/// within each course.
pub async fn list_courses(State(state): State<AppState>, caller: Allowed<Staff>, Query(filter): Query<CourseFilter>) -> Result<Json<Value>, ApiError> {
    staff_account(&caller)?;
    let status = checked_status(filter.status.as_deref())?;
    let rows = sqlx::query(
        "SELECT id, item_code, year, code, version, title, minutes, status, author, submitted_by, updated_at FROM course_versions
         WHERE ($1 = '' OR item_code = $1) AND ($2 = 0 OR year = $2) AND ($3 = '' OR status = $3)
         ORDER BY item_code, year, code, version DESC LIMIT $4",
    )
    .bind(filter.item_code.unwrap_or_default())
    .bind(i64::from(filter.year.unwrap_or(0)))
    .bind(status)
    .bind(MAX_LIST_ROWS)
    .fetch_all(&state.engine.db.pool)
    .await?;
    let mut courses = Vec::with_capacity(rows.len());
    for row in rows {
        let status: String = row.try_get(7)?;
        courses.push(json!({
            "id": row.try_get::<String, _>(0)?,
            "item_code": row.try_get::<String, _>(1)?,
            "year": row.try_get::<i64, _>(2)?,
            "code": row.try_get::<String, _>(3)?,
            "version": row.try_get::<i64, _>(4)?,
            "title": row.try_get::<String, _>(5)?,
            "minutes": row.try_get::<i64, _>(6)?,
            "status_label": status_label(&status),
            "status": status,
            "author": row.try_get::<String, _>(8)?,
            "submitted_by": row.try_get::<Option<String>, _>(9)?,
            "updated_at": row.try_get::<i64, _>(10)?,
        }));
    }
    Ok(Json(json!({ "courses": courses })))
}

#[derive(Deserialize)]
pub struct QuestionFilter {
    item_code: Option<String>,
    course_code: Option<String>,
    status: Option<String>,
}

/// `GET /api/bank/questions?item_code=&course_code=&status=`: question versions with
/// their content and answer, for staff.
pub async fn list_questions(State(state): State<AppState>, caller: Allowed<Staff>, Query(filter): Query<QuestionFilter>) -> Result<Json<Value>, ApiError> {
    staff_account(&caller)?;
    let status = checked_status(filter.status.as_deref())?;
    let rows = sqlx::query(
        "SELECT id, item_code, course_version, status, author, submitted_by, body FROM questions
         WHERE ($1 = '' OR item_code = $1) AND ($2 = '' OR course_code = $2) AND ($3 = '' OR status = $3)
         ORDER BY item_code, course_code, question_key, version DESC LIMIT $4",
    )
    .bind(filter.item_code.unwrap_or_default())
    .bind(filter.course_code.unwrap_or_default())
    .bind(status)
    .bind(MAX_LIST_ROWS)
    .fetch_all(&state.engine.db.pool)
    .await?;
    let questions = rows.iter().map(question_json).collect::<Result<Vec<Value>, ApiError>>()?;
    Ok(Json(json!({ "questions": questions })))
}

/// `GET /api/bank/questions/{id}`: one question version and its review history, oldest
/// step first.
pub async fn show_question(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    staff_account(&caller)?;
    let row = sqlx::query("SELECT id, item_code, course_version, status, author, submitted_by, body FROM questions WHERE id = $1")
        .bind(&id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("bank.not_found"))?;
    let mut question = question_json(&row)?;
    let history = sqlx::query("SELECT action, from_status, to_status, actor, reason, at FROM bank_history WHERE subject_kind = 'question' AND subject_id = $1 ORDER BY at, id")
        .bind(&id)
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut steps = Vec::with_capacity(history.len());
    for step in history {
        steps.push(json!({
            "action": step.try_get::<String, _>(0)?,
            "from_status": step.try_get::<Option<String>, _>(1)?,
            "to_status": step.try_get::<String, _>(2)?,
            "actor": step.try_get::<String, _>(3)?,
            "reason": step.try_get::<Option<String>, _>(4)?,
            "at": step.try_get::<i64, _>(5)?,
        }));
    }
    question["history"] = Value::Array(steps);
    Ok(Json(question))
}

fn question_json(row: &sqlx::any::AnyRow) -> Result<Value, ApiError> {
    let question: Question = serde_json::from_str(&row.try_get::<String, _>(6)?)?;
    let status: String = row.try_get(3)?;
    Ok(json!({
        "id": row.try_get::<String, _>(0)?,
        "question_id": question.id,
        "version": question.version,
        "item_code": row.try_get::<String, _>(1)?,
        "course_code": question.course_code,
        "course_version": row.try_get::<i64, _>(2)?,
        "type": question.kind,
        "stem": question.stem,
        "options": question.options,
        "answer": question.answer,
        "explanation": question.explanation,
        "difficulty": question.difficulty,
        "status_label": status_label(&status),
        "status": status,
        "author": row.try_get::<String, _>(4)?,
        "submitted_by": row.try_get::<Option<String>, _>(5)?,
    }))
}

/// Returns the status filter, empty for none, rejecting unknown statuses.
pub(super) fn checked_status(status: Option<&str>) -> Result<&str, ApiError> {
    match status {
        None | Some("") => Ok(""),
        Some(text) => match BankStatus::parse(text) {
            Some(status) => Ok(status.as_str()),
            None => Err(ApiError::invalid("bank.status_unknown").field("status").arg("value", text)),
        },
    }
}

pub(super) fn status_label(status: &str) -> String {
    BankStatus::parse(status).map(|status| domain::messages::text(current_locale(), status.message_code(), &[])).unwrap_or_else(|| status.to_string())
}
