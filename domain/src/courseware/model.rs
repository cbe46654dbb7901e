//! The courseware model: courses of one operation item and the questions of its bank.

use serde::{Deserialize, Serialize};

use crate::exam::{DifficultyMix, MultipleScoring, PaperRule};

/// The courses of one operation item (作业项目), as loaded from one courseware file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemCourseware {
    /// Operation item code, such as `T` or `N1`.
    pub item_code: String,
    /// Calendar years in which these courses count towards the annual credits.
    pub years: Vec<i32>,
    pub courses: Vec<Course>,
    /// How papers of this item are drawn and graded; the `exam` block of the file.
    pub exam: ItemExamRule,
}

/// The paper and grading rule of one operation item. The time limit is not here: it
/// is the pipeline's `exam_minutes`, which must match the exam state's timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemExamRule {
    pub questions_per_course: usize,
    pub difficulty_mix: Option<DifficultyMix>,
    /// Minimum score to pass, out of 100.
    pub pass_mark: u32,
    pub multiple_choice: MultipleScoring,
}

impl Default for ItemExamRule {
    fn default() -> Self {
        let rule = PaperRule::default();
        ItemExamRule {
            questions_per_course: rule.questions_per_course,
            difficulty_mix: rule.difficulty_mix,
            pass_mark: rule.pass_mark,
            multiple_choice: rule.multiple_choice,
        }
    }
}

impl ItemExamRule {
    /// Returns the full paper rule with the pipeline's time limit.
    pub fn paper_rule(&self, time_limit_minutes: u32) -> PaperRule {
        PaperRule {
            questions_per_course: self.questions_per_course,
            difficulty_mix: self.difficulty_mix,
            time_limit_minutes,
            pass_mark: self.pass_mark,
            multiple_choice: self.multiple_choice,
        }
    }
}

impl ItemCourseware {
    /// Returns the course with `code`, if the item has one.
    pub fn course(&self, code: &str) -> Option<&Course> {
        self.courses.iter().find(|course| course.code == code)
    }
}

/// A course worth one credit, with the questions that an exam may draw from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Course {
    pub item_code: String,
    /// Code unique within the item, such as `T-01`.
    pub code: String,
    pub title: String,
    /// Minimum study time in minutes before the course counts as completed.
    pub minutes: u32,
    /// Content version, starting at 1. A paper records the version its questions came from.
    pub version: u32,
    /// Calendar years in which the course counts towards the annual credits.
    pub years: Vec<i32>,
    pub questions: Vec<Question>,
}

/// One question of the bank.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Id unique across all items and stable across question versions, such as `T-01-2`.
    pub id: String,
    /// Content version of the question, starting at 1. The question bank adds one on
    /// every change, and a paper records the version it showed.
    #[serde(default = "first_version")]
    pub version: u32,
    pub course_code: String,
    pub kind: QuestionKind,
    pub stem: String,
    /// Options in authored order. Empty for true/false questions.
    pub options: Vec<String>,
    pub answer: Answer,
    /// Explanation shown after grading.
    pub explanation: String,
    /// Difficulty from 1 (easy) to 3 (hard).
    pub difficulty: u8,
}

fn first_version() -> u32 {
    1
}

/// Question kinds. A new kind needs a variant here, a matching [`Answer`] variant, a
/// branch in the courseware validation and a branch in exam grading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Exactly one option is correct.
    Single,
    /// Two or more options are correct.
    Multiple,
    /// A statement to judge as true or false.
    TrueFalse,
}

impl QuestionKind {
    /// Returns the message code of the kind's display name, such as 单选题.
    pub fn message_code(self) -> &'static str {
        match self {
            QuestionKind::Single => "exam.kind.single",
            QuestionKind::Multiple => "exam.kind.multiple",
            QuestionKind::TrueFalse => "exam.kind.true_false",
        }
    }
}

/// The correct answer of a question. Option indices are 0-based and refer to the
/// authored option order, not to the shuffled order of a paper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Single(usize),
    /// Indices in ascending order without repeats.
    Multiple(Vec<usize>),
    TrueFalse(bool),
}

impl Answer {
    /// Returns the kind of question this answer belongs to.
    pub fn kind(&self) -> QuestionKind {
        match self {
            Answer::Single(_) => QuestionKind::Single,
            Answer::Multiple(_) => QuestionKind::Multiple,
            Answer::TrueFalse(_) => QuestionKind::TrueFalse,
        }
    }
}
