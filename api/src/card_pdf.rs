//! The credit card (学分卡) as a PDF for its holder, and the signature of the
//! verification link printed on it as a QR code.
//!
//! The link is `{public URL}/verify/{card_no}?s={signature}`, where the signature is an
//! HMAC-SHA256 of the card's number, year, item, credits and issue date under the
//! site's `card_signing` key (created on first use in `site_keys`). The check page
//! shows a card as valid only when the number exists, is not revoked and the signature
//! matches, so a card printed with an invented number or a copied number with another
//! signature fails. A revoked card is never served as a PDF.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HOST};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::Row;
use sqlx::any::AnyRow;
use workers::pdf::{Block, DocumentInfo, PdfFont};
use workflows::clock::{beijing_date, from_millis};
use workflows::db::is_unique_violation;

use crate::auth::Caller;
use crate::error::{ApiError, text};
use crate::{AppState, mask};

/// Hex characters of the signature printed in the link (128 bits).
const SIGNATURE_HEX_CHARS: usize = 32;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/cards/{card_no}/pdf", get(download))
}

/// The fields of a card that its signature covers.
pub struct SignedFields<'a> {
    pub card_no: &'a str,
    pub year: i64,
    pub item_code: &'a str,
    pub credits: i64,
    /// Beijing date of issue, `YYYY-MM-DD`.
    pub issued_on: &'a str,
}

/// Returns the signature of a card's fields under `key`, as printed in its link.
pub fn sign(key: &[u8], fields: &SignedFields) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{}|{}|{}|{}|{}", fields.card_no, fields.year, fields.item_code, fields.credits, fields.issued_on).as_bytes());
    hex::encode(mac.finalize().into_bytes())[..SIGNATURE_HEX_CHARS].to_string()
}

/// Returns the site's card signing key, creating it on first use. Two processes that
/// create it at once both read back the one stored first.
pub async fn signing_key(state: &AppState) -> Result<Vec<u8>, ApiError> {
    let select = || sqlx::query_scalar::<_, String>("SELECT secret FROM site_keys WHERE name = 'card_signing'");
    if let Some(secret) = select().fetch_optional(&state.engine.db.pool).await? {
        return hex::decode(secret).map_err(|_| ApiError::internal(anyhow::anyhow!("card signing key is not hex")));
    }
    let inserted = sqlx::query("INSERT INTO site_keys (name, secret, created_at) VALUES ('card_signing', $1, $2)")
        .bind(hex::encode(rand::random::<[u8; 32]>()))
        .bind(state.now_ms())
        .execute(&state.engine.db.pool)
        .await;
    match inserted {
        Ok(_) => tracing::info!("card signing key created"),
        Err(error) if is_unique_violation(&error) => {}
        Err(error) => return Err(error.into()),
    }
    let secret = select().fetch_one(&state.engine.db.pool).await?;
    hex::decode(secret).map_err(|_| ApiError::internal(anyhow::anyhow!("card signing key is not hex")))
}

/// Returns the site's public address: `CERTFLOW_PUBLIC_URL`, else the scheme and
/// `Host` of the request.
pub fn public_base(headers: &HeaderMap) -> String {
    static CONFIGURED: OnceLock<Option<String>> = OnceLock::new();
    let configured = CONFIGURED.get_or_init(|| std::env::var("CERTFLOW_PUBLIC_URL").ok().map(|url| url.trim().trim_end_matches('/').to_string()).filter(|url| !url.is_empty()));
    if let Some(url) = configured {
        return url.clone();
    }
    let host = headers.get(HOST).and_then(|value| value.to_str().ok()).unwrap_or("localhost");
    format!("{}://{host}", if crate::auth::is_https(headers) { "https" } else { "http" })
}

