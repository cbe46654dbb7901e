//! Errors of the question bank: review steps, whole sheets, and single sheet rows.
//! Each has a message in `definitions/messages/bank.yaml`.

use std::fmt;

use super::status::{BankStatus, ReviewAction};
use crate::courseware::CoursewareProblem;
use crate::messages::{self, Locale};

/// A review step or a sheet that cannot be processed at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankError {
    /// The action does not apply to a version in this status.
    StepNotAllowed { action: ReviewAction, status: BankStatus },
    /// The reviewer wrote or submitted the version.
    ReviewerIsAuthor,
    /// A rejection without a reason.
    ReasonMissing,
    XlsxUnreadable { detail: String },
    /// The workbook has no worksheet or no header row.
    SheetEmpty,
    /// Required columns are absent from the header row, in sheet column order.
    ColumnsMissing { columns: Vec<String> },
    XlsxWriteFailed { detail: String },
}

impl BankError {
    pub fn code(&self) -> &'static str {
        match self {
            BankError::StepNotAllowed { .. } => "bank.step_not_allowed",
            BankError::ReviewerIsAuthor => "bank.reviewer_is_author",
            BankError::ReasonMissing => "bank.reason_missing",
            BankError::XlsxUnreadable { .. } => "bank.xlsx_unreadable",
            BankError::SheetEmpty => "bank.sheet_empty",
            BankError::ColumnsMissing { .. } => "bank.columns_missing",
            BankError::XlsxWriteFailed { .. } => "bank.xlsx_write_failed",
        }
    }

    /// Returns the message's arguments, with status and action names in `locale`.
    pub fn args(&self, locale: Locale) -> Vec<(&'static str, String)> {
        match self {
            BankError::StepNotAllowed { action, status } => vec![
                ("action", messages::text(locale, &format!("bank.action.{}", action.history_action()), &[])),
                ("status", messages::text(locale, status.message_code(), &[])),
            ],
            BankError::ReviewerIsAuthor | BankError::ReasonMissing | BankError::SheetEmpty => vec![],
            BankError::XlsxUnreadable { detail } | BankError::XlsxWriteFailed { detail } => vec![("detail", detail.clone())],
            BankError::ColumnsMissing { columns } => vec![("columns", columns.join("、"))],
        }
    }

    /// Renders the message in `locale`.
    pub fn message(&self, locale: Locale) -> String {
        let args = self.args(locale);
        let args: Vec<(&str, &str)> = args.iter().map(|(name, value)| (*name, value.as_str())).collect();
        messages::text(locale, self.code(), &args)
    }
}

/// Renders the English message, for logs.
impl fmt::Display for BankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Locale::En))
    }
}

impl std::error::Error for BankError {}

/// Why one sheet row was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowProblem {
    CourseMissing,
    KindUnknown { value: String },
    DifficultyInvalid { value: String },
    /// An option is filled after an empty one, such as D without C.
    OptionGap { letter: char },
    /// The question content breaks a courseware rule (options, answer, texts).
    Content(CoursewareProblem),
    /// No course of the bank has this code.
    CourseUnknown { course: String },
    /// The code names courses of several operation items.
    CourseAmbiguous { course: String, items: Vec<String> },
    /// An earlier row of the same sheet has the same stem in the same course.
    StemDuplicateInSheet { line: usize },
    /// The course already has a question with this stem that is not retired.
    StemDuplicateInBank { question: String },
}

impl RowProblem {
    pub fn code(&self) -> &'static str {
        match self {
            RowProblem::CourseMissing => "bank.row.course_missing",
            RowProblem::KindUnknown { .. } => "bank.row.kind_unknown",
            RowProblem::DifficultyInvalid { .. } => "bank.row.difficulty_invalid",
            RowProblem::OptionGap { .. } => "bank.row.option_gap",
            RowProblem::Content(_) => "bank.row.content",
            RowProblem::CourseUnknown { .. } => "bank.row.course_unknown",
            RowProblem::CourseAmbiguous { .. } => "bank.row.course_ambiguous",
            RowProblem::StemDuplicateInSheet { .. } => "bank.row.stem_duplicate_sheet",
            RowProblem::StemDuplicateInBank { .. } => "bank.row.stem_duplicate_bank",
        }
    }

    /// Renders the problem of row `line` in `locale`, such as `第 5 行：…`.
    pub fn message(&self, locale: Locale, line: usize) -> String {
        let detail = match self {
            RowProblem::Content(problem) => problem.text(locale),
            other => {
                let args: Vec<(&str, String)> = match other {
                    RowProblem::KindUnknown { value } | RowProblem::DifficultyInvalid { value } => vec![("value", value.clone())],
                    RowProblem::OptionGap { letter } => vec![("letter", letter.to_string())],
                    RowProblem::CourseUnknown { course } => vec![("course", course.clone())],
                    RowProblem::CourseAmbiguous { course, items } => vec![("course", course.clone()), ("items", items.join("、"))],
                    RowProblem::StemDuplicateInSheet { line } => vec![("line", line.to_string())],
                    RowProblem::StemDuplicateInBank { question } => vec![("question", question.clone())],
                    _ => vec![],
                };
                let args: Vec<(&str, &str)> = args.iter().map(|(name, value)| (*name, value.as_str())).collect();
                messages::text(locale, self.code(), &args)
            }
        };
        messages::text(locale, "bank.row.location", &[("line", &line.to_string()), ("detail", &detail)])
    }
}
