//! Creating drafts: a new course version, a new question, or a new version of an
//! existing question. A draft is drawn by no paper until another staff member approves
//! it (see `review`).

use axum::extract::State;
use axum::http::StatusCode;
use domain::bank::{check_question, stem_key};
use domain::courseware::QuestionKind;
use serde::Deserialize;
use serde_json::{Value, json};
use workers::bank_store::{course_version_id, insert_question, record_history};

use super::staff_account;
use crate::AppState;
use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::db::{Tx, lock_key, new_id};
use crate::error::{ApiError, current_locale};
use crate::extract::Json;

#[derive(Deserialize)]
pub struct NewCourse {
    item_code: String,
    year: i32,
    code: String,
    title: String,
    /// Minimum study minutes.
    minutes: u32,
}

/// `POST /api/bank/courses {item_code, year, code, title, minutes}`: creates the next
/// version of the course for that year as a draft (version 1 for a new course).
pub async fn create_course(State(state): State<AppState>, caller: Allowed<Staff>, Json(request): Json<NewCourse>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let author = staff_account(&caller)?;
    let code = request.code.trim().to_string();
    let title = request.title.trim().to_string();
    if state.catalogue.item(&request.item_code).is_none() {
        return Err(ApiError::invalid("bank.item_unknown").field("item_code").arg("item", &request.item_code));
    }
    for (field, value) in [("code", &code), ("title", &title)] {
        if value.is_empty() {
            let detail = domain::courseware::CoursewareProblem::FieldEmpty { field }.text(current_locale());
            return Err(ApiError::invalid("bank.course_invalid").field(field).arg("detail", detail));
        }
    }
    if request.minutes == 0 {
        let detail = domain::courseware::CoursewareProblem::MinutesZero.text(current_locale());
        return Err(ApiError::invalid("bank.course_invalid").field("minutes").arg("detail", detail));
    }
    if !(2000..=2100).contains(&request.year) {
        let detail = domain::courseware::CoursewareProblem::YearInvalid { year: request.year }.text(current_locale());
        return Err(ApiError::invalid("bank.course_invalid").field("year").arg("detail", detail));
    }

    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, &format!("bank_course:{}:{}:{code}", request.item_code, request.year)).await?;
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM course_versions WHERE item_code = $1 AND year = $2 AND code = $3")
        .bind(&request.item_code)
        .bind(i64::from(request.year))
        .bind(&code)
        .fetch_one(&mut *tx)
        .await?;
    let version = u32::try_from(latest.unwrap_or(0) + 1).unwrap_or(u32::MAX);
    let id = course_version_id(&request.item_code, request.year, &code, version);
    sqlx::query(
        "INSERT INTO course_versions (id, item_code, year, code, version, title, minutes, status, author, submitted_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, NULL, $9, $9)",
    )
    .bind(&id)
    .bind(&request.item_code)
    .bind(i64::from(request.year))
    .bind(&code)
    .bind(i64::from(version))
    .bind(&title)
    .bind(i64::from(request.minutes))
    .bind(&author)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    record_history(&mut tx, "course", &id, "created", None, "draft", &author, None, now_ms).await?;
    tx.commit().await?;

    tracing::info!(course_version = %id, author = %author, "course version drafted");
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "version": version, "status": "draft" }))))
}

#[derive(Deserialize)]
pub struct NewQuestion {
    item_code: String,
    course_code: String,
    /// The course version the question belongs to; by default the course's latest
    /// published version, or its latest draft when none is published.
    course_version: Option<u32>,
    #[serde(rename = "type")]
    kind: String,
    stem: String,
    options: Option<Vec<String>>,
    /// Letters (`B`, `ACD`) or `true`/`false`.
    answer: String,
    explanation: String,
    difficulty: u8,
    /// The question key (`T-01-2`) this draft is a new version of.
    replaces: Option<String>,
}

