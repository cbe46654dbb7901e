//! The crash drill in CI: `certflow serve` is killed with SIGKILL at random moments while
//! a scripted pipeline runs, on SQLite and on PostgreSQL, and every check must pass.
//! The split drill runs the API, the workers and the scheduler as separate processes on
//! PostgreSQL and kills the API or the worker process. The long drills are
//! `certflow crash-drill --rounds 200 --operators 40 [--split --database postgres://…]`
//! (see docs/operations.md).

use std::process::Command;

use workflows::testing::{TempDir, fresh_postgres_url};

fn drill(database: &str, seed: &str, extra: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["crash-drill", "--rounds", "4", "--operators", "3", "--seed", seed, "--json", "--database", database])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "drill failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn assert_all_checks_pass(report: &serde_json::Value) {
    assert_eq!(report["kills"], 4, "{report}");
    assert_eq!(report["operators"], 3, "{report}");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 6, "{report}");
    for check in checks {
        assert_eq!(check["ok"], true, "{check}");
    }
}

#[test]
fn crash_drill_on_sqlite() {
    let dir = TempDir::new();
    let report = drill(&format!("sqlite://{}/drill.db", dir.path.display()), "11", &[]);
    assert_all_checks_pass(&report);
}

#[tokio::test]
async fn crash_drill_on_postgres() {
    let url = fresh_postgres_url().await;
    let report = tokio::task::spawn_blocking(move || drill(&url, "12", &[])).await.unwrap();
    assert_all_checks_pass(&report);
}

#[tokio::test]
async fn crash_drill_split_roles_on_postgres() {
    let url = fresh_postgres_url().await;
    let report = tokio::task::spawn_blocking(move || drill(&url, "13", &["--split"])).await.unwrap();
    assert_all_checks_pass(&report);
    let by_role = &report["kills_by_role"];
    assert_eq!(by_role["scheduler"], 0, "{report}");
    let api = by_role["api"].as_u64().unwrap();
    let worker = by_role["worker"].as_u64().unwrap();
    assert_eq!(api + worker, 4, "{report}");
    assert!(api > 0, "the seed kills the API process at least once: {report}");
    assert!(worker > 0, "the seed kills the worker process at least once: {report}");
}

#[test]
fn split_drill_refuses_sqlite() {
    let dir = TempDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["crash-drill", "--split", "--rounds", "1", "--database", &format!("sqlite://{}/drill.db", dir.path.display())])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--split"), "{stderr}");
}
