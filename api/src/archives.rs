//! Operator archives (档案) over HTTP: reading a chain, exporting it as xlsx, and
//! appending a correction.
//!
//! Who sees what: the operator and association staff see every entry. A unit admin
//! sees the entries recorded while the operator belonged to that unit, and the credit
//! and card entries of an operator who belongs to the unit now, because credits stay
//! with the person while session details and evidence stay with the unit of their period.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use domain::archive::{Archive, Entry, verify_chain};
use domain::messages::{self, Locale};
use serde::Deserialize;
use serde_json::{Value, json};
use workers::archive::{self, NewEntry};
use workers::pdf::DocumentInfo;

use crate::auth::allowed::{Admins, AllButInstitutions};
use crate::auth::{Allowed, Caller, Role};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::{AppState, beijing_text};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/archives/{operator_id}", get(read))
        .route("/api/archives/{operator_id}/export", get(export))
        .route("/api/archives/{operator_id}/corrections", post(correct))
}

/// Entry kinds a unit admin of the operator's current unit sees from other periods.
const PERSON_KINDS: &[&str] = &["credit", "card_issued", "card_revoked"];

#[derive(Deserialize)]
pub struct ArchiveQuery {
    archive: Option<String>,
    /// Export format: `xlsx` (the default) or `pdf`.
    format: Option<String>,
}

fn parse_archive(name: Option<&str>) -> Result<Archive, ApiError> {
    let name = name.unwrap_or("continuing_education");
    Archive::parse(name).ok_or_else(|| ApiError::invalid("archive.name_invalid").field("archive").arg("value", name))
}

/// Loads the chain and keeps the entries `caller` may see; 404 for an operator outside
/// the caller's scope.
async fn visible_entries(state: &AppState, caller: &Caller, operator_id: &str, archive: Archive) -> Result<(Vec<Entry>, bool), ApiError> {
    let current_unit: Option<Option<String>> = sqlx::query_scalar("SELECT unit_id FROM operators WHERE id = $1")
        .bind(operator_id)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    let current_unit = current_unit.ok_or_else(|| ApiError::not_found("archive.not_found"))?;
    let entries = archive::load_chain(&state.engine.db.pool, operator_id, archive).await?;
    let intact = verify_chain(&entries).is_ok();
    let visible = match caller.role {
        Role::AssociationAdmin | Role::Reviewer => entries,
        Role::Operator if caller.operator_id.as_deref() == Some(operator_id) => entries,
        Role::UnitAdmin => {
            let unit = caller.unit_id.clone().unwrap_or_default();
            let belongs_now = current_unit.as_deref() == Some(unit.as_str());
            let had_period = entries.iter().any(|entry| entry.unit_id.as_deref() == Some(unit.as_str()));
            if !belongs_now && !had_period {
                return Err(ApiError::not_found("archive.not_found"));
            }
            entries
                .into_iter()
                .filter(|entry| entry.unit_id.as_deref() == Some(unit.as_str()) || (belongs_now && PERSON_KINDS.contains(&entry.kind.as_str())))
                .collect()
        }
        _ => return Err(ApiError::not_found("archive.not_found")),
    };
    Ok((visible, intact))
}

fn entry_json(entry: &Entry) -> Value {
    json!({
        "seq": entry.seq,
        "kind": entry.kind,
        "unit_id": entry.unit_id,
        "body": serde_json::from_str::<Value>(&entry.body).unwrap_or(Value::String(entry.body.clone())),
        "recorded_by": entry.recorded_by,
        "approved_by": entry.approved_by,
        "supersedes": entry.supersedes,
        "reason": entry.reason,
        "recorded_at": entry.recorded_at,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    })
}

