use std::collections::HashSet;
use std::path::Path;

use super::*;
use crate::messages::{Catalogue, Locale};

const ITEMS: [&str; 6] = ["T", "R1", "R2", "R3", "N1", "N2"];

/// A valid file with one course of three questions. Tests break one field at a time.
const VALID: &str = r#"
item: X1
years: [2026]
courses:
  - code: X1-01
    title: 测试课程
    minutes: 30
    version: 1
    questions:
      - id: X1-01-1
        type: single
        stem: "单选题题干？"
        options: ["甲", "乙", "丙", "丁"]
        answer: B
        explanation: "说明"
        difficulty: 1
      - id: X1-01-2
        type: multiple
        stem: "多选题题干？"
        options: ["甲", "乙", "丙", "丁"]
        answer: ACD
        explanation: "说明"
        difficulty: 2
      - id: X1-01-3
        type: true_false
        stem: "判断题题干。"
        answer: false
        explanation: "说明"
        difficulty: 3
"#;

fn parse_variant(from: &str, to: &str) -> Result<ItemCourseware, CoursewareError> {
    assert!(VALID.contains(from), "fixture does not contain {from:?}");
    Courseware::parse_yaml("X1.yaml", &VALID.replacen(from, to, 1))
}

#[test]
fn valid_fixture_parses() {
    let item = Courseware::parse_yaml("X1.yaml", VALID).expect("fixture is valid");
    assert_eq!(item.item_code, "X1");
    assert_eq!(item.years, vec![2026]);

    let course = item.course("X1-01").expect("course X1-01");
    assert_eq!(course.item_code, "X1");
    assert_eq!(course.years, vec![2026]);
    assert_eq!(course.questions[0].answer, Answer::Single(1));
    assert_eq!(course.questions[1].answer, Answer::Multiple(vec![0, 2, 3]));
    assert_eq!(course.questions[2].answer, Answer::TrueFalse(false));
    assert!(course.questions[2].options.is_empty());
    assert_eq!(course.questions[1].course_code, "X1-01");
}

#[test]
fn multiple_answer_letters_any_order() {
    let item = parse_variant("answer: ACD", "answer: DCA").expect("letters in any order");
    assert_eq!(item.courses[0].questions[1].answer, Answer::Multiple(vec![0, 2, 3]));
}

