//! Review settings (审核设置) from `definitions/review.yaml`: screening thresholds,
//! the sampling share of clean records, the appeal window and evidence retention.

use std::sync::OnceLock;

use serde::Deserialize;

static INSTALLED: OnceLock<ReviewSettings> = OnceLock::new();

/// The settings file compiled into the binary.
pub const EMBEDDED: &str = include_str!("../../../definitions/review.yaml");

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    pub sampling: Sampling,
    pub session: SessionThresholds,
    pub exam: ExamThresholds,
    pub appeal: AppealSettings,
    pub evidence: EvidenceSettings,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Percent (0–100) of clean records sent to reviewers.
    pub clean_share_percent: f64,
    /// Mixed into the hash that picks the sample.
    pub salt: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionThresholds {
    pub random_check_failures_allowed: u32,
    pub min_duration_percent: u32,
    pub max_playback_rate: f64,
    pub overlap_allowed_minutes: u32,
    pub max_operators_per_device: u32,
    pub max_operators_per_ip: u32,
    pub max_resume_gap_minutes: u32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExamThresholds {
    pub face_failures_allowed: u32,
    pub focus_losses_allowed: u32,
    pub audio_flags_allowed: u32,
    pub min_seconds_per_question: u32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppealSettings {
    /// Beijing calendar days after a decision during which an appeal is accepted.
    pub window_days: u32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSettings {
    /// Days evidence is kept after the end of its session or attempt.
    pub retention_days: u32,
    /// Six-field cron expression (seconds first) in Beijing time.
    pub retention_cron: String,
}

/// A settings file that cannot be used, with the setting and the reason.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("review settings: {setting}: {reason}")]
pub struct SettingsError {
    pub setting: String,
    pub reason: String,
}

impl ReviewSettings {
    /// Parses and checks a settings file.
    pub fn parse(text: &str) -> Result<ReviewSettings, SettingsError> {
        let settings: ReviewSettings =
            marked_yaml::from_yaml(0, text).map_err(|error| SettingsError { setting: "review.yaml".into(), reason: error.to_string() })?;
        settings.check()?;
        Ok(settings)
    }

    /// Returns the settings compiled into the binary.
    pub fn embedded() -> &'static ReviewSettings {
        static SETTINGS: OnceLock<ReviewSettings> = OnceLock::new();
        SETTINGS.get_or_init(|| ReviewSettings::parse(EMBEDDED).expect("definitions/review.yaml is valid"))
    }

    /// Makes `settings` (read from a definitions folder at start-up) the ones
    /// [`ReviewSettings::current`] returns. Only the first call takes effect.
    pub fn install(settings: ReviewSettings) -> bool {
        INSTALLED.set(settings).is_ok()
    }

    /// Returns the installed settings, or the embedded ones when none were installed.
    pub fn current() -> &'static ReviewSettings {
        INSTALLED.get().unwrap_or_else(ReviewSettings::embedded)
    }

    fn check(&self) -> Result<(), SettingsError> {
        let fail = |setting: &str, reason: &str| Err(SettingsError { setting: setting.into(), reason: reason.into() });
        if !(0.0..=100.0).contains(&self.sampling.clean_share_percent) {
            return fail("sampling.clean_share_percent", "must be between 0 and 100");
        }
        if self.session.min_duration_percent > 100 {
            return fail("session.min_duration_percent", "must be between 0 and 100");
        }
        if self.session.max_playback_rate.is_nan() || self.session.max_playback_rate < 1.0 {
            return fail("session.max_playback_rate", "must be 1.0 or more (1.0 is real time)");
        }
        if self.session.max_operators_per_device == 0 || self.session.max_operators_per_ip == 0 {
            return fail("session.max_operators_per_device", "device and IP limits must be 1 or more");
        }
        if self.appeal.window_days == 0 {
            return fail("appeal.window_days", "must be 1 or more");
        }
        if self.evidence.retention_days == 0 {
            return fail("evidence.retention_days", "must be 1 or more");
        }
        if self.evidence.retention_cron.split_whitespace().count() != 6 {
            return fail("evidence.retention_cron", "must have six fields, seconds first");
        }
        Ok(())
    }
}
