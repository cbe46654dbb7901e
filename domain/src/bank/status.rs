//! Review statuses and the moves between them.
//!
//! ```text
//! draft --submit--> under_review --approve--> published --retire--> retired
//!   ^                    |
//!   +------reject--------+
//! ```
//!
//! The reviewer who approves or rejects must be another staff member than the author
//! and the submitter. A rejection needs a reason. Retiring is the only move out of
//! `published`; a changed question is a new version, so what a paper showed never
//! changes.

use serde::{Deserialize, Serialize};

use super::error::BankError;

/// What a review step applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Course,
    Question,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Course => "course",
            SubjectKind::Question => "question",
        }
    }
}

/// The review status of a course version or a question version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankStatus {
    Draft,
    UnderReview,
    /// The only status whose questions papers draw.
    Published,
    Retired,
}

impl BankStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BankStatus::Draft => "draft",
            BankStatus::UnderReview => "under_review",
            BankStatus::Published => "published",
            BankStatus::Retired => "retired",
        }
    }

    pub fn parse(text: &str) -> Option<BankStatus> {
        match text {
            "draft" => Some(BankStatus::Draft),
            "under_review" => Some(BankStatus::UnderReview),
            "published" => Some(BankStatus::Published),
            "retired" => Some(BankStatus::Retired),
            _ => None,
        }
    }

    /// Returns the message code of the status's display name, such as 审核中.
    pub fn message_code(self) -> &'static str {
        match self {
            BankStatus::Draft => "bank.status.draft",
            BankStatus::UnderReview => "bank.status.under_review",
            BankStatus::Published => "bank.status.published",
            BankStatus::Retired => "bank.status.retired",
        }
    }
}

/// A review step requested by a staff member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    Submit,
    Approve,
    Reject,
    Retire,
}

impl ReviewAction {
    /// The word stored in the history's `action` column.
    pub fn history_action(self) -> &'static str {
        match self {
            ReviewAction::Submit => "submitted",
            ReviewAction::Approve => "approved",
            ReviewAction::Reject => "rejected",
            ReviewAction::Retire => "retired",
        }
    }
}

/// Returns the status after `action` by `actor`, or why the step is not allowed.
///
/// `author` created the version and `submitter` sent it to review, if anyone did.
/// `reason` is required for a rejection and optional otherwise.
pub fn next_status(
    current: BankStatus,
    action: ReviewAction,
    actor: &str,
    author: &str,
    submitter: Option<&str>,
    reason: Option<&str>,
) -> Result<BankStatus, BankError> {
    let not_allowed = || BankError::StepNotAllowed { action, status: current };
    match (current, action) {
        (BankStatus::Draft, ReviewAction::Submit) => Ok(BankStatus::UnderReview),
        (BankStatus::UnderReview, ReviewAction::Approve | ReviewAction::Reject) => {
            if actor == author || submitter == Some(actor) {
                return Err(BankError::ReviewerIsAuthor);
            }
            if action == ReviewAction::Approve {
                return Ok(BankStatus::Published);
            }
            match reason.map(str::trim) {
                Some(reason) if !reason.is_empty() => Ok(BankStatus::Draft),
                _ => Err(BankError::ReasonMissing),
            }
        }
        (BankStatus::Published, ReviewAction::Retire) => Ok(BankStatus::Retired),
        _ => Err(not_allowed()),
    }
}
