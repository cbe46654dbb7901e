//! Worker and scheduler processes serve the operations probes on `--probes`, so that
//! each process of a split deployment can be health-checked and scraped. Runs the
//! binary on SQLite and on PostgreSQL.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use workflows::db::Backend;
use workflows::testing::{TempDir, fresh_db};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(role: &str, database_url: &str, data_dir: &TempDir, probes: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["serve", "--role", role, "--probes", &format!("127.0.0.1:{probes}")])
        .env("DATABASE_URL", database_url)
        .env("CERTFLOW_DATA_DIR", &data_dir.path)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start certflow serve")
}

/// Waits up to a minute for `url` to respond, then returns its status and body.
async fn get_when_up(url: &str) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    for _ in 0..300 {
        if let Ok(response) = client.get(url).send().await {
            let status = response.status().as_u16();
            return (status, response.text().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{url} did not answer within a minute");
}

async fn stop(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().expect("child still running");
    let sent = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("run kill");
    assert!(sent.success(), "kill -TERM {pid} failed");
    tokio::time::timeout(Duration::from_secs(60), child.wait()).await.expect("stopped within a minute").unwrap()
}

async fn probes_respond(backend: Backend, role: &str) {
    let test = fresh_db(backend).await;
    let data_dir = TempDir::new();
    let port = free_port();
    let child = serve(role, &test.db.url, &data_dir, port);

    let (status, body) = get_when_up(&format!("http://127.0.0.1:{port}/healthz")).await;
    assert_eq!(status, 200, "healthz: {body}");
    let (status, body) = get_when_up(&format!("http://127.0.0.1:{port}/readyz")).await;
    assert_eq!(status, 200, "readyz: {body}");
    assert!(body.contains("\"ready\""), "readyz: {body}");
    let (status, body) = get_when_up(&format!("http://127.0.0.1:{port}/metrics")).await;
    assert_eq!(status, 200, "metrics: {body}");
    assert!(body.contains("certflow_metrics_database_up 1"), "metrics: {body}");
    let (status, _) = get_when_up(&format!("http://127.0.0.1:{port}/api/units")).await;
    assert_eq!(status, 404, "a {role} process serves no API route");

    let exit = stop(child).await;
    assert!(exit.success(), "{role} exited with {exit}");
}

#[tokio::test]
async fn worker_probes_on_sqlite() {
    probes_respond(Backend::Sqlite, "worker").await;
}

#[tokio::test]
async fn scheduler_probes_on_postgres() {
    probes_respond(Backend::Postgres, "scheduler").await;
}

#[tokio::test]
async fn worker_probes_on_postgres() {
    probes_respond(Backend::Postgres, "worker").await;
}

#[tokio::test]
async fn api_role_rejects_probes_option() {
    let test = fresh_db(Backend::Sqlite).await;
    let data_dir = TempDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["serve", "--role", "api", "--probes", "127.0.0.1:9"])
        .env("DATABASE_URL", &test.db.url)
        .env("CERTFLOW_DATA_DIR", &data_dir.path)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--probes"), "{}", String::from_utf8_lossy(&output.stderr));
}
