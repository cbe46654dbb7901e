//! Header row detection and the mapping of Chinese and English column names.

use std::collections::HashMap;

use super::RosterError;
use super::cell::Row;
use crate::identity::text::nfkc_trimmed;
use crate::messages::{self, Locale};

/// A roster column that the import reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Name,
    IdNumber,
    Mobile,
    ItemCode,
    ItemName,
    Gender,
    Email,
    UnitUscc,
    CertificateIssuedOn,
    /// `2019` or `2011`: the catalogue of the item code. Empty means 2019.
    CatalogueVersion,
}

impl Column {
    const ALL: [Column; 10] = [
        Column::Name,
        Column::IdNumber,
        Column::Mobile,
        Column::ItemCode,
        Column::ItemName,
        Column::Gender,
        Column::Email,
        Column::UnitUscc,
        Column::CertificateIssuedOn,
        Column::CatalogueVersion,
    ];

    /// Returns the column key, which is also its English header and the `field` of a
    /// rejected row.
    pub fn key(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::IdNumber => "id_number",
            Column::Mobile => "mobile",
            Column::ItemCode => "item_code",
            Column::ItemName => "item_name",
            Column::Gender => "gender",
            Column::Email => "email",
            Column::UnitUscc => "unit_uscc",
            Column::CertificateIssuedOn => "certificate_issued_on",
            Column::CatalogueVersion => "catalogue_version",
        }
    }

    /// Returns the column label shown to users in `locale`, for messages.
    pub fn label(self, locale: Locale) -> String {
        messages::text(locale, &format!("roster.column.{}", self.key()), &[])
    }

    /// Header texts accepted for this column, after [`header_key`] normalization.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Name => &["姓名", "name"],
            Column::IdNumber => &[
                "身份证号码",
                "身份证号",
                "公民身份号码",
                "证件号码",
                "id_number",
            ],
            Column::Mobile => &["手机号码", "手机号", "手机", "mobile"],
            Column::ItemCode => &[
                "作业项目代号",
                "项目代号",
                "作业项目代码",
                "项目代码",
                "item_code",
            ],
            Column::ItemName => &["作业项目", "作业项目名称", "项目名称", "item_name"],
            Column::Gender => &["性别", "gender"],
            Column::Email => &["邮箱", "电子邮箱", "电子邮件", "email", "e_mail"],
            Column::UnitUscc => &["单位统一社会信用代码", "统一社会信用代码", "unit_uscc"],
            Column::CertificateIssuedOn => &["发证日期", "certificate_issued_on"],
            Column::CatalogueVersion => &["目录版本", "catalogue_version"],
        }
    }

    fn from_header(text: &str) -> Option<Column> {
        let key = header_key(text);
        Column::ALL
            .into_iter()
            .find(|column| column.aliases().contains(&key.as_str()))
    }
}

/// The positions of the known columns in a roster.
#[derive(Clone, Debug, Default)]
pub(crate) struct ColumnMap(HashMap<Column, usize>);

impl ColumnMap {
    pub(crate) fn get(&self, column: Column) -> Option<usize> {
        self.0.get(&column).copied()
    }
}

/// The header row of a roster and what it maps.
pub(crate) struct Layout {
    pub header_row: usize,
    pub columns: ColumnMap,
    /// Header texts that match no column.
    pub ignored: Vec<String>,
}

/// Finds the first row that has both a name and an ID-number column and maps it.
///
/// Returns `None` when no row qualifies. Returns an error when the header row lacks
/// the mobile or item column, or names a column twice.
pub(crate) fn find_layout(rows: &[Row]) -> Option<Result<Layout, RosterError>> {
    rows.iter().find_map(|row| {
        let headers: Vec<Option<String>> = row.cells.iter().map(|cell| cell.as_text()).collect();
        let mapped: Vec<Option<Column>> = headers
            .iter()
            .map(|text| text.as_deref().and_then(Column::from_header))
            .collect();

        let has = |column: Column| mapped.contains(&Some(column));
        if has(Column::Name) && has(Column::IdNumber) {
            Some(build_layout(row.line, &headers, &mapped))
        } else {
            None
        }
    })
}

fn build_layout(
    header_row: usize,
    headers: &[Option<String>],
    mapped: &[Option<Column>],
) -> Result<Layout, RosterError> {
    let mut columns = HashMap::new();
    let mut ignored = Vec::new();

    for (index, (text, column)) in headers.iter().zip(mapped).enumerate() {
        match (text, column) {
            (Some(text), Some(column)) => {
                if columns.insert(*column, index).is_some() {
                    return Err(RosterError::DuplicateColumn {
                        header: text.trim().to_string(),
                    });
                }
            }
            (Some(text), None) => ignored.push(text.trim().to_string()),
            (None, _) => {}
        }
    }

    if !columns.contains_key(&Column::Mobile) {
        return Err(RosterError::ColumnMissing {
            column: Column::Mobile,
        });
    }
    if !columns.contains_key(&Column::ItemCode) && !columns.contains_key(&Column::ItemName) {
        return Err(RosterError::ColumnMissing {
            column: Column::ItemCode,
        });
    }
    Ok(Layout {
        header_row,
        columns: ColumnMap(columns),
        ignored,
    })
}

/// Normalizes a header text for matching: NFKC, no whitespace or `*`, no trailing
/// note in brackets such as `（必填）`, lowercase, and `_` for `-`.
fn header_key(text: &str) -> String {
    let mut key: String = nfkc_trimmed(text)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .collect();
    if key.ends_with(')')
        && let Some(open) = key.rfind('(')
        && open > 0
    {
        key.truncate(open);
    }
    key.to_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_key_drops_marks_and_notes() {
        assert_eq!(header_key(" 身份证号码（必填）*"), "身份证号码");
        assert_eq!(header_key("E-mail"), "e_mail");
        assert_eq!(header_key("ID_Number"), "id_number");
    }

    #[test]
    fn every_column_has_labels() {
        for column in Column::ALL {
            for locale in [Locale::ZhCn, Locale::En] {
                let label = column.label(locale);
                assert!(
                    !label.starts_with("roster.column."),
                    "{column:?} has no {locale:?} label"
                );
            }
        }
    }

    #[test]
    fn from_header_maps_aliases() {
        assert_eq!(Column::from_header("身份证号"), Some(Column::IdNumber));
        assert_eq!(Column::from_header("项目代号"), Some(Column::ItemCode));
        assert_eq!(Column::from_header("作业项目"), Some(Column::ItemName));
        assert_eq!(Column::from_header("序号"), None);
    }
}
