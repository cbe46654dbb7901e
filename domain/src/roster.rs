//! Import of a unit's operator roster (花名册) from CSV or xlsx.
//!
//! A unit admin uploads the file. Parsing finds the header row, maps Chinese and
//! English column names, and normalizes every row through [`crate::identity`] and the
//! [`Catalogue`]. The report lists every data row as accepted or rejected, with the
//! reason, and states the text encoding it used, so nothing is guessed silently.
//!
//! CSV may be UTF-8 (with or without BOM) or GBK, which spreadsheet programs on a
//! Chinese-locale desktop write. Workbooks may have a title row above the header.

mod cell;
mod csv_input;
mod error;
mod header;
mod row;
mod values;
mod xlsx_input;

use chrono::NaiveDate;
use serde::Serialize;

use crate::catalogue::{Catalogue, ItemRef};
use crate::identity::{Gender, IdNumber, Mobile, PersonName, Uscc};
use crate::messages::{self, Locale};

pub use error::RosterError;
pub use header::Column;

/// The file format of an uploaded roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RosterFormat {
    Csv,
    Xlsx,
}

/// The text encoding used to decode a CSV roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TextEncoding {
    #[serde(rename = "UTF-8")]
    Utf8,
    /// GBK as decoded by the GB18030 decoder, which accepts every GBK file.
    #[serde(rename = "GBK")]
    Gbk,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Gbk => "GBK",
        }
    }
}

/// The result of parsing one roster file.
#[derive(Clone, Debug, Serialize)]
pub struct RosterReport {
    pub format: RosterFormat,
    /// The encoding a CSV file was decoded with. `None` for xlsx, which stores Unicode
    /// text and needs no decision.
    pub encoding_used: Option<TextEncoding>,
    /// The worksheet read from an xlsx file: the first one with a header row.
    pub sheet: Option<String>,
    /// The 1-based row number of the header row in the file or sheet.
    pub header_row: usize,
    /// Header texts that match no known column, in file order. Their cells are not read.
    pub ignored_columns: Vec<String>,
    /// File-level notices for the uploader, such as the GBK decoding.
    pub notices: Vec<Notice>,
    /// One result per non-blank data row, in file order.
    pub rows: Vec<RowResult>,
}

impl RosterReport {
    pub fn accepted(&self) -> impl Iterator<Item = &RosterEntry> {
        self.rows.iter().filter_map(|row| match &row.outcome {
            RowOutcome::Accepted(entry) => Some(entry),
            RowOutcome::Rejected { .. } => None,
        })
    }

    pub fn rejected(&self) -> impl Iterator<Item = &RowResult> {
        self.rows
            .iter()
            .filter(|row| matches!(row.outcome, RowOutcome::Rejected { .. }))
    }
}

/// The outcome of one data row.
#[derive(Clone, Debug, Serialize)]
pub struct RowResult {
    /// The 1-based row number in the file (CSV line where the record starts, or
    /// spreadsheet row number).
    pub line: usize,
    pub outcome: RowOutcome,
    /// Problems that do not reject the row, such as a gender column that contradicts
    /// the ID number. Always empty for a rejected row.
    pub warnings: Vec<Notice>,
}

/// The imported entry of a row, or the reason the row was not imported.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum RowOutcome {
    Accepted(RosterEntry),
    /// The row is not imported. `field` is the column key (see [`Column::key`]), or
    /// `item` for the item code and name together, and `code` is the message code.
    Rejected {
        field: String,
        code: String,
        message_zh: String,
        message_en: String,
    },
}

/// A message for the uploader, rendered in both locales.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl Notice {
    pub(crate) fn new(code: &str, args: &[(&str, &str)]) -> Notice {
        Notice {
            code: code.to_string(),
            message_zh: messages::text(Locale::ZhCn, code, args),
            message_en: messages::text(Locale::En, code, args),
        }
    }
}

