//! `certflow bench exam`: paper assembly and grading on in-memory banks of 20 courses
//! with 50, 200 and 800 questions per course, against baselines measured in the same
//! run.
//!
//! - Assembly draws 5 questions per course with a 2/2/1 difficulty mix (100 questions),
//!   avoiding 100 questions of an earlier paper of the same day, and shuffles options.
//!   Its baseline clones the same 100 questions and shuffles them and their options,
//!   with no rule.
//! - Grading grades an all-correct answer sheet of such a paper against the item's
//!   answer key. Its baseline looks up each answer and compares it with the key's,
//!   with no mapping of shuffled letters and no scoring.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use domain::courseware::{Answer, Course, Question, QuestionKind};
use domain::exam::{AnswerGiven, DifficultyMix, Paper, PaperRule, assemble_paper, grade};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use super::measure::{Measurement, measure};

/// Courses per item in every bank.
const COURSES: usize = 20;
/// Questions per course of the banks measured.
const BANK_SIZES: [usize; 3] = [50, 200, 800];
/// Time spent on each measurement without `--quick`.
const DEFAULT_BUDGET: Duration = Duration::from_secs(3);
/// Time spent on each measurement with `--quick`.
const QUICK_BUDGET: Duration = Duration::from_millis(300);
/// Calls made whatever the budget, so percentiles rest on some samples.
const MIN_CALLS: usize = 20;

pub struct ExamBenchOptions {
    pub quick: bool,
    /// Overrides the time per measurement, in milliseconds.
    pub budget_ms: Option<u64>,
    pub json: bool,
}

/// One bank size's results.
struct Row {
    questions_per_course: usize,
    assembly: Measurement,
    assembly_baseline: Measurement,
    grading: Measurement,
    grading_baseline: Measurement,
}

pub fn run_exam(options: ExamBenchOptions) -> anyhow::Result<()> {
    let budget = options.budget_ms.map(Duration::from_millis).unwrap_or(if options.quick { QUICK_BUDGET } else { DEFAULT_BUDGET });
    let rule = PaperRule { questions_per_course: 5, difficulty_mix: Some(DifficultyMix { easy: 2, medium: 2, hard: 1 }), ..PaperRule::default() };

    let mut rows = Vec::new();
    for size in BANK_SIZES {
        if !options.json {
            eprintln!("测量题库规模 {COURSES} 门课程 × {size} 题 / measuring {COURSES} courses × {size} questions");
        }
        rows.push(measure_bank(size, &rule, budget)?);
    }

    let report = report_json(&rows, budget);
    if options.json {
        println!("{report}");
    } else {
        println!("{}", render_table(&rows, &report));
    }
    Ok(())
}

fn measure_bank(questions_per_course: usize, rule: &PaperRule, budget: Duration) -> anyhow::Result<Row> {
    let courses = bank(questions_per_course);
    let refs: Vec<&Course> = courses.iter().collect();
    let answer_key: HashMap<String, Answer> = courses.iter().flat_map(|course| &course.questions).map(|question| (question.id.clone(), question.answer.clone())).collect();
    let mut rng = StdRng::seed_from_u64(questions_per_course as u64);

    // An earlier paper of the same day, whose questions the next one avoids.
    let earlier = assemble_paper(&refs, rule, &HashSet::new(), &mut rng).map_err(|error| anyhow::anyhow!("{error}"))?;
    let seen: HashSet<String> = earlier.questions.iter().map(|question| question.question_id.clone()).collect();

    let assembly = measure(budget, MIN_CALLS, || {
        let paper = assemble_paper(&refs, rule, &seen, &mut rng).expect("a valid rule and bank");
        std::hint::black_box(paper);
    });
    let paper_size = earlier.questions.len();
    let assembly_baseline = measure(budget, MIN_CALLS, || {
        let mut questions: Vec<Question> = courses.iter().flat_map(|course| course.questions.iter().take(paper_size / COURSES)).cloned().collect();
        questions.shuffle(&mut rng);
        for question in &mut questions {
            question.options.shuffle(&mut rng);
        }
        std::hint::black_box(questions);
    });

    let answers = correct_answers(&earlier, &answer_key);
    let grading = measure(budget, MIN_CALLS, || {
        let result = grade(&earlier, &answers, &answer_key, &earlier.grading_rule()).expect("the key covers the paper");
        std::hint::black_box(result);
    });
    let grading_baseline = measure(budget, MIN_CALLS, || {
        let correct = earlier
            .questions
            .iter()
            .filter(|question| answer_key.get(&question.question_id).is_some() && answers.contains_key(&question.question_id))
            .count();
        std::hint::black_box(correct);
    });

    Ok(Row { questions_per_course, assembly, assembly_baseline, grading, grading_baseline })
}

