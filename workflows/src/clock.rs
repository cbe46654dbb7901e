//! The engine's source of time. Every timer, retry delay, exam deadline and calendar
//! rule asks a [`Clock`], so tests and the demo can run a compressed year on a
//! simulated clock while production uses the system clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;

/// A source of the current instant. Instants are always UTC; calendar rules convert
/// with [`beijing_date`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to. Clones share one time.
#[derive(Clone, Debug)]
pub struct SimClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl SimClock {
    pub fn starting_at(start: DateTime<Utc>) -> SimClock {
        SimClock { now: Arc::new(Mutex::new(start)) }
    }

    /// Moves the clock forward by `by`; a negative duration is ignored because time
    /// running backwards would fire timers twice.
    pub fn advance(&self, by: Duration) {
        if by > Duration::zero() {
            let mut now = self.now.lock().expect("clock lock");
            *now += by;
        }
    }

    /// Sets the clock to `instant` when it lies in the future of the current time.
    pub fn advance_to(&self, instant: DateTime<Utc>) {
        let mut now = self.now.lock().expect("clock lock");
        if instant > *now {
            *now = instant;
        }
    }
}

impl SimClock {
    /// Returns the current simulated instant.
    pub fn now_utc(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }
}

/// A shared, type-erased clock as the engine and workers hold it.
pub type SharedClock = Arc<dyn Clock>;

/// Returns the calendar date in Beijing (Asia/Shanghai, UTC+8, no daylight saving) of
/// `instant`. Per-day limits, the credit year and printed dates all use this date.
pub fn beijing_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&Shanghai).date_naive()
}

/// Returns the UTC instant of Beijing midnight starting `date`.
pub fn beijing_midnight(date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Asia/Shanghai has had no daylight saving since 1991, so every local time is unique.
    local.and_local_timezone(Shanghai).single().expect("unique local time").with_timezone(&Utc)
}

/// Converts unix milliseconds, as stored, to an instant.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn beijing_date_crosses_utc_midnight() {
        // 16:30 UTC on 31 December is 00:30 on 1 January in Beijing.
        let instant = Utc.with_ymd_and_hms(2026, 12, 31, 16, 30, 0).unwrap();
        assert_eq!(beijing_date(instant), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
    }

    #[test]
    fn beijing_date_before_beijing_midnight() {
        // 15:59 UTC is 23:59 the same day in Beijing.
        let instant = Utc.with_ymd_and_hms(2026, 3, 5, 15, 59, 0).unwrap();
        assert_eq!(beijing_date(instant), NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
    }

    #[test]
    fn beijing_midnight_is_16_utc_previous_day() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 6).unwrap();
        assert_eq!(beijing_midnight(date), Utc.with_ymd_and_hms(2026, 3, 5, 16, 0, 0).unwrap());
    }

    #[test]
    fn sim_clock_never_goes_back() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = SimClock::starting_at(start);
        clock.advance(Duration::hours(-1));
        clock.advance_to(start - Duration::hours(2));
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(90));
        assert_eq!(clock.now(), start + Duration::minutes(90));
    }
}
