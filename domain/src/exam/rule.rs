//! The rules for assembling and grading a paper.

use serde::{Deserialize, Serialize};

use super::error::ExamError;

/// Settings for assembling and grading a paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperRule {
    /// Maximum questions drawn from each course. A course with fewer questions
    /// contributes all of them.
    pub questions_per_course: usize,
    /// Questions per course by difficulty; when set, its total equals
    /// `questions_per_course`.
    #[serde(default)]
    pub difficulty_mix: Option<DifficultyMix>,
    pub time_limit_minutes: u32,
    /// Minimum score to pass, out of 100.
    pub pass_mark: u32,
    pub multiple_choice: MultipleScoring,
}

impl Default for PaperRule {
    fn default() -> Self {
        PaperRule {
            questions_per_course: 5,
            difficulty_mix: None,
            time_limit_minutes: 60,
            pass_mark: 70,
            multiple_choice: MultipleScoring::AllOrNothing,
        }
    }
}

impl PaperRule {
    /// Rejects a rule that draws no questions, allows no time, has a pass mark above
    /// 100, or has a difficulty mix whose total differs from `questions_per_course`.
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
        if let Some(mix) = self.difficulty_mix {
            if mix.total() != self.questions_per_course {
                return Err(ExamError::DifficultyMixTotal { total: mix.total(), questions_per_course: self.questions_per_course });
            }
        }
        Ok(())
    }
}

/// How many questions of each difficulty a paper draws from one course.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DifficultyMix {
    /// Difficulty 1.
    #[serde(default)]
    pub easy: usize,
    /// Difficulty 2.
    #[serde(default)]
    pub medium: usize,
    /// Difficulty 3.
    #[serde(default)]
    pub hard: usize,
}

impl DifficultyMix {
    pub fn total(&self) -> usize {
        self.easy + self.medium + self.hard
    }

    /// Returns the target count for `difficulty` (1 to 3); other values get none.
    pub fn count_for(&self, difficulty: u8) -> usize {
        match difficulty {
            1 => self.easy,
            2 => self.medium,
            3 => self.hard,
            _ => 0,
        }
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
