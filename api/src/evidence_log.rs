//! The evidence access log (证据查看记录): every view of a session's or attempt's face
//! images, snapshots or audio, and of the files attached to an appeal, by staff is
//! recorded with who, when and which record, because that evidence is sensitive
//! personal information.

use crate::auth::Caller;
use crate::db::new_id;
use crate::error::ApiError;
use crate::AppState;

/// Records that `caller` viewed the evidence of `subject_kind` (`session`, `exam`, or
/// `appeal` for an appeal's files) `subject_id`, for `purpose` (`review` or `appeal`) on
/// case `case_id`.
pub async fn record(state: &AppState, caller: &Caller, subject_kind: &str, subject_id: &str, case_id: Option<&str>, purpose: &str) -> Result<(), ApiError> {
    let account_id = caller.account_id.as_deref().unwrap_or_default();
    sqlx::query(
        "INSERT INTO evidence_access_log (id, account_id, role, subject_kind, subject_id, case_id, purpose, accessed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(account_id)
    .bind(caller.role.as_str())
    .bind(subject_kind)
    .bind(subject_id)
    .bind(case_id)
    .bind(purpose)
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await?;
    tracing::info!(account = %account_id, subject_kind, subject = %subject_id, purpose, "evidence viewed");
    Ok(())
}
