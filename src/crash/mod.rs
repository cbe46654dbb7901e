//! `certflow crash-drill`: runs a scripted pipeline against a `certflow serve` child
//! process and kills the child with SIGKILL at random moments, restarting it each time.
//! With `--split` (PostgreSQL only) the API, the workers and the scheduler run as three
//! processes, and each round kills the API process or the worker process at random.
//! Then it checks that no acknowledged step was lost, that no side effect was produced
//! twice for one idempotency key, and that every instance has finished or waits on a
//! timer or an event.
//!
//! The provincial simulator runs in this process, so it sees every record the child
//! sends across all its lives. The checks read the database directly.

mod client;
mod script;
mod server;
mod verify;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use workers::provincial::sim::{SimOptions, SimState, serve_on};
use workflows::clock::SystemClock;
use workflows::db::Db;
use workflows::runtime::Engine;
use workflows::testing::TempDir;

use client::Client;
use server::Server;

const SIM_SECRET: &str = "drill-provincial-secret";

pub struct DrillOptions {
    /// How many times the server is killed.
    pub rounds: usize,
    /// How many operators go through the pipeline.
    pub operators: usize,
    /// The database; a new SQLite file in a temporary folder when absent.
    pub database: Option<String>,
    /// Seed of the kill moments; the same seed gives the same waits.
    pub seed: u64,
    pub json: bool,
    /// Runs API, worker and scheduler as separate processes; needs PostgreSQL.
    pub split: bool,
}

pub async fn run(options: DrillOptions) -> anyhow::Result<ExitCode> {
    let temp = TempDir::new();
    let data_dir = temp.path.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let database_url = options.database.clone().unwrap_or_else(|| format!("sqlite://{}/certflow.db", data_dir.display()));
    if options.split && !database_url.starts_with("postgres") {
        anyhow::bail!("--split runs several processes on one database and needs --database postgres://…");
    }

    // The provincial simulator outlives every server process.
    let sim = SimState::open(&temp.path.join("sim"), SimOptions::new(SIM_SECRET.as_bytes().to_vec())).await?;
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim_url = format!("http://{}", sim_listener.local_addr()?);
    tokio::spawn(serve_on(sim_listener, sim.clone(), std::future::pending()));

    // A free loopback port the server keeps across restarts.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let env = vec![
        ("DATABASE_URL".to_string(), database_url.clone()),
        ("CERTFLOW_DATA_DIR".to_string(), data_dir.display().to_string()),
        ("CERTFLOW_PROVINCIAL_URL".to_string(), sim_url),
        ("CERTFLOW_PROVINCIAL_KEY_ID".to_string(), "dev".to_string()),
        ("CERTFLOW_PROVINCIAL_SECRET".to_string(), SIM_SECRET.to_string()),
        ("CERTFLOW_LOG".to_string(), "warn".to_string()),
    ];
    let exe = std::env::current_exe().context("locating the certflow binary")?;
    let roles: &[&'static str] = if options.split { &["api", "worker", "scheduler"] } else { &["all"] };
    let mut servers: Vec<Server> = roles.iter().map(|role| Server::new(exe.clone(), *role, listen, env.clone(), temp.path.join(format!("serve-{role}.log")))).collect();
    for server in &mut servers {
        server.start().await?;
    }
    // The processes that die during the drill: the API or a worker, never the scheduler.
    let victims = if options.split { 2 } else { 1 };
    let db = Db::connect(&database_url).await?;
    let engine = Engine::new(db.clone(), Arc::new(SystemClock));
    engine.load_published().await?;

    // Set-up runs before the first kill; the operators run while the server dies.
    let operators: Vec<_> = crate::demo::data::operators().into_iter().take(options.operators).collect();
    let base = format!("http://{listen}");
    let setup = script::setup(&crate::demo::client::Client::new(base.clone())?, &db, &operators).await?;
    eprintln!("崩溃演练：{} 名作业人员，{} 次强制终止（SIGKILL）", operators.len(), options.rounds);

    let script_dir = data_dir.clone();
    let script = tokio::spawn(async move {
        let courseware = domain::courseware::Courseware::embedded()?;
        let bank = crate::demo::answers::bank(&courseware);
        let mut client = Client::new(base)?;
        let mut acknowledged = Vec::new();
        for (index, operator) in operators.iter().enumerate() {
            let started = std::time::Instant::now();
            acknowledged.push(script::operator(&mut client, &script_dir, &setup, operator, &courseware, &bank).await?);
            eprintln!("作业人员 {}/{} 走完流程，用时 {:.1} 秒", index + 1, operators.len(), started.elapsed().as_secs_f64());
        }
        anyhow::Ok((acknowledged, client.retries))
    });

    let mut rng = StdRng::seed_from_u64(options.seed);
    for round in 1..=options.rounds {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..2500))).await;
        let server = &mut servers[rng.random_range(0..victims)];
        server.kill().await?;
        tracing::info!(round, role = server.role, "server killed");
        server.start().await?;
    }
    let (acknowledged, retries) = script.await.context("the script task")??;

    // Let the last life of the server finish its work, then check.
    drain(&engine).await?;
    let checks = verify::run(&engine, &sim, &data_dir, &acknowledged).await?;
    for server in &mut servers {
        server.stop().await?;
    }
    let ok = checks.iter().all(|c| c.ok);
    let kills: usize = servers.iter().map(|s| s.kills).sum();
    let starts: usize = servers.iter().map(|s| s.starts).sum();
    let kills_by_role: serde_json::Map<String, serde_json::Value> = servers.iter().map(|s| (s.role.to_string(), json!(s.kills))).collect();

    if options.json {
        println!("{}", json!({ "ok": ok, "kills": kills, "kills_by_role": kills_by_role, "starts": starts, "operators": acknowledged.len(), "retried_requests": retries, "checks": checks }));
    } else {
        let by_role: Vec<String> = servers.iter().map(|s| format!("{} {} 次", s.role, s.kills)).collect();
        println!("强制终止 {kills} 次（{}），启动 {starts} 次，{} 名作业人员走完流程，重发请求 {} 次", by_role.join("，"), acknowledged.len(), retries);
        for check in &checks {
            println!("{} {}{}", if check.ok { "通过" } else { "失败" }, check.name, if check.ok { String::new() } else { format!("：{}", check.detail) });
        }
    }
    if !ok {
        eprintln!("服务日志：{}", temp.path.display());
        // Keep the folder for a look at the database and the log.
        std::mem::forget(temp);
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Waits until no outbox entry or timer is due now (deferred ones, such as SMS held
/// for quiet hours, may stay), for at most three minutes.
async fn drain(engine: &Engine) -> anyhow::Result<()> {
    for _ in 0..900 {
        let due_outbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE status = 'pending' AND due_at <= $1")
            .bind(engine.now_ms())
            .fetch_one(&engine.db.pool)
            .await?;
        let due_timers = engine.due_timers(1).await?.len();
        if due_outbox == 0 && due_timers == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the server did not finish its due work within three minutes")
}
