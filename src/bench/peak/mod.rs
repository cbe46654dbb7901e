//! `certflow bench exam-peak`: the load test of the exam peak at the end of the year,
//! when many operators sit the exam at once. It builds the platform on a new database,
//! sets up the exam-takers through the API, then lets one goose user per exam-taker go
//! through the exam flow over loopback (proctoring consent, exam start, the paper,
//! autosaves, submit, the result). It reports the p50, p99 and maximum latency of each
//! step, throughput and errors by kind, beside the previous run's figures.
//!
//! goose (crates.io) generates the load: its users are scenarios with state of their
//! own, which the flow needs (session token, attempt id, answers), and it keeps a
//! latency histogram per named request.

mod figures;
mod flow;
mod seed;
mod stack;
mod stdout_guard;

use std::path::PathBuf;
use std::time::Duration;

use workflows::db::Backend;

use super::engine::{backend_name, fresh_database};
use super::report::{BackendReport, Report};

pub use figures::ERRORS;

/// File descriptors kept free beside two sockets per user (client and server side):
/// database files and connections, listeners, logs.
const SPARE_FILES: u64 = 512;

pub struct ExamPeakOptions {
    pub backends: Vec<Backend>,
    /// Administrative URL of the PostgreSQL server the test creates its database on.
    pub postgres_url: String,
    pub users: usize,
    /// Users started per second.
    pub ramp_per_second: f64,
    pub autosaves: usize,
    pub think_min: Duration,
    pub think_max: Duration,
    /// Exam-takers set up concurrently before the timed run.
    pub setup_tasks: usize,
    /// The JSON report: read as the previous run, then replaced.
    pub report: PathBuf,
    pub json: bool,
    /// The command line, recorded in the report.
    pub command: String,
}

pub async fn run(options: ExamPeakOptions) -> anyhow::Result<Report> {
    let open_files = raise_open_file_limit()?;
    let needed = options.users as u64 * 2 + SPARE_FILES;
    if open_files < needed {
        anyhow::bail!("the open-file limit is {open_files}, and {} users need about {needed}; raise it with `ulimit -n {needed}` before the run", options.users);
    }
    let mut environment = super::environment();
    environment["open_files_limit"] = open_files.into();
    environment["load_average_before"] = load_average().into();

    let mut backends = Vec::new();
    for backend in &options.backends {
        let (url, cleanup) = fresh_database(*backend, &options.postgres_url).await?;
        let measured = measure_backend(*backend, &url, &options).await;
        cleanup.run().await;
        backends.push(measured?);
    }
    environment["load_average_after"] = load_average().into();

    let mut report = Report { measured_at: chrono::Utc::now().to_rfc3339(), command: options.command.clone(), environment, backends };
    if let Some(previous) = Report::read(&options.report) {
        report.compare_with(&previous);
    }
    report.write(&options.report)?;
    Ok(report)
}

fn progress(options: &ExamPeakOptions, backend: Backend, message: &str) {
    if !options.json {
        eprintln!("[exam-peak {}] {message}", backend_name(backend));
    }
}

async fn measure_backend(backend: Backend, url: &str, options: &ExamPeakOptions) -> anyhow::Result<BackendReport> {
    progress(options, backend, "starting the platform on a new database");
    let stack = stack::Stack::start(url).await?;
    let measured = async {
        progress(options, backend, &format!("setting up {} exam-takers through the API", options.users));
        let started = std::time::Instant::now();
        let takers = seed::exam_takers(&stack, options.users, options.setup_tasks, options.json).await?;
        progress(options, backend, &format!("set up in {:.0} s; timed run", started.elapsed().as_secs_f64()));

        let bank = crate::demo::answers::bank(&stack.state.courseware);
        let flow_options = flow::FlowOptions { ramp_per_second: options.ramp_per_second, autosaves: options.autosaves, think_min: options.think_min, think_max: options.think_max };
        let outcome = flow::run(&stack.base_url, takers, bank, &flow_options).await?;
        anyhow::Ok(figures::figures(&outcome, options.users))
    }
    .await;
    stack.stop().await;
    Ok(BackendReport { backend: backend_name(backend).into(), figures: measured? })
}

/// Raises the soft open-file limit of this process to its hard limit and returns the
/// soft limit in force. Every user keeps one loopback connection open, and both of its
/// ends are in this process.
fn raise_open_file_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            anyhow::bail!("getrlimit(RLIMIT_NOFILE) failed: {}", std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            } else {
                tracing::warn!(error = %std::io::Error::last_os_error(), soft = limit.rlim_cur, hard = limit.rlim_max, "could not raise the open-file limit");
            }
        }
    }
    Ok(limit.rlim_cur as u64)
}

/// Returns the 1, 5 and 15 minute load averages from /proc/loadavg, or "unknown".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").ok().map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_else(|| "unknown".into())
}
