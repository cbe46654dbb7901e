//! Personal names as printed on the ID card.
//!
//! Names of Uyghur, Tibetan and other people transcribed into Han characters, and
//! foreign names, separate their parts with the middle dot U+00B7 (`阿依古丽·买买提`).
//! Keyboards rarely offer that character, so people type a bullet, a katakana middle
//! dot or a full stop instead. Normalization maps all of them to U+00B7 so that the
//! same person is stored under one spelling.

use serde::{Deserialize, Serialize};

use super::error::{Field, IdentityError};
use super::text::{is_dash, nfkc_trimmed};

/// Maximum length of a name in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 50;

/// The middle dot between the parts of a transcribed name.
pub const MIDDLE_DOT: char = '\u{00B7}';

/// A validated, normalized personal name.
///
/// Deserializing does not validate, because stored values were validated when they
/// were first normalized.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalizes and validates a personal name.
///
/// After NFKC and trimming, dot look-alikes become U+00B7, dashes become `-`, and
/// spaces are removed except a single space between two words of a non-Han script
/// (`Mary Jane`). Names outside the Basic Multilingual Plane, such as `𠮷`, are
/// accepted. A full stop is always read as a middle dot, so `J. Smith` becomes
/// `J·Smith`.
pub fn normalize_name(input: &str) -> Result<PersonName, IdentityError> {
    let mapped: String = nfkc_trimmed(input)
        .chars()
        .map(|c| {
            if is_dot_lookalike(c) {
                MIDDLE_DOT
            } else if is_dash(c) {
                '-'
            } else {
                c
            }
        })
        .collect();
    let value = collapse_spaces(&mapped);

    validate(&value)?;
    Ok(PersonName(value))
}

fn validate(value: &str) -> Result<(), IdentityError> {
    if value.is_empty() {
        return Err(IdentityError::Empty { field: Field::Name });
    }
    // U+3007 〇 is a numeric character in Unicode but also a Han character used in names.
    if value.chars().any(|c| c.is_numeric() && c != '\u{3007}') {
        return Err(IdentityError::NameDigit {
            value: value.to_string(),
        });
    }
    if let Some(character) = value.chars().find(|c| !is_allowed(*c)) {
        return Err(IdentityError::NameCharset {
            value: value.to_string(),
            character,
        });
    }

    if value.starts_with(MIDDLE_DOT) {
        return Err(IdentityError::NameLeadingDot {
            value: value.to_string(),
        });
    }
    if value.ends_with(MIDDLE_DOT) {
        return Err(IdentityError::NameTrailingDot {
            value: value.to_string(),
        });
    }
    if value.contains("\u{00B7}\u{00B7}") {
        return Err(IdentityError::NameDoubleDot {
            value: value.to_string(),
        });
    }

    let length = value.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(IdentityError::NameTooLong { length });
    }
    Ok(())
}

/// Characters that people type in place of the middle dot U+00B7, after NFKC.
/// NFKC already turns U+FF65 into U+30FB, U+FF0E and U+2024 into `.`, and U+0387
/// into U+00B7.
fn is_dot_lookalike(c: char) -> bool {
    matches!(
        c,
        '.' | '\u{00B7}'
            | '\u{3002}' // 。 ideographic full stop
            | '\u{2022}' // • bullet
            | '\u{2027}' // ‧ hyphenation point
            | '\u{2219}' // ∙ bullet operator
            | '\u{22C5}' // ⋅ dot operator
            | '\u{2E31}' // ⸱ word separator middle dot
            | '\u{30FB}' // ・ katakana middle dot
            | '\u{A78F}' // ꞏ Latin letter sinological dot
    )
}

/// Removes whitespace, except that one space stays between two letters of a non-Han
/// script.
fn collapse_spaces(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut output = String::with_capacity(name.len());

    for (index, &c) in chars.iter().enumerate() {
        if !c.is_whitespace() {
            output.push(c);
            continue;
        }

        // Within a run of spaces, `previous` is the space already kept, which is not a
        // letter, so a run yields at most one space.
        let previous = output.chars().next_back();
        let next = chars[index..].iter().copied().find(|c| !c.is_whitespace());
        if previous.is_some_and(is_non_han_letter) && next.is_some_and(is_non_han_letter) {
            output.push(' ');
        }
    }
    output
}

fn is_allowed(c: char) -> bool {
    c.is_alphabetic() || matches!(c, MIDDLE_DOT | ' ' | '-' | '\'' | '\u{2019}')
}

fn is_non_han_letter(c: char) -> bool {
    c.is_alphabetic() && !is_han(c)
}

/// Returns whether `c` is a CJK unified or compatibility ideograph, including the
/// extensions outside the Basic Multilingual Plane.
fn is_han(c: char) -> bool {
    matches!(
        c,
        '\u{3007}'
            | '\u{3400}'..='\u{4DBF}'
            | '\u{4E00}'..='\u{9FFF}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{20000}'..='\u{323AF}'
    )
}
