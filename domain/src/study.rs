//! Study time: how much of a course an operator's sessions cover. Overlapping sessions
//! of one course count once, because one person cannot study the same course twice at
//! the same time. The API (progress pages, exam start) and the workers (the count that
//! moves the workflow) use this one rule.

/// Returns the milliseconds covered by the union of `intervals`.
pub fn covered_ms(mut intervals: Vec<(i64, i64)>) -> i64 {
    intervals.sort_unstable();
    let mut total = 0;
    let mut current: Option<(i64, i64)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((open_start, open_end)) if start <= open_end => Some((open_start, open_end.max(end))),
            Some((open_start, open_end)) => {
                total += open_end - open_start;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((start, end)) = current {
        total += end - start;
    }
    total
}

/// Returns whether sessions covering `intervals` (unix ms) complete a course of
/// `minimum_minutes`.
pub fn completes_course(intervals: Vec<(i64, i64)>, minimum_minutes: u32) -> bool {
    covered_ms(intervals) >= i64::from(minimum_minutes) * 60_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_sessions_count_once() {
        assert_eq!(covered_ms(vec![(0, 10), (5, 15), (20, 30)]), 25);
        assert_eq!(covered_ms(vec![(20, 30), (0, 40)]), 40);
        assert_eq!(covered_ms(vec![]), 0);
    }

    #[test]
    fn course_completes_at_its_minimum() {
        assert!(completes_course(vec![(0, 45 * 60_000)], 45));
        assert!(!completes_course(vec![(0, 45 * 60_000 - 1)], 45));
        assert!(!completes_course(vec![(0, 30 * 60_000), (10 * 60_000, 40 * 60_000)], 45), "overlap counts once");
    }
}
