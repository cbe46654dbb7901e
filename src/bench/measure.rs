//! Timing loops: run a closure repeatedly for a time budget and summarize the
//! per-call latencies.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Throughput and latency of one measured operation.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub calls: usize,
    pub per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// Calls `operation` until `budget` has passed (at least `min_calls` times) and times
/// each call. The clock reads add about the same small cost to every measurement, the
/// baselines included.
pub fn measure(budget: Duration, min_calls: usize, mut operation: impl FnMut()) -> Measurement {
    let mut latencies = Vec::new();
    let started = Instant::now();
    while latencies.len() < min_calls || started.elapsed() < budget {
        let call = Instant::now();
        operation();
        latencies.push(call.elapsed());
    }
    let total: Duration = latencies.iter().sum();
    latencies.sort_unstable();
    Measurement {
        calls: latencies.len(),
        per_second: latencies.len() as f64 / total.as_secs_f64().max(f64::EPSILON),
        p50_us: percentile(&latencies, 50),
        p99_us: percentile(&latencies, 99),
    }
}

/// Runs `tasks` copies of `operation` concurrently until `budget` has passed (and at
/// least `min_calls` calls were made in all) and times each call. `operation(task,
/// call)` gets its task number and that task's call number. Throughput is calls per
/// second of wall-clock time, since the calls overlap.
pub async fn measure_concurrent<F, Fut>(budget: Duration, min_calls: usize, tasks: usize, operation: F) -> anyhow::Result<Measurement>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let calls_per_task = min_calls.div_ceil(tasks.max(1));
    let mut handles = Vec::new();
    for task in 0..tasks.max(1) {
        let operation = operation.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while latencies.len() < calls_per_task || started.elapsed() < budget {
                let call = Instant::now();
                operation(task, latencies.len()).await?;
                latencies.push(call.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await??);
    }
    let wall = started.elapsed();
    latencies.sort_unstable();
    Ok(Measurement {
        calls: latencies.len(),
        per_second: latencies.len() as f64 / wall.as_secs_f64().max(f64::EPSILON),
        p50_us: percentile(&latencies, 50),
        p99_us: percentile(&latencies, 99),
    })
}

/// Summarizes latencies measured elsewhere; `per_second` is `count` over `wall`.
pub fn summarize(mut latencies: Vec<Duration>, count: usize, wall: Duration) -> Measurement {
    latencies.sort_unstable();
    Measurement {
        calls: count,
        per_second: count as f64 / wall.as_secs_f64().max(f64::EPSILON),
        p50_us: percentile(&latencies, 50),
        p99_us: percentile(&latencies, 99),
    }
}

/// Returns the nearest-rank percentile of sorted latencies, in microseconds.
fn percentile(sorted: &[Duration], percent: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() * percent).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_nearest_rank() {
        let latencies: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&latencies, 50), 50.0);
        assert_eq!(percentile(&latencies, 99), 99.0);
        assert_eq!(percentile(&latencies[..1], 99), 1.0);
    }

    #[test]
    fn measure_respects_min_calls() {
        let mut calls = 0;
        let result = measure(Duration::ZERO, 7, || calls += 1);
        assert_eq!(result.calls, 7);
        assert_eq!(calls, 7);
    }
}
