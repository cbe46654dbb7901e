//! Reads of the field's records that several workers share: the operator behind an
//! instance, the enrollment of an annual instance, unit admins, completed and credited
//! courses.

use std::collections::BTreeMap;

use domain::study::completes_course;
use serde_json::Value;
use sqlx::{AnyConnection, AnyPool, Row};

/// The parts of an operator a notification or a record needs.
#[derive(Clone, Debug, Default)]
pub struct OperatorRow {
    pub id: String,
    pub mobile: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub unit_id: Option<String>,
    pub id_number: Option<String>,
}

const OPERATOR_COLUMNS: &str = "id, mobile, name, email, unit_id, id_number";

fn operator_from_row(row: &sqlx::any::AnyRow) -> OperatorRow {
    OperatorRow {
        id: row.get(0),
        mobile: row.get(1),
        name: row.get(2),
        email: row.get(3),
        unit_id: row.get(4),
        id_number: row.get(5),
    }
}

/// Returns the operator an instance's subject names: `operator` (an id) or `mobile`.
pub async fn operator_of_subject(pool: &AnyPool, subject: &Value) -> Result<Option<OperatorRow>, sqlx::Error> {
    let (column, value) = if let Some(id) = subject.get("operator").and_then(Value::as_str) {
        ("id", id)
    } else if let Some(mobile) = subject.get("mobile").and_then(Value::as_str) {
        ("mobile", mobile)
    } else {
        return Ok(None);
    };
    let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE {column} = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(pool).await?;
    Ok(row.as_ref().map(operator_from_row))
}

/// Returns (mobile, email) of every admin of `unit_id`.
pub async fn unit_admins(pool: &AnyPool, unit_id: &str) -> Result<Vec<(Option<String>, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query("SELECT mobile, email FROM accounts WHERE role = 'unit_admin' AND unit_id = $1 ORDER BY created_at")
        .bind(unit_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Returns the unit of the operator's most recently ended affiliation.
pub async fn previous_unit(pool: &AnyPool, operator_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT unit_id FROM affiliations WHERE operator_id = $1 AND ended_at IS NOT NULL ORDER BY ended_at DESC, id DESC LIMIT 1")
        .bind(operator_id)
        .fetch_optional(pool)
        .await
}

/// An enrollment with what the annual jobs need of it.
#[derive(Clone, Debug)]
pub struct EnrollmentRow {
    pub id: String,
    pub operator_id: String,
    pub year: i64,
    pub item_code: String,
}

/// Returns the enrollment behind an `annual_ce` instance.
pub async fn enrollment_of_instance(pool: &AnyPool, instance_id: &str) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    let row = sqlx::query("SELECT id, operator_id, year, item_code FROM enrollments WHERE instance_id = $1")
        .bind(instance_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|row| EnrollmentRow { id: row.get(0), operator_id: row.get(1), year: row.get(2), item_code: row.get(3) }))
}

/// Returns the codes of courses the enrollment has completed: those whose cleared
/// sessions cover at least the course's minimum minutes (`domain::study`), and those
/// credited by an approved internal training event.
pub async fn completed_courses(pool: &AnyPool, enrollment: &EnrollmentRow) -> Result<Vec<String>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    completed_courses_in(&mut conn, enrollment).await
}

/// Returns the completed courses like [`completed_courses`], read on `conn`, such as a
/// transaction that has just changed sessions or credits.
pub async fn completed_courses_in(conn: &mut AnyConnection, enrollment: &EnrollmentRow) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.course_code, s.started_at, s.ended_at, c.minutes FROM study_sessions s
         JOIN courses c ON c.item_code = $2 AND c.year = $3 AND c.code = s.course_code
         WHERE s.enrollment_id = $1 AND s.status = 'cleared'",
    )
    .bind(&enrollment.id)
    .bind(&enrollment.item_code)
    .bind(enrollment.year)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_course: BTreeMap<String, (u32, Vec<(i64, i64)>)> = BTreeMap::new();
    for row in &rows {
        let minutes: i64 = row.get(3);
        let entry = by_course.entry(row.get(0)).or_insert_with(|| (minutes as u32, Vec::new()));
        entry.1.push((row.get(1), row.get(2)));
    }
    let mut completed: std::collections::BTreeSet<String> = by_course
        .into_iter()
        .filter(|(_, (minutes, intervals))| completes_course(intervals.clone(), *minutes))
        .map(|(course, _)| course)
        .collect();
    completed.extend(training_courses(&mut *conn, &enrollment.id).await?);
    Ok(completed.into_iter().collect())
}

/// Prefix of `credits.attempt_id` for credits awarded by an internal training event:
/// `training:<event id>`.
pub const TRAINING_CREDIT_PREFIX: &str = "training:";

/// Returns the courses of the enrollment whose standing credit came from an approved
/// internal training event. They count as completed, because the operator attended
/// them in person, and no review of platform study sessions withdraws them.
pub async fn training_courses<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E, enrollment_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT course_code FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL AND attempt_id LIKE 'training:%' ORDER BY course_code")
        .bind(enrollment_id)
        .fetch_all(executor)
        .await
}

/// Counts the enrollment's credits that are not withdrawn.
pub async fn credit_count<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E, enrollment_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL")
        .bind(enrollment_id)
        .fetch_one(executor)
        .await
}
