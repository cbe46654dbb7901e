//! The command line: subcommands and their options.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{admin_cmd, check_cmd, definitions_cmd, serve_cmd, sim_cmd};

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
    /// Print a definition as a Mermaid state diagram.
    Diagram {
        /// The definition id, such as annual_ce.
        id: String,
        /// Definitions folder (holding pipelines/ and templates/).
        #[arg(long, default_value = "./definitions")]
        dir: PathBuf,
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
        Command::Serve { listen, role } => serve_cmd::serve(listen, role).await,
        Command::Migrate => serve_cmd::migrate_only().await,
        Command::Check { kind, value } => Ok(check_cmd::check(kind, &value)),
        Command::Definitions { command: DefinitionsCommand::Validate { dir, json, lang } } => definitions_cmd::validate(&dir, json, &lang),
        Command::Definitions { command: DefinitionsCommand::Diagram { id, dir } } => definitions_cmd::diagram(&dir, &id),
        Command::Admin { command: AdminCommand::Create { login, name, role, password_file } } => admin_cmd::create_admin(&login, &name, &role, password_file.as_deref()).await,
        Command::Import { command: ImportCommand::Roster { file, unit } } => admin_cmd::import_roster(&file, &unit).await,
        Command::Demo { json, seed, database, smtp, operators } => crate::demo::run(crate::demo::DemoOptions { json, seed, database, smtp, operators }).await,
        Command::Archive { command: ArchiveCommand::Verify { json } } => crate::archive_cmd::verify(json).await,
        Command::ProvincialSim { listen, store, key_id, secret } => sim_cmd::run(listen, store, key_id, secret).await,
    }
}
