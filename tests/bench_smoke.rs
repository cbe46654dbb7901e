//! `certflow bench exam` with a tiny budget, so the benchmark keeps building and its
//! report keeps its shape.

use std::process::Command;

#[test]
fn bench_exam_reports_every_bank_size() {
    let output = Command::new(env!("CARGO_BIN_EXE_certflow")).args(["bench", "exam", "--budget-ms", "1", "--json"]).output().expect("run certflow");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");

    let sizes: Vec<u64> = report["banks"].as_array().unwrap().iter().map(|bank| bank["questions_per_course"].as_u64().unwrap()).collect();
    assert_eq!(sizes, vec![50, 200, 800]);
    for bank in report["banks"].as_array().unwrap() {
        for measurement in ["assembly", "assembly_baseline", "grading", "grading_baseline"] {
            let measured = &bank[measurement];
            assert!(measured["calls"].as_u64().unwrap() >= 20, "{measurement}: {measured}");
            assert!(measured["per_second"].as_f64().unwrap() > 0.0, "{measurement}: {measured}");
            assert!(measured["p99_us"].as_f64().unwrap() >= measured["p50_us"].as_f64().unwrap(), "{measurement}: {measured}");
        }
    }
    assert!(report["environment"]["profile"].is_string());
}

/// The figures `certflow bench engine` reports on each backend.
const ENGINE_FIGURES: [&str; 15] = [
    "(a) naive: 1 row per transaction",
    "(b) ceiling: 1,000 rows per transaction",
    "(c) apalis alone: trivial jobs",
    "transitions",
    "event to commit",
    "one-step instances",
    "job-driven steps",
    "job pickup: commit to job done, idle",
    "transitions among 100 instances",
    "transitions among 300 instances",
    "timers drained (40 due at once)",
    "operator-year pipeline (demo year over HTTP)",
    "database size per operator-year",
    "resident memory added per operator-year",
    "resident memory after the year",
];

fn run_engine_bench(report: &std::path::Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["bench", "engine", "--quick", "--budget-ms", "30", "--jobs", "12", "--pickup-samples", "2", "--year-operators", "1", "--growth", "100,300", "--timers", "40", "--json", "--report"])
        .arg(report)
        .output()
        .expect("run certflow");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn bench_engine_reports_every_figure_on_both_backends() {
    // A previous report with every figure at 1.0, so one run shows the comparison.
    let dir = workflows::testing::TempDir::new();
    let path = dir.path.join("engine.json");
    let seeded: Vec<serde_json::Value> = ENGINE_FIGURES.iter().map(|name| serde_json::json!({ "name": name, "unit": "", "value": 1.0, "samples": 1, "ratios": [] })).collect();
    let backends: Vec<serde_json::Value> = ["sqlite", "postgres"].iter().map(|backend| serde_json::json!({ "backend": backend, "figures": seeded })).collect();
    let previous = serde_json::json!({ "measured_at": "", "command": "", "environment": null, "backends": backends });
    std::fs::write(&path, previous.to_string()).unwrap();

    let report = run_engine_bench(&path);

    let names: Vec<&str> = report["backends"].as_array().unwrap().iter().map(|backend| backend["backend"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["sqlite", "postgres"]);
    for backend in report["backends"].as_array().unwrap() {
        let figures: Vec<&str> = backend["figures"].as_array().unwrap().iter().map(|figure| figure["name"].as_str().unwrap()).collect();
        for expected in ENGINE_FIGURES {
            assert!(figures.contains(&expected), "{}: {expected} missing from {figures:?}", backend["backend"]);
        }
        for figure in backend["figures"].as_array().unwrap() {
            let value = figure["value"].as_f64().unwrap();
            // Memory added may be zero when the allocator reuses freed pages.
            let may_be_zero = figure["name"].as_str().unwrap().starts_with("resident memory added");
            assert!(value > 0.0 || (may_be_zero && value == 0.0), "{figure}");
            assert_eq!(figure["previous"].as_f64(), Some(1.0), "no previous value: {figure}");
            assert!(figure["change_percent"].as_f64().is_some(), "no change: {figure}");
        }
    }

    // Ratios to the baselines are printed beside the figures they concern.
    let sqlite = report["backends"][0]["figures"].as_array().unwrap();
    let transitions = sqlite.iter().find(|figure| figure["name"] == "transitions").unwrap();
    let labels: Vec<&str> = transitions["ratios"].as_array().unwrap().iter().map(|ratio| ratio[0].as_str().unwrap()).collect();
    assert_eq!(labels, vec!["(a)", "(b)"]);
    let steps = sqlite.iter().find(|figure| figure["name"] == "job-driven steps").unwrap();
    assert_eq!(steps["ratios"][0][0], "(c)");

    // The report replaced the previous one.
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written["backends"][0]["figures"][0]["previous"], 1.0);
    assert!(written["measured_at"].as_str().unwrap().starts_with("20"));
}
