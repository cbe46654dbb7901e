use serde_json::{Value, json};

use super::*;

fn settings() -> &'static ReviewSettings {
    ReviewSettings::embedded()
}

/// A clean 45-minute session of a 45-minute course starting at 01:00 UTC.
fn facts(evidence: &Value) -> SessionFacts<'_> {
    SessionFacts {
        started_at_ms: 3_600_000,
        ended_at_ms: 3_600_000 + 45 * 60_000,
        face_check: "passed",
        evidence,
        course_minutes: Some(45),
        earlier_course_minutes: 0,
        own_overlaps: Vec::new(),
        device_overlaps: Vec::new(),
        ip_overlaps: Vec::new(),
    }
}

fn rules(findings: &[Finding]) -> Vec<Rule> {
    findings.iter().map(|finding| finding.rule).collect()
}

fn overlap(session: &str, operator: &str, minutes: i64) -> Overlap {
    Overlap { session_id: session.into(), operator_id: operator.into(), minutes }
}

#[test]
fn embedded_settings_parse() {
    let settings = settings();
    assert_eq!(settings.sampling.clean_share_percent, 5.0);
    assert_eq!(settings.session.max_playback_rate, 1.05);
    assert_eq!(settings.exam.focus_losses_allowed, 5);
    assert_eq!(settings.appeal.window_days, 15);
}

#[test]
fn settings_reject_bad_values() {
    let bad = super::settings::EMBEDDED.replace("clean_share_percent: 5", "clean_share_percent: 150");
    assert_eq!(ReviewSettings::parse(&bad).unwrap_err().setting, "sampling.clean_share_percent");
    let bad = super::settings::EMBEDDED.replace("max_playback_rate: 1.05", "max_playback_rate: 0.5");
    assert_eq!(ReviewSettings::parse(&bad).unwrap_err().setting, "session.max_playback_rate");
    let unknown = format!("{}\nextra: 1\n", super::settings::EMBEDDED);
    assert!(ReviewSettings::parse(&unknown).is_err());
}

#[test]
fn clean_session_has_no_findings() {
    let evidence = json!({ "device": "d1", "ip": "10.0.0.1", "media_seconds": 2700, "course_completed": true,
        "random_checks": [{ "result": "passed" }], "snapshots": [{ "same_person": true }] });
    assert!(screen_session(&facts(&evidence), &settings().session).is_empty());
}

#[test]
fn session_rules_each_fire() {
    let limits = &settings().session;
    let empty = json!({});

    let mut failed = facts(&empty);
    failed.face_check = "missing";
    assert_eq!(rules(&screen_session(&failed, limits)), [Rule::FaceCheckStart]);

    let random = json!({ "random_checks": [{ "result": "passed" }, { "result": "missed" }] });
    assert_eq!(rules(&screen_session(&facts(&random), limits)), [Rule::RandomCheckFailures]);

    let other = json!({ "snapshots": [{ "at": "2026-03-05T01:10:00Z", "same_person": false }] });
    assert_eq!(rules(&screen_session(&facts(&other), limits)), [Rule::DifferentPerson]);

    let short = json!({ "course_completed": true });
    let mut short_facts = facts(&short);
    short_facts.ended_at_ms = short_facts.started_at_ms + 30 * 60_000;
    let found = screen_session(&short_facts, limits);
    assert_eq!(rules(&found), [Rule::ShorterThanCourse]);
    assert_eq!(found[0].evidence["required"], 45);
    short_facts.earlier_course_minutes = 15;
    assert!(screen_session(&short_facts, limits).is_empty(), "earlier sessions of the course count");

    let fast = json!({ "media_seconds": 5400 });
    let found = screen_session(&facts(&fast), limits);
    assert_eq!(rules(&found), [Rule::FasterThanRealTime]);
    assert_eq!(found[0].evidence["rate"], 2.0);

    let mut own = facts(&empty);
    own.own_overlaps = vec![overlap("s-2", "op-1", 20), overlap("s-3", "op-1", 1)];
    let found = screen_session(&own, limits);
    assert_eq!(rules(&found), [Rule::OverlappingSessions]);
    assert_eq!(found[0].evidence["sessions"].as_array().unwrap().len(), 1, "a one-minute overlap is allowed");

    let device = json!({ "device": "d1" });
    let mut shared = facts(&device);
    shared.device_overlaps = vec![overlap("s-9", "op-2", 40)];
    assert_eq!(rules(&screen_session(&shared, limits)), [Rule::SharedDevice]);

    let ip = json!({ "ip": "10.0.0.1" });
    let mut crowd = facts(&ip);
    crowd.ip_overlaps = (2..=5).map(|n| overlap(&format!("s-{n}"), &format!("op-{n}"), 40)).collect();
    assert!(screen_session(&crowd, limits).is_empty(), "five operators on one IP are allowed");
    crowd.ip_overlaps.push(overlap("s-6", "op-6", 40));
    assert_eq!(rules(&screen_session(&crowd, limits)), [Rule::SharedIp]);

    let gap = json!({ "resumes": [
        { "paused_at": "2026-03-05T01:10:00Z", "resumed_at": "2026-03-05T02:10:00Z", "face_check": "missing" },
        { "paused_at": "2026-03-05T02:20:00Z", "resumed_at": "2026-03-05T03:20:00Z", "face_check": "passed" },
        { "paused_at": "2026-03-05T03:30:00Z", "resumed_at": "2026-03-05T03:40:00Z" }
    ] });
    let found = screen_session(&facts(&gap), limits);
    assert_eq!(rules(&found), [Rule::ResumeGap]);
    assert_eq!(found[0].evidence["gaps"].as_array().unwrap().len(), 1);
    assert_eq!(found[0].evidence["gaps"][0]["gap_minutes"], 60);
}

