//! Text clean-up shared by the identity normalizers: Unicode NFKC, trimming, and
//! removal of the separators people type inside numbers.

use unicode_normalization::UnicodeNormalization;

/// Applies NFKC and trims surrounding whitespace.
///
/// NFKC turns full-width digits and letters into ASCII and the ideographic space
/// U+3000 into a plain space, so later checks see one spelling of each character.
pub(crate) fn nfkc_trimmed(input: &str) -> String {
    let normalized: String = input.nfkc().filter(|c| !is_invisible(*c)).collect();
    normalized.trim().to_string()
}

/// Applies NFKC and removes every whitespace and dash character, for numbers that
/// people group with spaces or dashes (`430102 19780303 5021`, `138-0013-8000`).
pub(crate) fn compact(input: &str) -> String {
    nfkc_trimmed(input)
        .chars()
        .filter(|c| !c.is_whitespace() && !is_dash(*c))
        .collect()
}

/// Returns whether `c` is a hyphen, dash or minus sign that may separate digit groups.
pub(crate) fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}'
    )
}

/// Returns whether `c` is a zero-width or byte-order-mark character. Such characters
/// arrive with copy-and-paste and spreadsheet exports and are never part of a value.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Masks all but the first 3 and last 4 characters with `*`, so that a number can
/// appear in logs and messages without disclosing it. Values of 7 characters or
/// fewer are masked completely.
pub(crate) fn mask_middle(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }

    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_removes_spaces_and_dashes() {
        assert_eq!(compact(" 138-0013\u{2014}8000 "), "13800138000");
        assert_eq!(compact("１３８\u{3000}００１３"), "1380013");
    }

    #[test]
    fn nfkc_trimmed_drops_zero_width_characters() {
        assert_eq!(nfkc_trimmed("\u{FEFF}王\u{200B}小明 "), "王小明");
    }

    #[test]
    fn mask_middle_keeps_three_and_four() {
        assert_eq!(mask_middle("43010519900101123X"), "430***********123X");
        assert_eq!(mask_middle("12345678"), "123*5678");
        assert_eq!(mask_middle("1234567"), "*******");
        assert_eq!(mask_middle(""), "");
    }
}