/// Builds a bank of [`COURSES`] courses, each with `size` questions cycling through the
/// three kinds and difficulties 1 to 3, four options for choice questions.
pub(crate) fn bank(size: usize) -> Vec<Course> {
    (0..COURSES)
        .map(|course_index| {
            let code = format!("B-{:02}", course_index + 1);
            let questions = (0..size)
                .map(|index| {
                    let (kind, answer) = match index % 3 {
                        0 => (QuestionKind::Single, Answer::Single(index % 4)),
                        1 => (QuestionKind::Multiple, Answer::Multiple(vec![0, 2])),
                        _ => (QuestionKind::TrueFalse, Answer::TrueFalse(index % 2 == 0)),
                    };
                    let options = if kind == QuestionKind::TrueFalse { Vec::new() } else { (0..4).map(|option| format!("{code} 第{index}题 选项{option}")).collect() };
                    Question {
                        id: format!("{code}-{index}"),
                        version: 1,
                        course_code: code.clone(),
                        kind,
                        stem: format!("{code} 第{index}题题干"),
                        options,
                        answer,
                        explanation: format!("{code} 第{index}题解析"),
                        difficulty: (index % 3) as u8 + 1,
                    }
                })
                .collect();
            Course { item_code: "B".to_string(), code, title: format!("课程 {course_index}"), minutes: 45, version: 1, years: vec![2026], questions }
        })
        .collect()
}

fn correct_answers(paper: &Paper, key: &HashMap<String, Answer>) -> HashMap<String, AnswerGiven> {
    paper
        .questions
        .iter()
        .map(|question| {
            let shown = |authored: &usize| char::from(b'A' + question.option_order.iter().position(|index| index == authored).unwrap_or(0) as u8);
            let given = match &key[&question.question_id] {
                Answer::Single(index) => AnswerGiven::Letters(shown(index).to_string()),
                Answer::Multiple(indices) => AnswerGiven::Letters(indices.iter().map(shown).collect()),
                Answer::TrueFalse(value) => AnswerGiven::TrueFalse(*value),
            };
            (question.question_id.clone(), given)
        })
        .collect()
}

fn report_json(rows: &[Row], budget: Duration) -> Value {
    let banks: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "courses": COURSES,
                "questions_per_course": row.questions_per_course,
                "assembly": row.assembly,
                "assembly_baseline": row.assembly_baseline,
                "grading": row.grading,
                "grading_baseline": row.grading_baseline,
            })
        })
        .collect();
    json!({ "benchmark": "exam", "budget_ms_per_measurement": budget.as_millis() as u64, "environment": super::environment(), "banks": banks })
}

fn render_table(rows: &[Row], report: &Value) -> String {
    let environment = &report["environment"];
    let mut lines = vec![
        format!(
            "构建 / profile: {}，CPU: {} × {}，内存 / RAM: {} GiB，每项测量 / per measurement: {} ms",
            environment["profile"].as_str().unwrap_or_default(),
            environment["cpus"],
            environment["cpu_model"].as_str().unwrap_or_default(),
            environment["memory_gib"],
            report["budget_ms_per_measurement"]
        ),
        "bank (20 courses × N)  | operation | papers/s | p50 µs | p99 µs || baseline papers/s | p50 µs | p99 µs".to_string(),
    ];
    for row in rows {
        for (name, measured, baseline) in [("assembly", &row.assembly, &row.assembly_baseline), ("grading", &row.grading, &row.grading_baseline)] {
            lines.push(format!(
                "N = {:<4}               | {:<9} | {:>8.0} | {:>6.1} | {:>6.1} || {:>17.0} | {:>6.1} | {:>6.1}",
                row.questions_per_course, name, measured.per_second, measured.p50_us, measured.p99_us, baseline.per_second, baseline.p50_us, baseline.p99_us
            ));
        }
    }
    lines.join("\n")
}
