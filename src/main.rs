//! certflow: the continuing-education and examination platform for special-equipment
//! operators (特种设备作业人员). One binary runs the API, the workers and the scheduler,
//! and carries the tools that drive the platform from outside.

mod admin_cmd;
mod bench;
mod archive_cmd;
mod check_cmd;
mod cli;
mod config;
mod crash;
mod definitions_cmd;
mod demo;
mod embedded;
mod platform;
mod publish_cmd;
mod serve_cmd;
mod sim_cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let serving = matches!(cli.command, cli::Command::Serve { .. } | cli::Command::ProvincialSim { .. });
    init_tracing(cli.verbose, serving);
    serve_cmd::install_crypto_provider();

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("错误 / error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, so a command's own output on stdout stays machine-readable. Long-
/// running commands log at info; one-shot commands only warnings unless `--verbose`.
fn init_tracing(verbose: bool, serving: bool) {
    let default = match (verbose, serving) {
        (true, _) => "info,certflow=debug",
        (false, true) => "warn,certflow=info,workers=info,workflows=info,api=info",
        (false, false) => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CERTFLOW_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
}