#[test]
fn exam_rules_each_fire() {
    let limits = &settings().exam;
    let exam = |evidence: &Value, seconds: i64, answered: usize| {
        let facts = ExamFacts { evidence, started_at_ms: 0, finished_at_ms: Some(seconds * 1000), answered };
        rules(&screen_exam(&facts, limits))
    };
    assert_eq!(exam(&json!({ "face_checks": [{ "result": "passed" }] }), 1200, 100), []);
    assert_eq!(exam(&json!({ "face_checks": [{ "result": "failed" }] }), 1200, 100), [Rule::ExamFaceMismatch]);
    let focus: Vec<Value> = (0..6).map(|n| json!({ "n": n })).collect();
    assert_eq!(exam(&json!({ "focus_loss": focus[..5] }), 1200, 100), []);
    assert_eq!(exam(&json!({ "focus_loss": focus }), 1200, 100), [Rule::FocusLostRepeatedly]);
    assert_eq!(exam(&json!({ "audio": [{ "flagged": false }, { "flagged": true }] }), 1200, 100), [Rule::AudioFlagged]);
    assert_eq!(exam(&json!({}), 200, 100), [Rule::ImpossibleTiming], "2 seconds per question");
    assert_eq!(exam(&json!({}), 300, 100), [], "3 seconds per question is allowed");
    assert_eq!(exam(&json!({}), 10, 0), [], "no answers, no timing");
}

#[test]
fn outcome_follows_findings_and_sample() {
    let sampling = super::settings::Sampling { clean_share_percent: 30.0, salt: "s".into() };
    let finding = Finding::new(Rule::FaceCheckStart, json!({}));
    assert_eq!(decide(&[finding], &sampling, "x"), Outcome::Review);

    let ids: Vec<String> = (0..2000).map(|n| format!("rec-{n}")).collect();
    let sampled = ids.iter().filter(|id| decide(&[], &sampling, id) == Outcome::Sample).count();
    assert!((500..700).contains(&sampled), "about 30% of 2000 sampled, got {sampled}");
    let again = ids.iter().filter(|id| decide(&[], &sampling, id) == Outcome::Sample).count();
    assert_eq!(sampled, again, "the same records are drawn on a rerun");

    let none = super::settings::Sampling { clean_share_percent: 0.0, salt: "s".into() };
    assert!(ids.iter().all(|id| decide(&[], &none, id) == Outcome::Pass));
    let all = super::settings::Sampling { clean_share_percent: 100.0, salt: "s".into() };
    assert!(ids.iter().all(|id| decide(&[], &all, id) == Outcome::Sample));
}

#[test]
fn rule_names_round_trip() {
    for rule in Rule::ALL {
        assert_eq!(Rule::parse(rule.as_str()), Some(rule));
        assert_eq!(serde_json::to_value(rule).unwrap(), json!(rule.as_str()));
    }
}
