//! Tests of paper assembly and grading, with shared fixtures.

mod assemble;
mod grade;

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::courseware::{Answer, Course, Question, QuestionKind};

/// Builds a course of `question_count` questions cycling through single choice
/// (answer C of four), multiple choice (answers A and C of four) and true/false (true).
fn course(item_code: &str, code: &str, question_count: usize) -> Course {
    let questions = (0..question_count)
        .map(|index| {
            let id = format!("{code}-{}", index + 1);
            let (kind, options, answer) = match index % 3 {
                0 => (QuestionKind::Single, four_options(&id), Answer::Single(2)),
                1 => (QuestionKind::Multiple, four_options(&id), Answer::Multiple(vec![0, 2])),
                _ => (QuestionKind::TrueFalse, Vec::new(), Answer::TrueFalse(true)),
            };
            Question {
                id: id.clone(),
                version: 1,
                course_code: code.to_string(),
                kind,
                stem: format!("stem of {id}"),
                options,
                answer,
                explanation: format!("explanation of {id}"),
                difficulty: 1,
            }
        })
        .collect();

    Course {
        item_code: item_code.to_string(),
        code: code.to_string(),
        title: format!("course {code}"),
        minutes: 30,
        version: 2,
        years: vec![2026],
        questions,
    }
}

fn four_options(id: &str) -> Vec<String> {
    (0..4).map(|index| format!("{id} option {index}")).collect()
}

fn seeded(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn answer_key(courses: &[&Course]) -> HashMap<String, Answer> {
    courses
        .iter()
        .flat_map(|course| &course.questions)
        .map(|question| (question.id.clone(), question.answer.clone()))
        .collect()
}

/// Returns the correct answer to a paper question in the paper's shown letters,
/// sorted alphabetically.
fn correct_answer(question: &PaperQuestion, key: &Answer) -> AnswerGiven {
    let shown = |authored: usize| {
        let position = question.option_order.iter().position(|&index| index == authored).expect("option on paper");
        char::from(b'A' + position as u8)
    };
    match key {
        Answer::Single(index) => AnswerGiven::Letters(shown(*index).to_string()),
        Answer::Multiple(indices) => {
            let mut letters: Vec<char> = indices.iter().map(|&index| shown(index)).collect();
            letters.sort_unstable();
            AnswerGiven::Letters(letters.into_iter().collect())
        }
        Answer::TrueFalse(value) => AnswerGiven::TrueFalse(*value),
    }
}

/// Returns a wrong answer to a paper question in the paper's shown letters.
fn wrong_answer(question: &PaperQuestion, key: &Answer) -> AnswerGiven {
    let shown = |authored: usize| {
        let position = question.option_order.iter().position(|&index| index == authored).expect("option on paper");
        char::from(b'A' + position as u8)
    };
    match key {
        Answer::Single(index) => AnswerGiven::Letters(shown((index + 1) % question.options.len()).to_string()),
        Answer::Multiple(indices) => {
            let wrong = (0..question.options.len()).find(|index| !indices.contains(index)).expect("a wrong option");
            AnswerGiven::Letters(shown(wrong).to_string())
        }
        Answer::TrueFalse(value) => AnswerGiven::TrueFalse(!value),
    }
}
