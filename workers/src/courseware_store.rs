//! Loads the courseware of `definitions/courseware` into the `courses` and `questions`
//! tables, one row per course and year and per question version. Loading again is a
//! no-op for unchanged content; a changed course updates its row, and a question whose
//! content changed is stored as a new version beside the old one, so papers already
//! issued keep pointing at what they showed.

use domain::courseware::Courseware;
use sqlx::Row;
use workflows::db::Db;

/// Stores every course and question; returns (courses, questions) written or updated.
pub async fn store_courseware(db: &Db, courseware: &Courseware) -> Result<(usize, usize), sqlx::Error> {
    let mut courses_written = 0;
    let mut questions_written = 0;
    let mut tx = db.begin_write().await?;
    for item in &courseware.items {
        for course in &item.courses {
            for year in &course.years {
                let existing = sqlx::query("SELECT title, minutes, version FROM courses WHERE item_code = $1 AND year = $2 AND code = $3")
                    .bind(&course.item_code)
                    .bind(i64::from(*year))
                    .bind(&course.code)
                    .fetch_optional(&mut *tx)
                    .await?;
                let unchanged = existing.as_ref().is_some_and(|row| {
                    row.get::<String, _>(0) == course.title && row.get::<i64, _>(1) == i64::from(course.minutes) && row.get::<i64, _>(2) == i64::from(course.version)
                });
                if unchanged {
                    continue;
                }
                let sql = if existing.is_some() {
                    "UPDATE courses SET title = $4, minutes = $5, version = $6, status = 'published' WHERE item_code = $1 AND year = $2 AND code = $3"
                } else {
                    "INSERT INTO courses (item_code, year, code, title, minutes, version, status) VALUES ($1, $2, $3, $4, $5, $6, 'published')"
                };
                sqlx::query(sql)
                    .bind(&course.item_code)
                    .bind(i64::from(*year))
                    .bind(&course.code)
                    .bind(&course.title)
                    .bind(i64::from(course.minutes))
                    .bind(i64::from(course.version))
                    .execute(&mut *tx)
                    .await?;
                courses_written += 1;
            }
            for question in &course.questions {
                let body = serde_json::to_string(question).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
                let latest = sqlx::query("SELECT version, body FROM questions WHERE id = $1 ORDER BY version DESC LIMIT 1")
                    .bind(&question.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let version = match &latest {
                    Some(row) if row.get::<String, _>(1) == body => continue,
                    Some(row) => row.get::<i64, _>(0) + 1,
                    None => 1,
                };
                sqlx::query("UPDATE questions SET status = 'retired' WHERE id = $1 AND status = 'published'").bind(&question.id).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO questions (id, version, item_code, course_code, body, status) VALUES ($1, $2, $3, $4, $5, 'published')")
                    .bind(&question.id)
                    .bind(version)
                    .bind(&course.item_code)
                    .bind(&course.code)
                    .bind(body)
                    .execute(&mut *tx)
                    .await?;
                questions_written += 1;
            }
        }
    }
    tx.commit().await?;
    Ok((courses_written, questions_written))
}
