//! The question bank's rules outside the database: the review statuses of course
//! versions and questions and who may move them, duplicate stems, and the xlsx sheet
//! that association staff import and export (one row per question).

mod error;
mod sheet;
mod status;
mod stem;

#[cfg(test)]
mod tests;

pub use error::{BankError, RowProblem};
pub use sheet::{SHEET_COLUMNS, SheetQuestion, SheetRow, check_question, read_sheet, write_sheet};
pub use status::{BankStatus, ReviewAction, SubjectKind, next_status};
pub use stem::stem_key;
