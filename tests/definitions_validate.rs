//! `certflow definitions validate` on the shipped definitions and on a file with one
//! mistake of each kind, through the real binary.

use std::process::Command;

fn validate(dir: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_certflow")).args(["definitions", "validate", dir]).args(extra).output().unwrap()
}

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/definitions");

#[test]
fn shipped_definitions_are_valid() {
    let output = validate(SHIPPED, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("检查通过"), "{stdout}");
}

#[test]
fn broken_definition_reports_each_mistake() {
    // The templates of the shipped set, so only the pipeline is at fault.
    let dir = workflows::testing::TempDir::new();
    let pipelines = dir.path.join("pipelines");
    std::fs::create_dir_all(&pipelines).unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/broken/pipelines/broken.yaml"), pipelines.join("broken.yaml")).unwrap();
    copy_dir(&std::path::Path::new(SHIPPED).join("templates"), &dir.path.join("templates"));

    let output = validate(dir.path.to_str().unwrap(), &["--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(String, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_string(), d["line"].as_u64().unwrap()))
        .collect();
    let expect = [
        ("UNKNOWN_STATE", 15),
        ("UNKNOWN_VARIABLE", 16),
        ("UNKNOWN_EVENT", 17),
        ("INVALID_CALENDAR_DATE", 19),
        ("DEAD_END", 24),
        ("TIMER_IN_TERMINAL_STATE", 29),
        ("MISSING_TEMPLATE", 32),
        ("UNREACHABLE_STATE", 21),
        ("RETRY_WITHOUT_CAP", 11),
    ];
    for (code, line) in expect {
        assert!(found.contains(&(code.to_string(), line)), "{code} at line {line} missing from {found:?}");
    }
    let messages: Vec<&str> = report["diagnostics"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert!(messages.iter().all(|m| m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))), "zh-CN messages: {messages:?}");
}

#[test]
fn human_report_names_file_and_line() {
    let dir = workflows::testing::TempDir::new();
    std::fs::create_dir_all(dir.path.join("pipelines")).unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/broken/pipelines/broken.yaml"), dir.path.join("pipelines/broken.yaml")).unwrap();
    copy_dir(&std::path::Path::new(SHIPPED).join("templates"), &dir.path.join("templates"));
    let output = validate(dir.path.to_str().unwrap(), &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("pipelines/broken.yaml:15:"), "{stdout}");
    assert!(stdout.contains("错误 [UNKNOWN_STATE]"), "{stdout}");
    assert!(stdout.contains("检查未通过"), "{stdout}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn pipeline_diagrams_in_docs_are_current() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/pipelines.md")).unwrap();
    for id in ["registration", "annual_ce", "reconciliation", "unit_digest", "unit_reminder", "internal_training", "mobile_change"] {
        let output = Command::new(env!("CARGO_BIN_EXE_certflow")).args(["definitions", "diagram", id, "--dir", SHIPPED]).output().unwrap();
        assert!(output.status.success());
        let diagram = String::from_utf8(output.stdout).unwrap();
        assert!(docs.contains(&diagram), "docs/pipelines.md is out of date for {id}; regenerate it with certflow definitions diagram {id}");
    }
}

#[test]
fn template_field_not_declared_is_an_error_at_its_use() {
    let dir = workflows::testing::TempDir::new();
    copy_dir(std::path::Path::new(SHIPPED), &dir.path);
    let file = dir.path.join("templates/sms/enrolled.zh-CN.hbs");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}\n联系电话：{{{{unit_phone}}}}")).unwrap();

    let output = validate(dir.path.to_str().unwrap(), &["--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<&serde_json::Value> = report["diagnostics"].as_array().unwrap().iter().filter(|d| d["code"] == "TEMPLATE_FIELD_UNKNOWN").collect();
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["file"], "templates/sms/enrolled.zh-CN.hbs");
    assert_eq!(found[0]["line"].as_u64().unwrap() as usize, text.lines().count() + 2);
    assert_eq!(found[0]["column"], 6, "after 联系电话：");
    assert!(found[0]["message"].as_str().unwrap().contains("unit_phone"));
}
