//! The OpenAPI 3.1 document of the API, generated from the `#[utoipa::path]` annotations
//! beside each handler and served at `GET /api/openapi.json`.
//!
//! It covers every route a training institution or the regulator calls (hand-off
//! verification, session reports, card verification) and the staff routes of the
//! provincial sync, the statistics and the public notices, help pages and footer. The
//! other routes join it as their handlers gain annotations.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::AppState;

/// The error body of every 4xx and 5xx response.
#[derive(Serialize, ToSchema)]
pub struct ErrorResponse {
    /// Stable machine code, such as `session.in_future`.
    pub code: String,
    /// Message in the request's locale (zh-CN unless `Accept-Language` requests English).
    pub message: String,
    /// The request field the error is about, when there is one.
    pub field: Option<String>,
}

/// The acknowledgement of a session report.
#[derive(Serialize, ToSchema)]
pub struct SessionAck {
    pub session_id: String,
    /// True when the statement id was reported before; nothing is counted again.
    pub duplicate: bool,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "certflow API", description = "特种设备作业人员继续教育平台 API / HTTP API of the continuing-education platform for special-equipment operators."),
    paths(
        crate::handoff::verify,
        crate::sessions::report,
        crate::credits::verify_card,
        crate::institutions::create_institution_route,
        crate::institution_registry::list,
        crate::sync_ops::status,
        crate::sync_ops::list,
        crate::sync_ops::replay,
        crate::sync_ops::skip,
        crate::certificates::certificates,
        crate::ops::healthz,
        crate::ops::readyz,
        crate::metrics::scrape,
        crate::staff_queues::queue_counts,
        crate::reviews::media::media,
        crate::verification_documents::document,
        crate::appeal_files::file,
        crate::statistics::show,
        crate::statistics::export,
        crate::notices::list_public,
        crate::notices::show_public,
        crate::help_pages::list,
        crate::help_pages::show,
        crate::site_settings::footer,
        crate::unit_staff::list::list,
        crate::unit_staff::export::export,
        crate::unit_staff::bulk_enroll::enroll,
        crate::unit_staff::remind::remind,
        crate::unit_staff::cards_zip::download,
        crate::roster_imports::preview,
        crate::roster_imports::confirm,
        crate::roster_imports::status,
        crate::unit_join::create,
        crate::unit_join::list,
        crate::unit_join::decide,
        crate::unit_admin::mine,
        crate::mobile_change::self_service::request,
        crate::mobile_change::self_service::confirm,
        crate::mobile_change::overrides::unit_request,
        crate::mobile_change::overrides::unit_confirm,
        crate::mobile_change::overrides::staff_request,
        crate::mobile_change::overrides::staff_confirm,
        crate::mobile_change::staff_search::search,
    ),
    components(schemas(ErrorResponse, SessionAck)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "institution", description = "施教机构调用的接口（签名请求）/ Routes training institutions call with signed requests"),
        (name = "regulator", description = "监管与核验 / Verification for regulators and inspectors"),
        (name = "sync", description = "省平台同步运维 / Provincial sync operations for association staff"),
        (name = "operator", description = "作业人员 / Operator routes"),
        (name = "ops", description = "运维 / Health probes"),
        (name = "staff", description = "协会工作人员 / Association staff routes"),
        (name = "site", description = "通知公告、帮助与页脚 / Public notices, help pages and footer"),
        (name = "unit", description = "单位管理员 / Unit admin routes"),
    )
)]
pub struct ApiDoc;

/// Adds the two ways callers authenticate: a session token, and the institutions'
/// HMAC signature over method, path, timestamp and body (docs/institutions.md).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        components.add_security_scheme(
            "institution_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Certflow-Signature",
                "hmac-sha256=<hex> over METHOD, PATH, X-Certflow-Timestamp and the body's SHA-256, with X-Certflow-Key-Id naming the institution's key; the timestamp must be within 300 s of the server's clock.",
            ))),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(document))
}

/// `GET /api/openapi.json` (public): this API's OpenAPI document.
async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
