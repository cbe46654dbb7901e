//! Parsing of the roster cell values that identity validation does not cover: dates,
//! e-mail addresses and digit strings that a spreadsheet turned into numbers.

use chrono::NaiveDate;

use crate::identity::text::nfkc_trimmed;

/// Parses a date written as `2024-05-09`, `2024/5/9`, `2024.05.09`, `20240509` or
/// `2024年5月9日`, optionally followed by a time, which is ignored.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let value = nfkc_trimmed(text);
    let date_part = value.split([' ', 'T']).next().unwrap_or("");

    if date_part.len() == 8 && date_part.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(date_part, "%Y%m%d").ok();
    }

    let unified: String = date_part
        .trim_end_matches('日')
        .chars()
        .map(|c| {
            if matches!(c, '年' | '月' | '/' | '.') {
                '-'
            } else {
                c
            }
        })
        .collect();
    let parts: Vec<&str> = unified.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 || month.is_empty() || month.len() > 2 || day.is_empty() || day.len() > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

/// Normalizes an e-mail address: NFKC (so `＠` becomes `@`), trimming, and a
/// lowercase domain. Returns `None` unless there is one `@` with a non-empty local
/// part before it and a domain of at least two non-empty labels after it.
///
/// This catches typing and column mistakes, not every address RFC 5322 forbids.
pub(crate) fn normalize_email(text: &str) -> Option<String> {
    let value = nfkc_trimmed(text);
    if value.chars().any(char::is_whitespace) {
        return None;
    }

    let (local, domain) = value.split_once('@')?;
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_valid = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local.is_empty() || local.contains('@') || !domain_valid {
        return None;
    }
    Some(format!("{local}@{}", domain.to_lowercase()))
}

/// Returns whether `text` is a number in scientific notation such as `4.30302E+17`,
/// which is what a spreadsheet writes to CSV after it has read a long digit string as
/// a number. The lost digits cannot be recovered.
pub(crate) fn is_scientific_notation(text: &str) -> bool {
    let value = nfkc_trimmed(text);
    let Some((mantissa, exponent)) = value.split_once(['e', 'E']) else {
        return false;
    };

    let exponent_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction) && all_digits(exponent_digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, month, day)
    }

    #[test]
    fn parse_date_accepts_common_spellings() {
        let cases = [
            ("2024-05-09", date(2024, 5, 9)),
            ("2024/5/9", date(2024, 5, 9)),
            ("2024.05.09", date(2024, 5, 9)),
            ("20240509", date(2024, 5, 9)),
            ("2024年5月9日", date(2024, 5, 9)),
            ("2024-05-09 00:00:00", date(2024, 5, 9)),
            ("２０２４－０５－０９", date(2024, 5, 9)),
            ("2024-02-30", None),
            ("24-05-09", None),
            ("May 9, 2024", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_date(text), expected, "{text}");
        }
    }

    #[test]
    fn normalize_email_checks_shape() {
        assert_eq!(
            normalize_email(" fang33@Hotmail.COM ").as_deref(),
            Some("fang33@hotmail.com")
        );
        assert_eq!(
            normalize_email("fang33＠qq.com").as_deref(),
            Some("fang33@qq.com")
        );
        assert_eq!(normalize_email("fang33"), None);
        assert_eq!(normalize_email("fang33@qq"), None);
        assert_eq!(normalize_email("a b@qq.com"), None);
        assert_eq!(normalize_email("a@b@qq.com"), None);
        assert_eq!(normalize_email("@qq.com"), None);
    }

    #[test]
    fn scientific_notation_is_detected() {
        assert!(is_scientific_notation("4.30302E+17"));
        assert!(is_scientific_notation("4.30302e17"));
        assert!(!is_scientific_notation("430302198302277431"));
        assert!(!is_scientific_notation("E17"));
    }
}
