//! Cells and rows as read from CSV or xlsx, before any column has a meaning.

use chrono::NaiveDate;

/// Numbers up to 2^53 are exact in an f64, so an integral number below this bound
/// converts back to the digits the user typed.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// One cell. CSV yields only `Text` and `Empty`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    Empty,
    Text(String),
    /// A cell that a spreadsheet stores as a number.
    Number(f64),
    /// A cell with a date format.
    Date(NaiveDate),
}

impl Cell {
    /// Builds a text cell, with whitespace-only text as `Empty`.
    pub(crate) fn text(value: &str) -> Cell {
        if value.trim().is_empty() {
            Cell::Empty
        } else {
            Cell::Text(value.to_string())
        }
    }

    /// Returns the cell as text: a number without fraction as its digits, a date as
    /// `YYYY-MM-DD`, and `None` for an empty cell.
    pub(crate) fn as_text(&self) -> Option<String> {
        match self {
            Cell::Empty => None,
            Cell::Text(text) => Some(text.clone()),
            Cell::Number(number) if number.fract() == 0.0 && number.abs() < MAX_EXACT_INTEGER => {
                Some(format!("{}", *number as i64))
            }
            Cell::Number(number) => Some(number.to_string()),
            Cell::Date(date) => Some(date.to_string()),
        }
    }
}

/// One row with its 1-based row number in the file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub line: usize,
    pub cells: Vec<Cell>,
}

impl Row {
    /// Returns the cell at `column`, or `Empty` past the end of a short row.
    pub(crate) fn cell(&self, column: usize) -> &Cell {
        self.cells.get(column).unwrap_or(&Cell::Empty)
    }

    pub(crate) fn is_blank(&self) -> bool {
        self.cells.iter().all(|cell| *cell == Cell::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_number_keeps_its_digits() {
        assert_eq!(
            Cell::Number(19246777401.0).as_text().as_deref(),
            Some("19246777401")
        );
    }

    #[test]
    fn whitespace_text_is_empty() {
        assert_eq!(Cell::text("  \t"), Cell::Empty);
    }
}
