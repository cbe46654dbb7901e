//! Online exams: assembling a paper from the courses an operator completed, and
//! grading it. All functions are pure, and randomness comes from the caller's `Rng`.
//!
//! A passed paper credits one credit for each course in [`courses_covered`].

mod assemble;
mod error;
mod grade;
mod paper;
mod rule;

#[cfg(test)]
mod tests;

pub use assemble::assemble_paper;
pub use error::ExamError;
pub use grade::{AnswerGiven, CourseResult, GradeResult, QuestionOutcome, QuestionResult, grade};
pub use paper::{PAPER_HUNDREDTHS, Paper, PaperCourse, PaperQuestion, courses_covered};
pub use rule::{DifficultyMix, MultipleScoring, PaperRule};
