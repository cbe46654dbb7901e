//! The figures of one backend's run: latency of each step of the flow and of all of
//! them together, throughput, completed flows and errors by kind.

use goose::metrics::GooseMetrics;

use super::flow::{FlowOutcome, STEPS};
use crate::bench::report::Figure;

/// The latency target of every step, from the exam peak requirement.
const LATENCY_TARGET: &str = "p99 < 200 ms";

/// Name of the figure that counts every error; the smoke test reads it.
pub const ERRORS: &str = "errors";

pub fn figures(outcome: &FlowOutcome, users: usize) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut all = Vec::new();
    let mut all_max_us = 0;
    for step in STEPS {
        let (buckets, max_us) = step_times(&outcome.metrics, step);
        let summary = Summary::from_buckets(&buckets, max_us);
        figures.push(latency(&format!("step: {step}"), &summary).target(LATENCY_TARGET));
        all.extend(buckets);
        all_max_us = all_max_us.max(max_us);
    }
    all.sort_unstable();
    let overall = Summary::from_buckets(&all, all_max_us);
    let requests = overall.count;
    figures.push(latency("all steps", &overall).target(LATENCY_TARGET));

    let seconds = outcome.wall.as_secs_f64().max(f64::EPSILON);
    figures.push(plain("throughput", "requests/s", requests as f64 / seconds, requests));
    figures.push(plain("exam flows passed", "flows", outcome.passed as f64, users).target(&format!("= {users}")));
    figures.push(plain("exam flows passed per second", "flows/s", outcome.passed as f64 / seconds, outcome.passed));

    let total: usize = outcome.errors.values().sum();
    figures.push(plain(ERRORS, "errors", total as f64, requests).target("0"));
    for (kind, count) in &outcome.errors {
        figures.push(plain(&format!("errors: {kind}"), "errors", *count as f64, *count));
    }
    figures.push(plain("steps skipped after a failed exam start", "steps", outcome.skipped as f64, outcome.skipped));
    figures
}

/// Times of the requests named `step`, merged over methods: `(bucket µs, count)` pairs
/// sorted fastest first, and the slowest time. A bucket is goose's histogram bucket,
/// keyed by its fastest time and at most 0.78% wide; goose keeps the slowest time
/// exactly.
fn step_times(metrics: &GooseMetrics, step: &str) -> (Vec<(u64, usize)>, u64) {
    let mut buckets = Vec::new();
    let mut max_us = 0;
    for (key, aggregate) in &metrics.requests {
        if key.split_once(' ').map(|(_, name)| name) != Some(step) {
            continue;
        }
        buckets.extend(aggregate.raw_data.times_us.iter().map(|(bucket, count)| (*bucket, *count)));
        max_us = max_us.max(aggregate.raw_data.maximum_time_us);
    }
    buckets.sort_unstable();
    (buckets, max_us)
}

/// Latency of a set of requests, in microseconds.
struct Summary {
    count: usize,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

impl Summary {
    /// Summarizes sorted buckets; `max_us` is the exact slowest time when known.
    fn from_buckets(sorted: &[(u64, usize)], max_us: u64) -> Summary {
        let count = sorted.iter().map(|(_, count)| count).sum();
        let max_us = max_us.max(sorted.last().map_or(0, |(bucket, _)| *bucket));
        Summary { count, p50_us: percentile(sorted, count, 50), p99_us: percentile(sorted, count, 99), max_us }
    }
}

/// Returns the nearest-rank percentile of bucketed times, in microseconds.
fn percentile(sorted: &[(u64, usize)], count: usize, percent: usize) -> u64 {
    if count == 0 {
        return 0;
    }
    let rank = (count * percent).div_ceil(100).clamp(1, count);
    let mut seen = 0;
    for (bucket, bucket_count) in sorted {
        seen += bucket_count;
        if seen >= rank {
            return *bucket;
        }
    }
    sorted.last().map_or(0, |(bucket, _)| *bucket)
}

fn latency(name: &str, summary: &Summary) -> Figure {
    let ms = |us: u64| us as f64 / 1000.0;
    Figure { p50_ms: Some(ms(summary.p50_us)), p99_ms: Some(ms(summary.p99_us)), max_ms: Some(ms(summary.max_us)), ..plain(name, "ms (p99)", ms(summary.p99_us), summary.count) }
}

fn plain(name: &str, unit: &str, value: f64, samples: usize) -> Figure {
    Figure { name: name.into(), unit: unit.into(), value, p50_ms: None, p99_ms: None, max_ms: None, samples, ratios: Vec::new(), target: None, previous: None, change_percent: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_counts_bucket_sizes() {
        let sorted = [(100, 50), (200, 49), (5_000, 1)];
        assert_eq!(percentile(&sorted, 100, 50), 100);
        assert_eq!(percentile(&sorted, 100, 99), 200);
        assert_eq!(percentile(&sorted, 100, 100), 5_000);
        assert_eq!(percentile(&[], 0, 99), 0);
    }
}
