//! Training institutions (施教机构): registration by the association, and the request
//! signature their servers use instead of sessions.
//!
//! Each institution has a key id and a secret (32 random bytes, stored hex). A signed
//! request carries three headers:
//!
//! - `X-Certflow-Key-Id`: the key id;
//! - `X-Certflow-Timestamp`: unix seconds, within ±300 s of the server's clock;
//! - `X-Certflow-Signature: hmac-sha256=<hex>`: HMAC-SHA256 with the decoded secret over
//!   `METHOD\nPATH\nTIMESTAMP\nhex(sha256(body))`, where PATH is the request path
//!   without query string, as this server receives it.
//!
//! A captured request replays only within the window, and the signed routes are
//! idempotent on their own (statement ids, single-use hand-off tokens).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use workers::provincial::SignatureAlgorithm;
use workers::provincial::signature as scheme;
use workflows::db::is_unique_violation;

use crate::auth::allowed::Admins;
use crate::auth::{Allowed, Caller};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::AppState;

/// Maximum distance in seconds between a signed request's timestamp and the server's clock.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;

/// Maximum size of a signed request body.
const MAX_SIGNED_BODY_BYTES: usize = 1024 * 1024;

pub const KEY_ID_HEADER: &str = "x-certflow-key-id";
pub const TIMESTAMP_HEADER: &str = "x-certflow-timestamp";
pub const SIGNATURE_HEADER: &str = "x-certflow-signature";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/institutions", post(create_institution_route).get(list_for_item))
}

/// An `institutions` row.
#[derive(Clone, Debug)]
pub struct InstitutionRecord {
    pub id: String,
    pub name: String,
    pub key_id: String,
    /// HMAC key, hex.
    pub secret: String,
    /// Item codes the institution may teach.
    pub items: Vec<String>,
    /// `approved` or `suspended`.
    pub status: String,
}

impl InstitutionRecord {
    const COLUMNS: &'static str = "id, name, key_id, secret, items, status";

    fn from_row(row: &AnyRow) -> Result<InstitutionRecord, sqlx::Error> {
        let items: String = row.try_get("items")?;
        Ok(InstitutionRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            key_id: row.try_get("key_id")?,
            secret: row.try_get("secret")?,
            items: items.split(',').map(str::trim).filter(|code| !code.is_empty()).map(str::to_string).collect(),
            status: row.try_get("status")?,
        })
    }

    /// Returns whether the institution may teach item `item_code`.
    pub fn teaches(&self, item_code: &str) -> bool {
        self.items.iter().any(|code| code == item_code)
    }

    /// Returns the decoded HMAC key.
    pub fn key(&self) -> Result<Vec<u8>, ApiError> {
        hex::decode(&self.secret).map_err(|_| ApiError::internal(anyhow::anyhow!("secret of institution {} is not hex", self.id)))
    }
}

/// Loads institution `id`, if it exists.
pub async fn find_institution(state: &AppState, id: &str) -> Result<Option<InstitutionRecord>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {} FROM institutions WHERE id = $1", InstitutionRecord::COLUMNS)))
        .bind(id)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    Ok(row.as_ref().map(InstitutionRecord::from_row).transpose()?)
}

/// Returns the `X-Certflow-Signature` value for a request: `hmac-sha256=<hex>`. The
/// scheme is the one of the provincial contract (`docs/provincial-contract.md`).
pub fn sign_request(key: &[u8], method: &str, path: &str, timestamp: i64, body: &[u8]) -> String {
    let canonical = scheme::canonical_string(SignatureAlgorithm::HmacSha256, method, path, timestamp, body);
    scheme::format_signature_header(SignatureAlgorithm::HmacSha256, &scheme::sign(SignatureAlgorithm::HmacSha256, key, &canonical))
}

/// A request whose signature checked out: the signing institution and the raw body.
pub struct Signed {
    pub institution: InstitutionRecord,
    pub body: Bytes,
}

impl Signed {
    /// Parses the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|error| ApiError::from_json_text(&error.to_string()))
    }
}