#[test]
fn validation_rejects_bad_fields() {
    use CoursewareProblem::*;
    let cases: Vec<(&str, &str, &str, CoursewareProblem)> = vec![
        ("single letter beyond options", "answer: B", "answer: E", AnswerLetterInvalid { answer: "E".into(), last: 'D' }),
        ("lower-case letter", "answer: B", "answer: b", AnswerLetterInvalid { answer: "b".into(), last: 'D' }),
        ("single with two letters", "answer: B", "answer: BC", SingleAnswerCount { answer: "BC".into() }),
        ("multiple with one letter", "answer: ACD", "answer: C", MultipleAnswerCount { answer: "C".into() }),
        ("multiple repeated letter", "answer: ACD", "answer: AAC", AnswerLetterInvalid { answer: "AAC".into(), last: 'D' }),
        ("true_false with yes", "answer: false", "answer: yes", TrueFalseAnswer { answer: "yes".into() }),
        (
            "true_false with options",
            "answer: false",
            "options: [\"对\", \"错\"]\n        answer: false",
            OptionsOnTrueFalse,
        ),
        ("difficulty zero", "difficulty: 1", "difficulty: 0", DifficultyRange { difficulty: 0 }),
        ("difficulty four", "difficulty: 3", "difficulty: 4", DifficultyRange { difficulty: 4 }),
        ("minutes zero", "minutes: 30", "minutes: 0", MinutesZero),
        ("version zero", "version: 1", "version: 0", VersionZero),
        ("one option", r#"options: ["甲", "乙", "丙", "丁"]"#, r#"options: ["甲"]"#, OptionCount { count: 1 }),
        (
            "seven options",
            r#"options: ["甲", "乙", "丙", "丁"]"#,
            r#"options: ["甲", "乙", "丙", "丁", "戊", "己", "庚"]"#,
            OptionCount { count: 7 },
        ),
        ("choice without options", "        options: [\"甲\", \"乙\", \"丙\", \"丁\"]\n", "", OptionCount { count: 0 }),
        (
            "duplicate option",
            r#"options: ["甲", "乙", "丙", "丁"]"#,
            r#"options: ["甲", "乙", "甲", "丁"]"#,
            OptionDuplicate { option: "甲".into() },
        ),
        (
            "positional option",
            r#"options: ["甲", "乙", "丙", "丁"]"#,
            r#"options: ["甲", "乙", "丙", "以上都对"]"#,
            OptionPositional { option: "以上都对".into() },
        ),
        ("empty stem", "stem: \"单选题题干？\"", "stem: \"\"", FieldEmpty { field: "stem" }),
        ("empty explanation", "explanation: \"说明\"", "explanation: \" \"", FieldEmpty { field: "explanation" }),
        ("empty title", "title: 测试课程", "title: \"\"", FieldEmpty { field: "title" }),
        ("repeated question id", "id: X1-01-2", "id: X1-01-1", QuestionDuplicate),
        ("item differs from file", "item: X1", "item: X2", ItemMismatch { item: "X2".into(), expected: "X1".into() }),
        ("no years", "years: [2026]", "years: []", YearsEmpty),
        ("implausible year", "years: [2026]", "years: [226]", YearInvalid { year: 226 }),
        ("repeated year", "years: [2026]", "years: [2026, 2026]", YearDuplicate { year: 2026 }),
    ];

    for (name, from, to, expected) in cases {
        let error = parse_variant(from, to).expect_err(name);
        assert_eq!(error.problem, expected, "{name}: {error}");
        assert_eq!(error.file, "X1.yaml", "{name}");
    }
}

#[test]
fn too_few_questions_rejected() {
    let start = VALID.find("      - id: X1-01-3").expect("third question");
    let error = Courseware::parse_yaml("X1.yaml", &VALID[..start]).expect_err("two questions");
    assert_eq!(error.problem, CoursewareProblem::TooFewQuestions { count: 2, min: 3 });
    assert_eq!(error.course.as_deref(), Some("X1-01"));
}

#[test]
fn duplicate_course_code_rejected() {
    let course_start = VALID.find("  - code: X1-01").expect("course");
    let second = VALID[course_start..].replace("X1-01-", "X1-02-");
    let text = format!("{VALID}{second}");
    let error = Courseware::parse_yaml("X1.yaml", &text).expect_err("course code twice");
    assert_eq!(error.problem, CoursewareProblem::CourseDuplicate);
    assert_eq!(error.course.as_deref(), Some("X1-01"));
}

#[test]
fn unknown_field_rejected() {
    let error = parse_variant("difficulty: 2", "difficulty: 2\n        credit: 1").expect_err("unknown field");
    assert!(matches!(error.problem, CoursewareProblem::YamlInvalid { .. }), "{error}");
    assert!(error.to_string().contains("credit"), "{error}");
}

#[test]
fn repeated_key_rejected() {
    let error = parse_variant("difficulty: 2", "difficulty: 2\n        difficulty: 3").expect_err("repeated key");
    assert!(matches!(error.problem, CoursewareProblem::YamlInvalid { .. }), "{error}");
}

#[test]
fn error_locates_question() {
    let error = parse_variant("answer: ACD", "answer: AZ").expect_err("bad letter");
    assert_eq!(error.course.as_deref(), Some("X1-01"));
    assert_eq!(error.question.as_deref(), Some("X1-01-2"));

    let id_line = VALID.lines().position(|line| line.contains("id: X1-01-2")).expect("question line") + 1;
    assert_eq!(error.line, Some(id_line));

    let chinese = error.message(Locale::ZhCn);
    assert!(chinese.contains("X1.yaml"), "{chinese}");
    assert!(chinese.contains("X1-01-2"), "{chinese}");
    assert!(chinese.contains("AZ"), "{chinese}");
    let english = error.message(Locale::En);
    assert!(english.contains(&format!("line {id_line}")), "{english}");
}

#[test]
fn problem_messages_in_catalogue() {
    use CoursewareProblem::*;
    let problems = vec![
        YamlInvalid { detail: "d".into() },
        ReadFailed { detail: "d".into() },
        DirectoryEmpty,
        FieldEmpty { field: "stem" },
        ItemMismatch { item: "A".into(), expected: "B".into() },
        ItemDuplicate { item: "A".into() },
        YearsEmpty,
        YearInvalid { year: 1 },
        YearDuplicate { year: 2026 },
        CoursesEmpty,
        CourseDuplicate,
        MinutesZero,
        VersionZero,
        TooFewQuestions { count: 1, min: 3 },
        QuestionDuplicate,
        OptionCount { count: 1 },
        OptionsOnTrueFalse,
        OptionDuplicate { option: "o".into() },
        OptionPositional { option: "o".into() },
        AnswerLetterInvalid { answer: "E".into(), last: 'D' },
        SingleAnswerCount { answer: "AB".into() },
        MultipleAnswerCount { answer: "A".into() },
        TrueFalseAnswer { answer: "yes".into() },
        DifficultyRange { difficulty: 9 },
        ExamRuleInvalid { error: crate::exam::ExamError::PassMarkRange { pass_mark: 101 } },
    ];
    for problem in problems {
        for locale in [Locale::ZhCn, Locale::En] {
            let text = problem.text(locale);
            assert!(!text.starts_with("courseware."), "{problem:?} has no message");
            assert!(!text.contains('{'), "{problem:?} leaves a placeholder: {text}");
        }
    }
    for code in ["courseware.location.file", "courseware.location.line", "courseware.location.course", "courseware.location.question"] {
        assert!(Catalogue::global().contains(code), "{code} missing");
    }
}

#[test]
fn embedded_courseware_parses() {
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    let codes: Vec<&str> = courseware.items.iter().map(|item| item.item_code.as_str()).collect();
    assert_eq!(codes, ITEMS);
}

#[test]
fn embedded_items_meet_content_rules() {
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    for item in &courseware.items {
        let code = &item.item_code;
        assert!(item.courses.len() >= 20, "{code} has {} courses", item.courses.len());
        assert_eq!(item.years, vec![2026, 2027], "{code} years");

        for course in &item.courses {
            let name = &course.code;
            assert!(name.starts_with(&format!("{code}-")), "{name} lacks the item prefix");
            assert!((30..=60).contains(&course.minutes), "{name} minutes {}", course.minutes);
            assert!(course.questions.len() >= 3, "{name} has too few questions");

            let kinds: HashSet<QuestionKind> = course.questions.iter().map(|question| question.kind).collect();
            assert_eq!(kinds.len(), 3, "{name} lacks a question kind: {kinds:?}");

            for question in &course.questions {
                assert!(question.id.starts_with(&format!("{name}-")), "{} lacks the course prefix", question.id);
            }
        }
    }
}

#[test]
fn embedded_questions_avoid_credit_claims() {
    // The 20-credit card is the association's own scheme, so no question may present
    // it, or any credit count, as a national rule.
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    for item in &courseware.items {
        for question in item.courses.iter().flat_map(|course| &course.questions) {
            let texts = std::iter::once(&question.stem).chain(&question.options).chain(std::iter::once(&question.explanation));
            for text in texts {
                assert!(!text.contains("学分"), "{} mentions credits: {text}", question.id);
            }
        }
    }
}

#[test]
fn embedded_true_false_answers_mixed() {
    // Papers shuffle choice options but not true/false answers, so a bank where nearly
    // every statement is true could be passed by guessing.
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    for item in &courseware.items {
        let answers: Vec<bool> = item
            .courses
            .iter()
            .flat_map(|course| &course.questions)
            .filter_map(|question| match question.answer {
                Answer::TrueFalse(value) => Some(value),
                _ => None,
            })
            .collect();
        let true_count = answers.iter().filter(|&&value| value).count();
        let total = answers.len();
        assert!(
            true_count * 4 >= total && true_count * 4 <= total * 3,
            "{}: {true_count} of {total} true/false answers are true",
            item.item_code
        );
    }
}

#[test]
fn load_dir_matches_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions/courseware");
    let from_disk = Courseware::load_dir(&dir).unwrap_or_else(|error| panic!("{error}"));
    let embedded = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    for item in &embedded.items {
        assert_eq!(from_disk.item(&item.item_code), Some(item), "{} differs on disk", item.item_code);
    }
    assert_eq!(from_disk.items.len(), embedded.items.len());
}

