//! `certflow admin create` (the first association administrator and other staff
//! accounts) and `certflow import roster` (a unit's roster from a file), through the
//! same code as the API.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use api::auth::Role;
use api::{AppState, NewAccount};
use axum::response::IntoResponse;
use domain::messages::{Locale, text};
use workflows::clock::SystemClock;

use crate::config::Config;
use crate::platform;

/// Returns the zh-CN message of an API error, as the API would send it.
pub async fn api_error_text(error: api::ApiError) -> String {
    let response = error.into_response();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|body| body.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned())
}

pub async fn create_admin(login: &str, display_name: &str, role: &str, password_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let role = Role::parse(role)
        .filter(|role| matches!(role, Role::AssociationAdmin | Role::Reviewer))
        .with_context(|| text(Locale::ZhCn, "cli.role_invalid", &[("role", role)]))?;
    let password = match (password_file, std::env::var("CERTFLOW_ADMIN_PASSWORD").ok()) {
        (Some(path), _) => match std::fs::read_to_string(path) {
            Ok(password) => password.trim().to_string(),
            Err(error) => bail!(text(Locale::ZhCn, "cli.password_file_unreadable", &[("path", &path.display().to_string()), ("detail", &error.to_string())])),
        },
        (None, Some(password)) => password,
        (None, None) => bail!(text(Locale::ZhCn, "cli.password_missing", &[])),
    };

    let config = Config::from_env()?;
    let platform = platform::build(&config, Arc::new(SystemClock)).await?;
    let account = NewAccount { role, login, password: &password, display_name, unit_id: None, institution_id: None, mobile: None, email: None };
    match api::create_account(&platform.engine.db, &account, platform.engine.now_ms()).await {
        Ok(id) => {
            println!("{id}");
            eprintln!("{}", text(Locale::ZhCn, "cli.account_created", &[("login", login), ("role", role.as_str())]));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{}", api_error_text(error).await);
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn import_roster(file: &Path, unit_uscc: &str) -> anyhow::Result<ExitCode> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => bail!(text(Locale::ZhCn, "cli.file_unreadable", &[("path", &file.display().to_string()), ("detail", &error.to_string())])),
    };
    let uscc = match domain::identity::normalize_uscc(unit_uscc) {
        Ok(uscc) => uscc.as_str().to_string(),
        Err(error) if error.needs_manual_verification() => unit_uscc.trim().to_uppercase(),
        Err(error) => {
            eprintln!("{}", error.message(Locale::ZhCn));
            return Ok(ExitCode::FAILURE);
        }
    };

    let config = Config::from_env()?;
    let platform = platform::build(&config, Arc::new(SystemClock)).await?;
    let unit_id: Option<String> = sqlx::query_scalar("SELECT id FROM units WHERE uscc = $1").bind(&uscc).fetch_optional(&platform.engine.db.pool).await?;
    let Some(unit_id) = unit_id else {
        eprintln!("{}", text(Locale::ZhCn, "cli.unit_not_found", &[("uscc", &uscc)]));
        return Ok(ExitCode::FAILURE);
    };

    let state = AppState::with_courseware(platform.engine.clone(), platform.services.courseware.clone());
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let progress = indicatif::ProgressBar::new_spinner().with_message(text(Locale::ZhCn, "cli.roster_progress", &[("file", &name)]));
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let result = api::import_roster(&state, &unit_id, &bytes, &name).await;
    progress.finish_and_clear();

    let report = match result {
        Ok(report) => report,
        Err(error) => {
            eprintln!("{}", api_error_text(error).await);
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(encoding) = report.encoding_used {
        println!("{}", text(Locale::ZhCn, "cli.roster_encoding", &[("encoding", encoding)]));
    }
    for (_, zh, _) in &report.notices {
        println!("{}", text(Locale::ZhCn, "cli.roster_notice", &[("message", zh)]));
    }
    for row in &report.rows {
        let outcome = serde_json::to_value(&row.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let line = row.line.to_string();
        match &row.message_zh {
            Some(message) => println!("{}", text(Locale::ZhCn, "cli.roster_row_message", &[("line", &line), ("outcome", &outcome), ("message", message)])),
            None => println!("{}", text(Locale::ZhCn, "cli.roster_row", &[("line", &line), ("outcome", &outcome)])),
        }
    }
    let (accepted, rejected) = (report.accepted.to_string(), report.rejected.to_string());
    println!("{}", text(Locale::ZhCn, "cli.roster_total", &[("accepted", &accepted), ("rejected", &rejected)]));
    Ok(ExitCode::SUCCESS)
}
