//! The rules for assembling and grading a paper.

use serde::{Deserialize, Serialize};

use super::error::ExamError;

/// Settings for assembling and grading a paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperRule {
    /// Maximum questions drawn from each course. A course with fewer questions
    /// contributes all of them.
    pub questions_per_course: usize,
    pub time_limit_minutes: u32,
    /// Minimum score to pass, out of 100.
    pub pass_mark: u32,
    pub multiple_choice: MultipleScoring,
}

impl Default for PaperRule {
    fn default() -> Self {
        PaperRule {
            questions_per_course: 5,
            time_limit_minutes: 60,
            pass_mark: 70,
            multiple_choice: MultipleScoring::AllOrNothing,
        }
    }
}

impl PaperRule {
    /// Rejects a rule that draws no questions, allows no time or has a pass mark above 100.
    pub fn validate(&self) -> Result<(), ExamError> {
        if self.questions_per_course == 0 {
            return Err(ExamError::QuestionsPerCourseZero);
        }
        if self.time_limit_minutes == 0 {
            return Err(ExamError::TimeLimitZero);
        }
        if self.pass_mark > 100 {
            return Err(ExamError::PassMarkRange { pass_mark: self.pass_mark });
        }
        Ok(())
    }
}

/// Scoring of multiple choice questions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultipleScoring {
    /// Full points for exactly the correct options, otherwise none.
    #[default]
    AllOrNothing,
    /// Full points for exactly the correct options. Choosing only some of the correct
    /// options and no wrong one earns that share of the points, rounded down to a
    /// hundredth. Any wrong option earns none.
    Partial,
}
