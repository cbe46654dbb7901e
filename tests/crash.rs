//! The crash drill in CI: `certflow serve` is killed with SIGKILL at random moments while
//! a scripted pipeline runs, on SQLite and on PostgreSQL, and every check must pass.
//! The long drill is `certflow crash-drill --rounds 200 --operators 40` (see
//! docs/operations.md).

use std::process::Command;

use workflows::testing::{TempDir, fresh_postgres_url};

fn drill(database: &str, seed: &str) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["crash-drill", "--rounds", "4", "--operators", "3", "--seed", seed, "--json", "--database", database])
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
    let report = drill(&format!("sqlite://{}/drill.db", dir.path.display()), "11");
    assert_all_checks_pass(&report);
}

#[tokio::test]
async fn crash_drill_on_postgres() {
    let url = fresh_postgres_url().await;
    let report = tokio::task::spawn_blocking(move || drill(&url, "12")).await.unwrap();
    assert_all_checks_pass(&report);
}
