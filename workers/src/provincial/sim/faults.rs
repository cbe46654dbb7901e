//! Fault injection settings of the simulator, set at start or by `POST /sim/faults`.

use serde::{Deserialize, Serialize};

use crate::provincial::record::RecordKind;

/// Probability that a new record gets `duplicate: true` while `duplicate_acks` is on.
pub const DUPLICATE_ACK_PROBABILITY: f64 = 0.5;

/// Faults applied to the `/v1/*` endpoints. `POST /sim/faults` replaces the whole set,
/// and a field left out takes its default (no fault).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimFaults {
    /// Unix seconds, on the simulator's clock, until which every `/v1/*` request gets
    /// `503 unavailable`.
    pub down_until: Option<i64>,
    /// Delay in milliseconds before every `/v1/*` request is handled.
    pub delay_ms: u64,
    /// Probability (0.0 to 1.0) that a `/v1/*` request gets `500 internal_error`.
    pub error_rate: f64,
    /// Kinds whose records get `422 invalid_record` with field `kind`.
    pub reject_kinds: Vec<RecordKind>,
    /// When true, a new record is stored but acknowledged with `duplicate: true` with probability
    /// [`DUPLICATE_ACK_PROBABILITY`].
    pub duplicate_acks: bool,
    /// Seed of the generator behind `error_rate` and `duplicate_acks`, so a test run
    /// repeats the same faults. Without it the generator is seeded from the OS.
    pub seed: Option<u64>,
}

impl SimFaults {
    /// Checks value ranges that serde does not.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error_rate must be between 0.0 and 1.0, got {}",
                self.error_rate
            ));
        }
        Ok(())
    }

    /// Returns the seconds left in the down period at `now` (unix seconds), or `None` when up.
    pub fn down_for(&self, now: i64) -> Option<u64> {
        self.down_until
            .filter(|&until| until > now)
            .map(|until| (until - now).unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_defaults_from_empty_json() {
        let faults: SimFaults = serde_json::from_str("{}").unwrap();
        assert_eq!(faults, SimFaults::default());
    }

    #[test]
    fn faults_reject_unknown_field() {
        assert!(serde_json::from_str::<SimFaults>(r#"{"down":true}"#).is_err());
    }

    #[test]
    fn faults_validate_error_rate() {
        for rate in [-0.1, 1.5, f64::NAN] {
            let faults = SimFaults {
                error_rate: rate,
                ..SimFaults::default()
            };
            assert!(faults.validate().is_err(), "rate {rate}");
        }
        let faults = SimFaults {
            error_rate: 1.0,
            ..SimFaults::default()
        };
        assert!(faults.validate().is_ok());
    }

    #[test]
    fn down_for_counts_remaining_seconds() {
        let faults = SimFaults {
            down_until: Some(1_000),
            ..SimFaults::default()
        };
        assert_eq!(faults.down_for(990), Some(10));
        assert_eq!(faults.down_for(1_000), None);
        assert_eq!(SimFaults::default().down_for(0), None);
    }
}
