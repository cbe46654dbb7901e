//! Plain texts that staff write (notice and help bodies) as paragraphs for templates,
//! which escape them. A blank line separates paragraphs; a single line break stays a
//! line break, kept by the `plain` class's `white-space: pre-line`.

/// Splits `text` into its non-empty paragraphs.
pub fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join("\n"));
    }
    paragraphs
}

#[cfg(test)]
mod tests {
    use super::paragraphs;

    #[test]
    fn paragraphs_split_on_blank_lines() {
        assert_eq!(paragraphs("第一段\n续行\n\n\n第二段\n"), ["第一段\n续行", "第二段"]);
        assert_eq!(paragraphs("  \n"), Vec::<String>::new());
        assert_eq!(paragraphs("<b>x</b>"), ["<b>x</b>"], "escaping is the template's job");
    }
}