#[test]
fn load_dir_missing_directory_fails() {
    let error = Courseware::load_dir(Path::new("/nonexistent/courseware")).expect_err("no directory");
    assert!(matches!(error.problem, CoursewareProblem::ReadFailed { .. }), "{error}");
}

#[test]
fn question_ids_unique_across_items() {
    let other = VALID.replace("X1", "X2").replace("X2-01-1", "X1-01-1");
    let error = Courseware::parse_files([("X1.yaml".to_string(), VALID.to_string()), ("X2.yaml".to_string(), other)])
        .expect_err("question id in two items");
    assert_eq!(error.problem, CoursewareProblem::QuestionDuplicate);
    assert_eq!(error.question.as_deref(), Some("X1-01-1"));
}

#[test]
fn answer_key_covers_all_questions() {
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    let question_count: usize = courseware.items.iter().flat_map(|item| &item.courses).map(|course| course.questions.len()).sum();
    assert_eq!(courseware.answer_key().len(), question_count);
}

#[test]
fn exam_block_sets_item_rule() {
    let item = Courseware::parse_yaml("X1.yaml", VALID).unwrap();
    assert_eq!(item.exam, crate::courseware::ItemExamRule::default(), "no exam block takes the defaults");
    assert_eq!(item.exam.pass_mark, 70);
    assert_eq!(item.exam.multiple_choice, crate::exam::MultipleScoring::AllOrNothing);

    let text = VALID.replacen("years: [2026]", "years: [2026]\nexam:\n  difficulty_mix: {easy: 3, medium: 1, hard: 1}\n  pass_mark: 80\n  multiple_choice: partial", 1);
    let item = Courseware::parse_yaml("X1.yaml", &text).unwrap();
    assert_eq!(item.exam.questions_per_course, 5, "the mix's total");
    assert_eq!(item.exam.pass_mark, 80);
    assert_eq!(item.exam.multiple_choice, crate::exam::MultipleScoring::Partial);
    assert_eq!(item.exam.difficulty_mix, Some(crate::exam::DifficultyMix { easy: 3, medium: 1, hard: 1 }));
}

#[test]
fn exam_block_rejects_bad_rule() {
    let text = VALID.replacen("years: [2026]", "years: [2026]\nexam:\n  questions_per_course: 4\n  difficulty_mix: {easy: 1}", 1);
    let error = Courseware::parse_yaml("X1.yaml", &text).unwrap_err();
    assert!(matches!(error.problem, CoursewareProblem::ExamRuleInvalid { .. }), "{error}");
    assert!(error.message(Locale::ZhCn).contains("难度配比合计 1 题"), "{}", error.message(Locale::ZhCn));

    let text = VALID.replacen("years: [2026]", "years: [2026]\nexam:\n  pass_marks: 80", 1);
    let error = Courseware::parse_yaml("X1.yaml", &text).unwrap_err();
    assert!(matches!(error.problem, CoursewareProblem::YamlInvalid { .. }), "{error}");
}
