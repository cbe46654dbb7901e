use std::collections::{HashMap, HashSet};

use super::*;
use crate::courseware::Courseware;

#[test]
fn paper_draws_only_given_courses() {
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    let item = courseware.item("T").expect("item T");
    let chosen: Vec<&Course> = item.courses.iter().step_by(3).collect();
    let bank: HashMap<&str, &Question> =
        chosen.iter().flat_map(|course| &course.questions).map(|question| (question.id.as_str(), question)).collect();

    let paper = assemble_paper(&chosen, &PaperRule::default(), &HashSet::new(), &mut seeded(1)).expect("paper");

    assert_eq!(paper.item_code, "T");
    assert!(!paper.questions.is_empty());
    for question in &paper.questions {
        let source = bank.get(question.question_id.as_str()).unwrap_or_else(|| panic!("{} is not from a given course", question.question_id));
        assert_eq!(question.course_code, source.course_code);
        assert_eq!(question.stem, source.stem);
        assert_eq!(question.kind, source.kind);
    }
}

#[test]
fn each_course_contributes_up_to_limit() {
    // (questions per course in the rule, questions in each course, expected drawn per course)
    let cases: Vec<(usize, Vec<usize>, Vec<usize>)> = vec![
        (5, vec![3, 5, 8], vec![3, 5, 5]),
        (2, vec![3, 5, 8], vec![2, 2, 2]),
        (5, vec![6], vec![5]),
        (1, vec![4, 4], vec![1, 1]),
    ];

    for (per_course, sizes, expected) in cases {
        let courses: Vec<Course> =
            sizes.iter().enumerate().map(|(index, &size)| course("X", &format!("X-{index}"), size)).collect();
        let refs: Vec<&Course> = courses.iter().collect();
        let rule = PaperRule { questions_per_course: per_course, ..PaperRule::default() };

        let paper = assemble_paper(&refs, &rule, &HashSet::new(), &mut seeded(7)).expect("paper");

        let drawn: Vec<usize> = courses
            .iter()
            .map(|course| paper.questions.iter().filter(|question| question.course_code == course.code).count())
            .collect();
        assert_eq!(drawn, expected, "limit {per_course}, sizes {sizes:?}");

        let ids: HashSet<&str> = paper.questions.iter().map(|question| question.question_id.as_str()).collect();
        assert_eq!(ids.len(), paper.questions.len(), "a question was drawn twice");
    }
}

#[test]
fn options_shuffled_and_recorded() {
    let courses = [course("X", "X-1", 9), course("X", "X-2", 9)];
    let refs: Vec<&Course> = courses.iter().collect();
    let bank: HashMap<&str, &Question> =
        courses.iter().flat_map(|course| &course.questions).map(|question| (question.id.as_str(), question)).collect();

    let mut reordered = 0;
    for seed in 0..10 {
        let paper = assemble_paper(&refs, &PaperRule::default(), &HashSet::new(), &mut seeded(seed)).expect("paper");
        for question in &paper.questions {
            let source = bank[question.question_id.as_str()];
            assert_eq!(question.options.len(), source.options.len());
            let mut order = question.option_order.clone();
            order.sort_unstable();
            assert_eq!(order, (0..source.options.len()).collect::<Vec<_>>(), "not a permutation");
            for (shown, &authored) in question.option_order.iter().enumerate() {
                assert_eq!(question.options[shown], source.options[authored]);
            }
            if question.option_order.iter().enumerate().any(|(shown, &authored)| shown != authored) {
                reordered += 1;
            }
        }
    }
    assert!(reordered > 0, "options were never shuffled");
}

#[test]
fn true_false_has_no_options() {
    let courses = [course("X", "X-1", 6)];
    let refs: Vec<&Course> = courses.iter().collect();
    let paper = assemble_paper(&refs, &PaperRule::default(), &HashSet::new(), &mut seeded(3)).expect("paper");
    for question in paper.questions.iter().filter(|question| question.kind == QuestionKind::TrueFalse) {
        assert!(question.options.is_empty());
        assert!(question.option_order.is_empty());
    }
}

