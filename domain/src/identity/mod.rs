//! Normalization and validation of identity values: citizen ID numbers, unified social
//! credit codes of units, mobile numbers and personal names.
//!
//! Every normalizer first cleans the text (NFKC, trimming, and for numbers removal of
//! spaces and dashes) and then validates it, so `４３０１…`, `430102 19780303 5021`
//! and `430102197803035021` are the same ID number.

mod error;
mod id_number;
mod mobile;
mod name;
pub(crate) mod text;
mod uscc;

use chrono::NaiveDate;

pub use error::{Field, IdentityError};
pub use id_number::{
    Gender, IdNumber, normalize_id_number, normalize_id_number_today, upgrade_legacy_15,
};
pub use mobile::{Mobile, normalize_mobile};
pub use name::{MAX_NAME_CHARS, MIDDLE_DOT, PersonName, normalize_name};
pub use uscc::{Uscc, normalize_uscc};

/// Check characters, exposed for tests and data repair scripts.
pub mod checksum {
    pub use super::id_number::check_character as id_number_check_character;
    pub use super::uscc::check_character as uscc_check_character;
}

/// Returns today's date in Beijing (Asia/Shanghai), the reference date for birth
/// dates and every other calendar rule of the platform.
pub fn beijing_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// Normalizes `value` as the identity kind named by `kind` and returns the stored form.
///
/// `kind` is `id-number`, `uscc`, `mobile` or `name`, as typed in
/// `certflow check KIND VALUE`. Underscores are accepted in place of dashes. `today`
/// is the reference date for the birth date of an ID number.
pub fn check(kind: &str, value: &str, today: NaiveDate) -> Result<String, IdentityError> {
    match kind.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "id-number" => normalize_id_number(value, today).map(|id| id.as_str().to_string()),
        "uscc" => normalize_uscc(value).map(|code| code.as_str().to_string()),
        "mobile" => normalize_mobile(value).map(|mobile| mobile.as_str().to_string()),
        "name" => normalize_name(value).map(|name| name.as_str().to_string()),
        _ => Err(IdentityError::UnknownKind {
            kind: kind.to_string(),
        }),
    }
}
