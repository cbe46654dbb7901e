//! Reading one courseware YAML file into the model.
//!
//! The file format, one file per operation item:
//!
//! ```yaml
//! item: T
//! years: [2026, 2027]
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
use super::model::{Course, ItemCourseware, Question, QuestionKind};
use super::validate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSource {
    item: String,
    years: Vec<i32>,
    courses: Vec<CourseSource>,
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

    Ok(ItemCourseware { item_code: source.item, years: source.years, courses })
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
