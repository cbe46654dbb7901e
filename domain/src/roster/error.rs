//! File-level errors of roster import. Problems of single rows are not errors but
//! rejected rows in the report.

use std::fmt;

use super::header::Column;
use crate::messages::{self, Locale};

/// A roster file that cannot be imported at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RosterError {
    /// The file is empty or contains only blank rows.
    EmptyFile,
    /// The extension is neither .csv, .txt nor .xlsx.
    UnknownFormat { file_name: String },
    /// An Excel 97-2003 workbook (.xls).
    LegacyXls,
    /// A file that claims to be xlsx but cannot be opened as one.
    XlsxUnreadable { detail: String },
    /// A CSV file in UTF-16, which spreadsheet programs write as "Unicode text".
    Utf16,
    /// A CSV file that is neither valid UTF-8 nor valid GBK.
    Undecodable,
    /// A CSV file that the CSV reader cannot parse.
    CsvMalformed { line: usize, detail: String },
    /// No row contains both a name column and an ID-number column.
    NoHeaderRow,
    /// The header row lacks a required column. `ItemCode` stands for "item code or
    /// item name".
    ColumnMissing { column: Column },
    /// Two header cells map to the same column.
    DuplicateColumn { header: String },
}

impl RosterError {
    /// Returns the stable message code, which is also the key in
    /// `definitions/messages/roster.yaml`.
    pub fn code(&self) -> &'static str {
        match self {
            RosterError::EmptyFile => "roster.empty_file",
            RosterError::UnknownFormat { .. } => "roster.unknown_format",
            RosterError::LegacyXls => "roster.legacy_xls",
            RosterError::XlsxUnreadable { .. } => "roster.xlsx_unreadable",
            RosterError::Utf16 => "roster.utf16",
            RosterError::Undecodable => "roster.undecodable",
            RosterError::CsvMalformed { .. } => "roster.csv_malformed",
            RosterError::NoHeaderRow => "roster.no_header_row",
            RosterError::ColumnMissing { .. } => "roster.column_missing",
            RosterError::DuplicateColumn { .. } => "roster.duplicate_column",
        }
    }

    /// Renders the user-facing message in `locale` through the message catalogue.
    pub fn message(&self, locale: Locale) -> String {
        let args: Vec<(&str, String)> = match self {
            RosterError::UnknownFormat { file_name } => vec![("file", file_name.clone())],
            RosterError::XlsxUnreadable { detail } => vec![("detail", detail.clone())],
            RosterError::CsvMalformed { line, detail } => {
                vec![("line", line.to_string()), ("detail", detail.clone())]
            }
            RosterError::ColumnMissing { column } => {
                let label = match column {
                    Column::ItemCode | Column::ItemName => {
                        messages::text(locale, "roster.column.item", &[])
                    }
                    other => other.label(locale),
                };
                vec![("column", label)]
            }
            RosterError::DuplicateColumn { header } => vec![("column", header.clone())],
            RosterError::EmptyFile
            | RosterError::LegacyXls
            | RosterError::Utf16
            | RosterError::Undecodable
            | RosterError::NoHeaderRow => vec![],
        };
        let borrowed: Vec<(&str, &str)> = args
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        messages::text(locale, self.code(), &borrowed)
    }
}

/// Displays the zh-CN message.
impl fmt::Display for RosterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Locale::ZhCn))
    }
}

impl std::error::Error for RosterError {}
