//! Citizen ID numbers (公民身份号码, GB 11643-1999) and the numbers that share their
//! format: residence permits for Hong Kong, Macao and Taiwan residents (81/82/83) and
//! the 2023 foreign permanent resident ID card (first digit 9).
//!
//! Layout of the 18 characters: 6-digit address code, 8-digit birth date `YYYYMMDD`,
//! 3-digit sequence number whose last digit is odd for men, and a check character
//! computed with ISO 7064 MOD 11-2.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::error::{Field, IdentityError};
use super::text::{compact, mask_middle};

/// Weights of the first 17 digits in the MOD 11-2 checksum.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character for each value of (weighted sum mod 11).
const CHECK_CHARACTERS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes of GB/T 2260 that start citizen ID numbers.
const PROVINCE_CODES: [&str; 32] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
];

/// Birth years before this are typos: no operator alive was born earlier.
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// Prefixes of residence permits for residents of Hong Kong (81), Macao (82) and
/// Taiwan (83).
const RESIDENCE_PERMIT_CODES: [&str; 3] = ["81", "82", "83"];

/// A validated, normalized 18-character ID number: 17 digits and a check digit or `X`.
///
/// Deserializing does not validate, because stored values were validated when they
/// were first normalized.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdNumber(String);

/// Gender as encoded by the parity of the 17th digit of an ID number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// Parses a gender column value: 男/女, M/F or male/female in any case.
    /// Returns `None` for anything else, including an empty value.
    pub fn parse(text: &str) -> Option<Gender> {
        let value = super::text::nfkc_trimmed(text).to_lowercase();
        match value.as_str() {
            "男" | "m" | "male" => Some(Gender::Male),
            "女" | "f" | "female" => Some(Gender::Female),
            _ => None,
        }
    }
}

impl IdNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the birth date encoded in digits 7 to 14.
    pub fn birth_date(&self) -> NaiveDate {
        parse_birth_date(&self.0[6..14]).expect("an IdNumber contains a validated birth date")
    }

    /// Returns whether the 17th digit is odd, which GB 11643 assigns to men.
    pub fn is_male(&self) -> bool {
        let digit = self.0.as_bytes()[16] - b'0';
        digit % 2 == 1
    }

    pub fn gender(&self) -> Gender {
        if self.is_male() {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// Returns whether this is a residence permit number for a resident of Hong Kong,
    /// Macao or Taiwan.
    pub fn is_residence_permit(&self) -> bool {
        RESIDENCE_PERMIT_CODES.contains(&&self.0[..2])
    }

    /// Returns the number with all but the first 3 and last 4 characters replaced by
    /// `*` (`430***********123X`), for logs.
    pub fn mask(&self) -> String {
        mask_middle(&self.0)
    }
}

/// Normalizes and validates an 18-character ID number.
///
/// NFKC, trimming and removal of spaces and dashes come first, and a lowercase `x`
/// becomes `X`. The birth date must be a real date no later than `today`, the
/// Beijing date of the request.
pub fn normalize_id_number(input: &str, today: NaiveDate) -> Result<IdNumber, IdentityError> {
    let value = compact(input).to_uppercase();
    let masked = mask_middle(&value);

    if value.is_empty() {
        return Err(IdentityError::Empty {
            field: Field::IdNumber,
        });
    }
    if value.len() == 15 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentityError::IdNumberLegacy15 { masked });
    }
    check_characters(&value, &masked)?;

    let region = &value[..2];
    if !is_known_region(region) {
        return Err(IdentityError::IdNumberRegion {
            masked,
            region: region.to_string(),
        });
    }

    let date_digits = &value[6..14];
    let Some(birth_date) = parse_birth_date(date_digits) else {
        return Err(IdentityError::IdNumberBirthDate {
            masked,
            digits: date_digits.to_string(),
        });
    };
    if birth_date > today {
        return Err(IdentityError::IdNumberBirthInFuture { masked, birth_date });
    }

    if check_character(&value[..17]) != value.chars().last() {
        return Err(IdentityError::IdNumberChecksumMismatch { masked });
    }
    Ok(IdNumber(value))
}

/// Calls [`normalize_id_number`] with today's date in Beijing.
pub fn normalize_id_number_today(input: &str) -> Result<IdNumber, IdentityError> {
    normalize_id_number(input, super::beijing_today())
}

/// Converts a 15-digit ID number from before 1999 to its 18-digit form, by inserting
/// the century `19` before the 6-digit birth date and appending the check character.
///
/// Use it only to match old records. Operators must register with the 18-digit number
/// printed on their current card, which [`normalize_id_number`] enforces.
pub fn upgrade_legacy_15(input: &str) -> Result<IdNumber, IdentityError> {
    let value = compact(input);
    let masked = mask_middle(&value);

    if value.is_empty() {
        return Err(IdentityError::Empty {
            field: Field::IdNumber,
        });
    }
    if let Some(character) = value.chars().find(|c| !c.is_ascii_digit()) {
        return Err(IdentityError::IdNumberCharset { masked, character });
    }
    if value.len() != 15 {
        return Err(IdentityError::IdNumberLength {
            masked,
            length: value.chars().count(),
        });
    }

    let body = format!("{}19{}", &value[..6], &value[6..]);
    let date_digits = &body[6..14];
    if parse_birth_date(date_digits).is_none() {
        return Err(IdentityError::IdNumberBirthDate {
            masked,
            digits: date_digits.to_string(),
        });
    }

    let check = check_character(&body).expect("17 ASCII digits have a check character");
    Ok(IdNumber(format!("{body}{check}")))
}

/// Computes the check character of the first 17 digits, or `None` when `body` is not
/// exactly 17 ASCII digits.
pub fn check_character(body: &str) -> Option<char> {
    if body.len() != 17 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }

    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    Some(CHECK_CHARACTERS[(sum % 11) as usize])
}

/// Rejects a value that is not 17 digits followed by a digit or `X`. A stray
/// character is reported before a wrong length because it is the more specific fix.
fn check_characters(value: &str, masked: &str) -> Result<(), IdentityError> {
    let length = value.chars().count();
    let invalid = value
        .chars()
        .enumerate()
        .find(|(index, c)| !c.is_ascii_digit() && !(*c == 'X' && *index + 1 == length));

    if let Some((_, character)) = invalid {
        return Err(IdentityError::IdNumberCharset {
            masked: masked.to_string(),
            character,
        });
    }
    if length != 18 {
        return Err(IdentityError::IdNumberLength {
            masked: masked.to_string(),
            length,
        });
    }
    Ok(())
}

// NOTE: numbers starting with 9 are accepted on the published rule that the 2023
// foreign permanent resident card uses 18 characters with the MOD 11-2 check. That the
// birth date and gender digit sit where they sit in citizen numbers is assumed.
fn is_known_region(region: &str) -> bool {
    PROVINCE_CODES.contains(&region)
        || RESIDENCE_PERMIT_CODES.contains(&region)
        || region.starts_with('9')
}

fn parse_birth_date(digits: &str) -> Option<NaiveDate> {
    let year: i32 = digits.get(0..4)?.parse().ok()?;
    let month: u32 = digits.get(4..6)?.parse().ok()?;
    let day: u32 = digits.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day).filter(|date| date.year() >= EARLIEST_BIRTH_YEAR)
}
