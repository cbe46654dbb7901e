use std::collections::{HashMap, HashSet};

use super::*;
use crate::courseware::Courseware;

/// Assembles a paper of two fixture courses with every question drawn.
fn full_paper(seed: u64) -> (Paper, HashMap<String, Answer>) {
    let courses = [course("X", "X-1", 6), course("X", "X-2", 3)];
    let refs: Vec<&Course> = courses.iter().collect();
    let rule = PaperRule { questions_per_course: 10, ..PaperRule::default() };
    let paper = assemble_paper(&refs, &rule, &HashSet::new(), &mut seeded(seed)).expect("paper");
    (paper, answer_key(&refs))
}

fn answers_by(paper: &Paper, key: &HashMap<String, Answer>, choose: fn(&PaperQuestion, &Answer) -> AnswerGiven) -> HashMap<String, AnswerGiven> {
    paper
        .questions
        .iter()
        .map(|question| (question.question_id.clone(), choose(question, &key[&question.question_id])))
        .collect()
}

#[test]
fn perfect_paper_scores_hundred() {
    for seed in 0..5 {
        let (paper, key) = full_paper(seed);
        let answers = answers_by(&paper, &key, correct_answer);
        let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");

        assert_eq!(result.score, 100.0, "seed {seed}");
        assert_eq!(result.score_hundredths, PAPER_HUNDREDTHS);
        assert!(result.passed);
        assert!(result.per_question.iter().all(|question| question.outcome == QuestionOutcome::Correct));
    }
}

#[test]
fn all_wrong_scores_zero() {
    for seed in 0..5 {
        let (paper, key) = full_paper(seed);
        let answers = answers_by(&paper, &key, wrong_answer);
        let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");

        assert_eq!(result.score, 0.0, "seed {seed}");
        assert!(!result.passed);
        assert!(result.per_question.iter().all(|question| question.outcome == QuestionOutcome::Wrong));
    }
}

#[test]
fn authored_letters_fail_shuffled_paper() {
    // Answering with the authored letters instead of the shown ones must not score
    // full marks on a shuffled paper, which shows that grading maps letters back.
    let (paper, key) = full_paper(11);
    let answers: HashMap<String, AnswerGiven> = paper
        .questions
        .iter()
        .filter(|question| question.kind == QuestionKind::Single)
        .map(|question| (question.question_id.clone(), AnswerGiven::Letters("C".into())))
        .collect();
    let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");

    let shuffled_singles: Vec<&PaperQuestion> = paper
        .questions
        .iter()
        .filter(|question| question.kind == QuestionKind::Single && question.option_order[2] != 2)
        .collect();
    assert!(!shuffled_singles.is_empty(), "seed 11 left every single choice unshuffled");
    for question in shuffled_singles {
        let outcome = result.per_question.iter().find(|result| result.question_id == question.question_id).expect("result").outcome;
        assert_eq!(outcome, QuestionOutcome::Wrong, "{}", question.question_id);
    }
}

#[test]
fn multiple_choice_scoring() {
    let (paper, key) = full_paper(3);
    let question = paper.questions.iter().find(|question| question.kind == QuestionKind::Multiple).expect("multiple");
    let position = |authored: usize| question.option_order.iter().position(|&index| index == authored).expect("shown");
    let letter = |authored: usize| char::from(b'A' + position(authored) as u8);

    // The fixture key is authored options 0 and 2, so option 1 is wrong.
    let one_right = letter(0).to_string();
    let right_and_wrong: String = [letter(0), letter(1)].iter().collect();
    let all_right: String = [letter(2), letter(0)].iter().collect();

    // (scoring, given, expected outcome, expected hundredths)
    let full = question.points_hundredths;
    let cases = vec![
        (MultipleScoring::AllOrNothing, one_right.clone(), QuestionOutcome::Wrong, 0),
        (MultipleScoring::AllOrNothing, right_and_wrong.clone(), QuestionOutcome::Wrong, 0),
        (MultipleScoring::AllOrNothing, all_right.clone(), QuestionOutcome::Correct, full),
        (MultipleScoring::Partial, one_right, QuestionOutcome::PartlyCorrect, full / 2),
        (MultipleScoring::Partial, right_and_wrong, QuestionOutcome::Wrong, 0),
        (MultipleScoring::Partial, all_right, QuestionOutcome::Correct, full),
    ];

    for (scoring, given, outcome, hundredths) in cases {
        let answers = HashMap::from([(question.question_id.clone(), AnswerGiven::Letters(given.clone()))]);
        let rule = PaperRule { multiple_choice: scoring, ..PaperRule::default() };
        let result = grade(&paper, &answers, &key, &rule).expect("graded");
        let graded = result.per_question.iter().find(|result| result.question_id == question.question_id).expect("result");
        assert_eq!(graded.outcome, outcome, "{scoring:?} {given}");
        assert_eq!(graded.awarded_hundredths, hundredths, "{scoring:?} {given}");
        assert_eq!(result.score_hundredths, hundredths, "{scoring:?} {given}: other questions are unanswered");
    }
}

