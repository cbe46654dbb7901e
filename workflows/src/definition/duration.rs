//! Durations as definitions write them: a whole number and a unit, `30s`, `10m`, `2h`,
//! `7d`. Calendar months and years are not durations (their length varies); use an
//! `at` timer for those.

use chrono::Duration;

/// Parses `text` into a positive duration, or returns why it is not one.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!("“{text}” does not start with a whole number"));
    }
    let amount: i64 = digits.parse().map_err(|_| format!("“{text}” is too large"))?;
    if amount == 0 {
        return Err(format!("“{text}” is zero"));
    }
    let duration = match unit {
        "ms" => Duration::milliseconds(amount),
        "s" => Duration::seconds(amount),
        "m" => Duration::minutes(amount),
        "h" => Duration::hours(amount),
        "d" => Duration::days(amount),
        _ => return Err(format!("“{text}” has unknown unit “{unit}” (use ms, s, m, h or d)")),
    };
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        let cases = [
            ("250ms", Duration::milliseconds(250)),
            ("5s", Duration::seconds(5)),
            ("10m", Duration::minutes(10)),
            ("2h", Duration::hours(2)),
            ("30d", Duration::days(30)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for text in ["", "m", "-5m", "0s", "5 weeks", "5w", "1.5h"] {
            assert!(parse_duration(text).is_err(), "{text} should be rejected");
        }
    }
}
