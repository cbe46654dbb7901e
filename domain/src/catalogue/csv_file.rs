//! Reading of the catalogue CSV file into items, with the line of each row.

use super::{CatalogueError, Item};

const REQUIRED_COLUMNS: [&str; 7] = [
    "category_no",
    "category_name",
    "item_code",
    "item_name",
    "trial",
    "legacy_2011_codes",
    "note",
];

/// Reads every row of the catalogue file as an item with its 1-based line number.
pub(super) fn read_items(text: &str) -> Result<Vec<(Item, u64)>, CatalogueError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| csv_error(text, &error))?
        .clone();
    let columns = ColumnIndexes::find(&headers)?;

    let mut items = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| csv_error(text, &error))?;
        let line = record
            .position()
            .map_or(0, |position| line_at(text, position.byte()));
        items.push((columns.read_item(&record, line)?, line));
    }
    Ok(items)
}

fn csv_error(text: &str, error: &csv::Error) -> CatalogueError {
    let line = error
        .position()
        .map_or(0, |position| line_at(text, position.byte()));
    CatalogueError::Csv {
        line,
        detail: error.to_string(),
    }
}

/// Positions of the catalogue columns in the header.
struct ColumnIndexes {
    required: [usize; 7],
    aliases: Option<usize>,
}

impl ColumnIndexes {
    fn find(headers: &csv::StringRecord) -> Result<ColumnIndexes, CatalogueError> {
        let position = |name: &str| {
            headers
                .iter()
                .position(|header| header.trim_start_matches('\u{FEFF}') == name)
        };

        let mut required = [0; 7];
        for (slot, name) in required.iter_mut().zip(REQUIRED_COLUMNS) {
            *slot = position(name).ok_or(CatalogueError::MissingColumn { column: name })?;
        }
        Ok(ColumnIndexes {
            required,
            aliases: position("aliases"),
        })
    }

    fn read_item(&self, record: &csv::StringRecord, line: u64) -> Result<Item, CatalogueError> {
        let field = |column: usize| record.get(self.required[column]).unwrap_or("").to_string();
        let invalid = |column: usize, value: String| CatalogueError::InvalidValue {
            line,
            column: REQUIRED_COLUMNS[column],
            value,
        };

        let category_no = field(0).parse::<u32>().map_err(|_| invalid(0, field(0)))?;
        let trial = match field(4).to_ascii_lowercase().as_str() {
            "yes" => true,
            "no" => false,
            _ => return Err(invalid(4, field(4))),
        };
        let name = field(3);
        if name.is_empty() {
            return Err(invalid(3, name));
        }
        let code = Some(field(2)).filter(|code| !code.is_empty());
        let aliases = self
            .aliases
            .and_then(|column| record.get(column))
            .map(split_list)
            .unwrap_or_default();

        Ok(Item {
            category_no,
            category_name: field(1),
            code,
            name,
            trial,
            legacy_2011_codes: split_list(&field(5)),
            aliases,
            note: field(6),
        })
    }
}

/// Returns the 1-based line of the record that starts at byte offset `byte`.
///
/// The csv crate (1.4) reports a record of a CRLF file as starting before the `\n`
/// of the previous line, so line breaks at the offset are skipped before counting.
fn line_at(text: &str, byte: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut start = (byte as usize).min(bytes.len());
    while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
        start += 1;
    }
    bytes[..start].iter().filter(|b| **b == b'\n').count() as u64 + 1
}

fn split_list(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect()
}
