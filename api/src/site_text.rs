//! Checks for the plain texts that association staff publish on the site: notice and
//! help titles and bodies, and the footer settings.
//!
//! These texts are stored and shown as plain text: pages escape them, and a body's
//! paragraphs are its blank-line-separated blocks. Markup is rejected rather than
//! escaped silently, so that staff see at once that HTML is not supported.

use crate::error::ApiError;

/// Maximum length of a title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
/// Maximum length of a notice or help body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

/// Returns `value` trimmed, or an error on `field` when it is empty, longer than `max`
/// characters, or contains markup or control characters. `multiline` allows line breaks.
pub fn checked(value: &str, field: &'static str, max: usize, multiline: bool) -> Result<String, ApiError> {
    let normalized = value.replace("\r\n", "\n");
    let trimmed = normalized.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid("site_text.required").field(field));
    }

    let length = trimmed.chars().count();
    if length > max {
        return Err(ApiError::invalid("site_text.too_long").field(field).arg("max", max).arg("length", length));
    }
    if looks_like_markup(trimmed) {
        return Err(ApiError::invalid("site_text.markup").field(field));
    }

    let bad_control = trimmed.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')));
    if bad_control {
        return Err(ApiError::invalid("site_text.control_character").field(field));
    }
    Ok(trimmed.to_string())
}

/// Returns whether `text` contains an HTML tag, comment or character reference, such as
/// `<b>`, `</p>`, `<!--` or `&lt;`. A lone `<` or `&` (as in "成绩 < 60分") is allowed.
pub fn looks_like_markup(text: &str) -> bool {
    let bytes = text.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        let next = bytes.get(index + 1).copied();
        let opens_tag = byte == b'<' && next.is_some_and(|c| c.is_ascii_alphabetic() || c == b'/' || c == b'!' || c == b'?');
        if opens_tag {
            return true;
        }
        if byte == b'&' && is_character_reference(&text[index + 1..]) {
            return true;
        }
    }
    false
}

/// Returns whether `rest` (the text after an `&`) starts a reference such as `amp;` or `#60;`.
fn is_character_reference(rest: &str) -> bool {
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '#').take(32).collect();
    !name.is_empty() && rest[name.len()..].starts_with(';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_detection_cases() {
        let cases = [
            ("<b>粗体</b>", true),
            ("</p>", true),
            ("<!-- note -->", true),
            ("<script>alert(1)</script>", true),
            ("&lt;b&gt;", true),
            ("&#60;", true),
            ("成绩 < 60 分为不合格", false),
            ("A & B 两家单位", false),
            ("5<6", false),
            ("京ICP备12345678号-1", false),
        ];
        for (text, expected) in cases {
            assert_eq!(looks_like_markup(text), expected, "{text}");
        }
    }

    #[test]
    fn checked_trims_and_limits() {
        assert_eq!(checked("  标题  ", "title", 10, false).unwrap(), "标题");
        assert_eq!(checked("   ", "title", 10, false).unwrap_err().code(), "site_text.required");
        assert_eq!(checked("一二三四五六", "title", 5, false).unwrap_err().code(), "site_text.too_long");
        assert_eq!(checked("第一段\r\n\r\n第二段", "body", 50, true).unwrap(), "第一段\n\n第二段");
        assert_eq!(checked("第一行\n第二行", "title", 50, false).unwrap_err().code(), "site_text.control_character");
        assert_eq!(checked("<i>x</i>", "title", 50, false).unwrap_err().code(), "site_text.markup");
    }
}
