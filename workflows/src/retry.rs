//! Retry delays from a [`RetryPolicy`]: `initial * backoff^(attempt - 1)`, capped at
//! `max_interval`, then jittered. The engine schedules the next attempt at
//! `now + delay` on its clock; nothing sleeps in memory.

use chrono::Duration;
use rand::Rng;

use crate::definition::{Jitter, RetryPolicy};

/// The decision after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this delay.
    After(Duration),
    /// Stop: the error is not retryable, or the attempts are used up.
    GiveUp,
}

/// Decides what follows failed attempt number `attempt` (1-based) with error kind `kind`.
pub fn decide(policy: &RetryPolicy, attempt: u32, kind: &str, rng: &mut impl Rng) -> RetryDecision {
    if policy.non_retryable.iter().any(|stop| stop == kind) {
        return RetryDecision::GiveUp;
    }
    let cap = policy.max_attempts.unwrap_or(1);
    if attempt >= cap {
        return RetryDecision::GiveUp;
    }
    RetryDecision::After(delay(policy, attempt, rng))
}

/// Returns the delay before attempt `attempt + 1`.
pub fn delay(policy: &RetryPolicy, attempt: u32, rng: &mut impl Rng) -> Duration {
    let exponent = attempt.saturating_sub(1).min(62) as i32;
    let uncapped_ms = policy.initial.num_milliseconds() as f64 * policy.backoff.powi(exponent);
    let capped_ms = uncapped_ms.min(policy.max_interval.num_milliseconds() as f64).max(0.0) as i64;
    match policy.jitter {
        Jitter::None => Duration::milliseconds(capped_ms),
        // Full jitter spreads a crowd of failed attempts over the whole interval, so a
        // recovering endpoint is not hit by all of them at once.
        Jitter::Full => Duration::milliseconds(rng.random_range(0..=capped_ms.max(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            initial: Duration::seconds(5),
            backoff: 2.0,
            max_interval: Duration::minutes(1),
            max_attempts: Some(6),
            jitter,
            non_retryable: vec!["rejected".into()],
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<i64> = (1..=5).map(|attempt| delay(&policy(Jitter::None), attempt, &mut rng).num_seconds()).collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 60]);
    }

    #[test]
    fn full_jitter_stays_within_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..=20 {
            let jittered = delay(&policy(Jitter::Full), attempt, &mut rng);
            assert!(jittered <= Duration::minutes(1), "attempt {attempt}: {jittered}");
            assert!(jittered >= Duration::zero());
        }
    }

    #[test]
    fn non_retryable_stops_at_once() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(decide(&policy(Jitter::None), 1, "rejected", &mut rng), RetryDecision::GiveUp);
    }

    #[test]
    fn attempts_are_capped() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(decide(&policy(Jitter::None), 5, "timeout", &mut rng), RetryDecision::After(_)));
        assert_eq!(decide(&policy(Jitter::None), 6, "timeout", &mut rng), RetryDecision::GiveUp);
    }
}
