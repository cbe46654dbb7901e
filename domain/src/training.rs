//! Internal training (内部培训) by qualified units: which files a training event takes,
//! how their type is read from their first bytes, and the attendance list (签到表) as
//! an xlsx workbook.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

/// The purpose of an uploaded file of a training event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilePurpose {
    /// The attendance list, an xlsx workbook.
    Attendance,
    /// A recording of a lecture: MP4, WebM or Matroska video, MP3, M4A or WAV audio.
    Lecture,
    /// A teacher's credential: a PDF, JPEG or PNG scan.
    Credential,
}

/// Content type of xlsx workbooks.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl FilePurpose {
    pub fn parse(text: &str) -> Option<FilePurpose> {
        match text {
            "attendance" => Some(FilePurpose::Attendance),
            "lecture" => Some(FilePurpose::Lecture),
            "credential" => Some(FilePurpose::Credential),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FilePurpose::Attendance => "attendance",
            FilePurpose::Lecture => "lecture",
            FilePurpose::Credential => "credential",
        }
    }

    /// Largest file accepted, in bytes: 5 MiB for an attendance list, 10 MiB for a
    /// credential scan, 4 GiB for a lecture recording.
    pub fn max_bytes(self) -> u64 {
        match self {
            FilePurpose::Attendance => 5 * 1024 * 1024,
            FilePurpose::Credential => 10 * 1024 * 1024,
            FilePurpose::Lecture => 4 * 1024 * 1024 * 1024,
        }
    }

    /// Returns the content type of a file for this purpose from its first bytes, or
    /// `None` when the file is of a type this purpose does not take.
    pub fn sniff(self, bytes: &[u8]) -> Option<&'static str> {
        match self {
            // An xlsx workbook is a ZIP archive; whether it is a readable workbook is
            // checked when the upload completes.
            FilePurpose::Attendance => bytes.starts_with(b"PK\x03\x04").then_some(XLSX),
            FilePurpose::Credential => sniff_document(bytes),
            FilePurpose::Lecture => sniff_media(bytes),
        }
    }
}

/// Returns the content type of a PDF, JPEG or PNG file from its first bytes, or `None`.
pub fn sniff_document(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

/// Returns the content type of an audio or video file from its first bytes.
fn sniff_media(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        // ISO base media (MP4, MOV, M4A): the major brand distinguishes audio from video.
        return Some(if &bytes[8..12] == b"M4A " { "audio/mp4" } else { "video/mp4" });
    }
    if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some("video/webm");
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WAVE" {
        return Some("audio/wav");
    }
    if bytes.starts_with(b"ID3") || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) {
        return Some("audio/mpeg");
    }
    None
}

/// One data row of an attendance list, as written in the sheet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttendanceRow {
    /// Row number as the spreadsheet program shows it.
    pub line: usize,
    pub name: String,
    pub id_number: String,
}

/// The reason an attendance list could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttendanceError {
    #[error("the workbook cannot be read: {0}")]
    Unreadable(String),
    #[error("no header row with an ID number column and a name column")]
    NoHeader,
    #[error("the sheet has no attendee rows")]
    Empty,
}

/// Headers of the ID number column, after trimming.
const ID_HEADERS: [&str; 5] = ["身份证号", "身份证号码", "公民身份号码", "证件号码", "id_number"];
/// Headers of the name column, after trimming.
const NAME_HEADERS: [&str; 2] = ["姓名", "name"];
/// Rows searched for the header row, so that a title row above it is allowed.
const HEADER_SEARCH_ROWS: usize = 10;

