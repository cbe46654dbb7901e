//! The attendance list (签到表) of a training event, matched row by row to the unit's
//! operators who are enrolled for the event's year and item. Rows that match replace
//! the event's attendees; every other row is returned with the reason and the fix.

use std::collections::HashSet;

use domain::identity::{normalize_id_number, normalize_name};
use domain::training::{AttendanceError, AttendanceRow};
use serde_json::{Value, json};
use sqlx::Row;

use super::events::EventRow;
use crate::db::Tx;
use crate::error::{ApiError, text};
use crate::AppState;

/// Maps an unreadable list to the API error naming the fix.
pub fn read_error(error: AttendanceError) -> ApiError {
    match error {
        AttendanceError::Unreadable(detail) => ApiError::invalid("training.attendance_unreadable").field("file").arg("detail", detail),
        AttendanceError::NoHeader => ApiError::invalid("training.attendance_no_header").field("file"),
        AttendanceError::Empty => ApiError::invalid("training.attendance_empty").field("file"),
    }
}

/// Replaces the event's attendees with the rows that match, inside `tx`; returns the
/// counts and each row's outcome.
pub async fn replace(state: &AppState, tx: &mut Tx, event: &EventRow, rows: &[AttendanceRow]) -> Result<Value, ApiError> {
    sqlx::query("DELETE FROM training_attendees WHERE event_id = $1").bind(&event.id).execute(&mut **tx).await?;
    let today = state.today();
    let mut seen = HashSet::new();
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut accepted = 0;
    for row in rows {
        let result = match_row(tx, event, row, today, &mut seen).await?;
        match result {
            Ok((operator_id, enrollment_id)) => {
                sqlx::query("INSERT INTO training_attendees (event_id, operator_id, enrollment_id, line) VALUES ($1, $2, $3, $4)")
                    .bind(&event.id)
                    .bind(&operator_id)
                    .bind(&enrollment_id)
                    .bind(row.line as i64)
                    .execute(&mut **tx)
                    .await?;
                accepted += 1;
                outcomes.push(json!({ "line": row.line, "outcome": "accepted", "operator_id": operator_id }));
            }
            Err((code, message)) => outcomes.push(json!({ "line": row.line, "outcome": "rejected", "code": code, "message": message })),
        }
    }
    tracing::info!(event = %event.id, accepted, rejected = rows.len() - accepted, "attendance list read");
    Ok(json!({ "accepted": accepted, "rejected": rows.len() - accepted, "rows": outcomes }))
}

/// Returns the operator and enrollment of one row, or the code and message of why the
/// row does not count. `seen` contains the ID numbers of rows accepted so far.
async fn match_row(
    tx: &mut Tx,
    event: &EventRow,
    row: &AttendanceRow,
    today: chrono::NaiveDate,
    seen: &mut HashSet<String>,
) -> Result<Result<(String, String), (&'static str, String)>, ApiError> {
    let line = row.line.to_string();
    let reject = |code: &'static str| Ok(Err((code, text(code, &[("line", line.as_str())]))));
    let Ok(id_number) = normalize_id_number(&row.id_number, today) else {
        return reject("training.row_id_number_invalid");
    };
    if seen.contains(id_number.as_str()) {
        return reject("training.row_repeated");
    }
    let operator = sqlx::query("SELECT id, name, unit_id FROM operators WHERE id_number = $1").bind(id_number.as_str()).fetch_optional(&mut **tx).await?;
    let Some(operator) = operator.filter(|operator| operator.try_get::<Option<String>, _>("unit_id").ok().flatten().as_deref() == Some(event.unit_id.as_str())) else {
        return reject("training.row_not_in_unit");
    };
    let stored_name: Option<String> = operator.try_get("name")?;
    let written_name = normalize_name(&row.name).map(|name| name.as_str().to_string()).ok();
    if written_name.is_none() || written_name != stored_name {
        return reject("training.row_name_mismatch");
    }
    let operator_id: String = operator.try_get("id")?;
    let enrollment: Option<String> = sqlx::query_scalar("SELECT id FROM enrollments WHERE operator_id = $1 AND year = $2 AND item_code = $3")
        .bind(&operator_id)
        .bind(event.year)
        .bind(&event.item_code)
        .fetch_optional(&mut **tx)
        .await?;
    match enrollment {
        Some(enrollment_id) => {
            seen.insert(id_number.as_str().to_string());
            Ok(Ok((operator_id, enrollment_id)))
        }
        None => reject("training.row_not_enrolled"),
    }
}
