//! `certflow bench`: benchmarks of the platform's hot paths, each printed beside a
//! baseline measured in the same run, so a figure can be read against what the machine
//! does without the rule under test. `exam` runs in memory; `engine` runs on SQLite
//! and PostgreSQL. `exam-peak`, built with the `exam-peak` feature, is a load test of
//! the exam flow over HTTP and reports figures without baselines.

mod baselines;
mod engine;
mod exam;
mod growth;
mod measure;
#[cfg(feature = "exam-peak")]
mod peak;
mod report;
mod workload;

use std::process::ExitCode;

pub use engine::EngineBenchOptions;
pub use exam::{ExamBenchOptions, run_exam};
#[cfg(feature = "exam-peak")]
pub use peak::ExamPeakOptions;

/// Describes the build and the machine, for the header of a report.
pub fn environment() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| text.lines().find(|line| line.starts_with("model name")).and_then(|line| line.split_once(':')).map(|(_, model)| model.trim().to_string()))
        .unwrap_or_else(|| "unknown".to_string());
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| text.lines().find(|line| line.starts_with("MemTotal")).and_then(|line| line.split_whitespace().nth(1)).and_then(|kib| kib.parse::<u64>().ok()));
    serde_json::json!({
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "cpus": std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1),
        "cpu_model": cpu,
        "memory_gib": memory_kib.map(|kib| (kib as f64 / 1_048_576.0 * 10.0).round() / 10.0),
    })
}

/// Runs `certflow bench exam`.
pub fn exam(options: ExamBenchOptions) -> anyhow::Result<ExitCode> {
    run_exam(options)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `certflow bench engine` and prints its report as tables or JSON.
pub async fn engine(options: EngineBenchOptions) -> anyhow::Result<ExitCode> {
    let json = options.json;
    let path = options.report.clone();
    let report = engine::run(options).await?;
    print_report(&report, json, &path)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a report as one JSON object on stdout, or as tables with the report's path.
fn print_report(report: &report::Report, json: bool, path: &std::path::Path) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{}", report.render());
        eprintln!("报告已写入 / report written to {}", path.display());
    }
    Ok(())
}

/// Runs `certflow bench exam-peak`, prints its report as tables or JSON and fails when
/// any request failed.
#[cfg(feature = "exam-peak")]
pub async fn exam_peak(options: ExamPeakOptions) -> anyhow::Result<ExitCode> {
    let json = options.json;
    let path = options.report.clone();
    let report = peak::run(options).await?;
    print_report(&report, json, &path)?;
    // Any error fails the command, so a script or CI notices it without reading the report.
    let errors: f64 = report.backends.iter().flat_map(|backend| &backend.figures).filter(|figure| figure.name == peak::ERRORS).map(|figure| figure.value).sum();
    Ok(if errors > 0.0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