/// Reads the first worksheet of an attendance list: a header row with an ID number
/// column (身份证号) and a name column (姓名) within the first ten rows, then one
/// attendee per row. Blank rows are skipped.
pub fn parse_attendance(bytes: &[u8]) -> Result<Vec<AttendanceRow>, AttendanceError> {
    let unreadable = |error: calamine::XlsxError| AttendanceError::Unreadable(error.to_string());
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let first = workbook.sheet_names().first().cloned().ok_or(AttendanceError::Empty)?;
    let range = workbook.worksheet_range(&first).map_err(unreadable)?;
    let (first_row, _) = range.start().unwrap_or((0, 0));
    let rows: Vec<Vec<String>> = range.rows().map(|cells| cells.iter().map(cell_text).collect()).collect();

    let header = rows.iter().take(HEADER_SEARCH_ROWS).enumerate().find_map(|(index, cells)| {
        let id_column = cells.iter().position(|cell| ID_HEADERS.contains(&cell.as_str()))?;
        let name_column = cells.iter().position(|cell| NAME_HEADERS.contains(&cell.as_str()))?;
        Some((index, id_column, name_column))
    });
    let (header_index, id_column, name_column) = header.ok_or(AttendanceError::NoHeader)?;

    let attendees: Vec<AttendanceRow> = rows
        .iter()
        .enumerate()
        .skip(header_index + 1)
        .filter(|(_, cells)| cells.iter().any(|cell| !cell.is_empty()))
        .map(|(index, cells)| AttendanceRow {
            line: first_row as usize + index + 1,
            name: cells.get(name_column).cloned().unwrap_or_default(),
            id_number: cells.get(id_column).cloned().unwrap_or_default(),
        })
        .collect();
    if attendees.is_empty() {
        return Err(AttendanceError::Empty);
    }
    Ok(attendees)
}

/// Returns a cell as trimmed text. A whole number is written without a fraction, so an
/// ID number typed as a number reads as its digits (and then fails its checksum when
/// the spreadsheet program rounded it).
fn cell_text(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::String(text) => text.trim().to_string(),
        Data::Float(number) if number.fract() == 0.0 => format!("{number:.0}"),
        Data::Float(number) => number.to_string(),
        Data::Int(number) => number.to_string(),
        other => other.to_string().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_xlsxwriter::Workbook;

    fn workbook(rows: &[&[&str]]) -> Vec<u8> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (row, cells) in rows.iter().enumerate() {
            for (column, cell) in cells.iter().enumerate() {
                sheet.write_string(row as u32, column as u16, *cell).unwrap();
            }
        }
        workbook.save_to_buffer().unwrap()
    }

    #[test]
    fn attendance_below_title_row() {
        let bytes = workbook(&[&["2026年第一期内部培训签到表"], &["序号", "姓名", "身份证号"], &["1", " 王小明 ", "430102198001011234"], &[], &["2", "李四", "43010219800101125X"]]);
        let rows = parse_attendance(&bytes).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], AttendanceRow { line: 3, name: "王小明".into(), id_number: "430102198001011234".into() });
        assert_eq!(rows[1].line, 5);
    }

    #[test]
    fn attendance_without_id_column() {
        let bytes = workbook(&[&["姓名", "手机号"], &["王小明", "13800000000"]]);
        assert_eq!(parse_attendance(&bytes), Err(AttendanceError::NoHeader));
        let header_only = workbook(&[&["姓名", "身份证号"]]);
        assert_eq!(parse_attendance(&header_only), Err(AttendanceError::Empty));
        assert!(matches!(parse_attendance(b"PK\x03\x04 not a workbook"), Err(AttendanceError::Unreadable(_))));
    }

    #[test]
    fn sniffing_by_purpose() {
        let mp4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00";
        assert_eq!(FilePurpose::Lecture.sniff(mp4), Some("video/mp4"));
        assert_eq!(FilePurpose::Lecture.sniff(b"\x00\x00\x00\x20ftypM4A \x00"), Some("audio/mp4"));
        assert_eq!(FilePurpose::Lecture.sniff(b"ID3\x04\x00"), Some("audio/mpeg"));
        assert_eq!(FilePurpose::Lecture.sniff(b"RIFF\x24\x08\x00\x00WAVEfmt "), Some("audio/wav"));
        assert_eq!(FilePurpose::Lecture.sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x01]), Some("video/webm"));
        assert_eq!(FilePurpose::Lecture.sniff(b"%PDF-1.7"), None);
        assert_eq!(FilePurpose::Credential.sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(FilePurpose::Credential.sniff(mp4), None);
        assert_eq!(FilePurpose::Attendance.sniff(b"PK\x03\x04rest"), Some(XLSX));
        assert_eq!(FilePurpose::Attendance.sniff(b"name,id\n"), None);
    }
}
