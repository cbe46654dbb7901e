//! The question bank as an xlsx sheet, the shape association staff keep it in: a
//! header row, then one row per question with the columns of [`SHEET_COLUMNS`].
//!
//! Reading checks each row on its own and reports problems by spreadsheet row number;
//! rows that pass can be imported even when others fail. Writing produces the same
//! columns plus the question id, version and status, which reading ignores.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use rust_xlsxwriter::{Format, Workbook};

use super::error::{BankError, RowProblem};
use crate::courseware::letters::letter_for;
use crate::courseware::validate;
use crate::courseware::{Answer, CoursewareProblem, MAX_OPTIONS, Question, QuestionKind};

/// The columns of a bank sheet in order: (zh-CN header, English header). The English
/// header is accepted on import as well. The option columns may be left out.
pub const SHEET_COLUMNS: [(&str, &str); 12] = [
    ("课程代码", "course_code"),
    ("题型", "type"),
    ("题干", "stem"),
    ("选项A", "option_a"),
    ("选项B", "option_b"),
    ("选项C", "option_c"),
    ("选项D", "option_d"),
    ("选项E", "option_e"),
    ("选项F", "option_f"),
    ("答案", "answer"),
    ("解析", "explanation"),
    ("难度", "difficulty"),
];

/// Extra columns of an exported sheet: question id, version and status.
const EXPORT_EXTRA_COLUMNS: [&str; 3] = ["题目编号", "版本", "状态"];

const COURSE: usize = 0;
const KIND: usize = 1;
const STEM: usize = 2;
const FIRST_OPTION: usize = 3;
const ANSWER: usize = 9;
const EXPLANATION: usize = 10;
const DIFFICULTY: usize = 11;

/// A question read from one sheet row, not yet stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetQuestion {
    pub course_code: String,
    pub kind: QuestionKind,
    pub stem: String,
    pub options: Vec<String>,
    pub answer: Answer,
    pub explanation: String,
    pub difficulty: u8,
}

impl SheetQuestion {
    /// Returns the bank question with id `id` and version `version`.
    pub fn into_question(self, id: String, version: u32) -> Question {
        Question {
            id,
            version,
            course_code: self.course_code,
            kind: self.kind,
            stem: self.stem,
            options: self.options,
            answer: self.answer,
            explanation: self.explanation,
            difficulty: self.difficulty,
        }
    }
}

/// One data row of a sheet: its spreadsheet row number and what it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetRow {
    /// 1-based row number as the spreadsheet program shows it.
    pub line: usize,
    /// The course code cell, trimmed, even when the row is invalid.
    pub course_code: String,
    pub question: Result<SheetQuestion, RowProblem>,
}

/// Reads the first worksheet of an xlsx file. Empty rows are skipped. Fails only when
/// the file is not xlsx, has no header row, or lacks a required column.
pub fn read_sheet(bytes: &[u8]) -> Result<Vec<SheetRow>, BankError> {
    let unreadable = |error: calamine::XlsxError| BankError::XlsxUnreadable { detail: error.to_string() };
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let first_sheet = workbook.sheet_names().first().cloned().ok_or(BankError::SheetEmpty)?;
    let range = workbook.worksheet_range(&first_sheet).map_err(unreadable)?;
    let (first_row, _) = range.start().unwrap_or((0, 0));

    let mut rows = range
        .rows()
        .enumerate()
        .map(|(offset, cells)| (first_row as usize + offset + 1, cells.iter().map(cell_text).collect::<Vec<String>>()))
        .filter(|(_, cells)| cells.iter().any(|cell| !cell.is_empty()));
    let (_, header) = rows.next().ok_or(BankError::SheetEmpty)?;
    let positions = column_positions(&header)?;

    Ok(rows
        .map(|(line, cells)| {
            let value = |column: usize| positions[column].and_then(|position| cells.get(position)).cloned().unwrap_or_default();
            let values: Vec<String> = (0..SHEET_COLUMNS.len()).map(value).collect();
            SheetRow { line, course_code: values[COURSE].clone(), question: read_row(&values) }
        })
        .collect())
}

/// Maps each sheet column to its position in the header row. Option columns may be
/// missing; any other missing column fails the whole sheet.
fn column_positions(header: &[String]) -> Result<Vec<Option<usize>>, BankError> {
    let normalized: Vec<String> = header.iter().map(|cell| header_key(cell)).collect();
    let positions: Vec<Option<usize>> = SHEET_COLUMNS
        .iter()
        .map(|(chinese, english)| normalized.iter().position(|cell| *cell == header_key(chinese) || *cell == header_key(english)))
        .collect();

    let missing: Vec<String> = SHEET_COLUMNS
        .iter()
        .zip(&positions)
        .enumerate()
        .filter(|(index, (_, position))| position.is_none() && !(FIRST_OPTION..FIRST_OPTION + MAX_OPTIONS).contains(index))
        .map(|(_, ((chinese, _), _))| chinese.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(BankError::ColumnsMissing { columns: missing });
    }
    Ok(positions)
}

fn header_key(text: &str) -> String {
    text.chars().filter(|character| !character.is_whitespace()).collect::<String>().to_lowercase()
}

fn cell_text(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::String(text) => text.trim().to_string(),
        Data::Float(number) if number.fract() == 0.0 && number.abs() < 1e15 => format!("{}", *number as i64),
        Data::Float(number) => number.to_string(),
        Data::Int(number) => number.to_string(),
        Data::Bool(value) => value.to_string(),
        other => other.to_string().trim().to_string(),
    }
}

