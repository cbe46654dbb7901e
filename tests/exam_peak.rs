//! `certflow bench exam-peak` with 50 exam-takers and short think times on both
//! backends, so the load test keeps building, its flow keeps passing without errors and
//! its report keeps its shape. Timings are not checked: they depend on the machine.

use std::process::Command;

/// The steps of the exam flow, each a latency figure.
const STEPS: [&str; 6] = ["consent", "start", "paper", "autosave", "submit", "result"];
const USERS: u64 = 50;
const AUTOSAVES: u64 = 3;

fn run_exam_peak(report: &std::path::Path) -> serde_json::Value {
    let users = USERS.to_string();
    let autosaves = AUTOSAVES.to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["bench", "exam-peak", "--backend", "both", "--users", &users, "--ramp", "100", "--autosaves", &autosaves])
        .args(["--think-min-ms", "0", "--think-max-ms", "100", "--setup-tasks", "8", "--json", "--report"])
        .arg(report)
        .output()
        .expect("run certflow");
    assert!(output.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    // With --json the report is the whole of standard output.
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("stdout is not one JSON object ({error}):\n{stdout}"))
}

fn figure<'a>(figures: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    figures.iter().find(|figure| figure["name"] == name).unwrap_or_else(|| panic!("{name} missing from {figures:?}"))
}

#[test]
fn exam_peak_reports_every_step_without_errors() {
    // A previous report with every step at 1.0, so one run shows the comparison.
    let dir = workflows::testing::TempDir::new();
    let path = dir.path.join("exam-peak.json");
    let seeded: Vec<serde_json::Value> = STEPS.iter().map(|step| serde_json::json!({ "name": format!("step: {step}"), "unit": "", "value": 1.0, "samples": 1, "ratios": [] })).collect();
    let backends: Vec<serde_json::Value> = ["sqlite", "postgres"].iter().map(|backend| serde_json::json!({ "backend": backend, "figures": seeded })).collect();
    std::fs::write(&path, serde_json::json!({ "measured_at": "", "command": "", "environment": null, "backends": backends }).to_string()).unwrap();

    let report = run_exam_peak(&path);

    let names: Vec<&str> = report["backends"].as_array().unwrap().iter().map(|backend| backend["backend"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["sqlite", "postgres"]);
    for backend in report["backends"].as_array().unwrap() {
        let figures = backend["figures"].as_array().unwrap();
        let name = backend["backend"].as_str().unwrap();
        for step in STEPS {
            let latency = figure(figures, &format!("step: {step}"));
            let expected = if step == "autosave" { USERS * AUTOSAVES } else { USERS };
            assert_eq!(latency["samples"].as_u64(), Some(expected), "{name} {step}: {latency}");
            let (p50, p99, max) = (latency["p50_ms"].as_f64().unwrap(), latency["p99_ms"].as_f64().unwrap(), latency["max_ms"].as_f64().unwrap());
            assert!(p50 > 0.0, "{name} {step}: {latency}");
            assert!(p50 <= p99, "{name} {step}: {latency}");
            assert!(p99 <= max, "{name} {step}: {latency}");
            assert_eq!(latency["previous"].as_f64(), Some(1.0), "{name} {step}: no previous value");
        }
        let all = figure(figures, "all steps");
        assert_eq!(all["samples"].as_u64(), Some(USERS * (5 + AUTOSAVES)), "{name}: {all}");
        assert!(figure(figures, "throughput")["value"].as_f64().unwrap() > 0.0, "{name}: no throughput");
        assert_eq!(figure(figures, "exam flows passed")["value"].as_f64(), Some(USERS as f64), "{name}: not every flow passed");
        assert_eq!(figure(figures, "errors")["value"].as_f64(), Some(0.0), "{name}: {figures:?}");
        assert!(!figures.iter().any(|figure| figure["name"].as_str().unwrap().starts_with("errors: ")), "{name}: {figures:?}");
        assert_eq!(figure(figures, "steps skipped after a failed exam start")["value"].as_f64(), Some(0.0), "{name}");
    }
    assert!(report["environment"]["open_files_limit"].as_u64().unwrap() >= USERS * 2, "{}", report["environment"]);

    // The report replaced the previous one.
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(written["measured_at"].as_str().unwrap().starts_with("20"));
}
