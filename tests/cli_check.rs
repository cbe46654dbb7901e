//! `certflow check` as support staff use it: every row of the identity cases through
//! the real binary, with the normalized value on stdout or a zh-CN error on stderr.

use std::process::Command;

fn certflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_certflow"))
}

#[test]
fn identity_cases_through_binary() {
    let cases = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/identity.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(cases.as_bytes());
    let mut checked = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let (field, input, expected, normalized) = (&record[0], &record[1], &record[2], &record[3]);
        let kind = field.replace('_', "-");
        let output = certflow().args(["check", &kind, input]).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        match expected {
            "accept" => {
                assert!(output.status.success(), "{field} {input:?} should be accepted: {stderr}");
                assert_eq!(stdout, normalized, "{field} {input:?}");
            }
            _ => {
                assert_eq!(output.status.code(), Some(1), "{field} {input:?} should be rejected");
                assert!(stdout.is_empty(), "nothing on stdout for a rejection");
                assert!(stderr.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "zh-CN message for {input:?}: {stderr}");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 23);
}

#[test]
fn legacy_id_number_hint_names_18_digits() {
    let output = certflow().args(["check", "id-number", "110105491231002"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("18"), "{stderr}");
}
