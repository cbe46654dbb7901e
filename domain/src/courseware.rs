//! Courseware and the question bank: the courses of each operation item, one credit
//! each, and the questions that exams draw from them.
//!
//! Each item has one YAML file in `definitions/courseware/`, named after the item code
//! (`T.yaml`, `N1.yaml`). The format is documented in `courseware/source.rs`. The files
//! are compiled in through [`Courseware::embedded`] and can be reloaded from disk
//! with [`Courseware::load_dir`].

mod error;
pub mod letters;
mod model;
mod source;
pub(crate) mod validate;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::{CoursewareError, CoursewareProblem};
pub use model::{Answer, Course, ItemCourseware, ItemExamRule, Question, QuestionKind};
pub use validate::{MAX_OPTIONS, MIN_OPTIONS, MIN_QUESTIONS_PER_COURSE};

/// The courseware files compiled into the binary, as (file name, text).
const EMBEDDED: &[(&str, &str)] = &[
    ("T.yaml", include_str!("../../definitions/courseware/T.yaml")),
    ("R1.yaml", include_str!("../../definitions/courseware/R1.yaml")),
    ("R2.yaml", include_str!("../../definitions/courseware/R2.yaml")),
    ("R3.yaml", include_str!("../../definitions/courseware/R3.yaml")),
    ("N1.yaml", include_str!("../../definitions/courseware/N1.yaml")),
    ("N2.yaml", include_str!("../../definitions/courseware/N2.yaml")),
];

/// The courseware of all operation items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Courseware {
    /// Items in file order, with distinct item codes and question ids unique across items.
    pub items: Vec<ItemCourseware>,
}

impl Courseware {
    /// Parses and validates one courseware file. `file_name` is used in errors and must
    /// match the `item` field when it ends in `.yaml` or `.yml`.
    pub fn parse_yaml(file_name: &str, text: &str) -> Result<ItemCourseware, CoursewareError> {
        source::parse_item(file_name, text)
    }

    /// Parses the courseware files compiled into the binary.
    pub fn embedded() -> Result<Courseware, CoursewareError> {
        Courseware::parse_files(EMBEDDED.iter().map(|(name, text)| (name.to_string(), text.to_string())))
    }

    /// Reads every `*.yaml` file in `dir`, such as `definitions/courseware`, in file name
    /// order. Fails on the first unreadable or invalid file, or when there is none.
    pub fn load_dir(dir: &Path) -> Result<Courseware, CoursewareError> {
        let dir_name = dir.display().to_string();
        let read_error = |file: &str, error: std::io::Error| {
            CoursewareError::in_file(file, CoursewareProblem::ReadFailed { detail: error.to_string() })
        };

        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|error| read_error(&dir_name, error))? {
            let path = entry.map_err(|error| read_error(&dir_name, error))?.path();
            if path.is_file() && path.extension().is_some_and(|extension| extension == "yaml") {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(CoursewareError::in_file(&dir_name, CoursewareProblem::DirectoryEmpty));
        }
        paths.sort();

        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let file_name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            let text = std::fs::read_to_string(&path).map_err(|error| read_error(&path.display().to_string(), error))?;
            files.push((file_name, text));
        }
        Courseware::parse_files(files)
    }

    fn parse_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Courseware, CoursewareError> {
        let mut items = Vec::new();
        let mut item_codes = HashSet::new();
        let mut question_ids = HashSet::new();
        for (file_name, text) in files {
            let item = Courseware::parse_yaml(&file_name, &text)?;
            if !item_codes.insert(item.item_code.clone()) {
                let item_code = item.item_code.clone();
                return Err(CoursewareError::in_file(&file_name, CoursewareProblem::ItemDuplicate { item: item_code }));
            }
            for question in item.courses.iter().flat_map(|course| &course.questions) {
                if !question_ids.insert(question.id.clone()) {
                    let mut error = CoursewareError::in_file(&file_name, CoursewareProblem::QuestionDuplicate);
                    error.course = Some(question.course_code.clone());
                    error.question = Some(question.id.clone());
                    return Err(error);
                }
            }
            items.push(item);
        }
        Ok(Courseware { items })
    }

    /// Returns the courseware of operation item `item_code`, if there is any.
    pub fn item(&self, item_code: &str) -> Option<&ItemCourseware> {
        self.items.iter().find(|item| item.item_code == item_code)
    }

    /// Returns the correct answer of every question by question id, for grading.
    pub fn answer_key(&self) -> HashMap<String, Answer> {
        self.items
            .iter()
            .flat_map(|item| &item.courses)
            .flat_map(|course| &course.questions)
            .map(|question| (question.id.clone(), question.answer.clone()))
            .collect()
    }
}