/// `GET /api/archives/{operator_id}?archive=continuing_education|training`: the
/// entries the caller may see, oldest first, and whether the whole chain verifies.
async fn read(State(state): State<AppState>, caller: Allowed<AllButInstitutions>, Path(operator_id): Path<String>, Query(query): Query<ArchiveQuery>) -> Result<Json<Value>, ApiError> {
    let archive = parse_archive(query.archive.as_deref())?;
    let (entries, intact) = visible_entries(&state, &caller, &operator_id, archive).await?;
    Ok(Json(json!({
        "operator_id": operator_id,
        "archive": archive,
        "chain_intact": intact,
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/archives/{operator_id}/export?archive=`: the same entries as an xlsx
/// workbook with zh-CN headers and Beijing times, for the operator, the unit and
/// inspectors.
async fn export(State(state): State<AppState>, caller: Allowed<AllButInstitutions>, Path(operator_id): Path<String>, Query(query): Query<ArchiveQuery>) -> Result<Response, ApiError> {
    let archive = parse_archive(query.archive.as_deref())?;
    let (entries, intact) = visible_entries(&state, &caller, &operator_id, archive).await?;
    let names = crate::archive_text::ArchiveNames::load(&state, &operator_id, &entries).await?;
    match query.format.as_deref().unwrap_or("xlsx") {
        "xlsx" => {
            let bytes = crate::archive_xlsx::workbook(archive, &names, &entries, intact).map_err(ApiError::internal)?;
            let file_name = format!("archive-{operator_id}-{}.xlsx", archive.as_str());
            Ok(attachment("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &file_name, bytes))
        }
        "pdf" => {
            let blocks = crate::archive_pdf::blocks(archive, &names, &entries, intact);
            let info = DocumentInfo { title: messages::text(Locale::ZhCn, "archive.export_title", &[("operator", &names.operator)]), author: messages::text(Locale::ZhCn, "web.site.name", &[]) };
            let font = crate::card_pdf::pdf_font("archive.pdf_unavailable")?;
            let bytes = tokio::task::spawn_blocking(move || workers::pdf::render(font, &info, &blocks))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            tracing::info!(operator = %operator_id, archive = archive.as_str(), entries = entries.len(), bytes = bytes.len(), "archive PDF rendered");
            let file_name = format!("archive-{operator_id}-{}.pdf", archive.as_str());
            Ok(attachment("application/pdf", &file_name, bytes))
        }
        other => Err(ApiError::invalid("archive.format_invalid").field("format").arg("value", other)),
    }
}

fn attachment(content_type: &str, file_name: &str, bytes: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, content_type.to_string()), (CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\""))], bytes).into_response()
}

#[derive(Deserialize)]
pub struct CorrectionRequest {
    archive: Option<String>,
    /// `seq` of the entry corrected.
    supersedes: i64,
    reason: String,
    /// Account id of the staff member who approved the correction; not the caller.
    approved_by: String,
    /// The corrected content.
    body: Value,
}

/// `POST /api/archives/{operator_id}/corrections {archive, supersedes, reason,
/// approved_by, body}` (association admin): appends a correction that supersedes entry
/// `supersedes`. The approver must be another association staff account.
async fn correct(State(state): State<AppState>, caller: Allowed<Admins>, Path(operator_id): Path<String>, Json(request): Json<CorrectionRequest>) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let archive = parse_archive(request.archive.as_deref())?;
    let recorded_by = caller.account_id.clone().unwrap_or_default();
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::invalid("archive.reason_required").field("reason"));
    }
    if !request.body.is_object() {
        return Err(ApiError::invalid("archive.body_invalid").field("body"));
    }
    let approver_role: Option<String> = sqlx::query_scalar("SELECT role FROM accounts WHERE id = $1").bind(&request.approved_by).fetch_optional(&state.engine.db.pool).await?;
    let approver_is_staff = approver_role.as_deref().and_then(Role::parse).is_some_and(Role::is_staff);
    if !approver_is_staff || request.approved_by == recorded_by {
        return Err(ApiError::invalid("archive.approver_invalid").field("approved_by"));
    }

    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let target: Option<String> = sqlx::query_scalar("SELECT kind FROM archive_entries WHERE operator_id = $1 AND archive = $2 AND seq = $3")
        .bind(&operator_id)
        .bind(archive.as_str())
        .bind(request.supersedes)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(target_kind) = target else {
        return Err(ApiError::not_found("archive.entry_not_found").field("supersedes").arg("seq", request.supersedes));
    };
    let body = json!({ "corrects": target_kind, "content": request.body });
    let entry = NewEntry {
        recorded_by: &recorded_by,
        approved_by: Some(&request.approved_by),
        supersedes: Some(request.supersedes),
        reason: Some(reason),
        ..NewEntry::system(&operator_id, archive, "correction", format!("correction:{}", crate::db::new_id()), body)
    };
    let seq = archive::append(&mut tx, state.engine.db.backend, entry, now_ms).await?;
    tx.commit().await?;
    tracing::info!(operator = %operator_id, archive = archive.as_str(), supersedes = request.supersedes, seq = ?seq, by = %recorded_by, "archive correction appended");
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "seq": seq, "supersedes": request.supersedes }))))
}

/// Formats an entry time for the export, in Beijing time.
pub fn entry_time(entry: &Entry) -> String {
    beijing_text(entry.recorded_at)
}
