//! Errors of paper assembly and grading.

use std::fmt;

use crate::messages::{self, Locale};

/// A failure of paper assembly or grading. Each variant has a message in
/// `definitions/messages/exam.yaml` under `exam.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExamError {
    /// The operator has no completed course that is not yet credited.
    NoCourses,
    /// The courses belong to more than one operation item, listed in input order.
    MixedItems { item_codes: Vec<String> },
    DuplicateCourse { course: String },
    CourseWithoutQuestions { course: String },
    QuestionsPerCourseZero,
    TimeLimitZero,
    PassMarkRange { pass_mark: u32 },
    /// The difficulty mix does not add up to the questions per course.
    DifficultyMixTotal { total: usize, questions_per_course: usize },
    /// A paper question has no entry in the answer key.
    AnswerKeyMissing { question: String },
    /// The answer key no longer fits the paper question, for example because the
    /// question changed kind or lost options after the paper was assembled.
    AnswerKeyMismatch { question: String },
}

impl ExamError {
    /// Returns the message code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            ExamError::NoCourses => "exam.no_courses",
            ExamError::MixedItems { .. } => "exam.mixed_items",
            ExamError::DuplicateCourse { .. } => "exam.duplicate_course",
            ExamError::CourseWithoutQuestions { .. } => "exam.course_without_questions",
            ExamError::QuestionsPerCourseZero => "exam.questions_per_course_zero",
            ExamError::TimeLimitZero => "exam.time_limit_zero",
            ExamError::PassMarkRange { .. } => "exam.pass_mark_range",
            ExamError::DifficultyMixTotal { .. } => "exam.difficulty_mix_total",
            ExamError::AnswerKeyMissing { .. } => "exam.answer_key_missing",
            ExamError::AnswerKeyMismatch { .. } => "exam.answer_key_mismatch",
        }
    }

    /// Renders the user-facing message in `locale`.
    pub fn message(&self, locale: Locale) -> String {
        let args: Vec<(&str, String)> = match self {
            ExamError::NoCourses | ExamError::QuestionsPerCourseZero | ExamError::TimeLimitZero => vec![],
            ExamError::MixedItems { item_codes } => {
                let separator = match locale {
                    Locale::ZhCn => "、",
                    Locale::En => ", ",
                };
                vec![("items", item_codes.join(separator))]
            }
            ExamError::DuplicateCourse { course } | ExamError::CourseWithoutQuestions { course } => {
                vec![("course", course.clone())]
            }
            ExamError::PassMarkRange { pass_mark } => vec![("pass_mark", pass_mark.to_string())],
            ExamError::DifficultyMixTotal { total, questions_per_course } => {
                vec![("total", total.to_string()), ("questions_per_course", questions_per_course.to_string())]
            }
            ExamError::AnswerKeyMissing { question } | ExamError::AnswerKeyMismatch { question } => {
                vec![("question", question.clone())]
            }
        };
        let args: Vec<(&str, &str)> = args.iter().map(|(name, value)| (*name, value.as_str())).collect();
        messages::text(locale, self.code(), &args)
    }
}

/// Renders the English message, for logs.
impl fmt::Display for ExamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Locale::En))
    }
}

impl std::error::Error for ExamError {}
