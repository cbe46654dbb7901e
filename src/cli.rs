//! The command line: subcommands and their options.
//!
//! NOTE: the help text of options and subcommands is English only, because clap's
//! doc-comment help has no locale. What the commands print goes through the zh-CN catalogue.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{admin_cmd, check_cmd, definitions_cmd, publish_cmd, serve_cmd, sim_cmd};

#[derive(Parser, Debug)]
#[command(name = "certflow", version, about = "特种设备作业人员继续教育与考试服务平台 / continuing education and exams for special-equipment operators")]
pub struct Cli {
    /// Log more detail (the CERTFLOW_LOG filter overrides this).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the API, workers and scheduler (all roles by default) on the configured database.
    Serve {
        /// Address the API listens on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Run only this role; several processes with different roles may share one PostgreSQL database.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
        /// Address on which a worker or scheduler process serves /healthz, /readyz and /metrics. Those roles serve no API, so without it they have no listener. The api and all roles serve the probes on --listen and reject this option.
        #[arg(long)]
        probes: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check one identity value as support staff read it out: prints the normalized value, or the error on stderr with exit code 1.
    Check {
        #[arg(value_enum)]
        kind: CheckKind,
        value: String,
    },
    /// Work with pipeline definitions.
    Definitions {
        #[command(subcommand)]
        command: DefinitionsCommand,
    },
    /// Manage staff accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Import data from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Kill a `certflow serve` child with SIGKILL at random moments while a scripted pipeline runs, then check that nothing was lost or duplicated and no instance is stuck. Exit code 1 when a check fails.
    CrashDrill {
        /// How many times the server is killed.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// How many operators go through the pipeline.
        #[arg(long, default_value_t = 5)]
        operators: usize,
        /// Database URL; a new SQLite file in a temporary folder when absent.
        #[arg(long)]
        database: Option<String>,
        /// Seed of the kill moments.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Run the API, the workers and the scheduler as three processes and kill the API or the worker process each round (PostgreSQL only).
        #[arg(long)]
        split: bool,
    },
    /// Run a compressed year for the bundled demo data through the real API on loopback, with a simulated clock.
    Demo {
        /// Print only one JSON object on stdout (progress goes to stderr).
        #[arg(long)]
        json: bool,
        /// Seed for the operators' plans (who fails, who is flagged); the same seed repeats the run.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Database to use instead of a new one in a temporary folder.
        #[arg(long)]
        database: Option<String>,
        /// Send email through this SMTP server (HOST:PORT, no TLS) instead of the file outbox.
        #[arg(long)]
        smtp: Option<String>,
        /// Play only the first N operators of the roster.
        #[arg(long)]
        operators: Option<usize>,
    },
    /// Measure hot paths in memory, each beside a baseline from the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Work with the operator archives.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Run the provincial supervision platform simulator on loopback.
    ProvincialSim {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// Folder where received records are kept.
        #[arg(long, default_value = "./data/provincial-sim")]
        store: PathBuf,
        /// Key id the simulator accepts.
        #[arg(long, default_value = "dev")]
        key_id: String,
        /// Shared secret; read from CERTFLOW_PROVINCIAL_SECRET when not given.
        #[arg(long, env = "CERTFLOW_PROVINCIAL_SECRET", hide_env_values = true, default_value = "dev-secret")]
        secret: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DefinitionsCommand {
    /// Print a definition as a state diagram (Mermaid text or a standalone SVG).
    Diagram {
        /// The definition id, such as annual_ce.
        id: String,
        /// Definitions folder (holding pipelines/ and templates/).
        #[arg(long, default_value = "./definitions")]
        dir: PathBuf,
        /// mermaid or svg.
        #[arg(long, default_value = "mermaid")]
        format: String,
    },
    /// Validate the folder, then publish each definition as its latest version on DATABASE_URL. Running instances keep their version.
    Publish {
        /// Definitions folder (holding pipelines/ and templates/).
        #[arg(default_value = "./definitions")]
        dir: PathBuf,
        /// The change note shown beside the version.
        #[arg(long, default_value = "")]
        label: String,
        /// Author recorded with the version.
        #[arg(long, env = "USER", default_value = "cli")]
        author: String,
    },
    /// List the published versions of a definition, latest first.
    Versions {
        id: String,
    },
    /// Show how many running instances in each state would move where, and every problem; changes nothing. Exit code 1 when the plan has problems.
    PlanMigration {
        #[command(flatten)]
        args: MigrationCli,
    },
    /// Apply a migration whose plan has no problems, one transaction per instance.
    Migrate {
        #[command(flatten)]
        args: MigrationCli,
        /// Person recorded in each migrated instance's history.
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
    /// Validate every definition and template; exit code 1 when any error is found.
    Validate {
        /// Definitions folder (holding pipelines/ and templates/).
        #[arg(default_value = "./definitions")]
        dir: PathBuf,
        /// Print one JSON object for tools instead of text.
        #[arg(long)]
        json: bool,
        /// Language of the messages: zh-CN or en.
        #[arg(long, default_value = "zh-CN")]
        lang: String,
    },
}

/// The arguments shared by plan-migration and migrate.
#[derive(clap::Args, Debug)]
pub struct MigrationCli {
    /// The definition id, such as annual_ce.
    pub id: String,
    /// The version instances run on now (full, or a unique prefix of 8+ characters).
    #[arg(long)]
    pub from: String,
    /// The version to move them to; the latest when absent.
    #[arg(long)]
    pub to: Option<String>,
    /// A state map entry old=new; repeat for several. States not named keep their id.
    #[arg(long = "map")]
    pub map: Vec<String>,
    /// A YAML file with `states: {old: new, ...}`.
    #[arg(long)]
    pub map_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl MigrationCli {
    pub fn to_args(&self) -> crate::publish_cmd::MigrationArgs {
        crate::publish_cmd::MigrationArgs {
            id: self.id.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            map: self.map.clone(),
            map_file: self.map_file.clone(),
            json: self.json,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Paper assembly and grading on banks of 20 courses × 50, 200 and 800 questions per course.
    Exam {
        /// Short run for CI: 0.3 s per measurement instead of 3 s.
        #[arg(long)]
        quick: bool,
        /// Time per measurement in milliseconds (overrides --quick).
        #[arg(long)]
        budget_ms: Option<u64>,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Transitions, instances, job-driven steps, job pickup and the demo year, each beside baselines measured in the same run on the same database.
    Engine {
        /// Backends to measure, each on a new database.
        #[arg(long, value_enum, default_value_t = BenchBackend::Both)]
        backend: BenchBackend,
        /// PostgreSQL server on which the bench creates and then drops its database (CERTFLOW_BENCH_POSTGRES).
        #[arg(long, env = "CERTFLOW_BENCH_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        /// Short run for CI: 0.3 s per measurement instead of 5 s, 100 jobs, 10 pickup samples, 1 operator-year.
        #[arg(long)]
        quick: bool,
        /// Time per measurement in milliseconds (overrides --quick).
        #[arg(long)]
        budget_ms: Option<u64>,
        /// Concurrent writers for the naive baseline, transitions and instances.
        #[arg(long, default_value_t = 4)]
        tasks: usize,
        /// Jobs of the apalis baseline and job-driven steps (default 2,000; 100 with --quick).
        #[arg(long)]
        jobs: Option<usize>,
        /// Pickup latency samples (default 50; 10 with --quick).
        #[arg(long)]
        pickup_samples: Option<usize>,
        /// Operators played through the demo year; 0 leaves the figure out (default 20; 1 with --quick).
        #[arg(long)]
        year_operators: Option<usize>,
        /// Instance counts at which to measure the transition cost, comma-separated and ascending (for example 10000,100000,1000000); none by default.
        #[arg(long, value_delimiter = ',')]
        growth: Vec<i64>,
        /// Timers due at one moment for the drain figure, armed on grown instances (at most the largest --growth count); 0 leaves it out.
        #[arg(long, default_value_t = 0)]
        timers: i64,
        /// JSON report: the previous run is read from it for comparison, then replaced.
        #[arg(long, default_value = "bench-results/engine.json")]
        report: PathBuf,
        /// Print the report as JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Load test of the exam peak, when many exam-takers sit the exam at once.
    ///
    /// Every exam-taker goes over loopback through proctoring consent, exam start, the
    /// paper, autosaves, submit and the result. The report gives the latency of each
    /// step, throughput and errors beside the previous run. Built with
    /// `--features exam-peak`.
    #[cfg(feature = "exam-peak")]
    ExamPeak {
        /// Backends to measure, each on a new database.
        #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
        backend: BenchBackend,
        /// Administrative URL of the PostgreSQL server where the test creates and drops its database.
        #[arg(long, env = "CERTFLOW_BENCH_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        /// Number of concurrent exam-takers, each with its own operator, enrollment and session.
        #[arg(long, default_value_t = 2_000)]
        users: usize,
        /// Exam-takers started per second at the beginning of the run, at least 0.1.
        #[arg(long, default_value_t = 200.0)]
        ramp: f64,
        /// Number of answer autosaves per exam-taker between the paper and the submission, at least 1.
        #[arg(long, default_value_t = 5)]
        autosaves: usize,
        /// Minimum think time between two steps of one exam-taker, in milliseconds.
        #[arg(long, default_value_t = 1_000)]
        think_min_ms: u64,
        /// Maximum think time between two steps of one exam-taker, in milliseconds.
        #[arg(long, default_value_t = 3_000)]
        think_max_ms: u64,
        /// Number of exam-takers set up concurrently through the API before the timed run, at least 1.
        #[arg(long, default_value_t = 32)]
        setup_tasks: usize,
        /// Path of the JSON report, read as the previous run for comparison and then replaced.
        #[arg(long, default_value = "bench-results/exam-peak.json")]
        report: PathBuf,
        /// Print the report as JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// The databases `certflow bench engine` and `certflow bench exam-peak` measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchBackend {
    Sqlite,
    Postgres,
    Both,
}

impl BenchBackend {
    pub fn backends(self) -> Vec<workflows::db::Backend> {
        match self {
            BenchBackend::Sqlite => vec![workflows::db::Backend::Sqlite],
            BenchBackend::Postgres => vec![workflows::db::Backend::Postgres],
            BenchBackend::Both => vec![workflows::db::Backend::Sqlite, workflows::db::Backend::Postgres],
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ArchiveCommand {
    /// Check the hash chain of every archive; prints the first broken entry of each broken chain and exits with 1 if any.
    Verify {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an association staff account; the password comes from --password-file or CERTFLOW_ADMIN_PASSWORD (at least 10 characters).
    Create {
        #[arg(long)]
        login: String,
        /// Name shown on screens.
        #[arg(long, default_value = "协会管理员")]
        name: String,
        /// association_admin or reviewer.
        #[arg(long, default_value = "association_admin")]
        role: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import a unit's roster (CSV in UTF-8 or GBK, or xlsx) with the same rules and row report as the API.
    Roster {
        file: PathBuf,
        /// The unit's unified social credit code (统一社会信用代码).
        #[arg(long)]
        unit: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    All,
    Api,
    Worker,
    Scheduler,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckKind {
    IdNumber,
    Uscc,
    Mobile,
    Name,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { listen, role, probes } => serve_cmd::serve(listen, role, probes).await,
        Command::Migrate => serve_cmd::migrate_only().await,
        Command::Check { kind, value } => Ok(check_cmd::check(kind, &value)),
        Command::Definitions { command: DefinitionsCommand::Validate { dir, json, lang } } => definitions_cmd::validate(&dir, json, &lang),
        Command::Definitions { command: DefinitionsCommand::Diagram { id, dir, format } } => definitions_cmd::diagram(&dir, &id, &format),
        Command::Definitions { command: DefinitionsCommand::Publish { dir, label, author } } => publish_cmd::publish(&dir, &label, &author).await,
        Command::Definitions { command: DefinitionsCommand::Versions { id } } => publish_cmd::versions(&id).await,
        Command::Definitions { command: DefinitionsCommand::PlanMigration { args } } => publish_cmd::plan(&args.to_args()).await,
        Command::Definitions { command: DefinitionsCommand::Migrate { args, by } } => publish_cmd::migrate(&args.to_args(), &by).await,
        Command::Admin { command: AdminCommand::Create { login, name, role, password_file } } => admin_cmd::create_admin(&login, &name, &role, password_file.as_deref()).await,
        Command::Import { command: ImportCommand::Roster { file, unit } } => admin_cmd::import_roster(&file, &unit).await,
        Command::Demo { json, seed, database, smtp, operators } => crate::demo::run(crate::demo::DemoOptions { json, seed, database, smtp, operators }).await,
        Command::CrashDrill { rounds, operators, database, seed, json, split } => crate::crash::run(crate::crash::DrillOptions { rounds, operators, database, seed, json, split }).await,
        Command::Bench { command: BenchCommand::Exam { quick, budget_ms, json } } => crate::bench::exam(crate::bench::ExamBenchOptions { quick, budget_ms, json }),
        Command::Bench { command: BenchCommand::Engine { backend, postgres, quick, budget_ms, tasks, jobs, pickup_samples, year_operators, growth, timers, report, json } } => {
            let options = crate::bench::EngineBenchOptions {
                backends: backend.backends(),
                postgres_url: postgres,
                quick,
                budget_ms,
                tasks: tasks.max(1),
                jobs: jobs.unwrap_or(if quick { 100 } else { 2_000 }),
                pickup_samples: pickup_samples.unwrap_or(if quick { 10 } else { 50 }),
                year_operators: year_operators.unwrap_or(if quick { 1 } else { 20 }),
                growth: {
                    let mut levels = growth;
                    levels.sort_unstable();
                    levels
                },
                timers,
                report,
                json,
                command: std::env::args().collect::<Vec<_>>().join(" "),
            };
            crate::bench::engine(options).await
        }
        #[cfg(feature = "exam-peak")]
        Command::Bench { command: BenchCommand::ExamPeak { backend, postgres, users, ramp, autosaves, think_min_ms, think_max_ms, setup_tasks, report, json } } => {
            if think_min_ms > think_max_ms {
                anyhow::bail!("--think-min-ms ({think_min_ms}) is larger than --think-max-ms ({think_max_ms}); give a minimum no larger than the maximum");
            }
            if users == 0 {
                anyhow::bail!("--users is 0; give at least 1 exam-taker");
            }
            let options = crate::bench::ExamPeakOptions {
                backends: backend.backends(),
                postgres_url: postgres,
                users,
                ramp_per_second: ramp,
                autosaves: autosaves.max(1),
                think_min: std::time::Duration::from_millis(think_min_ms),
                think_max: std::time::Duration::from_millis(think_max_ms),
                setup_tasks: setup_tasks.max(1),
                report,
                json,
                command: std::env::args().collect::<Vec<_>>().join(" "),
            };
            crate::bench::exam_peak(options).await
        }
        Command::Archive { command: ArchiveCommand::Verify { json } } => crate::archive_cmd::verify(json).await,
        Command::ProvincialSim { listen, store, key_id, secret } => sim_cmd::run(listen, store, key_id, secret).await,
    }
}
