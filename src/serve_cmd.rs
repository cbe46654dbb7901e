//! `certflow serve` and `certflow migrate`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use workers::queues::JobQueues;
use workers::runtime::{self, Roles};
use workflows::clock::SystemClock;
use workflows::db::Db;

use crate::cli::Role;
use crate::config::Config;
use crate::platform;

pub async fn serve(listen: SocketAddr, role: Role, probes: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    if probes.is_some() && matches!(role, Role::All | Role::Api) {
        anyhow::bail!("--probes 只用于 worker 与 scheduler 角色；api 角色在 --listen 上提供探针 / --probes is for the worker and scheduler roles; the api role serves the probes on --listen");
    }
    let config = Config::from_env()?;
    let platform = platform::build(&config, Arc::new(SystemClock)).await?;
    let queues = JobQueues::connect(&platform.engine.db.url).await?;

    let roles = Roles {
        workers: matches!(role, Role::All | Role::Worker),
        scheduler: matches!(role, Role::All | Role::Scheduler),
    };
    let workers = runtime::start(platform.services.clone(), queues, roles, runtime::DEFAULT_POLL);

    if matches!(role, Role::All | Role::Api) {
        let mut state = api::AppState::with_courseware(platform.engine.clone(), platform.services.courseware.clone()).with_objects(config.object_store()?);
        tracing::info!(store = %state.objects.describe(), "uploaded files kept in object store");
        if let Some(dir) = &config.definitions_dir {
            state = state.with_templates(workers::notify::Templates::load_dir(dir.join("templates"))?);
        }
        if let Some(provider) = config.real_name_provider()? {
            state = state.with_real_name(provider);
        }
        // Roster imports cut off by the last stop continue here or in another API process.
        api::roster_import_runs::resume_in_background(state.clone());
        // The pages and the JSON API share one listener.
        let router = web::site(state, web::WebConfig::from_env());
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("certflow 已启动：http://{listen}（数据库 {}）", platform::redact(&config.database_url));
        tracing::info!(%listen, "API listening");
        axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    } else if let Some(probes) = probes {
        // Worker and scheduler processes serve only the probes, so that each process of a
        // split deployment can be health-checked and scraped.
        let state = api::AppState::with_courseware(platform.engine.clone(), platform.services.courseware.clone());
        let listener = tokio::net::TcpListener::bind(probes).await?;
        tracing::info!(%probes, ?role, "probes listening");
        axum::serve(listener, api::probes_router(state)).with_graceful_shutdown(shutdown_signal()).await?;
    } else {
        shutdown_signal().await;
    }
    workers.stop().await;
    // Commits every event still queued for the committer before the process exits.
    platform.engine.close_commits().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate_only() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    JobQueues::connect(&config.database_url).await?;
    eprintln!("数据库迁移完成 / migrations applied: {}", platform::redact(&config.database_url));
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown signal received");
}

/// lettre, sqlx and reqwest all use rustls; one process-wide crypto provider avoids a
/// panic when two crates enable different ones.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
