//! `certflow bench engine`: the engine and its workers against baselines measured in
//! the same run on the same database, on SQLite and PostgreSQL.
//!
//! Each backend gets a new database: a SQLite file in a temporary folder, or a
//! PostgreSQL database `certflow_bench_<random>` created on the server given and
//! dropped afterwards. The figures and their baselines are described in
//! docs/benchmarks.md.

use std::path::PathBuf;
use std::time::Duration;

use workflows::db::Backend;
use workflows::testing::TempDir;

use super::{baselines, growth};
use super::report::{BackendReport, Figure, Report};
use super::workload::{self, Bed};

/// Time per measurement without `--quick`.
const DEFAULT_BUDGET: Duration = Duration::from_secs(5);
/// Time per measurement with `--quick`.
const QUICK_BUDGET: Duration = Duration::from_millis(300);
/// Calls made whatever the budget, so percentiles rest on some samples.
const MIN_CALLS: usize = 20;

pub struct EngineBenchOptions {
    pub backends: Vec<Backend>,
    /// Administrative URL of the PostgreSQL server the bench creates its database on.
    pub postgres_url: String,
    pub quick: bool,
    pub budget_ms: Option<u64>,
    /// Concurrent writers for the naive baseline, transitions and instances.
    pub tasks: usize,
    /// Jobs of the apalis baseline and job-driven steps of each backend.
    pub jobs: usize,
    pub pickup_samples: usize,
    /// Operators played through the demo's year; 0 leaves the figure out.
    pub year_operators: usize,
    /// Instance counts at which the transition cost is measured, ascending; empty
    /// leaves the growth figures out.
    pub growth: Vec<i64>,
    /// Timers due at one moment for the drain figure; 0 leaves it out.
    pub timers: i64,
    /// The JSON report: read as the previous run, then replaced.
    pub report: PathBuf,
    pub json: bool,
    /// The command line, recorded in the report.
    pub command: String,
}

pub async fn run(options: EngineBenchOptions) -> anyhow::Result<Report> {
    let budget = options.budget_ms.map(Duration::from_millis).unwrap_or(if options.quick { QUICK_BUDGET } else { DEFAULT_BUDGET });
    let mut backends = Vec::new();
    for backend in &options.backends {
        let (url, cleanup) = fresh_database(*backend, &options.postgres_url).await?;
        let measured = measure_backend(*backend, &url, budget, &options).await;
        cleanup.run().await;
        backends.push(measured?);
    }

    let mut report = Report { measured_at: chrono::Utc::now().to_rfc3339(), command: options.command.clone(), environment: super::environment(), backends };
    if let Some(previous) = Report::read(&options.report) {
        report.compare_with(&previous);
    }
    report.write(&options.report)?;
    Ok(report)
}

pub(super) fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn progress(options: &EngineBenchOptions, backend: Backend, what: &str) {
    if !options.json {
        eprintln!("[bench {}] {what}", backend_name(backend));
    }
}

async fn measure_backend(backend: Backend, url: &str, budget: Duration, options: &EngineBenchOptions) -> anyhow::Result<BackendReport> {
    let bed = Bed::open(url).await?;
    baselines::create_table(&bed.engine.db).await?;
    let tasks = options.tasks;
    let mut figures = Vec::new();

    progress(options, backend, "baseline (a): one transaction per single-row INSERT");
    let naive = baselines::naive(&bed.engine.db, budget, MIN_CALLS, tasks).await?;
    progress(options, backend, "baseline (b): 1,000 single-row INSERTs per transaction");
    let ceiling = baselines::ceiling(&bed.engine.db, budget, 2).await?;
    progress(options, backend, "baseline (c): apalis alone, trivial jobs");
    let apalis = baselines::apalis_alone(&bed.queues, options.jobs, tasks).await?;
    figures.push(Figure::rate("(a) naive: 1 row per transaction", "rows/s", &naive));
    figures.push(Figure::rate("(b) ceiling: 1,000 rows per transaction", "rows/s", &ceiling));
    figures.push(Figure::rate("(c) apalis alone: trivial jobs", "jobs/s", &apalis));

    progress(options, backend, "transitions");
    let transitions = workload::transitions(&bed, budget, MIN_CALLS, tasks).await?;
    figures.push(Figure::rate("transitions", "transitions/s", &transitions).ratio("(a)", naive.per_second).ratio("(b)", ceiling.per_second).target("≥ 2× (a), ≥ 0.25× (b)"));
    figures.push(
        Figure::latency("event to commit", &transitions)
            .ratio("(a) p99", naive.p99_us / 1000.0)
            .target("p99 < 10 ms"),
    );

    progress(options, backend, "one-step instances");
    let one_step = workload::one_step_instances(&bed, budget, MIN_CALLS, tasks).await?;
    figures.push(Figure::rate("one-step instances", "instances/s", &one_step).target("≥ 1,000/s"));

    progress(options, backend, "job-driven steps and job pickup");
    let jobs = workload::job_steps(&bed, options.jobs, tasks, options.pickup_samples).await?;
    figures.push(Figure::rate("job-driven steps", "steps/s", &jobs.steps).ratio("(c)", apalis.per_second).target("≥ 0.8× (c)"));
    let pickup_target = match backend {
        Backend::Sqlite => "p99 < 1 s",
        Backend::Postgres => "p99 < 100 ms",
    };
    figures.push(Figure::latency("job pickup: commit to job done, idle", &jobs.pickup).target(pickup_target));

    if !options.growth.is_empty() {
        figures.extend(growth_figures(&bed, backend, budget, options, transitions.per_second).await?);
    }
    // Closed here, so that dropping the database does not have to end live sessions.
    bed.engine.close_commits().await;
    bed.engine.db.pool.close().await;
    bed.queues.close().await;
    if options.year_operators > 0 {
        progress(options, backend, &format!("operator-year pipeline, {} operators", options.year_operators));
        figures.extend(operator_years(backend, options).await?);
    }
    Ok(BackendReport { backend: backend_name(backend).into(), figures })
}

