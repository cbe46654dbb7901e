//! `GET /api/units/{unit_id}/staff/export`: the staff list under the same filter as an
//! xlsx workbook with Chinese headers, one row per enrollment (an operator without one
//! gets a single row), with mobiles and ID numbers masked as in the list.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use domain::messages::{self, Locale};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::authorized_unit;
use super::list::{StaffFilter, StaffQuery, StaffRow, load_rows};
use crate::auth::allowed::UnitAdminsAndStaff;
use crate::auth::Allowed;
use crate::error::ApiError;
use crate::extract::Query;
use crate::{AppState, beijing_text};

/// The MIME type of an xlsx workbook.
pub const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Message codes of the column headers, in column order.
const HEADERS: [&str; 9] = [
    "unit_staff.column.name",
    "unit_staff.column.mobile",
    "unit_staff.column.id_number",
    "unit_staff.column.item",
    "unit_staff.column.state",
    "unit_staff.column.credits",
    "unit_staff.column.required",
    "unit_staff.column.last_activity",
    "unit_staff.column.deadline",
];

/// `GET /api/units/{unit_id}/staff/export?year=&state=&item=` (the unit's admin, or
/// association staff): every operator matching the filter, as `staff-{year}.xlsx`.
#[utoipa::path(
    get,
    path = "/api/units/{unit_id}/staff/export",
    tag = "unit",
    params(
        ("unit_id" = String, Path, description = "单位编号 / unit id"),
        ("year" = Option<i32>, Query, description = "年度，默认北京时间当年 / year, the current Beijing year by default"),
        ("state" = Option<String>, Query, description = "状态编号或 not_enrolled / state id or not_enrolled"),
        ("item" = Option<String>, Query, description = "作业项目代号 / operation item code"),
    ),
    responses(
        (status = 200, description = "The filtered list as an xlsx workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 400, description = "Invalid year, state or item", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is neither the unit's admin nor association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No unit has this id", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn export(State(state): State<AppState>, caller: Allowed<UnitAdminsAndStaff>, Path(unit_id): Path<String>, Query(query): Query<StaffQuery>) -> Result<Response, ApiError> {
    let unit = authorized_unit(&state, &caller, &unit_id).await?;
    let filter = StaffFilter::from_query(&state, &query)?;
    let rows = load_rows(&state, &unit_id, &filter, None).await?;

    let title = messages::text(Locale::ZhCn, "unit_staff.export_title", &[("unit", &unit.name), ("year", &filter.year.to_string())]);
    let bytes = workbook(&title, &rows).map_err(ApiError::internal)?;
    tracing::info!(unit = %unit_id, year = filter.year, operators = rows.len(), bytes = bytes.len(), "staff list exported");

    let disposition = format!("attachment; filename=\"staff-{}.xlsx\"", filter.year);
    Ok(([(CONTENT_TYPE, XLSX_CONTENT_TYPE.to_string()), (CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

/// Writes the title on row 1, the headers on row 2 and one row per enrollment below.
/// Headers and state labels are zh-CN whatever the request's locale, since the file is
/// filed and shared in the unit.
fn workbook(title: &str, rows: &[StaffRow]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let bold = Format::new().set_bold();
    sheet.write_string_with_format(0, 0, title, &bold)?;
    for (column, code) in HEADERS.iter().enumerate() {
        sheet.write_string_with_format(1, column as u16, messages::text(Locale::ZhCn, code, &[]), &bold)?;
    }

    let mut line = 2u32;
    for row in rows {
        let last_activity = row.last_activity_at.map(beijing_text).unwrap_or_default();
        let write_person = |sheet: &mut rust_xlsxwriter::Worksheet, line: u32| -> Result<(), XlsxError> {
            sheet.write_string(line, 0, &row.name)?;
            sheet.write_string(line, 1, &row.mobile_masked)?;
            sheet.write_string(line, 2, &row.id_number_masked)?;
            sheet.write_string(line, 7, &last_activity)?;
            Ok(())
        };
        if row.enrollments.is_empty() {
            write_person(sheet, line)?;
            sheet.write_string(line, 4, messages::text(Locale::ZhCn, "unit_staff.not_enrolled", &[]))?;
            line += 1;
            continue;
        }
        for enrollment in &row.enrollments {
            write_person(sheet, line)?;
            sheet.write_string(line, 3, format!("{} {}", enrollment.item_code, enrollment.item_name))?;
            sheet.write_string(line, 4, &enrollment.state_label)?;
            sheet.write_number(line, 5, enrollment.credits as f64)?;
            sheet.write_number(line, 6, enrollment.required_credits as f64)?;
            let deadline = enrollment.deadline.map(|(at, code)| messages::text(Locale::ZhCn, code, &[("time", &beijing_text(at))]));
            sheet.write_string(line, 8, deadline.unwrap_or_default())?;
            line += 1;
        }
    }
    sheet.set_column_width(0, 12)?;
    sheet.set_column_width(2, 22)?;
    sheet.set_column_width(3, 20)?;
    sheet.set_column_width(7, 20)?;
    sheet.set_column_width(8, 20)?;
    workbook.save_to_buffer()
}
