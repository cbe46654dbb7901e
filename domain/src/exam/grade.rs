//! Grading a submitted paper against the answer key.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::error::ExamError;
use super::paper::{Paper, PaperQuestion};
use super::rule::{MultipleScoring, PaperRule};
use crate::courseware::letters::{index_for, letters_for};
use crate::courseware::{Answer, QuestionKind};

/// An operator's answer to one paper question.
///
/// In JSON a true/false answer is a boolean and a choice answer is a string of the
/// letters shown on the paper, such as `"B"` or `"ACD"`. Letters may be lower case,
/// in any order and separated by spaces or commas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnswerGiven {
    TrueFalse(bool),
    Letters(String),
}

/// The outcome of one graded question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionOutcome {
    Correct,
    /// Some of the correct options of a multiple choice question and no wrong one,
    /// under [`MultipleScoring::Partial`].
    PartlyCorrect,
    Wrong,
    Unanswered,
    /// An answer that does not fit the question, such as a letter beyond the last
    /// option or a boolean for a choice question. It earns no points.
    Invalid,
}

/// The grading of one paper question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuestionResult {
    pub question_id: String,
    pub course_code: String,
    pub outcome: QuestionOutcome,
    pub points_hundredths: u32,
    pub awarded_hundredths: u32,
    /// The correct answer in the letters shown on this paper, for review.
    pub correct_answer: AnswerGiven,
}

/// Fully correct answers per course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseResult {
    pub course_code: String,
    /// Questions with outcome [`QuestionOutcome::Correct`].
    pub correct: usize,
    pub total: usize,
}

/// The grading of a whole paper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeResult {
    /// Score out of 100, rounded half up to one decimal.
    pub score: f64,
    /// Exact score in hundredths of a point, out of 10 000.
    pub score_hundredths: u32,
    /// Whether the rounded `score` reaches the pass mark.
    pub passed: bool,
    /// One entry per examined course, in paper course order.
    pub per_course: Vec<CourseResult>,
    /// One entry per question, in paper order.
    pub per_question: Vec<QuestionResult>,
}

/// Grades `paper` from the operator's `answers` by question id.
///
/// `answer_key` holds the correct answers by question id, for example from
/// [`crate::courseware::Courseware::answer_key`]. Letters are read in the shuffled
/// order of the paper and mapped back through `option_order`. Unanswered questions
/// earn nothing, and answers to questions not on the paper are ignored. Fails when the
/// rule is invalid or the key lacks or no longer fits a paper question.
pub fn grade(
    paper: &Paper,
    answers: &HashMap<String, AnswerGiven>,
    answer_key: &HashMap<String, Answer>,
    rule: &PaperRule,
) -> Result<GradeResult, ExamError> {
    rule.validate()?;

    let mut per_question = Vec::with_capacity(paper.questions.len());
    for question in &paper.questions {
        let key = answer_key
            .get(&question.question_id)
            .ok_or_else(|| ExamError::AnswerKeyMissing { question: question.question_id.clone() })?;
        per_question.push(grade_question(question, answers.get(&question.question_id), key, rule.multiple_choice)?);
    }

    let score_hundredths: u32 = per_question.iter().map(|result| result.awarded_hundredths).sum();
    let score_tenths = (score_hundredths + 5) / 10;
    let per_course = paper
        .courses
        .iter()
        .map(|course| {
            let results = per_question.iter().filter(|result| result.course_code == course.code);
            CourseResult {
                course_code: course.code.clone(),
                correct: results.clone().filter(|result| result.outcome == QuestionOutcome::Correct).count(),
                total: results.count(),
            }
        })
        .collect();

    Ok(GradeResult {
        score: f64::from(score_tenths) / 10.0,
        score_hundredths,
        passed: score_tenths >= rule.pass_mark * 10,
        per_course,
        per_question,
    })
}

