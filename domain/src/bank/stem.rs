//! The comparison key of a question stem, for finding duplicates in one course.

use unicode_normalization::UnicodeNormalization;

/// Returns `stem` in NFKC with all whitespace removed and ASCII letters in lower case,
/// so stems that differ only in full-width characters, spacing or case compare equal.
pub fn stem_key(stem: &str) -> String {
    stem.nfkc().filter(|character| !character.is_whitespace()).map(|character| character.to_ascii_lowercase()).collect()
}
