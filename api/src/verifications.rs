//! The manual verification queue (人工核验): a unit whose credit code fails the
//! GB 32100-2015 checksum (some real codes issued before 2016 do) and an operator whose
//! real-name check failed are neither blocked nor accepted blindly. They submit
//! documents (a business licence, an ID card scan), and association staff approve or
//! reject from those documents.

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use domain::archive::Archive;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use workers::archive::{self, NewEntry};

use crate::auth::allowed::{AllButInstitutions, Staff};
use crate::auth::{Allowed, Role};
use crate::db::new_id;
use crate::documents::{MAX_BODY_BYTES, read_form};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/verifications", post(submit).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).get(list))
        .route("/api/verifications/{verification_id}/decision", post(decide))
}

/// `POST /api/verifications` (multipart: `kind`, `subject_id`, `note`, files). A unit
/// admin submits for a unit in `pending_verification`; an operator submits for
/// themselves while their real-name check has failed or never passed. 201.
async fn submit(State(state): State<AppState>, caller: Allowed<AllButInstitutions>, mut form: Multipart) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (fields, documents) = read_form(&mut form).await?;
    let kind = fields.get("kind").cloned().unwrap_or_default();
    let subject_id = fields.get("subject_id").cloned().unwrap_or_default();
    let note = fields.get("note").cloned().filter(|note| !note.is_empty());

    // Step 1: who may ask for what.
    let submitted_by = match kind.as_str() {
        "unit_credit_code" => {
            if !caller.is_admin_of_unit(&subject_id) && !caller.role.is_staff() {
                return Err(ApiError::forbidden("auth.forbidden"));
            }
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM units WHERE id = $1").bind(&subject_id).fetch_optional(&state.engine.db.pool).await?;
            match status.as_deref() {
                None => return Err(ApiError::not_found("verification.subject_not_found").field("subject_id")),
                Some("pending_verification") => {}
                Some(_) => return Err(ApiError::conflict("verification.not_needed")),
            }
            caller.account_id.clone().unwrap_or_default()
        }
        "operator_real_name" => {
            let own = caller.role == Role::Operator && caller.operator_id.as_deref() == Some(subject_id.as_str());
            if !own && !caller.role.is_staff() {
                return Err(ApiError::forbidden("auth.forbidden"));
            }
            let status: Option<Option<String>> = sqlx::query_scalar("SELECT real_name_status FROM operators WHERE id = $1").bind(&subject_id).fetch_optional(&state.engine.db.pool).await?;
            match status {
                None => return Err(ApiError::not_found("verification.subject_not_found").field("subject_id")),
                Some(Some(passed)) if passed == "passed" || passed == "verified_manually" => return Err(ApiError::conflict("verification.not_needed")),
                Some(_) => {}
            }
            caller.operator_id.clone().or_else(|| caller.account_id.clone()).unwrap_or_default()
        }
        other => return Err(ApiError::invalid("verification.kind_invalid").field("kind").arg("value", other)),
    };
    if documents.is_empty() {
        return Err(ApiError::invalid("verification.documents_required").field("files"));
    }

    // Step 2: the request and its documents in one transaction; one open request per subject.
    let id = new_id();
    let mut tx = state.engine.db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO manual_verifications (id, kind, subject_id, note, status, submitted_by, created_at) VALUES ($1, $2, $3, $4, 'open', $5, $6)",
    )
    .bind(&id)
    .bind(&kind)
    .bind(&subject_id)
    .bind(&note)
    .bind(&submitted_by)
    .bind(state.now_ms())
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(error) if workflows::db::is_unique_violation(&error) => return Err(ApiError::conflict("verification.already_open")),
        other => other?,
    };
    for (seq, document) in documents.iter().enumerate() {
        sqlx::query("INSERT INTO verification_documents (verification_id, seq, file_name, content_type, size, sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&id)
            .bind(seq as i64)
            .bind(&document.file_name)
            .bind(document.content_type)
            .bind(document.bytes.len() as i64)
            .bind(hex::encode(Sha256::digest(&document.bytes)))
            .bind(document.bytes.clone())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(verification = %id, kind = %kind, subject = %subject_id, documents = documents.len(), "manual verification requested");
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "kind": kind, "subject_id": subject_id, "documents": documents.len() }))))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

