//! xlsx import and export of the bank, one row per question (the columns are in
//! `domain::bank::SHEET_COLUMNS`).
//!
//! Import checks every row and reports each one: accepted rows become draft questions
//! awaiting review, in one transaction; rejected rows name the row and the reason in
//! zh-CN (or English). A stem that the same course already has, in the bank or on an
//! earlier row of the sheet, is reported and not imported twice.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use domain::bank::{RowProblem, read_sheet, stem_key, write_sheet};
use domain::courseware::Question;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workers::bank_store::{insert_question, record_history};

use super::authoring::{default_course_version, duplicate_stem, new_question_key};
use super::listing::{checked_status, status_label};
use super::{bank_error, staff_account};
use crate::AppState;
use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::db::{Tx, lock_key};
use crate::error::{ApiError, current_locale};
use crate::extract::{Json, Query};
use crate::units::read_upload;

const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Deserialize)]
pub struct ImportQuery {
    file_name: Option<String>,
}

/// `POST /api/bank/import`: imports an xlsx sheet sent as multipart (field `file`) or as
/// the raw body. Returns `{accepted, rejected, rows: [{line, outcome, id?, message?}]}`.
pub async fn import(State(state): State<AppState>, caller: Allowed<Staff>, Query(query): Query<ImportQuery>, request: Request) -> Result<Json<Value>, ApiError> {
    let author = staff_account(&caller)?;
    let (bytes, file_name) = read_upload(&state, request, query.file_name).await?;
    let rows = read_sheet(&bytes).map_err(bank_error)?;
    let locale = current_locale();
    let now_ms = state.now_ms();

    // Checks against the bank and the inserts share one transaction, so two imports of
    // the same sheet cannot both add a stem.
    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, "bank_import").await?;
    let mut items_by_course: HashMap<String, Result<String, RowProblem>> = HashMap::new();
    let mut seen_stems: HashMap<(String, String, String), usize> = HashMap::new();
    let mut report = Vec::with_capacity(rows.len());
    let (mut accepted, mut rejected) = (0, 0);
    for row in rows {
        let outcome = match row.question {
            Err(problem) => Err(problem),
            Ok(draft) => {
                let item = match items_by_course.get(&draft.course_code) {
                    Some(item) => item.clone(),
                    None => {
                        let item = course_item(&mut tx, &draft.course_code).await?;
                        items_by_course.insert(draft.course_code.clone(), item.clone());
                        item
                    }
                };
                match item {
                    Err(problem) => Err(problem),
                    Ok(item_code) => {
                        let key = stem_key(&draft.stem);
                        let sheet_key = (item_code.clone(), draft.course_code.clone(), key.clone());
                        if let Some(&line) = seen_stems.get(&sheet_key) {
                            Err(RowProblem::StemDuplicateInSheet { line })
                        } else if let Some(question) = duplicate_stem(&mut tx, &item_code, &draft.course_code, &key, "").await? {
                            Err(RowProblem::StemDuplicateInBank { question })
                        } else {
                            seen_stems.insert(sheet_key, row.line);
                            let course_version = default_course_version(&mut tx, &item_code, &draft.course_code).await?.unwrap_or(1);
                            let question = draft.into_question(new_question_key(&row.course_code), 1);
                            let id = insert_question(&mut tx, &item_code, course_version, &question, "draft", &author, now_ms).await?;
                            record_history(&mut tx, "question", &id, "imported", None, "draft", &author, Some(&file_name), now_ms).await?;
                            Ok(id)
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(id) => {
                accepted += 1;
                report.push(json!({ "line": row.line, "outcome": "accepted", "id": id, "course_code": row.course_code }));
            }
            Err(problem) => {
                rejected += 1;
                report.push(json!({
                    "line": row.line,
                    "outcome": "rejected",
                    "course_code": row.course_code,
                    "code": problem.code(),
                    "message": problem.message(locale, row.line),
                }));
            }
        }
    }
    tx.commit().await?;

    tracing::info!(author = %author, file = %file_name, accepted, rejected, "bank sheet imported");
    Ok(Json(json!({ "file_name": file_name, "accepted": accepted, "rejected": rejected, "status": "draft", "rows": report })))
}

/// Finds the operation item of a course code among the course versions.
async fn course_item(tx: &mut Tx, course_code: &str) -> Result<Result<String, RowProblem>, ApiError> {
    let items: Vec<String> = sqlx::query_scalar("SELECT DISTINCT item_code FROM course_versions WHERE code = $1 ORDER BY item_code")
        .bind(course_code)
        .fetch_all(&mut **tx)
        .await?;
    Ok(match items.as_slice() {
        [] => Err(RowProblem::CourseUnknown { course: course_code.to_string() }),
        [item] => Ok(item.clone()),
        _ => Err(RowProblem::CourseAmbiguous { course: course_code.to_string(), items }),
    })
}

#[derive(Deserialize)]
pub struct ExportQuery {
    item_code: Option<String>,
    status: Option<String>,
}

/// `GET /api/bank/export?item_code=&status=`: the bank as an xlsx sheet, every question
/// version that is not retired unless `status` asks for one status.
pub async fn export(State(state): State<AppState>, caller: Allowed<Staff>, Query(query): Query<ExportQuery>) -> Result<Response, ApiError> {
    staff_account(&caller)?;
    let status = checked_status(query.status.as_deref())?;
    let item_code = query.item_code.unwrap_or_default();
    let rows = sqlx::query(
        "SELECT body, status FROM questions
         WHERE ($1 = '' OR item_code = $1) AND (($2 = '' AND status <> 'retired') OR status = $2)
         ORDER BY item_code, course_code, question_key, version",
    )
    .bind(&item_code)
    .bind(status)
    .fetch_all(&state.engine.db.pool)
    .await?;
    let mut questions = Vec::with_capacity(rows.len());
    for row in rows {
        let question: Question = serde_json::from_str(&row.try_get::<String, _>(0)?)?;
        questions.push((question, status_label(&row.try_get::<String, _>(1)?)));
    }
    let bytes = tokio::task::spawn_blocking(move || write_sheet(&questions)).await.map_err(ApiError::internal)?.map_err(bank_error)?;

    let file_name = if item_code.is_empty() { "question-bank.xlsx".to_string() } else { format!("question-bank-{item_code}.xlsx") };
    Ok(([(CONTENT_TYPE, XLSX_CONTENT_TYPE.to_string()), (CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\""))], bytes).into_response())
}