#[test]
fn unanswered_and_invalid_earn_nothing() {
    let (paper, key) = full_paper(8);
    let single = paper.questions.iter().find(|question| question.kind == QuestionKind::Single).expect("single");
    let true_false = paper.questions.iter().find(|question| question.kind == QuestionKind::TrueFalse).expect("true/false");

    // (question, given answer, expected outcome)
    let cases: Vec<(&PaperQuestion, Option<AnswerGiven>, QuestionOutcome)> = vec![
        (single, None, QuestionOutcome::Unanswered),
        (single, Some(AnswerGiven::Letters(String::new())), QuestionOutcome::Unanswered),
        (single, Some(AnswerGiven::Letters(" , ".into())), QuestionOutcome::Unanswered),
        (single, Some(AnswerGiven::Letters("E".into())), QuestionOutcome::Invalid),
        (single, Some(AnswerGiven::Letters("1".into())), QuestionOutcome::Invalid),
        (single, Some(AnswerGiven::TrueFalse(true)), QuestionOutcome::Invalid),
        (true_false, Some(AnswerGiven::Letters("A".into())), QuestionOutcome::Invalid),
        (true_false, None, QuestionOutcome::Unanswered),
    ];

    for (question, given, outcome) in cases {
        let answers: HashMap<String, AnswerGiven> =
            given.clone().map(|given| (question.question_id.clone(), given)).into_iter().collect();
        let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");
        let graded = result.per_question.iter().find(|result| result.question_id == question.question_id).expect("result");
        assert_eq!(graded.outcome, outcome, "{given:?}");
        assert_eq!(graded.awarded_hundredths, 0, "{given:?}");
        assert_eq!(result.score, 0.0, "{given:?}");
    }
}

#[test]
fn single_choice_with_two_letters_wrong() {
    let (paper, key) = full_paper(6);
    let question = paper.questions.iter().find(|question| question.kind == QuestionKind::Single).expect("single");
    let AnswerGiven::Letters(right) = correct_answer(question, &key[&question.question_id]) else {
        panic!("single choice answer is letters");
    };
    let other = if right == "A" { "B" } else { "A" };
    let answers = HashMap::from([(question.question_id.clone(), AnswerGiven::Letters(format!("{right}{other}")))]);

    let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");
    assert_eq!(result.per_question.iter().find(|result| result.question_id == question.question_id).expect("result").outcome, QuestionOutcome::Wrong);
}

#[test]
fn letters_read_leniently() {
    let (paper, key) = full_paper(2);
    let question = paper.questions.iter().find(|question| question.kind == QuestionKind::Multiple).expect("multiple");
    let AnswerGiven::Letters(right) = correct_answer(question, &key[&question.question_id]) else {
        panic!("multiple choice answer is letters");
    };
    let letters: Vec<String> = right.chars().map(|letter| letter.to_ascii_lowercase().to_string()).collect();

    for given in [letters.join(","), letters.join(" "), letters.join("、"), letters.iter().rev().cloned().collect::<String>()] {
        let answers = HashMap::from([(question.question_id.clone(), AnswerGiven::Letters(given.clone()))]);
        let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");
        let graded = result.per_question.iter().find(|result| result.question_id == question.question_id).expect("result");
        assert_eq!(graded.outcome, QuestionOutcome::Correct, "{given}");
    }
}

#[test]
fn result_reports_shown_correct_letters() {
    let (paper, key) = full_paper(12);
    let result = grade(&paper, &HashMap::new(), &key, &PaperRule::default()).expect("graded");
    for (question, graded) in paper.questions.iter().zip(&result.per_question) {
        assert_eq!(graded.question_id, question.question_id);
        assert_eq!(graded.correct_answer, correct_answer(question, &key[&question.question_id]));
    }
}

#[test]
fn per_course_counts() {
    let (paper, key) = full_paper(4);
    // Answer X-1 correctly and X-2 wrongly.
    let answers: HashMap<String, AnswerGiven> = paper
        .questions
        .iter()
        .map(|question| {
            let answer_key = &key[&question.question_id];
            let given = if question.course_code == "X-1" { correct_answer(question, answer_key) } else { wrong_answer(question, answer_key) };
            (question.question_id.clone(), given)
        })
        .collect();
    let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");

    assert_eq!(
        result.per_course,
        vec![
            CourseResult { course_code: "X-1".into(), correct: 6, total: 6 },
            CourseResult { course_code: "X-2".into(), correct: 0, total: 3 },
        ]
    );
    // 6 of 9 questions: 10 000 split nine ways gives one question 1112 hundredths and
    // the rest 1111, so the exact score is 66.66 or 66.67, which both round to 66.7.
    assert_eq!(result.score, 66.7);
    assert!(!result.passed);
}