/// `POST /api/bank/questions {item_code, course_code, type, stem, options, answer,
/// explanation, difficulty, course_version?, replaces?}`: creates a draft question, or
/// the next version of question `replaces`. Rejects a stem that another question of
/// the course already has.
pub async fn create_question(State(state): State<AppState>, caller: Allowed<Staff>, Json(request): Json<NewQuestion>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let author = staff_account(&caller)?;
    let kind: QuestionKind = serde_json::from_value(json!(request.kind))
        .map_err(|_| ApiError::invalid("bank.kind_unknown").field("type").arg("value", &request.kind))?;
    let course_code = request.course_code.trim().to_string();
    let draft = check_question(course_code.clone(), kind, request.stem.trim().to_string(), request.options, &request.answer, request.explanation.trim().to_string(), request.difficulty)
        .map_err(|problem| ApiError::invalid("bank.question_invalid").arg("detail", problem.text(current_locale())))?;

    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, &format!("bank_questions:{}:{course_code}", request.item_code)).await?;
    let course_version = match request.course_version {
        Some(version) => version,
        None => default_course_version(&mut tx, &request.item_code, &course_code).await?.ok_or_else(|| {
            ApiError::not_found("bank.course_unknown").field("course_code").arg("item", &request.item_code).arg("course", &course_code)
        })?,
    };

    let (key, version) = match &request.replaces {
        Some(key) => {
            let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM questions WHERE question_key = $1").bind(key).fetch_one(&mut *tx).await?;
            let latest = latest.ok_or_else(|| ApiError::not_found("bank.question_key_unknown").field("replaces").arg("question", key))?;
            (key.clone(), u32::try_from(latest + 1).unwrap_or(u32::MAX))
        }
        None => (new_question_key(&course_code), 1),
    };
    if let Some(existing) = duplicate_stem(&mut tx, &request.item_code, &course_code, &stem_key(&draft.stem), &key).await? {
        return Err(ApiError::conflict("bank.stem_duplicate").field("stem").arg("course", &course_code).arg("question", existing));
    }

    let question = draft.into_question(key, version);
    let id = insert_question(&mut tx, &request.item_code, course_version, &question, "draft", &author, now_ms).await?;
    record_history(&mut tx, "question", &id, "created", None, "draft", &author, None, now_ms).await?;
    tx.commit().await?;

    tracing::info!(question = %id, author = %author, "question drafted");
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "question_id": question.id, "version": version, "course_version": course_version, "status": "draft" }))))
}

/// Returns a new question key for a course, such as `T-01-0193a7c2e5`.
pub(super) fn new_question_key(course_code: &str) -> String {
    let id = new_id().replace('-', "");
    // The UUID v7's random tail keeps keys of one import distinct.
    format!("{course_code}-{}", &id[id.len() - 10..])
}

/// Returns the course version new questions of a course join: the highest published
/// version across years, else the highest version not retired.
pub(super) async fn default_course_version(tx: &mut Tx, item_code: &str, course_code: &str) -> Result<Option<u32>, ApiError> {
    for condition in ["status = 'published'", "status <> 'retired'"] {
        let sql = format!("SELECT MAX(version) FROM course_versions WHERE item_code = $1 AND code = $2 AND {condition}");
        let version: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(item_code).bind(course_code).fetch_one(&mut **tx).await?;
        if let Some(version) = version {
            return Ok(u32::try_from(version).ok());
        }
    }
    Ok(None)
}

/// Returns the key of another question of the course with the same stem key that is
/// not retired.
pub(super) async fn duplicate_stem(tx: &mut Tx, item_code: &str, course_code: &str, stem_key: &str, own_key: &str) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT question_key FROM questions WHERE item_code = $1 AND course_code = $2 AND stem_key = $3 AND status <> 'retired' AND question_key <> $4 LIMIT 1",
    )
    .bind(item_code)
    .bind(course_code)
    .bind(stem_key)
    .bind(own_key)
    .fetch_optional(&mut **tx)
    .await?)
}
