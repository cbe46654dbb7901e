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
