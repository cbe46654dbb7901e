//! Study progress of an enrollment: which courses are completed and credited.
//!
//! A course is completed when the `cleared` study sessions reported for it cover at
//! least the course's minimum minutes. Overlapping sessions of one course count once,
//! because one person cannot study the same course twice at the same time. A course is credited
//! when `credits` has a row for it that was not withdrawn.
//! The workers count completed courses with the same rule (`domain::study`).

use std::collections::{HashMap, HashSet};

use domain::courseware::{Course, Courseware};
use domain::study::covered_ms;
use serde::Serialize;
use sqlx::Row;

use crate::error::ApiError;
use crate::AppState;

/// One course of an enrollment and how far the operator got.
#[derive(Clone, Debug, Serialize)]
pub struct CourseProgress {
    pub code: String,
    pub title: String,
    pub minimum_minutes: u32,
    /// Minutes covered by cleared sessions, rounded down.
    pub studied_minutes: i64,
    pub completed: bool,
    pub credited: bool,
}

/// Returns the courses of `item_code` that count in `year`.
// NOTE: this reads the bundled courseware, but screening reads the published course
// versions in `courses`. A course version published through the bank with other minutes
// or a new code is not seen here until the courseware file carries it too.
pub fn courses_for<'a>(courseware: &'a Courseware, item_code: &str, year: i32) -> Vec<&'a Course> {
    courseware
        .item(item_code)
        .map(|item| item.courses.iter().filter(|course| course.years.contains(&year)).collect())
        .unwrap_or_default()
}

/// Returns the progress of every course of the enrollment, in courseware order.
pub async fn course_progress(state: &AppState, enrollment_id: &str, item_code: &str, year: i32) -> Result<Vec<CourseProgress>, ApiError> {
    let rows = sqlx::query("SELECT course_code, started_at, ended_at FROM study_sessions WHERE enrollment_id = $1 AND status = 'cleared'")
        .bind(enrollment_id)
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut intervals: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for row in rows {
        let course: String = row.try_get("course_code")?;
        intervals.entry(course).or_default().push((row.try_get("started_at")?, row.try_get("ended_at")?));
    }

    let credited: HashSet<String> = sqlx::query_scalar("SELECT course_code FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL")
        .bind(enrollment_id)
        .fetch_all(&state.engine.db.pool)
        .await?
        .into_iter()
        .collect();

    Ok(courses_for(&state.courseware, item_code, year)
        .into_iter()
        .map(|course| {
            let studied_minutes = intervals.remove(&course.code).map(covered_ms).unwrap_or(0) / 60_000;
            CourseProgress {
                code: course.code.clone(),
                title: course.title.clone(),
                minimum_minutes: course.minutes,
                studied_minutes,
                completed: studied_minutes >= i64::from(course.minutes),
                credited: credited.contains(&course.code),
            }
        })
        .collect())
}