/// `GET /api/verifications?status=open|approved|rejected` (association staff), each
/// request with its documents' numbers, names, types and sizes in `document_files`.
async fn list(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT v.id, v.kind, v.subject_id, v.note, v.status, v.submitted_by, v.decided_by, v.reason, v.created_at,
                (SELECT COUNT(*) FROM verification_documents d WHERE d.verification_id = v.id) AS documents
         FROM manual_verifications v WHERE v.status = $1 ORDER BY v.created_at, v.id",
    )
    .bind(query.status.unwrap_or_else(|| "open".into()))
    .fetch_all(&state.engine.db.pool)
    .await?;
    let items = rows
        .iter()
        .map(|row| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "id": row.try_get::<String, _>("id")?, "kind": row.try_get::<String, _>("kind")?, "subject_id": row.try_get::<String, _>("subject_id")?,
                "note": row.try_get::<Option<String>, _>("note")?, "status": row.try_get::<String, _>("status")?, "submitted_by": row.try_get::<String, _>("submitted_by")?,
                "decided_by": row.try_get::<Option<String>, _>("decided_by")?, "reason": row.try_get::<Option<String>, _>("reason")?,
                "created_at": row.try_get::<i64, _>("created_at")?, "documents": row.try_get::<i64, _>("documents")?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<String> = items.iter().filter_map(|item| item["id"].as_str().map(str::to_string)).collect();
    let mut lists = crate::verification_documents::document_lists(&state, &ids).await?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut item| {
            let id = item["id"].as_str().unwrap_or_default().to_string();
            item["document_files"] = lists.remove(&id).unwrap_or_else(|| json!([]));
            item
        })
        .collect();
    Ok(Json(json!({ "verifications": items })))
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Approve,
    Reject,
}

#[derive(Deserialize)]
pub struct DecisionRequest {
    decision: Verdict,
    reason: String,
}

/// `POST /api/verifications/{id}/decision {decision: approve|reject, reason}`
/// (association staff). Approving activates the unit or marks the operator
/// `verified_manually`; rejecting leaves the unit pending and the operator `failed`.
async fn decide(State(state): State<AppState>, caller: Allowed<Staff>, Path(verification_id): Path<String>, Json(request): Json<DecisionRequest>) -> Result<Json<Value>, ApiError> {
    let decided_by = caller.account_id.clone().unwrap_or_default();
    let reason = request.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::invalid("verification.reason_required").field("reason"));
    }

    // Step 1: the open request, read and decided in one transaction.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let row = sqlx::query("SELECT kind, subject_id, status FROM manual_verifications WHERE id = $1")
        .bind(&verification_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("verification.not_found"))?;
    if row.try_get::<String, _>("status")? != "open" {
        return Err(ApiError::conflict("verification.already_decided"));
    }
    let kind: String = row.try_get("kind")?;
    let subject_id: String = row.try_get("subject_id")?;
    let approve = request.decision == Verdict::Approve;
    let status = if approve { "approved" } else { "rejected" };
    sqlx::query("UPDATE manual_verifications SET status = $1, decided_by = $2, decided_at = $3, reason = $4 WHERE id = $5")
        .bind(status)
        .bind(&decided_by)
        .bind(now_ms)
        .bind(&reason)
        .bind(&verification_id)
        .execute(&mut *tx)
        .await?;

    // Step 2: the effect on the unit or the operator.
    match (kind.as_str(), approve) {
        ("unit_credit_code", true) => {
            sqlx::query("UPDATE units SET status = 'active' WHERE id = $1").bind(&subject_id).execute(&mut *tx).await?;
        }
        ("unit_credit_code", false) => {}
        (_, verified) => {
            let new_status = if verified { "verified_manually" } else { "failed" };
            sqlx::query("UPDATE operators SET real_name_status = $1, updated_at = $2 WHERE id = $3").bind(new_status).bind(now_ms).bind(&subject_id).execute(&mut *tx).await?;
            let body = json!({ "verification_id": verification_id, "outcome": status });
            let entry = NewEntry { recorded_by: &decided_by, reason: Some(&reason), ..NewEntry::system(&subject_id, Archive::ContinuingEducation, "real_name_verification", format!("real_name_verification:{verification_id}"), body) };
            archive::append(&mut tx, state.engine.db.backend, entry, now_ms).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(verification = %verification_id, kind = %kind, subject = %subject_id, status, by = %decided_by, "manual verification decided");
    Ok(Json(json!({ "id": verification_id, "status": status })))
}