/// One operator of an accepted row, normalized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RosterEntry {
    pub name: PersonName,
    pub id_number: IdNumber,
    pub mobile: Mobile,
    pub email: Option<String>,
    /// The gender column as written, which may contradict the ID number (see the row's
    /// warnings). [`IdNumber::gender`] gives the gender encoded in the number.
    pub gender: Option<Gender>,
    pub unit_uscc: Option<Uscc>,
    /// The 2019 catalogue item. Rows that give a 2011 code are mapped on import.
    pub item: ItemRef,
    pub certificate_issued_on: Option<NaiveDate>,
}

/// Parses an uploaded roster.
///
/// The format comes from the file content (an xlsx file is a ZIP archive) and then
/// from the extension of `file_name`: `.xlsx`, `.csv` or `.txt`, or none for CSV.
/// `today` is the Beijing date of the upload and bounds birth and issue dates.
/// File-level problems return [`RosterError`]. Problems of single rows are reported
/// per row in [`RosterReport::rows`].
pub fn parse_roster(
    bytes: &[u8],
    file_name: &str,
    today: NaiveDate,
    catalogue: &Catalogue,
) -> Result<RosterReport, RosterError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RosterError::EmptyFile);
    }

    let (format, encoding_used, sheets) = match detect_format(bytes, file_name)? {
        RosterFormat::Xlsx => (RosterFormat::Xlsx, None, xlsx_input::read_sheets(bytes)?),
        RosterFormat::Csv => {
            let decoded = csv_input::decode(bytes)?;
            let rows = csv_input::read_rows(&decoded.text)?;
            (
                RosterFormat::Csv,
                Some(decoded.encoding),
                vec![(None, rows)],
            )
        }
    };

    if sheets
        .iter()
        .all(|(_, rows)| rows.iter().all(cell::Row::is_blank))
    {
        return Err(RosterError::EmptyFile);
    }

    // The first sheet with a header row is read. A header row without a required
    // column stops the import instead of trying the next sheet.
    let mut found = None;
    for (sheet, rows) in sheets {
        if let Some(layout) = header::find_layout(&rows) {
            found = Some((sheet, rows, layout?));
            break;
        }
    }
    let (sheet, rows, layout) = found.ok_or(RosterError::NoHeaderRow)?;

    let mut notices = Vec::new();
    if encoding_used == Some(TextEncoding::Gbk) {
        notices.push(Notice::new("roster.decoded_as_gbk", &[]));
    }
    if !layout.ignored.is_empty() {
        notices.push(Notice::new(
            "roster.columns_ignored",
            &[("columns", &layout.ignored.join("、"))],
        ));
    }

    let mut checker = row::RowChecker::new(&layout.columns, today, catalogue);
    let results = rows
        .iter()
        .filter(|row| row.line > layout.header_row)
        .filter_map(|row| checker.check(row))
        .collect();

    Ok(RosterReport {
        format,
        encoding_used,
        sheet,
        header_row: layout.header_row,
        ignored_columns: layout.ignored,
        notices,
        rows: results,
    })
}

/// Decides the format from the ZIP or OLE signature, then from the file extension.
fn detect_format(bytes: &[u8], file_name: &str) -> Result<RosterFormat, RosterError> {
    const ZIP_SIGNATURE: &[u8] = b"PK\x03\x04";
    const OLE_SIGNATURE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

    if bytes.starts_with(ZIP_SIGNATURE) {
        return Ok(RosterFormat::Xlsx);
    }
    if bytes.starts_with(OLE_SIGNATURE) {
        return Err(RosterError::LegacyXls);
    }

    let extension = std::path::Path::new(file_name)
        .extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        None | Some("csv") | Some("txt") => Ok(RosterFormat::Csv),
        Some("xlsx") => Err(RosterError::XlsxUnreadable {
            detail: "not a ZIP archive".to_string(),
        }),
        Some("xls") => Err(RosterError::LegacyXls),
        Some(_) => Err(RosterError::UnknownFormat {
            file_name: file_name.to_string(),
        }),
    }
}
