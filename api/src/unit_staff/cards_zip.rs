//! `GET /api/units/{unit_id}/staff/cards?year=`: every valid credit card (学分卡) of
//! the year held by the unit's current operators, as one zip of the card PDFs that
//! holders download themselves. Revoked cards are left out and listed in
//! `revoked.txt` inside the archive, with the reason of each revocation.

use std::io::{Cursor, Write};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use domain::messages::{self, Locale};
use serde::Deserialize;
use sqlx::Row;
use workflows::clock::{beijing_date, from_millis};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::authorized_unit;
use crate::auth::allowed::UnitAdminsAndStaff;
use crate::auth::Allowed;
use crate::card_pdf::{CARD_COLUMNS, public_base, render_card};
use crate::error::ApiError;
use crate::extract::Query;
use crate::AppState;

/// Name of the list of revoked cards inside the archive.
pub const REVOKED_LIST: &str = "revoked.txt";

#[derive(Deserialize)]
pub(crate) struct CardsQuery {
    year: Option<i32>,
}

/// `GET /api/units/{unit_id}/staff/cards?year=` (the unit's admin, or association
/// staff): `cards-{year}.zip` with `{card_no}-{name}.pdf` per valid card and
/// [`REVOKED_LIST`], which is written even when it lists none. The year is the
/// current Beijing year by default.
// NOTE: cards are rendered one after another into memory, tens of milliseconds each,
// so a unit with thousands of cards waits minutes for one large response.
#[utoipa::path(
    get,
    path = "/api/units/{unit_id}/staff/cards",
    tag = "unit",
    params(
        ("unit_id" = String, Path, description = "单位编号 / unit id"),
        ("year" = Option<i32>, Query, description = "年度，默认北京时间当年 / year, the current Beijing year by default"),
    ),
    responses(
        (status = 200, description = "Zip of the valid card PDFs with revoked.txt", content_type = "application/zip", body = Vec<u8>),
        (status = 403, description = "Caller is neither the unit's admin nor association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No unit has this id", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn download(State(state): State<AppState>, headers: HeaderMap, caller: Allowed<UnitAdminsAndStaff>, Path(unit_id): Path<String>, Query(query): Query<CardsQuery>) -> Result<Response, ApiError> {
    authorized_unit(&state, &caller, &unit_id).await?;
    let year = query.year.unwrap_or(state.today().year());

    // Step 1: the year's cards of the unit's current operators.
    let cards = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CARD_COLUMNS}, c.revoke_reason FROM cards c JOIN operators o ON o.id = c.operator_id
         WHERE o.unit_id = $1 AND c.year = $2 ORDER BY c.card_no"
    )))
    .bind(&unit_id)
    .bind(i64::from(year))
    .fetch_all(&state.engine.db.pool)
    .await?;

    // Step 2: one PDF per valid card, and a line per revoked one.
    let base_url = public_base(&headers);
    let mut archive = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut revoked_lines = Vec::new();
    let mut valid = 0;
    for card in &cards {
        let card_no: String = card.try_get("card_no")?;
        let name = card.try_get::<Option<String>, _>("name")?.unwrap_or_default();
        if let Some(revoked_at) = card.try_get::<Option<i64>, _>("revoked_at")? {
            let reason = card.try_get::<Option<String>, _>("revoke_reason")?.unwrap_or_default();
            let date = beijing_date(from_millis(revoked_at)).to_string();
            let item: String = card.try_get("item_code")?;
            revoked_lines.push(messages::text(Locale::ZhCn, "unit_staff.revoked_line", &[("card_no", &card_no), ("name", &name), ("item", &item), ("date", &date), ("reason", &reason)]));
            continue;
        }
        let pdf = render_card(&state, &base_url, card).await?;
        archive.start_file(format!("{card_no}-{}.pdf", file_safe(&name)), options).map_err(ApiError::internal)?;
        archive.write_all(&pdf).map_err(ApiError::internal)?;
        valid += 1;
    }

    // Step 3: the list of revoked cards, in zh-CN with Windows line ends for Notepad.
    let mut listing = messages::text(Locale::ZhCn, "unit_staff.revoked_title", &[("year", &year.to_string()), ("count", &revoked_lines.len().to_string())]);
    for line in &revoked_lines {
        listing.push_str("\r\n");
        listing.push_str(line);
    }
    listing.push_str("\r\n");
    archive.start_file(REVOKED_LIST, options).map_err(ApiError::internal)?;
    archive.write_all(listing.as_bytes()).map_err(ApiError::internal)?;
    let bytes = archive.finish().map_err(ApiError::internal)?.into_inner();
    tracing::info!(unit = %unit_id, year, valid, revoked = revoked_lines.len(), bytes = bytes.len(), "unit card archive built");

    let disposition = format!("attachment; filename=\"cards-{year}.zip\"");
    Ok(([(CONTENT_TYPE, "application/zip".to_string()), (CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

/// Replaces characters that file systems reject in a file name.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control() { '_' } else { c }).collect()
}
