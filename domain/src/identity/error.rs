//! The error type of identity validation, with stable codes and catalogue messages.

use std::fmt;

use chrono::NaiveDate;

use crate::messages::{self, Locale};

/// The identity field that a value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    IdNumber,
    Uscc,
    Mobile,
    Name,
}

impl Field {
    /// Returns the field key used in error codes and API payloads (`id_number`, `uscc`,
    /// `mobile`, `name`).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::IdNumber => "id_number",
            Field::Uscc => "uscc",
            Field::Mobile => "mobile",
            Field::Name => "name",
        }
    }
}

/// A rejected identity value.
///
/// Variants about ID numbers carry the masked number only, so an error can be logged
/// with `{:?}` or `Display` without disclosing the full number. Mobiles, names and
/// credit codes appear in full because the user needs them to find the typo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityError {
    /// The value is empty after trimming.
    Empty { field: Field },

    /// A 15-digit ID number from before 1999. The operator must give the 18-digit one.
    IdNumberLegacy15 { masked: String },
    /// An ID number whose length is not 18 and that is not a 15-digit legacy number.
    IdNumberLength { masked: String, length: usize },
    /// A character other than a digit, except `X` in the last position.
    IdNumberCharset { masked: String, character: char },
    /// The first two digits are not a province-level code, 81/82/83 or 9.
    IdNumberRegion { masked: String, region: String },
    /// Digits 7 to 14 do not form a real calendar date.
    IdNumberBirthDate { masked: String, digits: String },
    /// The birth date lies after the reference date.
    IdNumberBirthInFuture {
        masked: String,
        birth_date: NaiveDate,
    },
    /// The check character does not match the first 17 digits.
    IdNumberChecksumMismatch { masked: String },

    /// A credit code with a length other than 18.
    UsccLength { value: String, length: usize },
    /// A character outside `0-9A-HJ-NPQRTUWXY`.
    UsccCharset { value: String, character: char },
    /// The check character does not match. Some codes issued before 2016 fail this
    /// check although they are genuine, so the unit goes to manual verification.
    UsccChecksumMismatch { value: String },

    /// Not a mainland mobile number (`1[3-9]` followed by 9 digits).
    MobileFormat { value: String },

    /// A name that starts with the middle dot.
    NameLeadingDot { value: String },
    /// A name that ends with the middle dot.
    NameTrailingDot { value: String },
    /// Two middle dots in a row.
    NameDoubleDot { value: String },
    /// A name containing a digit.
    NameDigit { value: String },
    /// A name containing a character that is not a letter, the middle dot, a space
    /// between Latin words, a hyphen or an apostrophe.
    NameCharset { value: String, character: char },
    /// A name longer than [`super::name::MAX_NAME_CHARS`] characters.
    NameTooLong { length: usize },

    /// [`super::check`] was called with a kind other than id-number, uscc, mobile or name.
    UnknownKind { kind: String },
}

