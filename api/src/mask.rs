//! Masking of personal data for logs and for lists shown to people other than the
//! person concerned.

/// Masks a mobile number as `138****8000`.
pub fn mobile(mobile: &str) -> String {
    workers::notify::mask_mobile(mobile)
}

/// Masks an ID number as `430***********123X`: the first 3 and last 4 characters stay.
pub fn id_number(id_number: &str) -> String {
    let chars: Vec<char> = id_number.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Masks a personal name as its first character followed by one `*` per further
/// character (`陈*`, `阿*******`), as printed on public card checks.
pub fn name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count())),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_the_documented_parts() {
        assert_eq!(mobile("13800138000"), "138****8000");
        assert_eq!(id_number("43010519900101123X"), "430***********123X");
        assert_eq!(name("陈超"), "陈*");
        assert_eq!(name(""), "");
    }
}
