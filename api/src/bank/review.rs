//! `POST /api/bank/{courses|questions}/{id}/review {action, reason?}`: one review step
//! on a course version or a question version.
//!
//! `action` is `submit` (draft → under_review), `approve` (→ published), `reject`
//! (→ draft, `reason` required) or `retire` (published → retired). Approving and
//! rejecting need a staff member other than the author and the submitter. Publishing
//! a version retires the version published before it (of the same course and year,
//! or of the same question), and publishing or retiring a course version updates the
//! `courses` row that study screening reads. Each step is one transaction that also
//! appends to `bank_history`.

use axum::extract::{Path, State};
use domain::bank::{BankStatus, ReviewAction, SubjectKind, next_status};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use workers::bank_store::{record_history, sync_published_course};

use super::{bank_error, staff_account};
use crate::AppState;
use crate::auth::allowed::Staff;
use crate::auth::{Allowed, Caller};
use crate::db::{Tx, lock_key};
use crate::error::ApiError;
use crate::extract::Json;

#[derive(Deserialize)]
pub struct ReviewRequest {
    action: ReviewAction,
    reason: Option<String>,
}

pub async fn review_course(State(state): State<AppState>, Path(id): Path<String>, caller: Allowed<Staff>, Json(request): Json<ReviewRequest>) -> Result<Json<Value>, ApiError> {
    review(&state, &caller, SubjectKind::Course, &id, request).await
}

pub async fn review_question(State(state): State<AppState>, Path(id): Path<String>, caller: Allowed<Staff>, Json(request): Json<ReviewRequest>) -> Result<Json<Value>, ApiError> {
    review(&state, &caller, SubjectKind::Question, &id, request).await
}

fn table(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Course => "course_versions",
        SubjectKind::Question => "questions",
    }
}

async fn review(state: &AppState, caller: &Caller, kind: SubjectKind, id: &str, request: ReviewRequest) -> Result<Json<Value>, ApiError> {
    let actor = staff_account(caller)?;
    let reason = request.reason.as_deref().map(str::trim).filter(|reason| !reason.is_empty());
    let now_ms = state.now_ms();

    // Load and check the step under the version's lock.
    let mut tx = state.engine.db.begin_write().await?;
    lock_key(&mut tx, state.engine.db.backend, &format!("bank:{id}")).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT status, author, submitted_by FROM {} WHERE id = $1", table(kind))))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("bank.not_found"))?;
    let status_text: String = row.try_get(0)?;
    let current = BankStatus::parse(&status_text).ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown bank status {status_text} on {id}")))?;
    let author: String = row.try_get(1)?;
    let submitter: Option<String> = row.try_get(2)?;
    let next = next_status(current, request.action, &actor, &author, submitter.as_deref(), reason).map_err(bank_error)?;

    // A published version replaces the one published before it.
    if next == BankStatus::Published {
        retire_previous(&mut tx, kind, id, &actor, now_ms).await?;
    }
    let submitted_by = if request.action == ReviewAction::Submit { Some(actor.clone()) } else { submitter };
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {} SET status = $1, submitted_by = $2, updated_at = $3 WHERE id = $4", table(kind))))
        .bind(next.as_str())
        .bind(&submitted_by)
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if kind == SubjectKind::Course && matches!(next, BankStatus::Published | BankStatus::Retired) {
        let (item_code, year, code) = course_identity(&mut tx, id).await?;
        sync_published_course(&mut tx, &item_code, year, &code).await?;
    }
    record_history(&mut tx, kind.as_str(), id, request.action.history_action(), Some(current.as_str()), next.as_str(), &actor, reason, now_ms).await?;
    tx.commit().await?;

    tracing::info!(kind = kind.as_str(), id, actor = %actor, from = current.as_str(), to = next.as_str(), "bank review step");
    Ok(Json(json!({ "id": id, "kind": kind, "status": next, "previous_status": current })))
}

/// Retires the published version that version `id` replaces, with a history entry.
async fn retire_previous(tx: &mut Tx, kind: SubjectKind, id: &str, actor: &str, now_ms: i64) -> Result<(), ApiError> {
    let previous: Vec<String> = match kind {
        SubjectKind::Course => {
            let (item_code, year, code) = course_identity(tx, id).await?;
            sqlx::query_scalar("SELECT id FROM course_versions WHERE item_code = $1 AND year = $2 AND code = $3 AND status = 'published' AND id <> $4")
                .bind(item_code)
                .bind(i64::from(year))
                .bind(code)
                .bind(id)
                .fetch_all(&mut **tx)
                .await?
        }
        SubjectKind::Question => {
            sqlx::query_scalar(
                "SELECT id FROM questions WHERE status = 'published' AND id <> $1 AND question_key = (SELECT question_key FROM questions WHERE id = $1)",
            )
            .bind(id)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    for previous_id in previous {
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {} SET status = 'retired', updated_at = $1 WHERE id = $2", table(kind))))
            .bind(now_ms)
            .bind(&previous_id)
            .execute(&mut **tx)
            .await?;
        record_history(tx, kind.as_str(), &previous_id, "retired", Some("published"), "retired", actor, Some(&format!("superseded by {id}")), now_ms).await?;
    }
    Ok(())
}

async fn course_identity(tx: &mut Tx, id: &str) -> Result<(String, i32, String), ApiError> {
    let (item_code, year, code): (String, i64, String) =
        sqlx::query_as("SELECT item_code, year, code FROM course_versions WHERE id = $1").bind(id).fetch_one(&mut **tx).await?;
    Ok((item_code, year as i32, code))
}
