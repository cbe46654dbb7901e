//! The xlsx export of the statistics: one sheet with a title row, zh-CN headers, one
//! row per group and a closing total row.

use domain::messages::{self, Locale};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::query::{Figures, GroupFigures, Grouping};

/// Headers of the figure columns, as message codes, in the order of [`figure_values`].
pub const FIGURE_HEADERS: [&str; 8] = [
    "statistics.column.operators",
    "statistics.column.enrollments",
    "statistics.column.credits",
    "statistics.column.cards",
    "statistics.column.findings",
    "statistics.column.findings_confirmed",
    "statistics.column.findings_cleared",
    "statistics.column.findings_open",
];

/// Returns the figures in the order of [`FIGURE_HEADERS`].
pub fn figure_values(figures: &Figures) -> [i64; 8] {
    [
        figures.operators,
        figures.enrollments,
        figures.credits,
        figures.cards,
        figures.findings,
        figures.findings_confirmed,
        figures.findings_cleared,
        figures.findings_open,
    ]
}

/// Builds the workbook of `rows` (already labelled by the caller) and returns its bytes.
/// Row 1 is the title, row 2 the headers, then one row per group and the total.
pub fn workbook(title: &str, grouping: Grouping, rows: &[(String, &GroupFigures)], total: &Figures) -> Result<Vec<u8>, XlsxError> {
    let zh = |code: &str| messages::text(Locale::ZhCn, code, &[]);
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(zh("statistics.sheet_name"))?;
    let bold = Format::new().set_bold();

    sheet.write_string_with_format(0, 0, title, &bold)?;
    sheet.write_string_with_format(1, 0, zh(&format!("statistics.by.{}", grouping.as_str())), &bold)?;
    for (column, code) in FIGURE_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(1, column as u16 + 1, zh(code), &bold)?;
    }
    sheet.set_column_width(0, 28)?;

    for (index, (label, group)) in rows.iter().enumerate() {
        let row = index as u32 + 2;
        sheet.write_string(row, 0, label)?;
        for (column, value) in figure_values(&group.figures).iter().enumerate() {
            sheet.write_number(row, column as u16 + 1, *value as f64)?;
        }
    }
    let total_row = rows.len() as u32 + 2;
    sheet.write_string_with_format(total_row, 0, zh("statistics.total"), &bold)?;
    for (column, value) in figure_values(total).iter().enumerate() {
        sheet.write_number_with_format(total_row, column as u16 + 1, *value as f64, &bold)?;
    }
    workbook.save_to_buffer()
}
