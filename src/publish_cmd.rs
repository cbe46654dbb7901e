//! `certflow definitions publish | versions | plan-migration | migrate`: the staff
//! workflow for changing a pipeline while instances run, on the configured database.
//!
//! Publishing validates the whole folder first and stores nothing when any error is
//! found. A migration is always planned before it is applied, and `migrate` refuses a
//! plan with problems, exactly as the API does.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use domain::messages::{Locale, text};
use workflows::clock::SystemClock;
use workflows::db::Db;
use workflows::runtime::migration::{MigrationPlan, MigrationRequest};
use workflows::runtime::registry::Published;
use workflows::runtime::Engine;

use crate::config::Config;
use crate::definitions_cmd;
use crate::platform::redact;

/// The migration target: the definition, both versions (full or 8+ character
/// prefixes; the latest when `to` is absent) and the state map.
pub struct MigrationArgs {
    pub id: String,
    pub from: String,
    pub to: Option<String>,
    /// `old=new` pairs.
    pub map: Vec<String>,
    /// A YAML file with `states: {old: new}`.
    pub map_file: Option<std::path::PathBuf>,
    pub json: bool,
}

async fn engine() -> anyhow::Result<Engine> {
    let config = Config::from_env()?;
    let db = Db::connect(&config.database_url).await.with_context(|| format!("connecting to {}", redact(&config.database_url)))?;
    db.migrate().await.context("applying migrations")?;
    let engine = Engine::new(db, Arc::new(SystemClock));
    engine.load_published().await?;
    Ok(engine)
}

/// Validates `dir` and publishes each of its definitions as the latest version.
pub async fn publish(dir: &Path, label: &str, author: &str) -> anyhow::Result<ExitCode> {
    let loaded = definitions_cmd::load(Some(dir))?;
    for diagnostic in &loaded.set.diagnostics {
        println!("{}", definitions_cmd::render(diagnostic, Locale::ZhCn));
    }
    if loaded.set.has_errors() {
        eprintln!("{}", text(Locale::ZhCn, "cli.publish_refused", &[]));
        return Ok(ExitCode::FAILURE);
    }

    let engine = engine().await?;
    for versioned in &loaded.set.definitions {
        let outcome = engine.publish(versioned, author, label).await?;
        let key = match outcome {
            Published::New => "cli.published_new",
            Published::Unchanged | Published::Superseded => "cli.published_unchanged",
        };
        println!("{}", text(Locale::ZhCn, key, &[("id", &versioned.definition.id), ("version", &versioned.version[..12])]));
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the published versions of `id`, latest first.
pub async fn versions(id: &str) -> anyhow::Result<ExitCode> {
    let engine = engine().await?;
    let versions = engine.versions(id).await?;
    if versions.is_empty() {
        eprintln!("{}", text(Locale::ZhCn, "definitions.not_found", &[("id", id)]));
        return Ok(ExitCode::FAILURE);
    }
    for (index, version) in versions.iter().enumerate() {
        let published = workflows::clock::from_millis(version.published_at).with_timezone(&chrono_tz::Asia::Shanghai);
        let marker = if index == 0 { "*" } else { " " };
        println!("{marker} {}  {}  {}  {}", &version.version[..12], published.format("%Y-%m-%d %H:%M"), version.published_by, version.label);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the plan of a migration; exit code 1 when it has problems.
pub async fn plan(args: &MigrationArgs) -> anyhow::Result<ExitCode> {
    let engine = engine().await?;
    let request = request(&engine, args).await?;
    let plan = engine.plan_migration(&request).await?;
    print_plan(&plan, args.json);
    Ok(if plan.is_safe() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Applies a migration whose plan has no problems.
pub async fn migrate(args: &MigrationArgs, by: &str) -> anyhow::Result<ExitCode> {
    let engine = engine().await?;
    let request = request(&engine, args).await?;
    let outcome = engine.apply_migration(&request, by).await?;
    if args.json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        print_plan(&outcome.plan, false);
    }
    if !outcome.plan.is_safe() {
        eprintln!("{}", text(Locale::ZhCn, "definitions.migration_refused", &[("problems", &outcome.plan.problems.len().to_string())]));
        return Ok(ExitCode::FAILURE);
    }
    if !args.json {
        println!("{}", text(Locale::ZhCn, "cli.migrated", &[("migrated", &outcome.migrated.to_string()), ("skipped", &outcome.skipped.len().to_string())]));
    }
    Ok(ExitCode::SUCCESS)
}

async fn request(engine: &Engine, args: &MigrationArgs) -> anyhow::Result<MigrationRequest> {
    let resolve = async |version: &str| -> anyhow::Result<String> {
        match engine.resolve_version(&args.id, version).await? {
            Some(full) => Ok(full),
            None => bail!(text(Locale::ZhCn, "definitions.version_not_found", &[("id", &args.id), ("version", version)])),
        }
    };
    let from_version = resolve(&args.from).await?;
    let to_version = match &args.to {
        Some(version) => resolve(version).await?,
        None => engine.latest_definition(&args.id).await?.0,
    };

    let mut states = BTreeMap::new();
    if let Some(file) = &args.map_file {
        #[derive(serde::Deserialize)]
        struct MapFile {
            states: BTreeMap<String, String>,
        }
        let text_in = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
        let parsed: MapFile = marked_yaml::from_yaml(0, &text_in).map_err(|e| anyhow::anyhow!(text(Locale::ZhCn, "cli.map_file_invalid", &[("path", &file.display().to_string()), ("detail", &e.to_string())])))?;
        states.extend(parsed.states);
    }
    for pair in &args.map {
        let Some((old, new)) = pair.split_once('=') else {
            bail!(text(Locale::ZhCn, "cli.map_pair_invalid", &[("value", pair)]));
        };
        states.insert(old.trim().to_string(), new.trim().to_string());
    }
    Ok(MigrationRequest { definition_id: args.id.clone(), from_version, to_version, states })
}

fn print_plan(plan: &MigrationPlan, json: bool) {
    if json {
        println!("{}", serde_json::to_string(plan).unwrap_or_default());
        return;
    }
    println!(
        "{}",
        text(Locale::ZhCn, "cli.plan_header", &[("id", &plan.definition_id), ("from", &plan.from_version[..12]), ("to", &plan.to_version[..12]), ("instances", &plan.instances.to_string())])
    );
    for item in &plan.moves {
        println!(
            "  {} → {}  {}",
            item.from_state,
            item.to_state,
            text(Locale::ZhCn, "cli.plan_move", &[("instances", &item.instances.to_string()), ("at_once", &item.timers_fire_at_once.to_string())])
        );
    }
    for problem in &plan.problems {
        let target = problem.to_state.clone().unwrap_or_default();
        let args = [("state", problem.from_state.as_str()), ("target", target.as_str()), ("instances", &problem.instances.to_string())];
        println!("  [{}] {}", problem.code, text(Locale::ZhCn, &format!("engine.{}", problem.code), &args));
        if !problem.sample.is_empty() {
            println!("      {}", problem.sample.join(", "));
        }
    }
}
