//! Courseware errors: what is wrong, and in which file, course and question.

use std::fmt;

use super::validate::{MAX_OPTIONS, MIN_OPTIONS};
use crate::exam::ExamError;
use crate::messages::{self, Locale};

/// A courseware file that failed to load or validate.
#[derive(Clone, Debug, PartialEq)]
pub struct CoursewareError {
    /// File name, such as `T.yaml`, or the path for read errors.
    pub file: String,
    /// 1-based line of the course or question, when known.
    pub line: Option<usize>,
    pub course: Option<String>,
    pub question: Option<String>,
    pub problem: CoursewareProblem,
}

/// A problem in a courseware file. Each variant has a message in
/// `definitions/messages/exam.yaml` under `courseware.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoursewareProblem {
    /// The YAML does not parse or does not match the courseware format.
    YamlInvalid { detail: String },
    ReadFailed { detail: String },
    DirectoryEmpty,
    FieldEmpty { field: &'static str },
    /// The `item` field differs from the file name stem.
    ItemMismatch { item: String, expected: String },
    ItemDuplicate { item: String },
    YearsEmpty,
    YearInvalid { year: i32 },
    YearDuplicate { year: i32 },
    CoursesEmpty,
    CourseDuplicate,
    MinutesZero,
    VersionZero,
    TooFewQuestions { count: usize, min: usize },
    QuestionDuplicate,
    OptionCount { count: usize },
    OptionsOnTrueFalse,
    OptionDuplicate { option: String },
    /// An option such as 以上都对 that only makes sense in the authored order.
    OptionPositional { option: String },
    AnswerLetterInvalid { answer: String, last: char },
    SingleAnswerCount { answer: String },
    MultipleAnswerCount { answer: String },
    TrueFalseAnswer { answer: String },
    DifficultyRange { difficulty: u8 },
    /// The file's `exam` block is not a valid paper rule.
    ExamRuleInvalid { error: ExamError },
}

impl CoursewareProblem {
    /// Returns the message code and its arguments.
    fn message(&self) -> (&'static str, Vec<(&'static str, String)>) {
        use CoursewareProblem::*;
        match self {
            YamlInvalid { detail } => ("courseware.yaml_invalid", vec![("detail", detail.clone())]),
            ReadFailed { detail } => ("courseware.read_failed", vec![("detail", detail.clone())]),
            DirectoryEmpty => ("courseware.directory_empty", vec![]),
            FieldEmpty { field } => ("courseware.field_empty", vec![("field", field.to_string())]),
            ItemMismatch { item, expected } => (
                "courseware.item_mismatch",
                vec![("item", item.clone()), ("expected", expected.clone())],
            ),
            ItemDuplicate { item } => ("courseware.item_duplicate", vec![("item", item.clone())]),
            YearsEmpty => ("courseware.years_empty", vec![]),
            YearInvalid { year } => ("courseware.year_invalid", vec![("year", year.to_string())]),
            YearDuplicate { year } => ("courseware.year_duplicate", vec![("year", year.to_string())]),
            CoursesEmpty => ("courseware.courses_empty", vec![]),
            CourseDuplicate => ("courseware.course_duplicate", vec![]),
            MinutesZero => ("courseware.minutes_zero", vec![]),
            VersionZero => ("courseware.version_zero", vec![]),
            TooFewQuestions { count, min } => (
                "courseware.too_few_questions",
                vec![("count", count.to_string()), ("min", min.to_string())],
            ),
            QuestionDuplicate => ("courseware.question_duplicate", vec![]),
            OptionCount { count } => (
                "courseware.option_count",
                vec![
                    ("count", count.to_string()),
                    ("min", MIN_OPTIONS.to_string()),
                    ("max", MAX_OPTIONS.to_string()),
                ],
            ),
            OptionsOnTrueFalse => ("courseware.options_on_true_false", vec![]),
            OptionDuplicate { option } => {
                ("courseware.option_duplicate", vec![("option", option.clone())])
            }
            OptionPositional { option } => {
                ("courseware.option_positional", vec![("option", option.clone())])
            }
            AnswerLetterInvalid { answer, last } => (
                "courseware.answer_letter_invalid",
                vec![("answer", answer.clone()), ("last", last.to_string())],
            ),
            SingleAnswerCount { answer } => {
                ("courseware.single_answer_count", vec![("answer", answer.clone())])
            }
            MultipleAnswerCount { answer } => {
                ("courseware.multiple_answer_count", vec![("answer", answer.clone())])
            }
            TrueFalseAnswer { answer } => {
                ("courseware.true_false_answer", vec![("answer", answer.clone())])
            }
            DifficultyRange { difficulty } => {
                ("courseware.difficulty_range", vec![("difficulty", difficulty.to_string())])
            }
            // Rendered by `text`, because the detail is itself a localized message.
            ExamRuleInvalid { .. } => ("courseware.exam_rule_invalid", vec![]),
        }
    }

    /// Renders the problem alone, without its location.
    pub fn text(&self, locale: Locale) -> String {
        if let CoursewareProblem::ExamRuleInvalid { error } = self {
            return messages::text(locale, "courseware.exam_rule_invalid", &[("detail", &error.message(locale))]);
        }
        let (code, args) = self.message();
        let args: Vec<(&str, &str)> = args.iter().map(|(name, value)| (*name, value.as_str())).collect();
        messages::text(locale, code, &args)
    }
}

impl CoursewareError {
    /// Creates an error located in `file` only.
    pub fn in_file(file: &str, problem: CoursewareProblem) -> CoursewareError {
        CoursewareError { file: file.to_string(), line: None, course: None, question: None, problem }
    }

    /// Renders the location and the problem, such as
    /// `文件 T.yaml，第 12 行，课程 T-01：…`.
    pub fn message(&self, locale: Locale) -> String {
        let mut parts = vec![messages::text(locale, "courseware.location.file", &[("file", &self.file)])];
        if let Some(line) = self.line {
            parts.push(messages::text(locale, "courseware.location.line", &[("line", &line.to_string())]));
        }
        if let Some(course) = &self.course {
            parts.push(messages::text(locale, "courseware.location.course", &[("course", course)]));
        }
        if let Some(question) = &self.question {
            parts.push(messages::text(locale, "courseware.location.question", &[("question", question)]));
        }

        let (list_separator, problem_separator) = match locale {
            Locale::ZhCn => ("，", "："),
            Locale::En => (", ", ": "),
        };
        format!("{}{}{}", parts.join(list_separator), problem_separator, self.problem.text(locale))
    }
}

/// Renders the English message, for logs.
impl fmt::Display for CoursewareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Locale::En))
    }
}

impl std::error::Error for CoursewareError {}
