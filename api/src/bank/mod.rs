//! The question bank for association staff: course versions and questions, their
//! review (author submits, another staff member approves or rejects), and xlsx import
//! and export. Every route requires an association staff account (association_admin
//! or reviewer); the caller's account id is the author, submitter or reviewer.
//!
//! Exams read the bank through `workers::bank_store`: only published questions of the
//! published version of a course are drawn.

mod authoring;
mod listing;
mod review;
mod sheet;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use domain::bank::BankError;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, current_locale};

/// Maximum size of an uploaded bank sheet.
pub const MAX_SHEET_BYTES: usize = 10 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/bank/courses", get(listing::list_courses).post(authoring::create_course))
        .route("/api/bank/courses/{id}/review", post(review::review_course))
        .route("/api/bank/questions", get(listing::list_questions).post(authoring::create_question))
        .route("/api/bank/questions/{id}", get(listing::show_question))
        .route("/api/bank/questions/{id}/review", post(review::review_question))
        .route("/api/bank/import", post(sheet::import).layer(DefaultBodyLimit::max(MAX_SHEET_BYTES)))
        .route("/api/bank/export", get(sheet::export))
}

/// Returns the caller's account id after checking that the caller is association staff.
fn staff_account(caller: &Caller) -> Result<String, ApiError> {
    caller.require_staff()?;
    caller.account_id.clone().ok_or_else(|| ApiError::forbidden("auth.forbidden"))
}

/// Maps a bank rule error to the API error with the same code and message.
fn bank_error(error: BankError) -> ApiError {
    let mut api_error = match &error {
        BankError::StepNotAllowed { .. } => ApiError::conflict(error.code()),
        BankError::ReviewerIsAuthor => ApiError::forbidden(error.code()),
        BankError::ReasonMissing => ApiError::invalid(error.code()).field("reason"),
        BankError::XlsxUnreadable { .. } | BankError::SheetEmpty | BankError::ColumnsMissing { .. } => ApiError::invalid(error.code()).field("file"),
        BankError::XlsxWriteFailed { .. } => return ApiError::internal(error),
    };
    for (name, value) in error.args(current_locale()) {
        api_error = api_error.arg(name, value);
    }
    api_error
}
