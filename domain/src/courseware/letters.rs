//! Option letters: A is the first option, B the second, and so on.

/// Returns the letter of the option at `index`, such as `B` for 1.
///
/// Panics when `index` is 26 or more, because letters stop at Z.
pub fn letter_for(index: usize) -> char {
    assert!(index < 26, "option index {index} has no letter");
    char::from(b'A' + index as u8)
}

/// Returns the 0-based option index of an upper-case letter, or `None` for any other
/// character.
pub fn index_for(letter: char) -> Option<usize> {
    letter.is_ascii_uppercase().then(|| usize::from(letter as u8 - b'A'))
}

/// Renders option indices as letters, such as `ACD`.
pub fn letters_for(indices: &[usize]) -> String {
    indices.iter().map(|&index| letter_for(index)).collect()
}
