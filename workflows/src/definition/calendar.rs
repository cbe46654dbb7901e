//! Calendar timers (`at`), evaluated in Beijing time (Asia/Shanghai).
//!
//! Two forms exist: `"HH:MM"` fires every day at that Beijing time, and
//! `"MM-DD HH:MM"` fires every year on that date. A date that exists in no year
//! (31 April) or only in leap years (29 February) is rejected at validation, so no
//! instance ever waits for a day that will not come.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Asia::Shanghai;

/// A parsed `at` expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalendarSpec {
    Daily { time: NaiveTime },
    Yearly { month: u32, day: u32, time: NaiveTime },
}

/// Why an `at` expression was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarError {
    /// The text is not `HH:MM` or `MM-DD HH:MM`.
    Syntax(String),
    /// The month and day never occur, or not every year.
    InvalidDate { month: u32, day: u32 },
}

impl CalendarSpec {
    pub fn parse(text: &str) -> Result<CalendarSpec, CalendarError> {
        let text = text.trim();
        let syntax = || CalendarError::Syntax(text.to_string());
        match text.split_once(' ') {
            None => {
                let time = NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| syntax())?;
                Ok(CalendarSpec::Daily { time })
            }
            Some((date, time)) => {
                let time = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| syntax())?;
                let (month, day) = date.split_once('-').ok_or_else(syntax)?;
                let month: u32 = month.parse().map_err(|_| syntax())?;
                let day: u32 = day.parse().map_err(|_| syntax())?;

                // 2023 is not a leap year: a date valid in it is valid every year.
                if NaiveDate::from_ymd_opt(2023, month, day).is_none() {
                    return Err(CalendarError::InvalidDate { month, day });
                }
                Ok(CalendarSpec::Yearly { month, day, time })
            }
        }
    }

    /// Returns the expression as definitions write it: `HH:MM` or `MM-DD HH:MM`.
    pub fn to_text(&self) -> String {
        match self {
            CalendarSpec::Daily { time } => time.format("%H:%M").to_string(),
            CalendarSpec::Yearly { month, day, time } => format!("{month:02}-{day:02} {}", time.format("%H:%M")),
        }
    }

    /// Returns the first firing instant strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        let local_date = after.with_timezone(&Shanghai).date_naive();
        match *self {
            CalendarSpec::Daily { time } => {
                (0..=1)
                    .map(|offset| local_date + Duration::days(offset))
                    .map(|date| to_utc(date, time))
                    .find(|instant| *instant > after)
                    .expect("a daily time occurs within two days")
            }
            CalendarSpec::Yearly { month, day, time } => {
                (0..=1)
                    .filter_map(|offset| NaiveDate::from_ymd_opt(local_date.year() + offset, month, day))
                    .map(|date| to_utc(date, time))
                    .find(|instant| *instant > after)
                    .expect("a validated yearly date occurs within two years")
            }
        }
    }
}

fn to_utc(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    // Asia/Shanghai has no daylight saving since 1991, so the local time is unique.
    date.and_time(time)
        .and_local_timezone(Shanghai)
        .single()
        .expect("unique local time")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn daily_next_is_same_day_before_the_time() {
        let spec = CalendarSpec::parse("09:00").unwrap();
        // 00:30 UTC is 08:30 Beijing, so 09:00 Beijing today is 01:00 UTC.
        assert_eq!(spec.next_after(utc(2026, 3, 5, 0, 30)), utc(2026, 3, 5, 1, 0));
    }

    #[test]
    fn daily_next_is_next_day_after_the_time() {
        let spec = CalendarSpec::parse("09:00").unwrap();
        assert_eq!(spec.next_after(utc(2026, 3, 5, 1, 0)), utc(2026, 3, 6, 1, 0));
    }

    #[test]
    fn daily_across_utc_midnight() {
        let spec = CalendarSpec::parse("07:00").unwrap();
        // 22:00 UTC on 5 March is 06:00 on 6 March in Beijing: 07:00 Beijing is 23:00 UTC.
        assert_eq!(spec.next_after(utc(2026, 3, 5, 22, 0)), utc(2026, 3, 5, 23, 0));
    }

    #[test]
    fn yearly_next_rolls_to_next_year() {
        let spec = CalendarSpec::parse("12-01 09:00").unwrap();
        assert_eq!(spec.next_after(utc(2026, 12, 4, 0, 0)), utc(2027, 12, 1, 1, 0));
        assert_eq!(spec.next_after(utc(2026, 11, 30, 0, 0)), utc(2026, 12, 1, 1, 0));
    }

    #[test]
    fn impossible_dates_are_rejected() {
        for text in ["04-31 09:00", "02-29 09:00", "02-30 09:00", "13-01 09:00", "00-10 09:00"] {
            assert!(
                matches!(CalendarSpec::parse(text), Err(CalendarError::InvalidDate { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_syntax_is_rejected() {
        for text in ["9am", "25:00", "12/01 09:00", "12-01", ""] {
            assert!(matches!(CalendarSpec::parse(text), Err(CalendarError::Syntax(_))), "{text}");
        }
    }
}
