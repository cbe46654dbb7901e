//! The paper shown to an operator: questions with shuffled options and their points.

use serde::{Deserialize, Serialize};

use super::rule::{MultipleScoring, PaperRule};
use crate::courseware::QuestionKind;

/// Points of a whole paper in hundredths of a point, which is a score of 100.
pub const PAPER_HUNDREDTHS: u32 = 10_000;

/// An assembled exam paper. It contains no correct answers, so it can be sent to the
/// operator as it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    pub item_code: String,
    pub time_limit_minutes: u32,
    /// Pass mark in force when the paper was assembled; grading uses it, so a later
    /// change of the rule does not change an issued paper's result.
    #[serde(default = "default_pass_mark")]
    pub pass_mark: u32,
    #[serde(default)]
    pub multiple_choice: MultipleScoring,
    /// The examined courses in the order they were given.
    pub courses: Vec<PaperCourse>,
    /// Single choice first, then multiple choice, then true/false, each group in
    /// random order.
    pub questions: Vec<PaperQuestion>,
}

fn default_pass_mark() -> u32 {
    PaperRule::default().pass_mark
}

impl Paper {
    /// Returns the rule to grade this paper with: the one recorded at assembly.
    pub fn grading_rule(&self) -> PaperRule {
        PaperRule {
            questions_per_course: self.questions.len().max(1),
            difficulty_mix: None,
            time_limit_minutes: self.time_limit_minutes.max(1),
            pass_mark: self.pass_mark,
            multiple_choice: self.multiple_choice,
        }
    }
}

/// A course examined by a paper, with the content version its questions came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperCourse {
    pub code: String,
    pub version: u32,
}

/// A question as it appears on a paper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperQuestion {
    /// The question's stable id across versions, such as `T-01-2`.
    pub question_id: String,
    /// The question version shown; with `question_id` it names the exact bank row
    /// (`T-01-2@3`), whatever becomes of the question later.
    #[serde(default = "first_version")]
    pub question_version: u32,
    pub course_code: String,
    pub course_version: u32,
    pub kind: QuestionKind,
    pub stem: String,
    /// Options in the order shown, lettered A, B, … in that order. Empty for true/false.
    pub options: Vec<String>,
    /// For each shown option, its index in the authored option list:
    /// `options[i] == question.options[option_order[i]]`.
    pub option_order: Vec<usize>,
    /// Points in hundredths. The questions of a paper sum to [`PAPER_HUNDREDTHS`].
    pub points_hundredths: u32,
}

fn first_version() -> u32 {
    1
}

impl PaperQuestion {
    /// Returns the id of the question version shown, `{question_id}@{version}`.
    pub fn version_id(&self) -> String {
        format!("{}@{}", self.question_id, self.question_version)
    }
}

/// Returns the codes of the courses that a paper examined, in the order given at
/// assembly. The caller credits them only when the paper was passed.
pub fn courses_covered(paper: &Paper) -> Vec<String> {
    paper
        .courses
        .iter()
        .filter(|course| paper.questions.iter().any(|question| question.course_code == course.code))
        .map(|course| course.code.clone())
        .collect()
}

/// Splits [`PAPER_HUNDREDTHS`] across `question_count` questions. When the split is
/// uneven, the first questions get one hundredth more, so the total is always exact.
pub(super) fn split_points(question_count: usize) -> Vec<u32> {
    if question_count == 0 {
        return Vec::new();
    }
    let count = u32::try_from(question_count).expect("a paper has fewer than 2^32 questions");
    let base = PAPER_HUNDREDTHS / count;
    let remainder = PAPER_HUNDREDTHS % count;
    (0..count).map(|index| if index < remainder { base + 1 } else { base }).collect()
}
