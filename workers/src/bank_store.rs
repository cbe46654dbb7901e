//! The question bank in the database, as exams and the bank's review read and write
//! it: course versions, question versions and their review history (migration 0003).
//!
//! Papers draw only published questions of the published version of each course.
//! Grading reads the exact question versions a paper names, whatever their status
//! now, so retiring or replacing a question never changes an issued paper.

use std::collections::{HashMap, HashSet};

use domain::bank::stem_key;
use domain::courseware::{Answer, Course, Question};
use domain::exam::Paper;
use sqlx::{Any, AnyPool, Row, Transaction};

/// Author of the rows seeded from the bundled courseware.
pub const SEED_AUTHOR: &str = "seed";

/// Returns the id of a course version, `{item}:{year}:{code}@{version}`.
pub fn course_version_id(item_code: &str, year: i32, code: &str, version: u32) -> String {
    format!("{item_code}:{year}:{code}@{version}")
}

/// Returns the id of a question version, `{question_key}@{version}`.
pub fn question_version_id(question_key: &str, version: u32) -> String {
    format!("{question_key}@{version}")
}

/// Appends one review step to `bank_history`.
#[allow(clippy::too_many_arguments)]
pub async fn record_history(
    tx: &mut Transaction<'static, Any>,
    subject_kind: &str,
    subject_id: &str,
    action: &str,
    from_status: Option<&str>,
    to_status: &str,
    actor: &str,
    reason: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bank_history (id, subject_kind, subject_id, action, from_status, to_status, actor, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(subject_kind)
    .bind(subject_id)
    .bind(action)
    .bind(from_status)
    .bind(to_status)
    .bind(actor)
    .bind(reason)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts question version `question` (its `id` is the question key) with `status`
/// and returns the version id.
pub async fn insert_question(
    tx: &mut Transaction<'static, Any>,
    item_code: &str,
    course_version: u32,
    question: &Question,
    status: &str,
    author: &str,
    now_ms: i64,
) -> Result<String, sqlx::Error> {
    let id = question_version_id(&question.id, question.version);
    let body = serde_json::to_string(question).map_err(|error| sqlx::Error::Protocol(error.to_string()))?;
    let kind = serde_json::to_value(question.kind).ok().and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
    sqlx::query(
        "INSERT INTO questions (id, question_key, version, item_code, course_code, course_version, kind, difficulty, stem_key, body, status, author, submitted_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $13)",
    )
    .bind(&id)
    .bind(&question.id)
    .bind(i64::from(question.version))
    .bind(item_code)
    .bind(&question.course_code)
    .bind(i64::from(course_version))
    .bind(kind)
    .bind(i64::from(question.difficulty))
    .bind(stem_key(&question.stem))
    .bind(body)
    .bind(status)
    .bind(author)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Makes the `courses` row of (item, year, code) match its published course version,
/// or marks it retired when no version is published. Study screening reads minimum
/// minutes from `courses`.
pub async fn sync_published_course(tx: &mut Transaction<'static, Any>, item_code: &str, year: i32, code: &str) -> Result<(), sqlx::Error> {
    let published: Option<(String, i64, i64)> =
        sqlx::query_as("SELECT title, minutes, version FROM course_versions WHERE item_code = $1 AND year = $2 AND code = $3 AND status = 'published'")
            .bind(item_code)
            .bind(i64::from(year))
            .bind(code)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((title, minutes, version)) = published else {
        sqlx::query("UPDATE courses SET status = 'retired' WHERE item_code = $1 AND year = $2 AND code = $3")
            .bind(item_code)
            .bind(i64::from(year))
            .bind(code)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    };
    let updated = sqlx::query("UPDATE courses SET title = $4, minutes = $5, version = $6, status = 'published' WHERE item_code = $1 AND year = $2 AND code = $3")
        .bind(item_code)
        .bind(i64::from(year))
        .bind(code)
        .bind(&title)
        .bind(minutes)
        .bind(version)
        .execute(&mut **tx)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO courses (item_code, year, code, title, minutes, version, status) VALUES ($1, $2, $3, $4, $5, $6, 'published')")
            .bind(item_code)
            .bind(i64::from(year))
            .bind(code)
            .bind(&title)
            .bind(minutes)
            .bind(version)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Loads the published version of each course in `codes` for (item, year) with its
/// published questions, in the order of `codes`. A code without a published version
/// is left out; a course without published questions comes back with none.
pub async fn published_courses(pool: &AnyPool, item_code: &str, year: i32, codes: &[String]) -> Result<Vec<Course>, sqlx::Error> {
    let rows = sqlx::query("SELECT code, version, title, minutes FROM course_versions WHERE item_code = $1 AND year = $2 AND status = 'published'")
        .bind(item_code)
        .bind(i64::from(year))
        .fetch_all(pool)
        .await?;
    let wanted: HashSet<&str> = codes.iter().map(String::as_str).collect();
    let mut courses: HashMap<String, Course> = HashMap::new();
    for row in rows {
        let code: String = row.get(0);
        if !wanted.contains(code.as_str()) {
            continue;
        }
        let course = Course {
            item_code: item_code.to_string(),
            code: code.clone(),
            title: row.get(2),
            minutes: u32::try_from(row.get::<i64, _>(3)).unwrap_or(0),
            version: u32::try_from(row.get::<i64, _>(1)).unwrap_or(0),
            years: vec![year],
            questions: Vec::new(),
        };
        courses.insert(code, course);
    }

    let questions = sqlx::query("SELECT course_code, course_version, body FROM questions WHERE item_code = $1 AND status = 'published'")
        .bind(item_code)
        .fetch_all(pool)
        .await?;
    for row in questions {
        let code: String = row.get(0);
        let Some(course) = courses.get_mut(&code) else { continue };
        if row.get::<i64, _>(1) != i64::from(course.version) {
            continue;
        }
        let question: Question = serde_json::from_str(&row.get::<String, _>(2)).map_err(|error| sqlx::Error::Protocol(format!("stored question: {error}")))?;
        course.questions.push(question);
    }

    let mut ordered = Vec::with_capacity(codes.len());
    for code in codes {
        if let Some(mut course) = courses.remove(code) {
            // Rows come back in no set order; sorting keeps a seeded draw repeatable.
            course.questions.sort_by(|a, b| a.id.cmp(&b.id));
            ordered.push(course);
        }
    }
    Ok(ordered)
}

/// Loads the exact question versions a paper shows, by question id (the stable key),
/// whatever their status now.
pub async fn paper_questions(pool: &AnyPool, paper: &Paper) -> Result<HashMap<String, Question>, sqlx::Error> {
    let ids: Vec<String> = paper.questions.iter().map(|question| question.version_id()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|index| format!("${index}")).collect();
    let sql = format!("SELECT body FROM questions WHERE id IN ({})", placeholders.join(", "));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        query = query.bind(id);
    }
    let mut questions = HashMap::with_capacity(ids.len());
    for row in query.fetch_all(pool).await? {
        let question: Question = serde_json::from_str(&row.get::<String, _>(0)).map_err(|error| sqlx::Error::Protocol(format!("stored question: {error}")))?;
        questions.insert(question.id.clone(), question);
    }
    Ok(questions)
}

/// Returns the answer key of a paper: the correct answer of each question version it
/// shows, by question id.
pub async fn paper_answer_key(pool: &AnyPool, paper: &Paper) -> Result<HashMap<String, Answer>, sqlx::Error> {
    Ok(paper_questions(pool, paper).await?.into_iter().map(|(id, question)| (id, question.answer)).collect())
}
