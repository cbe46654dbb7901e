//! Reading of xlsx rosters with calamine, from the uploaded bytes.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use chrono::NaiveDate;

use super::RosterError;
use super::cell::{Cell, Row};

/// Reads every worksheet, in workbook order, as (sheet name, rows). Row numbers are
/// the spreadsheet's own, so a roster whose data starts below a title row keeps
/// the numbers that the spreadsheet program shows.
pub(crate) fn read_sheets(bytes: &[u8]) -> Result<Vec<(Option<String>, Vec<Row>)>, RosterError> {
    let unreadable = |error: calamine::XlsxError| RosterError::XlsxUnreadable {
        detail: error.to_string(),
    };
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(unreadable)?;

    let mut sheets = Vec::new();
    for name in workbook.sheet_names() {
        let range = workbook.worksheet_range(&name).map_err(unreadable)?;
        let (first_row, _) = range.start().unwrap_or((0, 0));

        let rows = range
            .rows()
            .enumerate()
            .map(|(offset, cells)| Row {
                line: first_row as usize + offset + 1,
                cells: cells.iter().map(convert).collect(),
            })
            .collect();
        sheets.push((Some(name), rows));
    }
    Ok(sheets)
}

fn convert(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(text) => Cell::text(text),
        Data::Float(number) => Cell::Number(*number),
        Data::Int(number) => Cell::Number(*number as f64),
        Data::Bool(value) => Cell::Text(value.to_string().to_uppercase()),
        Data::DateTime(datetime) if datetime.is_datetime() => {
            let (year, month, day, ..) = datetime.to_ymd_hms_milli();
            NaiveDate::from_ymd_opt(year.into(), month.into(), day.into())
                .map_or_else(|| Cell::Number(datetime.as_f64()), Cell::Date)
        }
        Data::DateTime(datetime) => Cell::Number(datetime.as_f64()),
        Data::DateTimeIso(text) => text
            .get(..10)
            .and_then(|date| date.parse::<NaiveDate>().ok())
            .map_or_else(|| Cell::text(text), Cell::Date),
        Data::DurationIso(text) => Cell::text(text),
        Data::Error(error) => Cell::Text(error.to_string()),
    }
}
