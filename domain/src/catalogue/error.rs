//! Errors of catalogue parsing and item resolution, with catalogue messages.

use std::fmt;

use super::CatalogueVersion;
use crate::messages::{self, Locale};

/// A catalogue file that cannot be loaded, or an item that cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogueError {
    /// The catalogue file lacks a required column.
    MissingColumn { column: &'static str },
    /// A cell of the catalogue file has an invalid value.
    InvalidValue {
        line: u64,
        column: &'static str,
        value: String,
    },
    /// A code, legacy code or name appears on two rows of the catalogue file.
    Duplicate {
        line: u64,
        column: &'static str,
        value: String,
    },
    /// The catalogue file is not valid CSV, for example a row with an unquoted comma.
    Csv { line: u64, detail: String },

    /// No item code or name was given.
    Empty,
    /// Neither a code of the given version nor an item name or alias.
    UnknownItem {
        input: String,
        version: CatalogueVersion,
    },
    /// A 2011 code that has no item in the 2019 catalogue.
    LegacyUnmapped { code: String },
    /// The name of an item that has no catalogue code (the welding items).
    ItemWithoutCode { name: String },
}

impl CatalogueError {
    /// Returns the stable message code, which is also the key in
    /// `definitions/messages/roster.yaml`.
    pub fn code(&self) -> &'static str {
        match self {
            CatalogueError::MissingColumn { .. } => "catalogue.missing_column",
            CatalogueError::InvalidValue { .. } => "catalogue.invalid_value",
            CatalogueError::Duplicate { .. } => "catalogue.duplicate",
            CatalogueError::Csv { .. } => "catalogue.csv",
            CatalogueError::Empty => "catalogue.item_empty",
            CatalogueError::UnknownItem { .. } => "catalogue.unknown_item",
            CatalogueError::LegacyUnmapped { .. } => "catalogue.legacy_unmapped",
            CatalogueError::ItemWithoutCode { .. } => "catalogue.item_without_code",
        }
    }

    /// Renders the user-facing message in `locale` through the message catalogue.
    pub fn message(&self, locale: Locale) -> String {
        let args: Vec<(&str, String)> = match self {
            CatalogueError::MissingColumn { column } => vec![("column", column.to_string())],
            CatalogueError::InvalidValue {
                line,
                column,
                value,
            }
            | CatalogueError::Duplicate {
                line,
                column,
                value,
            } => vec![
                ("line", line.to_string()),
                ("column", column.to_string()),
                ("value", value.clone()),
            ],
            CatalogueError::Csv { line, detail } => {
                vec![("line", line.to_string()), ("detail", detail.clone())]
            }
            CatalogueError::Empty => vec![],
            CatalogueError::UnknownItem { input, version } => {
                vec![
                    ("value", input.clone()),
                    ("version", version.as_str().to_string()),
                ]
            }
            CatalogueError::LegacyUnmapped { code } => vec![("value", code.clone())],
            CatalogueError::ItemWithoutCode { name } => vec![("value", name.clone())],
        };
        let borrowed: Vec<(&str, &str)> = args
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        messages::text(locale, self.code(), &borrowed)
    }
}

/// Displays the zh-CN message.
impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Locale::ZhCn))
    }
}

impl std::error::Error for CatalogueError {}
