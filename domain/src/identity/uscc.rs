//! Unified social credit codes of organizations (统一社会信用代码, GB 32100-2015).
//!
//! A code has 18 characters from the 31-character alphabet `0-9A-HJ-NPQRTUWXY`, which
//! leaves out I, O, S, V and Z. The last character is a check character over the first
//! 17. The shape does not reveal the kind of number, because an 18-digit citizen ID
//! number can pass this check. Callers must know which field a value came from.

use serde::{Deserialize, Serialize};

use super::error::{Field, IdentityError};
use super::text::compact;

/// The code alphabet. The value of a character is its index here.
const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// A validated, normalized unified social credit code in uppercase.
///
/// Deserializing does not validate, because stored values were validated when they
/// were first normalized.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Uscc(String);

impl Uscc {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalizes and validates a unified social credit code.
///
/// NFKC, trimming, removal of spaces and dashes and uppercasing come first. A wrong
/// check character gives [`IdentityError::UsccChecksumMismatch`], which is a separate
/// kind because the unit may still be genuine and goes to manual verification.
pub fn normalize_uscc(input: &str) -> Result<Uscc, IdentityError> {
    let value = compact(input).to_uppercase();

    if value.is_empty() {
        return Err(IdentityError::Empty { field: Field::Uscc });
    }
    if let Some(character) = value.chars().find(|c| char_value(*c).is_none()) {
        return Err(IdentityError::UsccCharset { value, character });
    }
    if value.len() != 18 {
        let length = value.len();
        return Err(IdentityError::UsccLength { value, length });
    }

    if check_character(&value[..17]) != value.chars().last() {
        return Err(IdentityError::UsccChecksumMismatch { value });
    }
    Ok(Uscc(value))
}

/// Computes the check character of the first 17 characters, or `None` when `body`
/// is not 17 characters of the code alphabet.
///
/// The weight of position i (from 0) is 3^i mod 31, and the check value is
/// (31 − weighted sum mod 31) mod 31.
pub fn check_character(body: &str) -> Option<char> {
    if body.chars().count() != 17 {
        return None;
    }

    let mut sum = 0u32;
    let mut weight = 1u32;
    for c in body.chars() {
        sum += char_value(c)? * weight;
        weight = weight * 3 % 31;
    }

    let check = (31 - sum % 31) % 31;
    ALPHABET.chars().nth(check as usize)
}

fn char_value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|index| index as u32)
}