/// Transition cost at each instance count of `options.growth`, then the timer drain.
async fn growth_figures(bed: &Bed, backend: Backend, budget: Duration, options: &EngineBenchOptions, transition_rate: f64) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let mut grown = 0;
    let mut first_rate = None;
    for &level in &options.growth {
        progress(options, backend, &format!("growing to {level} instances"));
        growth::grow(bed, grown, level).await?;
        grown = grown.max(level);
        let measured = growth::transitions_among(bed, level, &level.to_string(), budget, MIN_CALLS, options.tasks).await?;
        let first = *first_rate.get_or_insert(measured.per_second);
        let mut figure = Figure::rate(&format!("transitions among {level} instances"), "transitions/s", &measured).target("cost at 1M ≤ 1.2× cost at 10k");
        // Cost is time per transition, so its ratio is the inverse of the rates'.
        figure.ratios.push((format!("cost vs {}", options.growth[0]), first / measured.per_second.max(f64::EPSILON)));
        figures.push(figure);
    }
    if options.timers > 0 {
        let count = options.timers.min(grown);
        progress(options, backend, &format!("{count} timers due at once"));
        let drained = growth::drain_timers(bed, count).await?;
        let mut figure = Figure::rate(&format!("timers drained ({count} due at once)"), "timers/s", &drained).ratio("transitions", transition_rate).target("≥ 0.5× transitions");
        figure.p50_ms = None;
        figure.p99_ms = None;
        figures.push(figure);
    }
    Ok(figures)
}

/// Plays the demo's full year on a database of its own and returns operator-years per
/// second, then the database size and the resident memory it added per operator.
async fn operator_years(backend: Backend, options: &EngineBenchOptions) -> anyhow::Result<Vec<Figure>> {
    let (database, cleanup) = fresh_database(backend, &options.postgres_url).await?;
    let measured = play_year(&database, options).await;
    cleanup.run().await;
    let (operators, elapsed, database_bytes, rss_before, rss_after) = measured?;

    let per_second = operators as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    let single = |value: f64| super::measure::Measurement { calls: operators, per_second: value, p50_us: 0.0, p99_us: 0.0 };
    let per_operator = operators.max(1) as f64;
    let mut figures = vec![
        Figure::rate("operator-year pipeline (demo year over HTTP)", "operator-years/s", &single(per_second)).target("≥ 20/s (stretch 50)"),
        Figure::rate("database size per operator-year", "KiB", &single(database_bytes as f64 / 1024.0 / per_operator)),
        Figure::rate("resident memory added per operator-year", "KiB", &single(rss_after.saturating_sub(rss_before) as f64 / 1024.0 / per_operator)),
        Figure::rate("resident memory after the year", "MiB", &single(rss_after as f64 / 1_048_576.0)),
    ];
    for figure in &mut figures {
        figure.p50_ms = None;
        figure.p99_ms = None;
    }
    Ok(figures)
}

/// Returns (operators, time of the year, database bytes the year added, RSS before,
/// RSS after). The bytes added are measured from the platform's empty database, with
/// the shipped definitions and courseware, to the end of the year.
async fn play_year(database: &str, options: &EngineBenchOptions) -> anyhow::Result<(usize, Duration, u64, u64, u64)> {
    let empty = Bed::open(database).await?;
    let empty_bytes = growth::database_bytes(&empty.engine.db).await?;
    empty.engine.db.pool.close().await;
    drop(empty);

    let rss_before = growth::resident_bytes().unwrap_or(0);
    let (operators, elapsed) = crate::demo::timed_year(Some(database.to_string()), options.year_operators).await?;
    let rss_after = growth::resident_bytes().unwrap_or(0);
    let db = workflows::db::Db::connect(database).await?;
    let bytes = growth::database_bytes(&db).await?;
    db.pool.close().await;
    Ok((operators, elapsed, bytes.saturating_sub(empty_bytes), rss_before, rss_after))
}

/// Removes the bench's database after the measurements.
pub(super) enum Cleanup {
    Sqlite(TempDir),
    Postgres { admin_url: String, name: String },
}

impl Cleanup {
    pub(super) async fn run(self) {
        match self {
            Cleanup::Sqlite(dir) => drop(dir),
            Cleanup::Postgres { admin_url, name } => {
                use sqlx::Connection;
                let dropped = async {
                    let mut connection = sqlx::AnyConnection::connect(&admin_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut connection).await?;
                    anyhow::Ok(())
                };
                if let Err(error) = dropped.await {
                    tracing::warn!(database = %name, %error, "could not drop the bench database; drop it by hand");
                }
            }
        }
    }
}

pub(super) async fn fresh_database(backend: Backend, admin_url: &str) -> anyhow::Result<(String, Cleanup)> {
    match backend {
        Backend::Sqlite => {
            let dir = TempDir::new();
            Ok((format!("sqlite://{}/bench.db", dir.path.display()), Cleanup::Sqlite(dir)))
        }
        Backend::Postgres => {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut connection = sqlx::AnyConnection::connect(admin_url).await.map_err(|error| anyhow::anyhow!("PostgreSQL at {} is not reachable: {error}", crate::platform::redact(admin_url)))?;
            let name = format!("certflow_bench_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut connection).await?;
            let base = admin_url.rsplit_once('/').map(|(base, _)| base.to_string()).unwrap_or_else(|| admin_url.to_string());
            Ok((format!("{base}/{name}"), Cleanup::Postgres { admin_url: admin_url.to_string(), name }))
        }
    }
}
