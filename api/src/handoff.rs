//! Hand-off of an enrolled operator to a training institution.
//!
//! The operator picks an institution; the API issues a token that the browser carries
//! to the institution's site, and sends `handed_off` to the enrollment's instance. The
//! institution's server then verifies the token with a signed request. A token is
//! `base64url(claims JSON) "." hex(HMAC-SHA256(institution secret, claims JSON))`, where
//! the claims name the institution, operator, enrollment, year, item, expiry and a
//! random nonce. It expires after 30 minutes and verifies once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use workflows::db::is_unique_violation;
use workflows::runtime::{EventIn, EventOutcome};

use crate::auth::allowed::Operators;
use crate::auth::Allowed;
use crate::enrollments::{load_enrollment, own_enrollment};
use crate::error::ApiError;
use crate::extract::Json;
use crate::institutions::{Signed, find_institution};
use crate::operator::load_operator;
use crate::study::courses_for;
use crate::{AppState, mask};

/// Minutes a hand-off token stays valid.
pub const HANDOFF_MINUTES: i64 = 30;

/// The `idempotency_keys` scope that records used token nonces, which makes each token
/// single-use without a table of its own.
const USED_TOKEN_SCOPE: &str = "handoff_token";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/enrollments/{enrollment_id}/handoff", post(issue))
        .route("/api/institution/handoff/verify", post(verify))
}

/// The claims of a hand-off token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffClaims {
    pub institution_id: String,
    pub operator_id: String,
    pub enrollment_id: String,
    pub year: i32,
    pub item_code: String,
    /// Expiry in unix seconds.
    pub expires_at: i64,
    pub nonce: String,
}

/// Returns the signed token for `claims`.
pub fn sign_token(key: &[u8], claims: &HandoffClaims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&payload);
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), hex::encode(mac.finalize().into_bytes()))
}

/// Splits a token into its claims and signature without checking the signature.
fn read_token(token: &str) -> Result<(HandoffClaims, Vec<u8>, Vec<u8>), ApiError> {
    let invalid = || ApiError::invalid("handoff.token_invalid").field("token");
    let (payload_text, signature_text) = token.trim().split_once('.').ok_or_else(invalid)?;
    let payload = URL_SAFE_NO_PAD.decode(payload_text).map_err(|_| invalid())?;
    let signature = hex::decode(signature_text).map_err(|_| invalid())?;
    let claims: HandoffClaims = serde_json::from_slice(&payload).map_err(|_| invalid())?;
    Ok((claims, payload, signature))
}

#[derive(Deserialize)]
struct IssueRequest {
    institution_id: String,
}