/// Checks one row with the courseware rules and converts it.
fn read_row(values: &[String]) -> Result<SheetQuestion, RowProblem> {
    let course_code = values[COURSE].clone();
    if course_code.is_empty() {
        return Err(RowProblem::CourseMissing);
    }
    let kind = parse_kind(&values[KIND]).ok_or_else(|| RowProblem::KindUnknown { value: values[KIND].clone() })?;
    let difficulty: u8 = values[DIFFICULTY].parse().map_err(|_| RowProblem::DifficultyInvalid { value: values[DIFFICULTY].clone() })?;

    // Options are the filled cells from A on; a filled cell after an empty one is a gap.
    let cells = &values[FIRST_OPTION..FIRST_OPTION + MAX_OPTIONS];
    let filled = cells.iter().take_while(|cell| !cell.is_empty()).count();
    if cells[filled..].iter().any(|cell| !cell.is_empty()) {
        return Err(RowProblem::OptionGap { letter: letter_for(filled) });
    }
    let options = (filled > 0).then(|| cells[..filled].to_vec());
    check_question(course_code, kind, values[STEM].clone(), options, &values[ANSWER], values[EXPLANATION].clone(), difficulty)
        .map_err(RowProblem::Content)
}

/// Checks a question typed by staff, from a sheet row or a form, with the courseware
/// rules, and converts it. `options` is `None` when none were given; `answer` may be
/// typed as on a sheet (`a, c`, 正确).
pub fn check_question(
    course_code: String,
    kind: QuestionKind,
    stem: String,
    options: Option<Vec<String>>,
    answer: &str,
    explanation: String,
    difficulty: u8,
) -> Result<SheetQuestion, CoursewareProblem> {
    validate::check_question_text(&stem, &explanation, difficulty)?;
    let options = validate::check_options(kind, options)?;
    let answer = validate::parse_answer(kind, options.len(), &normalize_answer(kind, answer))?;
    Ok(SheetQuestion { course_code, kind, stem, options, answer, explanation, difficulty })
}

/// Reads the type cell: the Chinese names (单选, 单选题), or the courseware names.
fn parse_kind(text: &str) -> Option<QuestionKind> {
    match text.trim().to_lowercase().as_str() {
        "单选" | "单选题" | "single" => Some(QuestionKind::Single),
        "多选" | "多选题" | "multiple" => Some(QuestionKind::Multiple),
        "判断" | "判断题" | "true_false" => Some(QuestionKind::TrueFalse),
        _ => None,
    }
}

/// Brings a typed answer to the courseware form: `true`/`false` for true/false
/// questions (正确, 对, √ and TRUE are read as true), upper-case letters without
/// separators for choice questions (`a, c` becomes `AC`).
fn normalize_answer(kind: QuestionKind, text: &str) -> String {
    let text = text.trim();
    match kind {
        QuestionKind::TrueFalse => match text.to_lowercase().as_str() {
            "true" | "正确" | "对" | "√" | "是" => "true".to_string(),
            "false" | "错误" | "错" | "×" | "否" => "false".to_string(),
            other => other.to_string(),
        },
        QuestionKind::Single | QuestionKind::Multiple => text
            .chars()
            .filter(|character| !character.is_whitespace() && !matches!(character, ',' | '，' | '、'))
            .map(|character| character.to_ascii_uppercase())
            .collect(),
    }
}

/// Writes questions as a bank sheet; `rows` holds each question with its status label.
pub fn write_sheet(rows: &[(Question, String)]) -> Result<Vec<u8>, BankError> {
    let failed = |error: rust_xlsxwriter::XlsxError| BankError::XlsxWriteFailed { detail: error.to_string() };
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("题库").map_err(failed)?;
    let bold = Format::new().set_bold();

    let headers = SHEET_COLUMNS.iter().map(|(chinese, _)| *chinese).chain(EXPORT_EXTRA_COLUMNS);
    for (column, header) in headers.enumerate() {
        sheet.write_string_with_format(0, column as u16, header, &bold).map_err(failed)?;
    }

    for (index, (question, status)) in rows.iter().enumerate() {
        let row = index as u32 + 1;
        let kind = match question.kind {
            QuestionKind::Single => "单选",
            QuestionKind::Multiple => "多选",
            QuestionKind::TrueFalse => "判断",
        };
        let answer = match &question.answer {
            Answer::Single(index) => letter_for(*index).to_string(),
            Answer::Multiple(indices) => indices.iter().map(|&index| letter_for(index)).collect(),
            Answer::TrueFalse(true) => "正确".to_string(),
            Answer::TrueFalse(false) => "错误".to_string(),
        };
        sheet.write_string(row, COURSE as u16, &question.course_code).map_err(failed)?;
        sheet.write_string(row, KIND as u16, kind).map_err(failed)?;
        sheet.write_string(row, STEM as u16, &question.stem).map_err(failed)?;
        for (offset, option) in question.options.iter().enumerate() {
            sheet.write_string(row, (FIRST_OPTION + offset) as u16, option).map_err(failed)?;
        }
        sheet.write_string(row, ANSWER as u16, &answer).map_err(failed)?;
        sheet.write_string(row, EXPLANATION as u16, &question.explanation).map_err(failed)?;
        sheet.write_number(row, DIFFICULTY as u16, f64::from(question.difficulty)).map_err(failed)?;
        let extra = SHEET_COLUMNS.len() as u16;
        sheet.write_string(row, extra, &question.id).map_err(failed)?;
        sheet.write_number(row, extra + 1, f64::from(question.version)).map_err(failed)?;
        sheet.write_string(row, extra + 2, status).map_err(failed)?;
    }
    workbook.save_to_buffer().map_err(failed)
}
