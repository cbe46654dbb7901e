//! The xlsx export of an operator archive: one sheet, one row per entry, zh-CN headers,
//! Beijing times, and a closing row that states whether the hash chain verified.

use domain::archive::{Archive, Entry};
use domain::messages::{self, Locale};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::archive_text::{ArchiveNames, body_text};
use crate::archives::entry_time;

/// Column headers, as message codes.
pub(crate) const HEADERS: [&str; 11] = [
    "archive.column.seq",
    "archive.column.kind",
    "archive.column.recorded_at",
    "archive.column.unit",
    "archive.column.body",
    "archive.column.recorded_by",
    "archive.column.approved_by",
    "archive.column.supersedes",
    "archive.column.reason",
    "archive.column.prev_hash",
    "archive.column.hash",
];

/// Builds the workbook and returns its bytes.
pub fn workbook(archive: Archive, names: &ArchiveNames, entries: &[Entry], chain_intact: bool) -> Result<Vec<u8>, XlsxError> {
    let zh = |code: &str| messages::text(Locale::ZhCn, code, &[]);
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(&zh(&format!("archive.name.{}", archive.as_str())))?;
    let bold = Format::new().set_bold();

    sheet.write_string(0, 0, messages::text(Locale::ZhCn, "archive.export_title", &[("operator", &names.operator)]))?;
    for (column, code) in HEADERS.iter().enumerate() {
        sheet.write_string_with_format(1, column as u16, zh(code), &bold)?;
    }
    for (index, entry) in entries.iter().enumerate() {
        let row = index as u32 + 2;
        let kind_code = format!("archive.kind.{}", entry.kind);
        let kind = if messages::Catalogue::global().contains(&kind_code) { zh(&kind_code) } else { entry.kind.clone() };
        sheet.write_number(row, 0, entry.seq as f64)?;
        sheet.write_string(row, 1, kind)?;
        sheet.write_string(row, 2, entry_time(entry))?;
        sheet.write_string(row, 3, names.unit(entry.unit_id.as_deref()))?;
        sheet.write_string(row, 4, body_text(&entry.body))?;
        sheet.write_string(row, 5, names.account(Some(&entry.recorded_by)))?;
        sheet.write_string(row, 6, names.account(entry.approved_by.as_deref()))?;
        if let Some(seq) = entry.supersedes {
            sheet.write_number(row, 7, seq as f64)?;
        }
        sheet.write_string(row, 8, entry.reason.as_deref().unwrap_or(""))?;
        sheet.write_string(row, 9, &entry.prev_hash)?;
        sheet.write_string(row, 10, &entry.hash)?;
    }
    let status = if chain_intact { "archive.chain_intact" } else { "archive.chain_broken" };
    sheet.write_string(entries.len() as u32 + 3, 0, zh(status))?;
    workbook.save_to_buffer()
}