impl IdentityError {
    /// Returns the stable message code, which is also the key in
    /// `definitions/messages/identity.yaml`.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::Empty { field } => match field {
                Field::IdNumber => "id_number.empty",
                Field::Uscc => "uscc.empty",
                Field::Mobile => "mobile.empty",
                Field::Name => "name.empty",
            },
            IdentityError::IdNumberLegacy15 { .. } => "id_number.legacy_15",
            IdentityError::IdNumberLength { .. } => "id_number.length",
            IdentityError::IdNumberCharset { .. } => "id_number.charset",
            IdentityError::IdNumberRegion { .. } => "id_number.region",
            IdentityError::IdNumberBirthDate { .. } => "id_number.birth_date",
            IdentityError::IdNumberBirthInFuture { .. } => "id_number.birth_in_future",
            IdentityError::IdNumberChecksumMismatch { .. } => "id_number.checksum",
            IdentityError::UsccLength { .. } => "uscc.length",
            IdentityError::UsccCharset { .. } => "uscc.charset",
            IdentityError::UsccChecksumMismatch { .. } => "uscc.checksum",
            IdentityError::MobileFormat { .. } => "mobile.format",
            IdentityError::NameLeadingDot { .. } => "name.leading_dot",
            IdentityError::NameTrailingDot { .. } => "name.trailing_dot",
            IdentityError::NameDoubleDot { .. } => "name.double_dot",
            IdentityError::NameDigit { .. } => "name.digit",
            IdentityError::NameCharset { .. } => "name.charset",
            IdentityError::NameTooLong { .. } => "name.too_long",
            IdentityError::UnknownKind { .. } => "identity.unknown_kind",
        }
    }

    /// Returns the field key (`id_number`, `uscc`, `mobile` or `name`), or `kind` for
    /// [`IdentityError::UnknownKind`].
    pub fn field(&self) -> &'static str {
        match self {
            IdentityError::Empty { field } => field.as_str(),
            IdentityError::IdNumberLegacy15 { .. }
            | IdentityError::IdNumberLength { .. }
            | IdentityError::IdNumberCharset { .. }
            | IdentityError::IdNumberRegion { .. }
            | IdentityError::IdNumberBirthDate { .. }
            | IdentityError::IdNumberBirthInFuture { .. }
            | IdentityError::IdNumberChecksumMismatch { .. } => Field::IdNumber.as_str(),
            IdentityError::UsccLength { .. }
            | IdentityError::UsccCharset { .. }
            | IdentityError::UsccChecksumMismatch { .. } => Field::Uscc.as_str(),
            IdentityError::MobileFormat { .. } => Field::Mobile.as_str(),
            IdentityError::NameLeadingDot { .. }
            | IdentityError::NameTrailingDot { .. }
            | IdentityError::NameDoubleDot { .. }
            | IdentityError::NameDigit { .. }
            | IdentityError::NameCharset { .. }
            | IdentityError::NameTooLong { .. } => Field::Name.as_str(),
            IdentityError::UnknownKind { .. } => "kind",
        }
    }

    /// Returns whether the value may still be genuine and should go to manual
    /// verification instead of being rejected outright.
    pub fn needs_manual_verification(&self) -> bool {
        matches!(self, IdentityError::UsccChecksumMismatch { .. })
    }

    /// Renders the user-facing message in `locale` through the message catalogue.
    pub fn message(&self, locale: Locale) -> String {
        let args = self.message_args();
        let borrowed: Vec<(&str, &str)> = args
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        messages::text(locale, self.code(), &borrowed)
    }

    fn message_args(&self) -> Vec<(&'static str, String)> {
        match self {
            IdentityError::Empty { .. } => vec![],
            IdentityError::IdNumberLegacy15 { masked }
            | IdentityError::IdNumberChecksumMismatch { masked } => {
                vec![("value", masked.clone())]
            }
            IdentityError::IdNumberLength { masked, length } => {
                vec![("value", masked.clone()), ("length", length.to_string())]
            }
            IdentityError::IdNumberCharset { masked, character } => {
                vec![
                    ("value", masked.clone()),
                    ("character", character.to_string()),
                ]
            }
            IdentityError::IdNumberRegion { masked, region } => {
                vec![("value", masked.clone()), ("region", region.clone())]
            }
            IdentityError::IdNumberBirthDate { masked, digits } => {
                vec![("value", masked.clone()), ("date", digits.clone())]
            }
            IdentityError::IdNumberBirthInFuture { masked, birth_date } => {
                vec![("value", masked.clone()), ("date", birth_date.to_string())]
            }
            IdentityError::UsccLength { value, length } => {
                vec![("value", value.clone()), ("length", length.to_string())]
            }
            IdentityError::UsccCharset { value, character }
            | IdentityError::NameCharset { value, character } => {
                vec![
                    ("value", value.clone()),
                    ("character", character.to_string()),
                ]
            }
            IdentityError::UsccChecksumMismatch { value }
            | IdentityError::MobileFormat { value }
            | IdentityError::NameLeadingDot { value }
            | IdentityError::NameTrailingDot { value }
            | IdentityError::NameDoubleDot { value }
            | IdentityError::NameDigit { value } => vec![("value", value.clone())],
            IdentityError::NameTooLong { length } => vec![
                ("length", length.to_string()),
                ("max", super::name::MAX_NAME_CHARS.to_string()),
            ],
            IdentityError::UnknownKind { kind } => vec![("kind", kind.clone())],
        }
    }
}

/// Displays the zh-CN message.
impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Locale::ZhCn))
    }
}

impl std::error::Error for IdentityError {}
