//! Mainland China mobile numbers: normalization before sending, masking before logging.

/// A mobile number that is not an 11-digit mainland number. The error shows the number
/// masked, so it can be logged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid mainland mobile number {masked}: expected 11 digits starting with 13 to 19, \
     optionally preceded by +86"
)]
pub struct InvalidMobile {
    pub masked: String,
}

/// Normalizes a mainland mobile number to its 11 digits.
///
/// Accepts full-width digits, spaces and hyphens, and a `+86`, `0086` or `86` country
/// prefix, as users type them in forms and roster spreadsheets.
pub fn normalize_mobile(input: &str) -> Result<String, InvalidMobile> {
    let mut digits = String::with_capacity(input.len());
    let mut has_plus = false;
    for ch in input.trim().chars() {
        match ch {
            '0'..='9' => digits.push(ch),
            '０'..='９' => {
                let offset = ch as u32 - '０' as u32;
                digits.push(char::from(b'0' + offset as u8));
            }
            ' ' | '-' | '\u{3000}' => {}
            '+' | '＋' if digits.is_empty() && !has_plus => has_plus = true,
            _ => {
                return Err(InvalidMobile {
                    masked: mask_mobile(input),
                });
            }
        }
    }

    let national = if digits.len() == 15 && digits.starts_with("0086") {
        &digits[4..]
    } else if digits.len() == 13 && digits.starts_with("86") {
        &digits[2..]
    } else if has_plus {
        // A `+` with any other country code is not a mainland number.
        return Err(InvalidMobile {
            masked: mask_mobile(input),
        });
    } else {
        &digits[..]
    };

    let bytes = national.as_bytes();
    let valid = bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]);
    if valid {
        Ok(national.to_string())
    } else {
        Err(InvalidMobile {
            masked: mask_mobile(input),
        })
    }
}

/// Masks a mobile number for logs: `13812345678` becomes `138****5678`.
///
/// Input of another length keeps at most its first three and last two characters, and
/// input of fewer than seven characters is masked whole.
pub fn mask_mobile(mobile: &str) -> String {
    let chars: Vec<char> = mobile.trim().chars().collect();
    let count = chars.len();
    if count < 7 {
        return "*".repeat(count.max(4));
    }

    let tail = if count == 11 { 4 } else { 2 };
    let head: String = chars[..3].iter().collect();
    let end: String = chars[count - tail..].iter().collect();
    format!("{head}{}{end}", "*".repeat(count - 3 - tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_accepts_common_forms() {
        let cases = [
            ("13812345678", "13812345678"),
            (" 138-1234-5678 ", "13812345678"),
            ("+86 138 1234 5678", "13812345678"),
            ("008613812345678", "13812345678"),
            ("8613812345678", "13812345678"),
            ("１３８１２３４５６７８", "13812345678"),
            ("19912345678", "19912345678"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize_mobile(input).as_deref(),
                Ok(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn normalize_rejects_non_mainland_numbers() {
        let cases = [
            "",
            "1381234567",
            "138123456789",
            "12812345678",
            "23812345678",
            "+85291234567",
            "+1 4155550100",
            "138a2345678",
            "0571-87654321",
        ];
        for input in cases {
            assert!(
                normalize_mobile(input).is_err(),
                "input {input:?} was accepted"
            );
        }
    }

    #[test]
    fn invalid_mobile_message_is_masked() {
        let error = normalize_mobile("138123456789").unwrap_err();
        let message = error.to_string();
        assert!(
            !message.contains("138123456789"),
            "message leaks the number: {message}"
        );
        assert!(message.contains("138*******89"), "message: {message}");
    }

    #[test]
    fn mask_hides_middle_four_digits() {
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert_eq!(mask_mobile("12345"), "*****");
        assert_eq!(mask_mobile(""), "****");
    }
}
