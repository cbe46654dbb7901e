//! Decoding and reading of CSV rosters.
//!
//! A file that is valid UTF-8 is read as UTF-8. Anything else is decoded as GBK, the
//! encoding that spreadsheet programs on a Chinese-locale desktop use for "CSV", and
//! the report states the encoding used. UTF-16 files ("Unicode text") are rejected with a hint.

use super::cell::{Cell, Row};
use super::{RosterError, TextEncoding};

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// The text of a CSV file and the encoding it was decoded with.
pub(crate) struct DecodedText {
    pub text: String,
    pub encoding: TextEncoding,
}

pub(crate) fn decode(bytes: &[u8]) -> Result<DecodedText, RosterError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(RosterError::Utf16);
    }

    let without_bom = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(without_bom) {
        return Ok(DecodedText {
            text: text.to_string(),
            encoding: TextEncoding::Utf8,
        });
    }

    // encoding_rs decodes GBK with its GB18030 decoder, a superset of GBK. Byte
    // sequences invalid in GB18030 reject the file instead of becoming U+FFFD.
    match encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(text) => Ok(DecodedText {
            text: text.into_owned(),
            encoding: TextEncoding::Gbk,
        }),
        None => Err(RosterError::Undecodable),
    }
}

/// Reads all records as rows of text cells. Rows may have different lengths, and a
/// quoted cell may span lines, so each row carries the line where its record starts.
pub(crate) fn read_rows(text: &str) -> Result<Vec<Row>, RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut lines = LineCounter::new(text);

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| RosterError::CsvMalformed {
            line: error
                .position()
                .map_or(0, |position| lines.line_at(position.byte() as usize)),
            detail: error.to_string(),
        })?;
        let line = record
            .position()
            .map_or(0, |position| lines.line_at(position.byte() as usize));
        let cells = record
            .iter()
            .map(|field| Cell::text(unwrap_text_formula(field)))
            .collect();
        rows.push(Row { line, cells });
    }
    Ok(rows)
}

/// Converts byte offsets of record starts into 1-based line numbers.
///
/// The csv crate (1.4) ends a CRLF record at the `\r` and reports the next record's
/// position before the `\n`, so its own line numbers lag by one on CRLF files. Line
/// breaks at the reported offset are therefore skipped before counting.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// Returns the line of the first character at or after `byte` that is not a line
    /// break. Offsets must not decrease between calls.
    fn line_at(&mut self, byte: usize) -> usize {
        let mut start = byte.min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.offset {
            self.line += self.text[self.offset..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.offset = start;
        }
        self.line
    }
}

/// Removes the `="…"` wrapper that some exports put around digit strings so that a
/// spreadsheet keeps them as text, as in `="430102197803035021"`.
fn unwrap_text_formula(field: &str) -> &str {
    field
        .trim()
        .strip_prefix("=\"")
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_strips_utf8_bom() {
        let decoded = decode(b"\xEF\xBB\xBFname\n").unwrap();
        assert_eq!(decoded.text, "name\n");
        assert_eq!(decoded.encoding, TextEncoding::Utf8);
    }

    #[test]
    fn decode_falls_back_to_gbk() {
        // 姓名 in GBK.
        let decoded = decode(&[0xD0, 0xD5, 0xC3, 0xFB]).unwrap();
        assert_eq!(decoded.text, "姓名");
        assert_eq!(decoded.encoding, TextEncoding::Gbk);
    }

    #[test]
    fn decode_rejects_utf16() {
        assert_eq!(
            decode(&[0xFF, 0xFE, 0x5D, 0x59]).err(),
            Some(RosterError::Utf16)
        );
    }

    #[test]
    fn read_rows_numbers_crlf_lines() {
        let rows = read_rows("a,b\r\n\"x\ny\",z\r\n\r\nc,d\r\n").unwrap();
        let lines: Vec<usize> = rows.iter().map(|row| row.line).collect();
        assert_eq!(lines, vec![1, 2, 5]);
    }

    #[test]
    fn read_rows_numbers_lf_lines() {
        let rows = read_rows("a\n\nb\nc").unwrap();
        let lines: Vec<usize> = rows.iter().map(|row| row.line).collect();
        assert_eq!(lines, vec![1, 3, 4]);
    }

    #[test]
    fn text_formula_wrapper_is_removed() {
        assert_eq!(
            unwrap_text_formula("=\"430102197803035021\""),
            "430102197803035021"
        );
        assert_eq!(unwrap_text_formula("陈超"), "陈超");
    }
}
