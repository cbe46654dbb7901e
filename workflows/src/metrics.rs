//! Process-wide counters and latency histograms, written in the Prometheus text
//! exposition format (version 0.0.4) for `GET /metrics`.
//!
//! The format is small enough to write directly: `# HELP`, `# TYPE`, then one line per
//! label set, with histograms as cumulative `_bucket{le=...}`, `_sum` and `_count`.
//! Values live in memory, so each process reports its own work; Prometheus sums the
//! processes. Gauges read from the database (backlogs, open incidents) are added by the
//! caller at scrape time through [`write_gauge`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Label values of one series, in the order of the family's label names.
type LabelValues = Vec<String>;

#[derive(Default, Clone)]
struct Histogram {
    /// Observations at or below each bound of [`BUCKETS`] (not yet cumulative).
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index] += 1;
        }
        self.sum_seconds += seconds;
        self.count += 1;
    }
}

struct CounterFamily {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    series: Mutex<BTreeMap<LabelValues, u64>>,
}

struct HistogramFamily {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    series: Mutex<BTreeMap<LabelValues, Histogram>>,
}

impl CounterFamily {
    const fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> CounterFamily {
        CounterFamily { name, help, labels, series: Mutex::new(BTreeMap::new()) }
    }

    fn add(&self, values: &[&str], amount: u64) {
        let key = values.iter().map(|value| value.to_string()).collect();
        let mut series = self.series.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *series.entry(key).or_insert(0) += amount;
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} counter", self.name, self.help, self.name);
        let series = self.series.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (values, count) in series.iter() {
            let _ = writeln!(out, "{}{} {count}", self.name, label_text(self.labels, values, None));
        }
    }
}

impl HistogramFamily {
    const fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> HistogramFamily {
        HistogramFamily { name, help, labels, series: Mutex::new(BTreeMap::new()) }
    }

    fn observe(&self, values: &[&str], elapsed: Duration) {
        let key = values.iter().map(|value| value.to_string()).collect();
        let mut series = self.series.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        series.entry(key).or_default().observe(elapsed.as_secs_f64());
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} histogram", self.name, self.help, self.name);
        let series = self.series.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (values, histogram) in series.iter() {
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(out, "{}_bucket{} {cumulative}", self.name, label_text(self.labels, values, Some(&bound.to_string())));
            }
            let _ = writeln!(out, "{}_bucket{} {}", self.name, label_text(self.labels, values, Some("+Inf")), histogram.count);
            let _ = writeln!(out, "{}_sum{} {}", self.name, label_text(self.labels, values, None), histogram.sum_seconds);
            let _ = writeln!(out, "{}_count{} {}", self.name, label_text(self.labels, values, None), histogram.count);
        }
    }
}

/// Formats `{name="value",...}` with Prometheus escaping, plus `le` for a bucket line.
fn label_text(names: &[&str], values: &[String], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = names.iter().zip(values).map(|(name, value)| format!("{name}=\"{}\"", escape(value))).collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() { String::new() } else { format!("{{{}}}", pairs.join(",")) }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

static TRANSITIONS: CounterFamily = CounterFamily::new("certflow_transitions_total", "Events applied as a state transition, by definition.", &["definition"]);
static TRANSITION_SECONDS: HistogramFamily =
    HistogramFamily::new("certflow_transition_duration_seconds", "Time from receiving an event to the commit of its transition.", &[]);
static JOB_SECONDS: HistogramFamily =
    HistogramFamily::new("certflow_job_duration_seconds", "Run time of one job attempt, by queue and outcome (done, deferred, failed).", &["queue", "outcome"]);
static JOB_FAILURES: CounterFamily = CounterFamily::new("certflow_job_failures_total", "Job attempts that failed, by queue.", &["queue"]);
static JOB_PICKUP_SECONDS: HistogramFamily =
    HistogramFamily::new("certflow_job_pickup_seconds", "Wall-clock time from handing an outbox entry to a queue to a worker starting it, by queue.", &["queue"]);
static HTTP_SECONDS: HistogramFamily =
    HistogramFamily::new("certflow_http_request_duration_seconds", "HTTP request latency, by method, route template and status.", &["method", "route", "status"]);

/// Counts one applied transition of `definition` and its event-to-commit time.
pub fn record_transition(definition: &str, elapsed: Duration) {
    TRANSITIONS.add(&[definition], 1);
    TRANSITION_SECONDS.observe(&[], elapsed);
}

/// Records one job attempt on `queue`; `outcome` is `done`, `deferred` or `failed`.
pub fn record_job(queue: &str, outcome: &str, elapsed: Duration) {
    JOB_SECONDS.observe(&[queue, outcome], elapsed);
    if outcome == "failed" {
        JOB_FAILURES.add(&[queue], 1);
    }
}

/// Records the wait between an entry's hand-out and the start of its job on `queue`.
pub fn record_job_pickup(queue: &str, waited: Duration) {
    JOB_PICKUP_SECONDS.observe(&[queue], waited);
}

/// Records one HTTP request; `route` is the matched route template, never the raw path,
/// so ids do not multiply the series.
pub fn record_http(method: &str, route: &str, status: u16, elapsed: Duration) {
    HTTP_SECONDS.observe(&[method, route, &status.to_string()], elapsed);
}

/// Returns the sum of transitions counted in this process, for benchmarks.
pub fn transitions_counted() -> u64 {
    TRANSITIONS.series.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).values().sum()
}

/// Writes every in-memory family in the text format.
pub fn render() -> String {
    let mut out = String::new();
    TRANSITIONS.write(&mut out);
    TRANSITION_SECONDS.write(&mut out);
    JOB_SECONDS.write(&mut out);
    JOB_FAILURES.write(&mut out);
    JOB_PICKUP_SECONDS.write(&mut out);
    HTTP_SECONDS.write(&mut out);
    out
}

/// Appends a gauge family read at scrape time: one line per (label values, value).
pub fn write_gauge(out: &mut String, name: &str, help: &str, labels: &[&str], series: &[(Vec<String>, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (values, value) in series {
        let _ = writeln!(out, "{name}{} {value}", label_text(labels, values, None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let family = HistogramFamily::new("test_seconds", "Test.", &["queue"]);
        family.observe(&["a"], Duration::from_micros(500));
        family.observe(&["a"], Duration::from_millis(20));
        family.observe(&["a"], Duration::from_secs(60));
        let mut out = String::new();
        family.write(&mut out);
        assert!(out.contains("# TYPE test_seconds histogram"), "{out}");
        assert!(out.contains("test_seconds_bucket{queue=\"a\",le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("test_seconds_bucket{queue=\"a\",le=\"0.025\"} 2\n"), "{out}");
        assert!(out.contains("test_seconds_bucket{queue=\"a\",le=\"10\"} 2\n"), "{out}");
        assert!(out.contains("test_seconds_bucket{queue=\"a\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("test_seconds_count{queue=\"a\"} 3\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        let family = CounterFamily::new("test_total", "Test.", &["route"]);
        family.add(&["/a\"b\\c"], 2);
        let mut out = String::new();
        family.write(&mut out);
        assert!(out.contains("test_total{route=\"/a\\\"b\\\\c\"} 2\n"), "{out}");
    }
}
