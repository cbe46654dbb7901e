//! Validation rules for one courseware file, applied field by field while it is
//! converted into the model. Each check returns the problem without its location, and
//! the caller adds file, line, course and question.

use std::collections::BTreeSet;

use super::error::CoursewareProblem;
use super::letters::{index_for, letter_for};
use super::model::{Answer, QuestionKind};

/// Minimum number of options of a single or multiple choice question.
pub const MIN_OPTIONS: usize = 2;
/// Maximum number of options of a single or multiple choice question (A to F).
pub const MAX_OPTIONS: usize = 6;
/// Minimum number of questions per course, so that a paper can draw from every course.
pub const MIN_QUESTIONS_PER_COURSE: usize = 3;

/// Years outside this range are taken to be typing mistakes.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Option texts that refer to other options by position. Papers shuffle the options,
/// so such an option would point at the wrong ones.
// NOTE: this is a prefix heuristic. It catches 以上都对 and 上述均不正确 but not, say,
// "A 和 B", which authors must avoid themselves.
const POSITIONAL_PREFIXES: &[&str] = &["以上", "上述", "全部正确", "都不正确", "all of the above", "none of the above"];

/// Rejects an empty or whitespace-only required text field.
pub fn require_text(field: &'static str, value: &str) -> Result<(), CoursewareProblem> {
    if value.trim().is_empty() {
        return Err(CoursewareProblem::FieldEmpty { field });
    }
    Ok(())
}

/// Checks that the `item` field matches the file name stem, such as `N1` in `N1.yaml`.
/// A name without a `.yaml` or `.yml` extension is not checked.
pub fn check_item_code(item: &str, file_name: &str) -> Result<(), CoursewareProblem> {
    require_text("item", item)?;

    let base_name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = base_name.strip_suffix(".yaml").or_else(|| base_name.strip_suffix(".yml"));
    match stem {
        Some(stem) if stem != item => Err(CoursewareProblem::ItemMismatch {
            item: item.to_string(),
            expected: stem.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Checks that at least one year is given, each plausible and listed once.
pub fn check_years(years: &[i32]) -> Result<(), CoursewareProblem> {
    if years.is_empty() {
        return Err(CoursewareProblem::YearsEmpty);
    }

    let mut seen = BTreeSet::new();
    for &year in years {
        if !YEARS.contains(&year) {
            return Err(CoursewareProblem::YearInvalid { year });
        }
        if !seen.insert(year) {
            return Err(CoursewareProblem::YearDuplicate { year });
        }
    }
    Ok(())
}

/// Checks the course fields other than its questions.
pub fn check_course(title: &str, minutes: u32, version: u32, question_count: usize) -> Result<(), CoursewareProblem> {
    require_text("title", title)?;
    if minutes == 0 {
        return Err(CoursewareProblem::MinutesZero);
    }
    if version == 0 {
        return Err(CoursewareProblem::VersionZero);
    }
    if question_count < MIN_QUESTIONS_PER_COURSE {
        return Err(CoursewareProblem::TooFewQuestions {
            count: question_count,
            min: MIN_QUESTIONS_PER_COURSE,
        });
    }
    Ok(())
}

/// Checks the question text fields and the difficulty.
pub fn check_question_text(stem: &str, explanation: &str, difficulty: u8) -> Result<(), CoursewareProblem> {
    require_text("stem", stem)?;
    require_text("explanation", explanation)?;
    if !(1..=3).contains(&difficulty) {
        return Err(CoursewareProblem::DifficultyRange { difficulty });
    }
    Ok(())
}

/// Checks the options of a question and returns them. Choice questions need
/// 2–6 distinct, non-empty options that do not refer to other options. True/false
/// questions must omit the `options` field.
pub fn check_options(kind: QuestionKind, options: Option<Vec<String>>) -> Result<Vec<String>, CoursewareProblem> {
    match kind {
        QuestionKind::TrueFalse => match options {
            Some(_) => Err(CoursewareProblem::OptionsOnTrueFalse),
            None => Ok(Vec::new()),
        },
        QuestionKind::Single | QuestionKind::Multiple => {
            let options = options.unwrap_or_default();
            check_choice_options(&options)?;
            Ok(options)
        }
    }
}

fn check_choice_options(options: &[String]) -> Result<(), CoursewareProblem> {
    if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&options.len()) {
        return Err(CoursewareProblem::OptionCount { count: options.len() });
    }

    let mut seen = BTreeSet::new();
    for option in options {
        require_text("options", option)?;
        let text = option.trim();
        if !seen.insert(text) {
            return Err(CoursewareProblem::OptionDuplicate { option: text.to_string() });
        }
        let lower = text.to_lowercase();
        if POSITIONAL_PREFIXES.iter().any(|prefix| lower.starts_with(prefix)) {
            return Err(CoursewareProblem::OptionPositional { option: text.to_string() });
        }
    }
    Ok(())
}

/// Parses the authored answer of a question whose options are already checked.
///
/// Single choice takes one letter (`B`), multiple choice two or more distinct letters
/// in any order (`ACD`), and true/false takes `true` or `false`. Letters are upper case
/// and must name an existing option.
pub fn parse_answer(kind: QuestionKind, option_count: usize, answer: &str) -> Result<Answer, CoursewareProblem> {
    let answer = answer.trim();
    match kind {
        QuestionKind::TrueFalse => match answer {
            "true" => Ok(Answer::TrueFalse(true)),
            "false" => Ok(Answer::TrueFalse(false)),
            _ => Err(CoursewareProblem::TrueFalseAnswer { answer: answer.to_string() }),
        },
        QuestionKind::Single => {
            let indices = parse_letters(option_count, answer)?;
            match indices.as_slice() {
                [index] => Ok(Answer::Single(*index)),
                _ => Err(CoursewareProblem::SingleAnswerCount { answer: answer.to_string() }),
            }
        }
        QuestionKind::Multiple => {
            let indices = parse_letters(option_count, answer)?;
            if indices.len() < 2 {
                return Err(CoursewareProblem::MultipleAnswerCount { answer: answer.to_string() });
            }
            Ok(Answer::Multiple(indices))
        }
    }
}

/// Converts letters to sorted option indices, rejecting unknown and repeated letters.
fn parse_letters(option_count: usize, answer: &str) -> Result<Vec<usize>, CoursewareProblem> {
    let invalid = || CoursewareProblem::AnswerLetterInvalid {
        answer: answer.to_string(),
        last: letter_for(option_count.saturating_sub(1)),
    };

    let mut indices = BTreeSet::new();
    for letter in answer.chars() {
        let index = index_for(letter).filter(|&index| index < option_count).ok_or_else(invalid)?;
        if !indices.insert(index) {
            return Err(invalid());
        }
    }
    Ok(indices.into_iter().collect())
}
