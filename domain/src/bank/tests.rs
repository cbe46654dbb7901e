//! Tests of review statuses, stem keys and the bank sheet.

use rust_xlsxwriter::Workbook;

use super::*;
use crate::courseware::{Answer, CoursewareProblem, QuestionKind};
use crate::messages::Locale;

#[test]
fn review_steps_follow_the_status_order() {
    use BankStatus::*;
    use ReviewAction::*;
    let cases = [
        (Draft, Submit, "author", Some("reason"), Ok(UnderReview)),
        (UnderReview, Approve, "reviewer", None, Ok(Published)),
        (UnderReview, Reject, "reviewer", Some("选项B有误"), Ok(Draft)),
        (UnderReview, Reject, "reviewer", None, Err(BankError::ReasonMissing)),
        (UnderReview, Reject, "reviewer", Some("  "), Err(BankError::ReasonMissing)),
        (UnderReview, Approve, "author", None, Err(BankError::ReviewerIsAuthor)),
        (UnderReview, Approve, "submitter", None, Err(BankError::ReviewerIsAuthor)),
        (Published, Retire, "author", None, Ok(Retired)),
        (Draft, Approve, "reviewer", None, Err(BankError::StepNotAllowed { action: Approve, status: Draft })),
        (Published, Submit, "author", None, Err(BankError::StepNotAllowed { action: Submit, status: Published })),
        (Retired, Retire, "author", None, Err(BankError::StepNotAllowed { action: Retire, status: Retired })),
        (Draft, Retire, "author", None, Err(BankError::StepNotAllowed { action: Retire, status: Draft })),
    ];
    for (status, action, actor, reason, expected) in cases {
        let next = next_status(status, action, actor, "author", Some("submitter"), reason);
        assert_eq!(next, expected, "{action:?} on {status:?} by {actor}");
    }
}

#[test]
fn status_names_round_trip() {
    for status in [BankStatus::Draft, BankStatus::UnderReview, BankStatus::Published, BankStatus::Retired] {
        assert_eq!(BankStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(BankStatus::parse("deleted"), None);
}

#[test]
fn stem_key_ignores_width_spacing_and_case() {
    assert_eq!(stem_key("电梯 限速器（ABC）动作速度？"), stem_key("电梯限速器(abc)动作速度?"));
    assert_ne!(stem_key("电梯限速器动作速度？"), stem_key("电梯安全钳动作速度？"));
}

/// Builds an xlsx file from rows of cell texts, the first row being the header.
fn workbook(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (row, cells) in rows.iter().enumerate() {
        for (column, text) in cells.iter().enumerate() {
            if !text.is_empty() {
                sheet.write_string(row as u32, column as u16, *text).unwrap();
            }
        }
    }
    workbook.save_to_buffer().unwrap()
}

fn header() -> Vec<&'static str> {
    SHEET_COLUMNS.iter().map(|(chinese, _)| *chinese).collect()
}

#[test]
fn sheet_rows_are_checked_one_by_one() {
    let bytes = workbook(&[
        header(),
        vec!["T-01", "单选", "限速器校验周期是多久？", "半年", "一年", "两年", "", "", "", "b", "每年校验一次。", "1"],
        vec!["T-01", "多选", "哪些属于安全部件？", "限速器", "安全钳", "装饰板", "", "", "", "A、B", "限速器和安全钳。", "2"],
        vec!["T-01", "判断", "维保可以不做记录。", "", "", "", "", "", "", "错误", "必须记录。", "1"],
        vec![],
        vec!["", "单选", "无课程", "a", "b", "", "", "", "", "A", "x", "1"],
        vec!["T-01", "填空", "题型不对", "", "", "", "", "", "", "A", "x", "1"],
        vec!["T-01", "单选", "选项有空", "a", "", "c", "", "", "", "A", "x", "1"],
        vec!["T-01", "单选", "答案越界", "a", "b", "", "", "", "", "D", "x", "1"],
        vec!["T-01", "单选", "难度不对", "a", "b", "", "", "", "", "A", "x", "难"],
    ]);
    let rows = read_sheet(&bytes).unwrap();
    let lines: Vec<usize> = rows.iter().map(|row| row.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 6, 7, 8, 9, 10], "the empty row 5 is skipped");

    let single = rows[0].question.as_ref().unwrap();
    assert_eq!(single.kind, QuestionKind::Single);
    assert_eq!(single.answer, Answer::Single(1), "lower-case b is option B");
    assert_eq!(single.options, vec!["半年", "一年", "两年"]);
    assert_eq!(rows[1].question.as_ref().unwrap().answer, Answer::Multiple(vec![0, 1]));
    assert_eq!(rows[2].question.as_ref().unwrap().answer, Answer::TrueFalse(false));

    assert_eq!(rows[3].question, Err(RowProblem::CourseMissing));
    assert_eq!(rows[4].question, Err(RowProblem::KindUnknown { value: "填空".into() }));
    assert_eq!(rows[5].question, Err(RowProblem::OptionGap { letter: 'B' }));
    assert!(matches!(rows[6].question, Err(RowProblem::Content(CoursewareProblem::AnswerLetterInvalid { .. }))));
    assert_eq!(rows[7].question, Err(RowProblem::DifficultyInvalid { value: "难".into() }));

    let message = rows[5].question.as_ref().unwrap_err().message(Locale::ZhCn, rows[5].line);
    assert_eq!(message, "第 8 行：选项B为空但后面的选项有内容，请从选项A起连续填写。");
}

