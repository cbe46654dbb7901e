//! Paper assembly: drawing questions from the operator's courses.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::SliceRandom;

use super::error::ExamError;
use super::paper::{Paper, PaperCourse, PaperQuestion, split_points};
use super::rule::PaperRule;
use crate::courseware::{Course, Question, QuestionKind};

/// Assembles a paper from `courses`, the operator's completed courses that are not yet
/// credited, all of one operation item.
///
/// Each course contributes `rule.questions_per_course` questions, or all of its
/// questions when it has fewer. With a difficulty mix, each course first gets up to
/// the mix's count of each difficulty, and a shortfall is filled from its other
/// questions. Questions whose ids are in `exclude_question_ids`, the questions of the
/// operator's earlier papers on the same Beijing day, are drawn only when a course has
/// too few others; avoiding a repeat comes before keeping the mix. Choice options are
/// shuffled per paper, and the paper records the order. The same `rng` state gives the
/// same paper.
pub fn assemble_paper(
    courses: &[&Course],
    rule: &PaperRule,
    exclude_question_ids: &HashSet<String>,
    rng: &mut impl Rng,
) -> Result<Paper, ExamError> {
    rule.validate()?;
    let item_code = check_courses(courses)?;

    let mut drawn: Vec<(&Course, &Question)> = Vec::new();
    for course in courses {
        for question in draw_from_course(course, rule, exclude_question_ids, rng) {
            drawn.push((course, question));
        }
    }

    // Shuffle the whole paper, then group by kind. The sort is stable, so each group
    // keeps its random order.
    drawn.shuffle(rng);
    drawn.sort_by_key(|(_, question)| question.kind);

    let points = split_points(drawn.len());
    let questions = drawn
        .into_iter()
        .zip(points)
        .map(|((course, question), points_hundredths)| {
            to_paper_question(course, question, points_hundredths, rng)
        })
        .collect();

    Ok(Paper {
        item_code,
        time_limit_minutes: rule.time_limit_minutes,
        pass_mark: rule.pass_mark,
        multiple_choice: rule.multiple_choice,
        courses: courses.iter().map(|course| PaperCourse { code: course.code.clone(), version: course.version }).collect(),
        questions,
    })
}

/// Checks that there is at least one course, all of one item, each given once and
/// each with questions. Returns the item code.
fn check_courses(courses: &[&Course]) -> Result<String, ExamError> {
    let first = courses.first().ok_or(ExamError::NoCourses)?;

    let mut item_codes: Vec<String> = Vec::new();
    for course in courses {
        if !item_codes.contains(&course.item_code) {
            item_codes.push(course.item_code.clone());
        }
    }
    if item_codes.len() > 1 {
        return Err(ExamError::MixedItems { item_codes });
    }

    let mut seen = HashSet::new();
    for course in courses {
        if !seen.insert(course.code.as_str()) {
            return Err(ExamError::DuplicateCourse { course: course.code.clone() });
        }
        if course.questions.is_empty() {
            return Err(ExamError::CourseWithoutQuestions { course: course.code.clone() });
        }
    }
    Ok(first.item_code.clone())
}

/// Draws up to `rule.questions_per_course` questions of one course at random: the
/// difficulty mix's counts from the questions not excluded, then any other questions
/// not excluded, then excluded ones.
fn draw_from_course<'a>(
    course: &'a Course,
    rule: &PaperRule,
    exclude_question_ids: &HashSet<String>,
    rng: &mut impl Rng,
) -> Vec<&'a Question> {
    let count = rule.questions_per_course;
    let (mut excluded, mut fresh): (Vec<&Question>, Vec<&Question>) =
        course.questions.iter().partition(|question| exclude_question_ids.contains(&question.id));
    fresh.shuffle(rng);
    excluded.shuffle(rng);

    let Some(mix) = rule.difficulty_mix else {
        return fresh.into_iter().chain(excluded).take(count).collect();
    };

    // Take each difficulty's count from the fresh questions; the rest stay in order
    // for filling a shortfall.
    let mut drawn = Vec::with_capacity(count);
    let mut rest = Vec::with_capacity(fresh.len());
    let mut taken_per_difficulty = [0usize; 4];
    for question in fresh {
        let difficulty = usize::from(question.difficulty.min(3));
        if taken_per_difficulty[difficulty] < mix.count_for(question.difficulty) {
            taken_per_difficulty[difficulty] += 1;
            drawn.push(question);
        } else {
            rest.push(question);
        }
    }
    let shortfall = count.saturating_sub(drawn.len());
    drawn.extend(rest.into_iter().chain(excluded).take(shortfall));
    drawn
}

fn to_paper_question(course: &Course, question: &Question, points_hundredths: u32, rng: &mut impl Rng) -> PaperQuestion {
    let option_order: Vec<usize> = match question.kind {
        QuestionKind::Single | QuestionKind::Multiple => {
            let mut order: Vec<usize> = (0..question.options.len()).collect();
            order.shuffle(rng);
            order
        }
        QuestionKind::TrueFalse => Vec::new(),
    };
    let options = option_order.iter().map(|&index| question.options[index].clone()).collect();

    PaperQuestion {
        question_id: question.id.clone(),
        question_version: question.version,
        course_code: course.code.clone(),
        course_version: course.version,
        kind: question.kind,
        stem: question.stem.clone(),
        options,
        option_order,
        points_hundredths,
    }
}
