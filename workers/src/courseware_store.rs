//! Seeds the question bank from the bundled courseware (`definitions/courseware`): one
//! published course version per course and year, and one published question version
//! per question. Seeding again is a no-op for unchanged content. A course whose file
//! version went up gets the new version published and the old one retired; a question
//! whose content changed gets a new version, and the old one is retired, so papers
//! already issued keep pointing at what they showed.
//!
//! Every row the seed writes is authored by `seed` and recorded in `bank_history`.

use domain::courseware::{Course, Courseware, Question};
use sqlx::{Any, Row, Transaction};
use workflows::db::Db;

use crate::bank_store::{SEED_AUTHOR, course_version_id, record_history, sync_published_course};

/// Stores every course and question at `now_ms` (the engine clock's time); returns
/// (course versions, question versions) written.
pub async fn store_courseware(db: &Db, courseware: &Courseware, now_ms: i64) -> Result<(usize, usize), sqlx::Error> {
    let mut courses_written = 0;
    let mut questions_written = 0;
    let mut tx = db.begin_write().await?;
    for item in &courseware.items {
        for course in &item.courses {
            for &year in &course.years {
                if seed_course_version(&mut tx, course, year, now_ms).await? {
                    courses_written += 1;
                }
            }
            for question in &course.questions {
                if seed_question(&mut tx, course, question, now_ms).await? {
                    questions_written += 1;
                }
            }
        }
    }
    tx.commit().await?;
    Ok((courses_written, questions_written))
}

/// Writes the course's version for `year` unless it is stored already or staff
/// published a later one. Returns whether anything was written.
async fn seed_course_version(tx: &mut Transaction<'static, Any>, course: &Course, year: i32, now_ms: i64) -> Result<bool, sqlx::Error> {
    let id = course_version_id(&course.item_code, year, &course.code, course.version);
    let existing = sqlx::query("SELECT title, minutes, status, author FROM course_versions WHERE id = $1").bind(&id).fetch_optional(&mut **tx).await?;
    if let Some(row) = existing {
        let unchanged = row.get::<String, _>(0) == course.title && row.get::<i64, _>(1) == i64::from(course.minutes);
        if unchanged || row.get::<String, _>(3) != SEED_AUTHOR {
            return Ok(false);
        }
        // The file changed the title or minutes without a new version number.
        sqlx::query("UPDATE course_versions SET title = $1, minutes = $2, updated_at = $3 WHERE id = $4")
            .bind(&course.title)
            .bind(i64::from(course.minutes))
            .bind(now_ms)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        if row.get::<String, _>(2) == "published" {
            sync_published_course(tx, &course.item_code, year, &course.code).await?;
        }
        return Ok(true);
    }

    let published: Option<(String, i64)> = sqlx::query_as("SELECT id, version FROM course_versions WHERE item_code = $1 AND year = $2 AND code = $3 AND status = 'published'")
        .bind(&course.item_code)
        .bind(i64::from(year))
        .bind(&course.code)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some((_, version)) = &published {
        if *version > i64::from(course.version) {
            return Ok(false);
        }
    }
    if let Some((old_id, _)) = &published {
        sqlx::query("UPDATE course_versions SET status = 'retired', updated_at = $1 WHERE id = $2").bind(now_ms).bind(old_id).execute(&mut **tx).await?;
        record_history(tx, "course", old_id, "retired", Some("published"), "retired", SEED_AUTHOR, Some("superseded by a new courseware version"), now_ms).await?;
    }
    sqlx::query(
        "INSERT INTO course_versions (id, item_code, year, code, version, title, minutes, status, author, submitted_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'published', $8, NULL, $9, $9)",
    )
    .bind(&id)
    .bind(&course.item_code)
    .bind(i64::from(year))
    .bind(&course.code)
    .bind(i64::from(course.version))
    .bind(&course.title)
    .bind(i64::from(course.minutes))
    .bind(SEED_AUTHOR)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    record_history(tx, "course", &id, "seeded", None, "published", SEED_AUTHOR, None, now_ms).await?;
    sync_published_course(tx, &course.item_code, year, &course.code).await?;
    Ok(true)
}

/// Writes a question as a new published version unless the latest version the seed
/// wrote has the same content, so versions that staff published through the bank stay
/// in force until the file itself changes. Returns whether anything was written.
async fn seed_question(tx: &mut Transaction<'static, Any>, course: &Course, question: &Question, now_ms: i64) -> Result<bool, sqlx::Error> {
    let seeded_body: Option<String> = sqlx::query_scalar("SELECT body FROM questions WHERE question_key = $1 AND author = $2 ORDER BY version DESC LIMIT 1")
        .bind(&question.id)
        .bind(SEED_AUTHOR)
        .fetch_optional(&mut **tx)
        .await?;
    let seeded: Option<Question> = seeded_body.and_then(|body| serde_json::from_str(&body).ok());
    if seeded.is_some_and(|seeded| Question { version: question.version, ..seeded } == *question) {
        return Ok(false);
    }

    // The file changed (or the question is new): its text becomes the latest version and
    // replaces whichever version is published.
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM questions WHERE question_key = $1").bind(&question.id).fetch_one(&mut **tx).await?;
    let version = latest.unwrap_or(0) + 1;
    let published: Vec<String> = sqlx::query_scalar("SELECT id FROM questions WHERE question_key = $1 AND status = 'published'")
        .bind(&question.id)
        .fetch_all(&mut **tx)
        .await?;
    for old_id in published {
        sqlx::query("UPDATE questions SET status = 'retired', updated_at = $1 WHERE id = $2").bind(now_ms).bind(&old_id).execute(&mut **tx).await?;
        record_history(tx, "question", &old_id, "retired", Some("published"), "retired", SEED_AUTHOR, Some("superseded by a new courseware version"), now_ms).await?;
    }

    let stored = Question { version: u32::try_from(version).unwrap_or(u32::MAX), ..question.clone() };
    let id = crate::bank_store::insert_question(tx, &course.item_code, course.version, &stored, "published", SEED_AUTHOR, now_ms).await?;
    record_history(tx, "question", &id, "seeded", None, "published", SEED_AUTHOR, None, now_ms).await?;
    Ok(true)
}