impl FromRequest<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Signed, ApiError> {
        let headers = request.headers();
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).map(str::to_string);
        let values = (header(KEY_ID_HEADER), header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
        let (Some(key_id), Some(timestamp), Some(signature)) = values else {
            return Err(ApiError::unauthenticated("institution.signature_missing"));
        };
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();

        // Step 1: the timestamp must be close to the server's clock.
        let timestamp: i64 = timestamp
            .parse()
            .map_err(|_| ApiError::unauthenticated("institution.timestamp_invalid").arg("window", SIGNATURE_WINDOW_SECS))?;
        let now_secs = state.now().timestamp();
        if (now_secs - timestamp).abs() > SIGNATURE_WINDOW_SECS {
            tracing::warn!(key_id = %key_id, skew_secs = now_secs - timestamp, "signed request outside the time window");
            return Err(ApiError::unauthenticated("institution.timestamp_invalid").arg("window", SIGNATURE_WINDOW_SECS));
        }

        // Step 2: the key id must be known and the HMAC must match. Both failures get
        // the same response, so key ids cannot be probed.
        let body = axum::body::to_bytes(request.into_body(), MAX_SIGNED_BODY_BYTES).await.map_err(|_| ApiError::TooLarge)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {} FROM institutions WHERE key_id = $1", InstitutionRecord::COLUMNS)))
            .bind(&key_id)
            .fetch_optional(&state.engine.db.pool)
            .await?;
        let Some(institution) = row.as_ref().map(InstitutionRecord::from_row).transpose()? else {
            tracing::warn!(key_id = %key_id, "signed request with unknown key id");
            return Err(ApiError::unauthenticated("institution.signature_invalid"));
        };
        let signature_bytes = signature.strip_prefix("hmac-sha256=").and_then(|hex_text| hex::decode(hex_text).ok()).unwrap_or_default();
        let canonical = scheme::canonical_string(SignatureAlgorithm::HmacSha256, &method, &path, timestamp, &body);
        if !scheme::verify(SignatureAlgorithm::HmacSha256, &institution.key()?, &canonical, &signature_bytes) {
            tracing::warn!(institution = %institution.id, path = %path, "signed request with a wrong signature");
            return Err(ApiError::unauthenticated("institution.signature_invalid"));
        }

        // Step 3: a suspended institution may not report.
        if institution.status != "approved" {
            return Err(ApiError::forbidden("institution.suspended"));
        }
        Ok(Signed { institution, body })
    }
}

/// A registered institution with its credentials. The secret is shown only here.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CreatedInstitution {
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub key_id: String,
    pub secret: String,
    pub items: Vec<String>,
}

/// Registers an approved institution that may teach `items` (trial item codes) and
/// returns its new key id and secret. The CLI and the demo call this.
pub async fn create_institution(state: &AppState, name: &str, uscc: &str, items: &[String]) -> Result<CreatedInstitution, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("institutions.name_invalid").field("name"));
    }
    let uscc = domain::identity::normalize_uscc(uscc)?.as_str().to_string();
    let mut codes = Vec::new();
    for code in items {
        let item = state.catalogue.item(code).filter(|item| item.trial).and_then(|item| item.code.clone());
        let Some(item_code) = item else {
            return Err(ApiError::invalid("institutions.item_not_open").field("items").arg("item", code));
        };
        if !codes.contains(&item_code) {
            codes.push(item_code);
        }
    }
    if codes.is_empty() {
        return Err(ApiError::invalid("institutions.items_missing").field("items"));
    }

    let created = CreatedInstitution {
        id: new_id(),
        name: name.to_string(),
        uscc,
        key_id: format!("inst_{}", hex::encode(rand::random::<[u8; 8]>())),
        secret: hex::encode(rand::random::<[u8; 32]>()),
        items: codes,
    };
    let inserted = sqlx::query(
        "INSERT INTO institutions (id, name, uscc, key_id, secret, items, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'approved', $7)",
    )
    .bind(&created.id)
    .bind(&created.name)
    .bind(&created.uscc)
    .bind(&created.key_id)
    .bind(&created.secret)
    .bind(created.items.join(","))
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => {
            return Err(ApiError::conflict("institutions.uscc_taken").field("uscc").arg("uscc", &created.uscc));
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(institution = %created.id, key_id = %created.key_id, items = %created.items.join(","), "institution registered");
    Ok(created)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateInstitutionRequest {
    name: String,
    uscc: String,
    items: Vec<String>,
}

/// `POST /api/institutions {name, uscc, items}` (association_admin): registers an
/// institution. 201 with the key id and secret, which are not shown again.
#[utoipa::path(
    post,
    path = "/api/institutions",
    tag = "institution",
    request_body = CreateInstitutionRequest,
    responses(
        (status = 201, description = "The institution with its key id and secret, shown only this once", body = serde_json::Value),
        (status = 400, description = "Invalid name, credit code or item", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_institution_route(
    State(state): State<AppState>,
    _caller: Allowed<Admins>,
    Json(request): Json<CreateInstitutionRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let created = create_institution(&state, &request.name, &request.uscc, &request.items).await?;
    Ok((StatusCode::CREATED, Json(json!(created))))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    item_code: String,
}

/// `GET /api/institutions?item_code=T` (any session): the approved institutions that
/// teach the item, by name, for the operator's choice before the hand-off.
pub(crate) async fn list_for_item(State(state): State<AppState>, _caller: Caller, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {} FROM institutions WHERE status = 'approved' ORDER BY name", InstitutionRecord::COLUMNS)))
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut institutions = Vec::new();
    for row in &rows {
        let institution = InstitutionRecord::from_row(row)?;
        if institution.teaches(query.item_code.trim()) {
            institutions.push(json!({ "id": institution.id, "name": institution.name }));
        }
    }
    Ok(Json(json!({ "institutions": institutions })))
}
