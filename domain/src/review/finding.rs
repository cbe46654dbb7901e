//! A finding (发现): one screening rule that a session or exam attempt broke, with the
//! evidence that shows it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The screening rules. The wire names are stable: findings are stored and filtered by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The face check at the start of a session failed or is missing.
    FaceCheckStart,
    /// Random face checks during a session failed or were missed.
    RandomCheckFailures,
    /// The institution's verification of a snapshot found another person.
    DifferentPerson,
    /// A session that completes its course is shorter than the course's minimum.
    ShorterThanCourse,
    /// Course media played faster than real time.
    FasterThanRealTime,
    /// Two sessions of one operator overlap in time.
    OverlappingSessions,
    /// One device served several operators at the same time.
    SharedDevice,
    /// One IP address served more operators at once than allowed.
    SharedIp,
    /// A pause longer than allowed was resumed without a passed face check.
    ResumeGap,
    /// A face check during an exam attempt failed.
    ExamFaceMismatch,
    /// The exam window lost focus more often than allowed.
    FocusLostRepeatedly,
    /// The proctoring flagged audio during the attempt.
    AudioFlagged,
    /// Answers came faster than a person can read the questions.
    ImpossibleTiming,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::FaceCheckStart,
        Rule::RandomCheckFailures,
        Rule::DifferentPerson,
        Rule::ShorterThanCourse,
        Rule::FasterThanRealTime,
        Rule::OverlappingSessions,
        Rule::SharedDevice,
        Rule::SharedIp,
        Rule::ResumeGap,
        Rule::ExamFaceMismatch,
        Rule::FocusLostRepeatedly,
        Rule::AudioFlagged,
        Rule::ImpossibleTiming,
    ];

    /// Returns the wire name, such as `face_check_start`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::FaceCheckStart => "face_check_start",
            Rule::RandomCheckFailures => "random_check_failures",
            Rule::DifferentPerson => "different_person",
            Rule::ShorterThanCourse => "shorter_than_course",
            Rule::FasterThanRealTime => "faster_than_real_time",
            Rule::OverlappingSessions => "overlapping_sessions",
            Rule::SharedDevice => "shared_device",
            Rule::SharedIp => "shared_ip",
            Rule::ResumeGap => "resume_gap",
            Rule::ExamFaceMismatch => "exam_face_mismatch",
            Rule::FocusLostRepeatedly => "focus_lost_repeatedly",
            Rule::AudioFlagged => "audio_flagged",
            Rule::ImpossibleTiming => "impossible_timing",
        }
    }

    /// Looks a rule up by its wire name.
    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.as_str() == name)
    }
}

/// A broken rule with its evidence (counts, ids, times), as stored on the review case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    pub evidence: Value,
}

impl Finding {
    pub fn new(rule: Rule, evidence: Value) -> Finding {
        Finding { rule, evidence }
    }
}