fn grade_question(
    question: &PaperQuestion,
    given: Option<&AnswerGiven>,
    key: &Answer,
    multiple_scoring: MultipleScoring,
) -> Result<QuestionResult, ExamError> {
    let mismatch = || ExamError::AnswerKeyMismatch { question: question.question_id.clone() };
    if key.kind() != question.kind {
        return Err(mismatch());
    }
    let key_shown = shown_key(question, key).ok_or_else(mismatch)?;

    let (outcome, awarded_hundredths) = match (key, given) {
        (_, None) => (QuestionOutcome::Unanswered, 0),
        (Answer::TrueFalse(expected), Some(AnswerGiven::TrueFalse(chosen))) => {
            if expected == chosen { (QuestionOutcome::Correct, question.points_hundredths) } else { (QuestionOutcome::Wrong, 0) }
        }
        (Answer::TrueFalse(_), Some(AnswerGiven::Letters(_))) => (QuestionOutcome::Invalid, 0),
        (Answer::Single(_) | Answer::Multiple(_), Some(AnswerGiven::TrueFalse(_))) => (QuestionOutcome::Invalid, 0),
        (Answer::Single(_) | Answer::Multiple(_), Some(AnswerGiven::Letters(letters))) => {
            match parse_given_letters(letters, question.options.len()) {
                None => (QuestionOutcome::Invalid, 0),
                Some(chosen) if chosen.is_empty() => (QuestionOutcome::Unanswered, 0),
                Some(chosen) => score_choice(&chosen, &key_shown, question, multiple_scoring),
            }
        }
    };

    let correct_answer = match key {
        Answer::TrueFalse(value) => AnswerGiven::TrueFalse(*value),
        Answer::Single(_) | Answer::Multiple(_) => {
            AnswerGiven::Letters(letters_for(&key_shown.iter().copied().collect::<Vec<_>>()))
        }
    };

    Ok(QuestionResult {
        question_id: question.question_id.clone(),
        course_code: question.course_code.clone(),
        outcome,
        points_hundredths: question.points_hundredths,
        awarded_hundredths,
        correct_answer,
    })
}

/// Converts the key's authored option indices to the positions shown on the paper.
/// Returns `None` when an index is not on the paper. True/false keys give an empty set.
fn shown_key(question: &PaperQuestion, key: &Answer) -> Option<BTreeSet<usize>> {
    let authored: Vec<usize> = match key {
        Answer::Single(index) => vec![*index],
        Answer::Multiple(indices) => indices.clone(),
        Answer::TrueFalse(_) => Vec::new(),
    };
    authored
        .into_iter()
        .map(|index| question.option_order.iter().position(|&original| original == index))
        .collect()
}

/// Reads letters such as `"a, c"` into shown option positions. Returns `None` for a
/// character that is not a letter of an option, separator or space.
fn parse_given_letters(letters: &str, option_count: usize) -> Option<BTreeSet<usize>> {
    let mut chosen = BTreeSet::new();
    for character in letters.chars() {
        if character.is_whitespace() || matches!(character, ',' | '，' | '、') {
            continue;
        }
        let index = index_for(character.to_ascii_uppercase()).filter(|&index| index < option_count)?;
        chosen.insert(index);
    }
    Some(chosen)
}

/// Scores chosen shown positions against the key's shown positions.
fn score_choice(
    chosen: &BTreeSet<usize>,
    key_shown: &BTreeSet<usize>,
    question: &PaperQuestion,
    multiple_scoring: MultipleScoring,
) -> (QuestionOutcome, u32) {
    if chosen == key_shown {
        return (QuestionOutcome::Correct, question.points_hundredths);
    }

    let partial_allowed = question.kind == QuestionKind::Multiple && multiple_scoring == MultipleScoring::Partial;
    if partial_allowed && chosen.is_subset(key_shown) {
        let share = question.points_hundredths as usize * chosen.len() / key_shown.len();
        let share = u32::try_from(share).expect("a share of a question's points fits in u32");
        return (QuestionOutcome::PartlyCorrect, share);
    }
    (QuestionOutcome::Wrong, 0)
}
