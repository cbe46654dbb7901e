//! Mainland China mobile numbers, stored as 11 digits without country code.
//!
//! The check is `1[3-9]` followed by 9 digits. There is deliberately no allow-list of
//! operator number ranges, because new ranges are opened every few years and a stale
//! list would reject real operators.

use serde::{Deserialize, Serialize};

use super::error::{Field, IdentityError};
use super::text::compact;

/// A validated mainland mobile number of 11 digits.
///
/// Deserializing does not validate, because stored values were validated when they
/// were first normalized.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Mobile(String);

impl Mobile {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalizes and validates a mobile number.
///
/// NFKC, trimming and removal of spaces, dashes and parentheses come first. Then a `+86` or `0086`
/// prefix is removed, and a leading `86` when 13 digits remain, so that a number
/// written with the country code matches the same number without it.
pub fn normalize_mobile(input: &str) -> Result<Mobile, IdentityError> {
    let cleaned: String = compact(input)
        .chars()
        .filter(|c| !matches!(c, '(' | ')'))
        .collect();
    if cleaned.is_empty() {
        return Err(IdentityError::Empty {
            field: Field::Mobile,
        });
    }

    let national = strip_country_code(&cleaned);
    if !is_mainland_mobile(national) {
        return Err(IdentityError::MobileFormat { value: cleaned });
    }
    Ok(Mobile(national.to_string()))
}

fn strip_country_code(number: &str) -> &str {
    if let Some(rest) = number
        .strip_prefix("+86")
        .or_else(|| number.strip_prefix("0086"))
    {
        return rest;
    }
    match number.strip_prefix("86") {
        Some(rest) if number.len() == 13 => rest,
        _ => number,
    }
}

fn is_mainland_mobile(number: &str) -> bool {
    let bytes = number.as_bytes();
    bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
}