/// Builds a two-question true/false paper with the given points.
fn weighted_paper(first: u32, second: u32) -> (Paper, HashMap<String, Answer>) {
    let question = |id: &str, points_hundredths| PaperQuestion {
        question_id: id.into(),
        question_version: 1,
        course_code: "X-1".into(),
        course_version: 1,
        kind: QuestionKind::TrueFalse,
        stem: "stem".into(),
        options: Vec::new(),
        option_order: Vec::new(),
        points_hundredths,
    };
    let paper = Paper {
        item_code: "X".into(),
        time_limit_minutes: 60,
        pass_mark: 70,
        multiple_choice: MultipleScoring::AllOrNothing,
        courses: vec![PaperCourse { code: "X-1".into(), version: 1 }],
        questions: vec![question("q1", first), question("q2", second)],
    };
    let key = HashMap::from([("q1".to_string(), Answer::TrueFalse(true)), ("q2".to_string(), Answer::TrueFalse(true))]);
    (paper, key)
}

#[test]
fn pass_mark_uses_rounded_score() {
    // (points of the answered question, expected score, expected pass at 70)
    let cases = [(6995, 70.0, true), (6994, 69.9, false), (7000, 70.0, true), (6950, 69.5, false), (10_000, 100.0, true)];
    for (points, score, passed) in cases {
        let (paper, key) = weighted_paper(points, PAPER_HUNDREDTHS - points);
        let answers = HashMap::from([("q1".to_string(), AnswerGiven::TrueFalse(true))]);
        let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");
        assert_eq!(result.score, score, "{points}");
        assert_eq!(result.passed, passed, "{points}");
    }
}

#[test]
fn zero_pass_mark_passes_empty_answers() {
    let (paper, key) = weighted_paper(5000, 5000);
    let rule = PaperRule { pass_mark: 0, ..PaperRule::default() };
    assert!(grade(&paper, &HashMap::new(), &key, &rule).expect("graded").passed);
}

#[test]
fn grading_rejects_stale_key() {
    let (paper, mut key) = full_paper(1);
    let first = paper.questions[0].question_id.clone();

    let mut missing = key.clone();
    missing.remove(&first);
    assert_eq!(
        grade(&paper, &HashMap::new(), &missing, &PaperRule::default()),
        Err(ExamError::AnswerKeyMissing { question: first.clone() })
    );

    key.insert(first.clone(), Answer::TrueFalse(true));
    assert_eq!(
        grade(&paper, &HashMap::new(), &key, &PaperRule::default()),
        Err(ExamError::AnswerKeyMismatch { question: first.clone() })
    );

    key.insert(first.clone(), Answer::Single(9));
    assert_eq!(
        grade(&paper, &HashMap::new(), &key, &PaperRule::default()),
        Err(ExamError::AnswerKeyMismatch { question: first })
    );
}

#[test]
fn answers_off_paper_ignored() {
    let (paper, key) = full_paper(5);
    let answers = HashMap::from([("not-on-paper".to_string(), AnswerGiven::TrueFalse(true))]);
    let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");
    assert_eq!(result.score, 0.0);
}

#[test]
fn answer_given_json_forms() {
    let parsed: HashMap<String, AnswerGiven> =
        serde_json::from_str(r#"{"a": true, "b": "AC"}"#).expect("json answers");
    assert_eq!(parsed["a"], AnswerGiven::TrueFalse(true));
    assert_eq!(parsed["b"], AnswerGiven::Letters("AC".into()));
}

#[test]
fn embedded_item_round_trip() {
    // A full paper of real courseware, answered perfectly, passes and credits every course.
    let courseware = Courseware::embedded().unwrap_or_else(|error| panic!("{error}"));
    let key = courseware.answer_key();
    for item in &courseware.items {
        let refs: Vec<&Course> = item.courses.iter().take(20).collect();
        let paper = assemble_paper(&refs, &PaperRule::default(), &HashSet::new(), &mut seeded(20)).expect("paper");
        let answers = answers_by(&paper, &key, correct_answer);
        let result = grade(&paper, &answers, &key, &PaperRule::default()).expect("graded");

        assert_eq!(result.score, 100.0, "{}", item.item_code);
        assert!(result.passed, "{}", item.item_code);
        let covered = courses_covered(&paper);
        let expected: Vec<String> = refs.iter().map(|course| course.code.clone()).collect();
        assert_eq!(covered, expected, "{}", item.item_code);
    }
}