#[test]
fn sheet_accepts_english_headers_without_options() {
    let bytes = workbook(&[
        vec!["course_code", "type", "stem", "answer", "explanation", "difficulty"],
        vec!["N1-02", "true_false", "叉车可以载人。", "false", "禁止载人。", "1"],
    ]);
    let rows = read_sheet(&bytes).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].question.as_ref().unwrap().answer, Answer::TrueFalse(false));
}

#[test]
fn sheet_without_required_columns_fails_whole() {
    let bytes = workbook(&[vec!["课程代码", "题干", "答案"], vec!["T-01", "x", "A"]]);
    let error = read_sheet(&bytes).unwrap_err();
    assert_eq!(error, BankError::ColumnsMissing { columns: vec!["题型".into(), "解析".into(), "难度".into()] });
    assert!(error.message(Locale::ZhCn).contains("题型、解析、难度"), "{}", error.message(Locale::ZhCn));

    assert!(matches!(read_sheet(b"not a zip"), Err(BankError::XlsxUnreadable { .. })));
}

#[test]
fn exported_sheet_reads_back() {
    let courseware = crate::courseware::Courseware::embedded().unwrap();
    let questions: Vec<(crate::courseware::Question, String)> =
        courseware.item("T").unwrap().courses[0].questions.iter().map(|question| (question.clone(), "已发布".to_string())).collect();
    let bytes = write_sheet(&questions).unwrap();

    let rows = read_sheet(&bytes).unwrap();
    assert_eq!(rows.len(), questions.len());
    for (row, (question, _)) in rows.into_iter().zip(&questions) {
        let read = row.question.unwrap_or_else(|problem| panic!("row {}: {problem:?}", row.line));
        assert_eq!(read.clone().into_question(question.id.clone(), question.version), *question);
    }
}

#[test]
fn bank_messages_in_catalogue() {
    let errors = [
        BankError::StepNotAllowed { action: ReviewAction::Approve, status: BankStatus::Draft },
        BankError::ReviewerIsAuthor,
        BankError::ReasonMissing,
        BankError::XlsxUnreadable { detail: "d".into() },
        BankError::SheetEmpty,
        BankError::ColumnsMissing { columns: vec!["题型".into()] },
        BankError::XlsxWriteFailed { detail: "d".into() },
    ];
    for error in errors {
        for locale in [Locale::ZhCn, Locale::En] {
            let text = error.message(locale);
            assert!(!text.starts_with("bank."), "{error:?} has no message");
            assert!(!text.contains('{'), "{error:?} leaves a placeholder: {text}");
        }
    }
    let problems = [
        RowProblem::CourseMissing,
        RowProblem::KindUnknown { value: "v".into() },
        RowProblem::DifficultyInvalid { value: "v".into() },
        RowProblem::OptionGap { letter: 'C' },
        RowProblem::Content(CoursewareProblem::MinutesZero),
        RowProblem::CourseUnknown { course: "c".into() },
        RowProblem::CourseAmbiguous { course: "c".into(), items: vec!["T".into(), "N1".into()] },
        RowProblem::StemDuplicateInSheet { line: 3 },
        RowProblem::StemDuplicateInBank { question: "T-01-1".into() },
    ];
    for problem in problems {
        for locale in [Locale::ZhCn, Locale::En] {
            let text = problem.message(locale, 7);
            assert!(!text.contains("bank."), "{problem:?} has no message: {text}");
            assert!(!text.contains('{'), "{problem:?} leaves a placeholder: {text}");
        }
    }
}