#[test]
fn questions_grouped_by_kind() {
    let courses = [course("X", "X-1", 9), course("X", "X-2", 9)];
    let refs: Vec<&Course> = courses.iter().collect();
    let rule = PaperRule { questions_per_course: 9, ..PaperRule::default() };
    let paper = assemble_paper(&refs, &rule, &HashSet::new(), &mut seeded(5)).expect("paper");

    let kinds: Vec<QuestionKind> = paper.questions.iter().map(|question| question.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(kinds, sorted);
    assert_eq!(kinds.first(), Some(&QuestionKind::Single));
    assert_eq!(kinds.last(), Some(&QuestionKind::TrueFalse));
}

#[test]
fn points_sum_to_hundred() {
    for size in [1, 2, 3, 7, 13] {
        let courses = [course("X", "X-1", size)];
        let refs: Vec<&Course> = courses.iter().collect();
        let paper = assemble_paper(&refs, &PaperRule::default(), &HashSet::new(), &mut seeded(9)).expect("paper");
        let total: u32 = paper.questions.iter().map(|question| question.points_hundredths).sum();
        assert_eq!(total, PAPER_HUNDREDTHS, "{size} questions");

        let max = paper.questions.iter().map(|question| question.points_hundredths).max().unwrap_or(0);
        let min = paper.questions.iter().map(|question| question.points_hundredths).min().unwrap_or(0);
        assert!(max - min <= 1, "{size} questions: uneven points {min}..{max}");
    }
}

#[test]
fn exclusion_avoids_earlier_questions() {
    let courses = [course("X", "X-1", 8)];
    let refs: Vec<&Course> = courses.iter().collect();
    let exclude: HashSet<String> = ["X-1-1", "X-1-4", "X-1-7"].iter().map(|id| id.to_string()).collect();

    for seed in 0..20 {
        let paper = assemble_paper(&refs, &PaperRule::default(), &exclude, &mut seeded(seed)).expect("paper");
        assert_eq!(paper.questions.len(), 5);
        for question in &paper.questions {
            assert!(!exclude.contains(&question.question_id), "seed {seed} drew excluded {}", question.question_id);
        }
    }
}

#[test]
fn exclusion_falls_back_when_short() {
    // Six questions, two excluded, five wanted: all four others plus one excluded.
    let courses = [course("X", "X-1", 6)];
    let refs: Vec<&Course> = courses.iter().collect();
    let exclude: HashSet<String> = ["X-1-2", "X-1-5"].iter().map(|id| id.to_string()).collect();

    for seed in 0..20 {
        let paper = assemble_paper(&refs, &PaperRule::default(), &exclude, &mut seeded(seed)).expect("paper");
        let ids: HashSet<&str> = paper.questions.iter().map(|question| question.question_id.as_str()).collect();
        assert_eq!(ids.len(), 5);
        for fresh in ["X-1-1", "X-1-3", "X-1-4", "X-1-6"] {
            assert!(ids.contains(fresh), "seed {seed} skipped fresh {fresh}");
        }
        let reused = ids.iter().filter(|id| exclude.contains(**id)).count();
        assert_eq!(reused, 1, "seed {seed}");
    }
}

#[test]
fn exclusion_of_everything_still_assembles() {
    let courses = [course("X", "X-1", 3)];
    let refs: Vec<&Course> = courses.iter().collect();
    let exclude: HashSet<String> = courses[0].questions.iter().map(|question| question.id.clone()).collect();
    let paper = assemble_paper(&refs, &PaperRule::default(), &exclude, &mut seeded(2)).expect("paper");
    assert_eq!(paper.questions.len(), 3);
}

#[test]
fn same_seed_same_paper() {
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    let item = courseware.item("N1").expect("item N1");
    let refs: Vec<&Course> = item.courses.iter().collect();
    let rule = PaperRule::default();

    let first = assemble_paper(&refs, &rule, &HashSet::new(), &mut seeded(42)).expect("paper");
    let second = assemble_paper(&refs, &rule, &HashSet::new(), &mut seeded(42)).expect("paper");
    let other = assemble_paper(&refs, &rule, &HashSet::new(), &mut seeded(43)).expect("paper");

    assert_eq!(first, second);
    assert_ne!(first, other);
}

#[test]
fn paper_records_courses_and_versions() {
    let courses = [course("X", "X-1", 4), course("X", "X-2", 4)];
    let refs: Vec<&Course> = courses.iter().collect();
    let paper = assemble_paper(&refs, &PaperRule::default(), &HashSet::new(), &mut seeded(4)).expect("paper");

    assert_eq!(courses_covered(&paper), vec!["X-1".to_string(), "X-2".to_string()]);
    assert_eq!(paper.time_limit_minutes, 60);
    assert!(paper.courses.iter().all(|course| course.version == 2));
    assert!(paper.questions.iter().all(|question| question.course_version == 2));
}

#[test]
fn assembly_rejects_bad_input() {
    let first = course("X", "X-1", 4);
    let other_item = course("Y", "Y-1", 4);
    let empty = course("X", "X-2", 0);
    let none: HashSet<String> = HashSet::new();

    let cases: Vec<(&str, Vec<&Course>, PaperRule, ExamError)> = vec![
        ("no courses", vec![], PaperRule::default(), ExamError::NoCourses),
        (
            "mixed items",
            vec![&first, &other_item],
            PaperRule::default(),
            ExamError::MixedItems { item_codes: vec!["X".into(), "Y".into()] },
        ),
        ("same course twice", vec![&first, &first], PaperRule::default(), ExamError::DuplicateCourse { course: "X-1".into() }),
        ("course without questions", vec![&first, &empty], PaperRule::default(), ExamError::CourseWithoutQuestions { course: "X-2".into() }),
        ("zero per course", vec![&first], PaperRule { questions_per_course: 0, ..PaperRule::default() }, ExamError::QuestionsPerCourseZero),
        ("zero time limit", vec![&first], PaperRule { time_limit_minutes: 0, ..PaperRule::default() }, ExamError::TimeLimitZero),
        ("pass mark above 100", vec![&first], PaperRule { pass_mark: 101, ..PaperRule::default() }, ExamError::PassMarkRange { pass_mark: 101 }),
    ];

    for (name, courses, rule, expected) in cases {
        let error = assemble_paper(&courses, &rule, &none, &mut seeded(0)).expect_err(name);
        assert_eq!(error, expected, "{name}");
    }
}

#[test]
fn exam_errors_have_messages() {
    let errors = vec![
        ExamError::NoCourses,
        ExamError::MixedItems { item_codes: vec!["T".into(), "N1".into()] },
        ExamError::DuplicateCourse { course: "T-01".into() },
        ExamError::CourseWithoutQuestions { course: "T-01".into() },
        ExamError::QuestionsPerCourseZero,
        ExamError::TimeLimitZero,
        ExamError::PassMarkRange { pass_mark: 120 },
        ExamError::AnswerKeyMissing { question: "T-01-1".into() },
        ExamError::AnswerKeyMismatch { question: "T-01-1".into() },
    ];
    for error in errors {
        for locale in [crate::messages::Locale::ZhCn, crate::messages::Locale::En] {
            let text = error.message(locale);
            assert_ne!(text, error.code(), "{error:?} has no message");
            assert!(!text.contains('{'), "{error:?} leaves a placeholder: {text}");
        }
    }
    for kind in [QuestionKind::Single, QuestionKind::Multiple, QuestionKind::TrueFalse] {
        assert!(crate::messages::Catalogue::global().contains(kind.message_code()), "{kind:?}");
    }
}

/// Builds a course of 12 questions: 6 easy, 4 medium and 2 hard.
fn course_with_difficulties() -> Course {
    let mut course = course("X", "X-1", 12);
    for (index, question) in course.questions.iter_mut().enumerate() {
        question.difficulty = match index {
            0..6 => 1,
            6..10 => 2,
            _ => 3,
        };
    }
    course
}

fn difficulty_counts(paper: &Paper, course: &Course) -> [usize; 3] {
    let mut counts = [0; 3];
    for shown in &paper.questions {
        let question = course.questions.iter().find(|question| question.id == shown.question_id).unwrap();
        counts[usize::from(question.difficulty) - 1] += 1;
    }
    counts
}

#[test]
fn difficulty_mix_sets_counts_per_course() {
    let course = course_with_difficulties();
    let mix = DifficultyMix { easy: 2, medium: 2, hard: 1 };
    let rule = PaperRule { questions_per_course: 5, difficulty_mix: Some(mix), ..PaperRule::default() };
    for seed in 0..20 {
        let paper = assemble_paper(&[&course], &rule, &HashSet::new(), &mut seeded(seed)).unwrap();
        assert_eq!(difficulty_counts(&paper, &course), [2, 2, 1], "seed {seed}");
    }
}

#[test]
fn difficulty_mix_shortfall_filled_from_others() {
    // Three hard questions wanted but the course has two: the fifth comes from the rest.
    let course = course_with_difficulties();
    let mix = DifficultyMix { easy: 1, medium: 1, hard: 3 };
    let rule = PaperRule { questions_per_course: 5, difficulty_mix: Some(mix), ..PaperRule::default() };
    let paper = assemble_paper(&[&course], &rule, &HashSet::new(), &mut seeded(3)).unwrap();
    let counts = difficulty_counts(&paper, &course);
    assert_eq!(paper.questions.len(), 5);
    assert_eq!(counts[2], 2, "both hard questions drawn");
    assert_eq!(counts[0] + counts[1], 3);
}

#[test]
fn difficulty_mix_yields_to_same_day_exclusion() {
    // Both hard questions were on the morning paper; the afternoon paper avoids them
    // while fresh questions remain, even though the mix asks for one hard question.
    let course = course_with_difficulties();
    let mix = DifficultyMix { easy: 2, medium: 2, hard: 1 };
    let rule = PaperRule { questions_per_course: 5, difficulty_mix: Some(mix), ..PaperRule::default() };
    let seen: HashSet<String> = ["X-1-11", "X-1-12"].iter().map(|id| id.to_string()).collect();
    let paper = assemble_paper(&[&course], &rule, &seen, &mut seeded(9)).unwrap();
    assert!(paper.questions.iter().all(|question| !seen.contains(&question.question_id)));
    assert_eq!(paper.questions.len(), 5);
}

#[test]
fn difficulty_mix_total_must_match() {
    let course = course_with_difficulties();
    let mix = DifficultyMix { easy: 1, medium: 1, hard: 1 };
    let rule = PaperRule { questions_per_course: 5, difficulty_mix: Some(mix), ..PaperRule::default() };
    let error = assemble_paper(&[&course], &rule, &HashSet::new(), &mut seeded(1)).unwrap_err();
    assert_eq!(error, ExamError::DifficultyMixTotal { total: 3, questions_per_course: 5 });
}

#[test]
fn paper_records_rule_and_versions() {
    let mut course = course("X", "X-1", 3);
    course.questions[0].version = 4;
    let rule = PaperRule { pass_mark: 80, multiple_choice: MultipleScoring::Partial, ..PaperRule::default() };
    let paper = assemble_paper(&[&course], &rule, &HashSet::new(), &mut seeded(2)).unwrap();
    assert_eq!(paper.pass_mark, 80);
    assert_eq!(paper.multiple_choice, MultipleScoring::Partial);
    assert_eq!(paper.grading_rule().pass_mark, 80);
    let first = paper.questions.iter().find(|question| question.question_id == "X-1-1").unwrap();
    assert_eq!(first.question_version, 4);
    assert_eq!(first.version_id(), "X-1-1@4");
}
