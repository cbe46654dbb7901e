//! Units (单位): registration by the association, their admin accounts, and roster
//! uploads.
//!
//! A unit is identified by its unified social credit code. A code that fails only the
//! checksum may still be genuine (some codes issued before 2016 do), so such a unit is
//! stored with status `pending_verification` for the association to check, never
//! rejected and never taken as `active`.

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use workflows::db::is_unique_violation;

use crate::auth::password::{NewAccount, check_account, hash_password, insert_account};
use crate::auth::allowed::{Admins, UnitAdminsAndAdmins, UnitAdminsAndStaff};
use crate::auth::{Allowed, Role};
use crate::db::new_id;
use crate::error::{ApiError, current_locale, text};
use crate::extract::{Json, Query};
use crate::operator::find_unit;
use crate::roster::import_roster;
use crate::AppState;

/// Maximum size of an uploaded roster file.
pub const MAX_ROSTER_BYTES: usize = 10 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/units", get(crate::unit_list::list).post(create_unit))
        .route("/api/units/{unit_id}/admins", post(add_admin))
        .route("/api/units/{unit_id}/roster", post(upload_roster).layer(DefaultBodyLimit::max(MAX_ROSTER_BYTES)))
}

#[derive(Deserialize)]
struct AdminInput {
    login: String,
    password: String,
    display_name: String,
    mobile: Option<String>,
    email: Option<String>,
}

impl AdminInput {
    fn as_new_account<'a>(&'a self, unit_id: &'a str) -> NewAccount<'a> {
        NewAccount {
            role: Role::UnitAdmin,
            login: &self.login,
            password: &self.password,
            display_name: &self.display_name,
            unit_id: Some(unit_id),
            institution_id: None,
            mobile: self.mobile.as_deref(),
            email: self.email.as_deref(),
        }
    }
}

#[derive(Deserialize)]
struct CreateUnitRequest {
    uscc: String,
    name: String,
    region_code: Option<String>,
    admin: AdminInput,
}

/// `POST /api/units {uscc, name, region_code?, admin}` (association_admin): registers a
/// unit with its first admin account. 201.
async fn create_unit(State(state): State<AppState>, _caller: Allowed<Admins>, Json(request): Json<CreateUnitRequest>) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Step 1: check the unit's values.
    let (uscc, status) = match domain::identity::normalize_uscc(&request.uscc) {
        Ok(uscc) => (uscc.as_str().to_string(), "active"),
        Err(domain::identity::IdentityError::UsccChecksumMismatch { value }) => (value, "pending_verification"),
        Err(error) => return Err(error.into()),
    };
    let name = request.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("units.name_invalid").field("name"));
    }
    let region_code = request.region_code.as_deref().map(str::trim).filter(|code| !code.is_empty()).map(str::to_string);
    if let Some(code) = &region_code {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid("units.region_code_invalid").field("region_code").arg("value", code));
        }
    }

    // Step 2: check the admin account before the slow password hash.
    let unit_id = new_id();
    let admin = check_account(&request.admin.as_new_account(&unit_id)).map_err(|error| prefix_admin_field(error))?;
    let password_hash = hash_password(request.admin.password.clone()).await?;

    // Step 3: store the unit and its admin together.
    let now_ms = state.now_ms();
    let mut tx = state.engine.db.begin_write().await?;
    let inserted = sqlx::query("INSERT INTO units (id, uscc, name, region_code, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&unit_id)
        .bind(&uscc)
        .bind(&name)
        .bind(&region_code)
        .bind(status)
        .bind(now_ms)
        .execute(&mut *tx)
        .await;
    match inserted {
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => return Err(ApiError::conflict("units.uscc_taken").field("uscc").arg("uscc", &uscc)),
        Err(error) => return Err(error.into()),
    }
    let admin_id = insert_account(&mut tx, &admin, &password_hash, now_ms).await.map_err(prefix_admin_field)?;
    tx.commit().await?;
    tracing::info!(unit = %unit_id, uscc = %uscc, status, admin = %admin_id, "unit registered");

    let notice = (status == "pending_verification").then(|| text("units.pending_verification", &[("uscc", &uscc)]));
    let body = json!({
        "id": unit_id,
        "uscc": uscc,
        "name": name,
        "region_code": region_code,
        "status": status,
        "admin_account_id": admin_id,
        "notice": notice,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

/// Reports the admin's fields as `admin.login` and so on, as they appear in the request.
fn prefix_admin_field(error: ApiError) -> ApiError {
    let field = match &error {
        ApiError::Invalid(problem) | ApiError::Conflict(problem) | ApiError::NotFound(problem) => problem.field,
        _ => None,
    };
    let prefixed = match field {
        Some("login") => "admin.login",
        Some("password") => "admin.password",
        Some("display_name") => "admin.display_name",
        Some("email") => "admin.email",
        Some("mobile") => "admin.mobile",
        _ => return error,
    };
    error.field(prefixed)
}

/// `POST /api/units/{unit_id}/admins {login, password, display_name, mobile?, email?}`
/// (that unit's unit_admin, or association_admin): adds another admin account. 201.
async fn add_admin(
    State(state): State<AppState>,
    Path(unit_id): Path<String>,
    caller: Allowed<UnitAdminsAndAdmins>,
    Json(request): Json<AdminInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !caller.is_admin_of_unit(&unit_id) {
        caller.require(&[Role::AssociationAdmin])?;
    }
    find_unit(&state, &unit_id).await?.ok_or_else(|| ApiError::not_found("units.not_found"))?;

    let account_id = crate::auth::create_account(&state.engine.db, &request.as_new_account(&unit_id), state.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "account_id": account_id, "unit_id": unit_id }))))
}

#[derive(Deserialize)]
struct RosterQuery {
    file_name: Option<String>,
}

/// `POST /api/units/{unit_id}/roster` (that unit's unit_admin, or association staff):
/// imports a roster file sent as multipart (field `file`, or the first file field) or
/// as the raw body with `?file_name=`. CSV in UTF-8 or GBK, or xlsx.
async fn upload_roster(
    State(state): State<AppState>,
    Path(unit_id): Path<String>,
    caller: Allowed<UnitAdminsAndStaff>,
    Query(query): Query<RosterQuery>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    if !caller.is_admin_of_unit(&unit_id) {
        caller.require_staff()?;
    }
    let (bytes, file_name) = read_upload(&state, request, query.file_name).await?;
    let result = import_roster(&state, &unit_id, &bytes, &file_name).await?;
    Ok(Json(result.to_json(current_locale())))
}

/// Reads an uploaded file from a multipart form or from the raw body. Returns the
/// bytes and the file name (from the form part, else `?file_name=`, else
/// `roster.csv`).
pub(crate) async fn read_upload(state: &AppState, request: Request, file_name: Option<String>) -> Result<(Vec<u8>, String), ApiError> {
    let is_multipart = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if !is_multipart {
        let bytes = axum::body::Bytes::from_request(request, state).await?;
        return Ok((bytes.to_vec(), file_name.unwrap_or_else(|| "roster.csv".to_string())));
    }

    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::invalid("request.invalid_upload").arg("detail", rejection.body_text()))?;
    while let Some(field) = multipart.next_field().await? {
        let is_file = field.name() == Some("file") || field.file_name().is_some();
        if !is_file {
            continue;
        }
        let part_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await?;
        let name = part_name.or(file_name).unwrap_or_else(|| "roster.csv".to_string());
        return Ok((bytes.to_vec(), name));
    }
    Err(ApiError::invalid("request.upload_missing").field("file"))
}