/// Returns the PDF font, loaded once per process; without one, the request fails with
/// 409 and the message `unavailable_code`.
pub(crate) fn pdf_font(unavailable_code: &'static str) -> Result<&'static PdfFont, ApiError> {
    static FONT: OnceLock<Result<PdfFont, String>> = OnceLock::new();
    match FONT.get_or_init(|| PdfFont::from_env().map_err(|error| error.to_string())) {
        Ok(font) => Ok(font),
        Err(error) => {
            tracing::error!(error = %error, "no font for PDF documents");
            Err(ApiError::conflict(unavailable_code))
        }
    }
}

/// The columns [`render_card`] reads, from `cards c JOIN operators o`.
pub(crate) const CARD_COLUMNS: &str = "c.card_no, c.enrollment_id, c.year, c.item_code, c.unit_name, c.credits, c.issued_at, c.revoked_at, o.name, o.id_number";

/// `GET /api/cards/{card_no}/pdf` (operator, own card): the card as a PDF. A revoked
/// card is refused with 409.
async fn download(State(state): State<AppState>, headers: HeaderMap, Path(card_no): Path<String>, caller: Caller) -> Result<Response, ApiError> {
    let operator_id = caller.operator_id()?;

    // The caller's own card, still valid.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CARD_COLUMNS} FROM cards c JOIN operators o ON o.id = c.operator_id WHERE c.card_no = $1 AND c.operator_id = $2"
    )))
    .bind(card_no.trim())
    .bind(operator_id)
    .fetch_optional(&state.engine.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("card.not_found"))?;
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(ApiError::conflict("card.revoked_no_download").arg("card_no", &card_no));
    }
    let card_no: String = row.try_get("card_no")?;
    let pdf = render_card(&state, &public_base(&headers), &row).await?;
    tracing::info!(card = %card_no, operator = %operator_id, bytes = pdf.len(), "credit card PDF rendered");

    let disposition = format!("attachment; filename=\"credit-card-{card_no}.pdf\"");
    Ok(([(CONTENT_TYPE, "application/pdf".to_string()), (CONTENT_DISPOSITION, disposition)], pdf).into_response())
}

/// Renders the card of `row` (selected with [`CARD_COLUMNS`]) as a PDF whose QR code
/// links to the check page under `base_url`. The caller has checked that the card is
/// not revoked.
pub(crate) async fn render_card(state: &AppState, base_url: &str, row: &AnyRow) -> Result<Vec<u8>, ApiError> {
    let card_no: String = row.try_get("card_no")?;
    let year: i64 = row.try_get("year")?;
    let item_code: String = row.try_get("item_code")?;
    let credits: i64 = row.try_get("credits")?;
    let issued_on = beijing_date(from_millis(row.try_get("issued_at")?)).to_string();
    let item_name = state.catalogue.item(&item_code).map(|item| item.name.clone()).unwrap_or_default();

    // Step 1: the signed verification link.
    let key = signing_key(state).await?;
    let signature = sign(&key, &SignedFields { card_no: &card_no, year, item_code: &item_code, credits, issued_on: &issued_on });
    let link = format!("{base_url}/verify/{card_no}?s={signature}");

    // Step 2: the credited courses.
    let courses = sqlx::query("SELECT course_code, awarded_at FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL ORDER BY course_code")
        .bind(row.try_get::<String, _>("enrollment_id")?)
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut rows = Vec::with_capacity(courses.len());
    for course in &courses {
        let code: String = course.try_get("course_code")?;
        let title = state.courseware.item(&item_code).and_then(|item| item.courses.iter().find(|known| known.code == code)).map(|known| known.title.clone()).unwrap_or_default();
        rows.push(vec![code, title, beijing_date(from_millis(course.try_get("awarded_at")?)).to_string()]);
    }

    // Step 3: lay out and render off the async threads, since shaping and subsetting
    // the font take tens of milliseconds.
    let holder = row.try_get::<Option<String>, _>("name")?.unwrap_or_default();
    let id_masked = row.try_get::<Option<String>, _>("id_number")?.as_deref().map(mask::id_number).unwrap_or_default();
    let year_text = year.to_string();
    let credits_text = credits.to_string();
    let blocks = vec![
        Block::Title(text("card_pdf.title", &[("year", &year_text)])),
        Block::Paragraph(text("card_pdf.card_no", &[("card_no", &card_no)])),
        Block::Paragraph(text("card_pdf.holder", &[("name", &holder), ("id_number", &id_masked)])),
        Block::Paragraph(text("card_pdf.unit", &[("unit", &row.try_get::<Option<String>, _>("unit_name")?.unwrap_or_default())])),
        Block::Paragraph(text("card_pdf.item", &[("code", &item_code), ("name", &item_name)])),
        Block::Paragraph(text("card_pdf.credits", &[("credits", &credits_text), ("date", &issued_on)])),
        Block::Space(8.0),
        Block::Table { headers: vec![text("card_pdf.course_code", &[]), text("card_pdf.course_title", &[]), text("card_pdf.awarded_on", &[])], rows },
        Block::Space(16.0),
        Block::Qr { payload: link.clone(), caption: text("card_pdf.scan", &[("link", &link)]) },
        Block::Space(8.0),
        Block::Paragraph(text("card_pdf.notice", &[])),
    ];
    let info = DocumentInfo { title: text("card_pdf.title", &[("year", &year_text)]), author: text("web.site.name", &[]) };
    let font = pdf_font("card.pdf_unavailable")?;
    let pdf = tokio::task::spawn_blocking(move || workers::pdf::render(font, &info, &blocks))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(pdf)
}
