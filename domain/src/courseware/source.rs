//! Reading one courseware YAML file into the model.
//!
//! The file format, one file per operation item:
//!
//! ```yaml
//! item: T
//! years: [2026, 2027]
//! exam:                    # optional; each key has a default
//!   questions_per_course: 5
//!   difficulty_mix: {easy: 2, medium: 2, hard: 1}   # totals questions_per_course
//!   pass_mark: 70          # out of 100
//!   multiple_choice: all_or_nothing   # or partial
//! courses:
//!   - code: T-01
//!     title: 电梯维护保养的法规要求
//!     minutes: 45          # minimum study time
//!     version: 1
//!     questions:
//!       - id: T-01-1
//!         type: single      # single | multiple | true_false
//!         stem: "…？"
//!         options: ["…", "…", "…", "…"]   # omitted for true_false
//!         answer: B         # ACD for multiple, true/false for true_false
//!         explanation: "…"
//!         difficulty: 2     # 1 to 3
//! ```
//!
//! Unknown and repeated keys are rejected so that a typing mistake does not silently
//! drop a field.

use std::collections::HashSet;

use marked_yaml::{FromYamlError, LoaderOptions, Spanned};
use serde::Deserialize;

use super::error::{CoursewareError, CoursewareProblem};
use super::model::{Course, ItemCourseware, ItemExamRule, Question, QuestionKind};
use crate::exam::{DifficultyMix, MultipleScoring};
use super::validate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSource {
    item: String,
    years: Vec<i32>,
    #[serde(default)]
    exam: ExamSource,
    courses: Vec<CourseSource>,
}

/// The optional `exam` block; each key left out takes the default of [`ItemExamRule`].
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExamSource {
    questions_per_course: Option<usize>,
    difficulty_mix: Option<DifficultyMix>,
    pass_mark: Option<u32>,
    multiple_choice: Option<MultipleScoring>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseSource {
    code: Spanned<String>,
    title: String,
    minutes: u32,
    version: u32,
    questions: Vec<QuestionSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionSource {
    id: Spanned<String>,
    #[serde(rename = "type")]
    kind: QuestionKind,
    stem: String,
    options: Option<Vec<String>>,
    /// Kept as text because `B`, `ACD` and `true` share the field.
    answer: String,
    explanation: String,
    difficulty: u8,
}

/// Parses and validates the courseware file `file_name` with contents `text`.
/// The error names the first problem found.
pub fn parse_item(file_name: &str, text: &str) -> Result<ItemCourseware, CoursewareError> {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let source: FileSource =
        marked_yaml::from_yaml_with_options(0, text, options).map_err(|error| yaml_error(file_name, error))?;

    let file_error = |problem| CoursewareError::in_file(file_name, problem);
    validate::check_item_code(&source.item, file_name).map_err(file_error)?;
    validate::check_years(&source.years).map_err(file_error)?;
    if source.courses.is_empty() {
        return Err(file_error(CoursewareProblem::CoursesEmpty));
    }

    let mut course_codes = HashSet::new();
    let mut question_ids = HashSet::new();
    let mut courses = Vec::with_capacity(source.courses.len());
    for course in source.courses {
        let course = convert_course(file_name, &source.item, &source.years, course, &mut question_ids)?;
        if !course_codes.insert(course.code.clone()) {
            let mut error = CoursewareError::in_file(file_name, CoursewareProblem::CourseDuplicate);
            error.course = Some(course.code);
            return Err(error);
        }
        courses.push(course);
    }

    let exam = convert_exam(&source.exam).map_err(file_error)?;
    Ok(ItemCourseware { item_code: source.item, years: source.years, courses, exam })
}

/// Fills the item's exam rule from the file's `exam` block. A difficulty mix without
/// `questions_per_course` sets it to the mix's total.
fn convert_exam(source: &ExamSource) -> Result<ItemExamRule, CoursewareProblem> {
    let defaults = ItemExamRule::default();
    let questions_per_course = source
        .questions_per_course
        .or(source.difficulty_mix.map(|mix| mix.total()))
        .unwrap_or(defaults.questions_per_course);
    let rule = ItemExamRule {
        questions_per_course,
        difficulty_mix: source.difficulty_mix,
        pass_mark: source.pass_mark.unwrap_or(defaults.pass_mark),
        multiple_choice: source.multiple_choice.unwrap_or(defaults.multiple_choice),
    };
    // The time limit belongs to the pipeline; any positive value lets the rest be checked here.
    rule.paper_rule(1).validate().map_err(|error| CoursewareProblem::ExamRuleInvalid { error })?;
    Ok(rule)
}

fn convert_course(
    file_name: &str,
    item_code: &str,
    years: &[i32],
    source: CourseSource,
    question_ids: &mut HashSet<String>,
) -> Result<Course, CoursewareError> {
    let code = source.code.as_str().to_string();
    let course_error = |problem| CoursewareError {
        file: file_name.to_string(),
        line: line_of(&source.code),
        course: Some(code.clone()),
        question: None,
        problem,
    };
    validate::require_text("code", &code).map_err(course_error)?;
    validate::check_course(&source.title, source.minutes, source.version, source.questions.len())
        .map_err(course_error)?;

    let mut questions = Vec::with_capacity(source.questions.len());
    for question in source.questions {
        let question_error = |problem| CoursewareError {
            file: file_name.to_string(),
            line: line_of(&question.id),
            course: Some(code.clone()),
            question: Some(question.id.as_str().to_string()),
            problem,
        };
        validate::require_text("id", &question.id).map_err(question_error)?;
        if !question_ids.insert(question.id.as_str().to_string()) {
            return Err(question_error(CoursewareProblem::QuestionDuplicate));
        }
        let converted = convert_question(&code, &question).map_err(question_error)?;
        questions.push(converted);
    }

    Ok(Course {
        item_code: item_code.to_string(),
        code,
        title: source.title,
        minutes: source.minutes,
        version: source.version,
        years: years.to_vec(),
        questions,
    })
}

fn convert_question(course_code: &str, source: &QuestionSource) -> Result<Question, CoursewareProblem> {
    validate::check_question_text(&source.stem, &source.explanation, source.difficulty)?;
    let options = validate::check_options(source.kind, source.options.clone())?;
    let answer = validate::parse_answer(source.kind, options.len(), &source.answer)?;

    Ok(Question {
        id: source.id.as_str().to_string(),
        version: 1,
        course_code: course_code.to_string(),
        kind: source.kind,
        stem: source.stem.clone(),
        options,
        answer,
        explanation: source.explanation.clone(),
        difficulty: source.difficulty,
    })
}

fn line_of<T>(value: &Spanned<T>) -> Option<usize> {
    value.span().start().map(|marker| marker.line())
}

fn yaml_error(file_name: &str, error: FromYamlError) -> CoursewareError {
    let line = match &error {
        FromYamlError::FromNode(node_error) => node_error.start_mark().map(|marker| marker.line()),
        FromYamlError::ParseYaml(_) => None,
    };
    let mut courseware_error =
        CoursewareError::in_file(file_name, CoursewareProblem::YamlInvalid { detail: error.to_string() });
    courseware_error.line = line;
    courseware_error
}