/// `POST /api/enrollments/{enrollment_id}/handoff {institution_id}` (operator): issues a
/// hand-off token for an approved institution that teaches the item, records the
/// institution on the enrollment and sends `handed_off`. 201.
async fn issue(
    State(state): State<AppState>,
    Path(enrollment_id): Path<String>,
    caller: Allowed<Operators>,
    Json(request): Json<IssueRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let enrollment = own_enrollment(&state, &caller, &enrollment_id).await?;

    // Step 1: the institution must be chosen, and approved for the item.
    if request.institution_id.trim().is_empty() {
        return Err(ApiError::invalid("handoff.institution_missing").field("institution_id"));
    }
    let institution = find_institution(&state, &request.institution_id)
        .await?
        .filter(|institution| institution.status == "approved")
        .ok_or_else(|| ApiError::not_found("institutions.not_found").field("institution_id"))?;
    if !institution.teaches(&enrollment.item_code) {
        return Err(ApiError::invalid("handoff.item_not_taught").field("institution_id").arg("institution", &institution.name).arg("item", &enrollment.item_code));
    }
    let instance = state.engine.instance(&enrollment.instance_id).await?;
    if instance.status == "terminal" {
        return Err(ApiError::conflict("handoff.year_closed").arg("year", enrollment.year));
    }

    // Step 2: sign the token.
    let now = state.now();
    let claims = HandoffClaims {
        institution_id: institution.id.clone(),
        operator_id: enrollment.operator_id.clone(),
        enrollment_id: enrollment.id.clone(),
        year: enrollment.year,
        item_code: enrollment.item_code.clone(),
        expires_at: now.timestamp() + HANDOFF_MINUTES * 60,
        nonce: hex::encode(rand::random::<[u8; 16]>()),
    };
    let token = sign_token(&institution.key()?, &claims);

    // Step 3: record the choice and move the instance on. Once studying, a hand-off to
    // another institution changes nothing in the workflow, which the engine reports as
    // not accepted in that state; that is expected.
    sqlx::query("UPDATE enrollments SET institution_id = $1 WHERE id = $2")
        .bind(&institution.id)
        .bind(&enrollment.id)
        .execute(&state.engine.db.pool)
        .await?;
    let event = EventIn::new(format!("handoff:{}", claims.nonce), "handed_off");
    match state.engine.send(&enrollment.instance_id, event).await? {
        EventOutcome::Rejected { state: current, reason } => {
            tracing::info!(enrollment = %enrollment.id, state = %current, reason = %reason, "hand-off while past enrolled; workflow unchanged");
        }
        outcome => tracing::info!(enrollment = %enrollment.id, institution = %institution.id, outcome = ?outcome, "operator handed off"),
    }

    let body = json!({
        "token": token,
        "institution_id": institution.id,
        "institution_name": institution.name,
        "expires_at": claims.expires_at * 1000,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct VerifyRequest {
    /// The hand-off token from the operator's redirect.
    token: String,
}

/// `POST /api/institution/handoff/verify {token}` (institution, signed request): checks
/// a hand-off token once and returns whom it hands off.
#[utoipa::path(
    post,
    path = "/api/institution/handoff/verify",
    tag = "institution",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The operator, enrollment, year, item and courses the token hands off", body = serde_json::Value),
        (status = 400, description = "Invalid or expired token", body = crate::openapi::ErrorResponse),
        (status = 401, description = "Signature, key id or timestamp invalid", body = crate::openapi::ErrorResponse),
        (status = 403, description = "The token belongs to another institution", body = crate::openapi::ErrorResponse),
        (status = 409, description = "The token was verified before (single use)", body = crate::openapi::ErrorResponse),
    ),
    security(("institution_signature" = []))
)]
pub(crate) async fn verify(State(state): State<AppState>, signed: Signed) -> Result<Json<Value>, ApiError> {
    let request: VerifyRequest = signed.json()?;
    let institution = &signed.institution;

    // Step 1: the token must be this institution's, correctly signed and unexpired.
    let (claims, payload, signature) = read_token(&request.token)?;
    if claims.institution_id != institution.id {
        return Err(ApiError::forbidden("handoff.other_institution"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&institution.key()?).expect("HMAC takes keys of any length");
    mac.update(&payload);
    if mac.verify_slice(&signature).is_err() {
        tracing::warn!(institution = %institution.id, "hand-off token with a wrong signature");
        return Err(ApiError::invalid("handoff.token_invalid").field("token"));
    }
    if claims.expires_at < state.now().timestamp() {
        return Err(ApiError::invalid("handoff.token_expired").field("token"));
    }

    // Step 2: use the nonce up; a second verification of the same token fails.
    let used = sqlx::query("INSERT INTO idempotency_keys (scope, key, status, response, created_at) VALUES ($1, $2, 200, '{}', $3)")
        .bind(USED_TOKEN_SCOPE)
        .bind(&claims.nonce)
        .bind(state.now_ms())
        .execute(&state.engine.db.pool)
        .await;
    match used {
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => return Err(ApiError::conflict("handoff.token_used").field("token")),
        Err(error) => return Err(error.into()),
    }

    // Step 3: describe the operator and the courses to study.
    let enrollment = load_enrollment(&state, &claims.enrollment_id).await?;
    let operator = load_operator(&state, &enrollment.operator_id).await?;
    let courses: Vec<Value> = courses_for(&state.courseware, &enrollment.item_code, enrollment.year)
        .into_iter()
        .map(|course| json!({ "code": course.code, "title": course.title, "minutes": course.minutes, "version": course.version }))
        .collect();
    tracing::info!(institution = %institution.id, enrollment = %enrollment.id, "hand-off token verified");
    Ok(Json(json!({
        "enrollment_id": enrollment.id,
        "operator_id": operator.id,
        "name": operator.name,
        "id_number_masked": operator.id_number.as_deref().map(mask::id_number),
        "mobile_masked": mask::mobile(&operator.mobile),
        "year": enrollment.year,
        "item_code": enrollment.item_code,
        "courses": courses,
    })))
}
