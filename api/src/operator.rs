//! The operator's own record: registration (name and ID number), info completion
//! (employer unit and certificates held) and the profile.
//!
//! Operator statuses: `visitor` (logged in, not registered), `pre_registered` (created
//! by a unit roster), `registered` (name and ID number given) and `complete` (attached
//! to a unit). An operator belongs to at most one unit at a time: joining another
//! needs a release by the current unit or by the association first.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use workflows::db::is_unique_violation;
use workflows::runtime::EventIn;

use crate::auth::allowed::Operators;
use crate::auth::{Allowed, Caller};
use crate::auth::code::next_step;
use crate::auth::password::check_email;
use crate::db::{Tx, new_id};
use crate::error::ApiError;
use crate::extract::Json;
use crate::workflow::{self, registration_instance};
use crate::{AppState, mask};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/operator/register", post(register))
        .route("/api/operator/info", post(complete_info))
        .route("/api/operator/me", get(me))
}

/// An `operators` row.
#[derive(Clone, Debug)]
pub struct OperatorRecord {
    pub id: String,
    pub mobile: String,
    pub name: Option<String>,
    pub id_number: Option<String>,
    pub gender: Option<String>,
    pub email: Option<String>,
    pub unit_id: Option<String>,
    pub status: String,
}

impl OperatorRecord {
    pub const COLUMNS: &'static str = "id, mobile, name, id_number, gender, email, unit_id, status";

    pub fn from_row(row: &AnyRow) -> Result<OperatorRecord, sqlx::Error> {
        Ok(OperatorRecord {
            id: row.try_get("id")?,
            mobile: row.try_get("mobile")?,
            name: row.try_get("name")?,
            id_number: row.try_get("id_number")?,
            gender: row.try_get("gender")?,
            email: row.try_get("email")?,
            unit_id: row.try_get("unit_id")?,
            status: row.try_get("status")?,
        })
    }
}

/// Loads operator `id`, or 404.
pub async fn load_operator(state: &AppState, id: &str) -> Result<OperatorRecord, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {} FROM operators WHERE id = $1", OperatorRecord::COLUMNS)))
        .bind(id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("operator.not_found"))?;
    Ok(OperatorRecord::from_row(&row)?)
}

/// A unit's id, credit code, name and status.
#[derive(Clone, Debug)]
pub struct UnitRecord {
    pub id: String,
    pub uscc: String,
    pub name: String,
    pub status: String,
}

/// Loads unit `id`, if it exists.
pub async fn find_unit(state: &AppState, id: &str) -> Result<Option<UnitRecord>, ApiError> {
    let row = sqlx::query("SELECT id, uscc, name, status FROM units WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.engine.db.pool)
        .await?;
    Ok(match row {
        Some(row) => Some(UnitRecord { id: row.try_get("id")?, uscc: row.try_get("uscc")?, name: row.try_get("name")?, status: row.try_get("status")? }),
        None => None,
    })
}

#[derive(Deserialize)]
struct RegisterRequest {
    name: String,
    id_number: String,
    email: Option<String>,
}

/// `POST /api/operator/register {name, id_number, email?}` (operator with status
/// `visitor`): records the person and sends `registered`.
async fn register(State(state): State<AppState>, caller: Allowed<Operators>, Json(request): Json<RegisterRequest>) -> Result<Json<Value>, ApiError> {
    let operator_id = caller.operator_id()?;
    let operator = load_operator(&state, operator_id).await?;
    if operator.status != "visitor" {
        return Err(ApiError::conflict("register.already_registered"));
    }

    // Step 1: normalize. The birth date in the number may not lie after today in Beijing.
    let name = domain::identity::normalize_name(&request.name)?;
    let id_number = domain::identity::normalize_id_number(&request.id_number, state.today())?;
    let email = match request.email.as_deref().map(str::trim).filter(|email| !email.is_empty()) {
        Some(email) => Some(check_email(email)?),
        None => None,
    };

    // Step 2: the ID number must not belong to another operator.
    let owner: Option<String> = sqlx::query_scalar("SELECT id FROM operators WHERE id_number = $1")
        .bind(id_number.as_str())
        .fetch_optional(&state.engine.db.pool)
        .await?;
    if owner.is_some_and(|other| other != operator.id) {
        tracing::warn!(operator = %operator.id, id_number = %id_number.mask(), "ID number already registered to another operator");
        return Err(ApiError::conflict("register.id_number_taken").field("id_number").arg("value", id_number.mask()));
    }

    // Step 3: store, guarded by the status so that two submissions register once.
    let gender = match id_number.gender() {
        domain::identity::Gender::Male => "male",
        domain::identity::Gender::Female => "female",
    };
    let updated = sqlx::query(
        "UPDATE operators SET name = $1, id_number = $2, gender = $3, email = $4, status = 'registered', updated_at = $5
         WHERE id = $6 AND status = 'visitor'",
    )
    .bind(name.as_str())
    .bind(id_number.as_str())
    .bind(gender)
    .bind(&email)
    .bind(state.now_ms())
    .bind(&operator.id)
    .execute(&state.engine.db.pool)
    .await;
    match updated {
        Ok(result) if result.rows_affected() == 0 => return Err(ApiError::conflict("register.already_registered")),
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => {
            return Err(ApiError::conflict("register.id_number_taken").field("id_number").arg("value", id_number.mask()));
        }
        Err(error) => return Err(error.into()),
    }

    // Step 4: move the registration instance on.
    let instance = registration_instance(&state, &operator.mobile).await?;
    workflow::send(&state, &instance.id, EventIn::new(format!("registered:{}", operator.id), "registered")).await?;
    tracing::info!(operator = %operator.id, id_number = %id_number.mask(), "operator registered");

    // Step 5: the real-name check, when the deployment has a provider. Anything but a
    // match opens the manual verification path; an unreachable provider leaves the
    // operator unchecked, which the same path covers.
    let real_name_status = crate::realname::check_registration(&state, &operator.id, id_number.as_str(), name.as_str()).await?;

    Ok(Json(json!({ "operator_id": operator.id, "status": "registered", "next": next_step("registered"), "real_name_status": real_name_status })))
}

#[derive(Deserialize)]
struct InfoRequest {
    unit_uscc: String,
    #[serde(default)]
    items: Vec<ItemInput>,
}

#[derive(Deserialize)]
struct ItemInput {
    item_code: String,
    certificate_issued_on: Option<String>,
}

/// `POST /api/operator/info {unit_uscc, items?}` (operator, registered or
/// pre-registered): attaches the operator to the unit, records the certificates held
/// and sends `info_completed {has_unit: true}`.
async fn complete_info(State(state): State<AppState>, caller: Allowed<Operators>, Json(request): Json<InfoRequest>) -> Result<Json<Value>, ApiError> {
    let operator_id = caller.operator_id()?;
    let operator = load_operator(&state, operator_id).await?;
    if operator.status == "visitor" {
        return Err(ApiError::conflict("info.register_first"));
    }

    // Step 1: find the unit. A code that fails only its checksum may still be a real
    // unit registered for manual verification, so it is looked up as typed.
    let uscc = match domain::identity::normalize_uscc(&request.unit_uscc) {
        Ok(uscc) => uscc.as_str().to_string(),
        Err(domain::identity::IdentityError::UsccChecksumMismatch { value }) => value,
        Err(error) => return Err(error.into()),
    };
    let unit = sqlx::query("SELECT id, name FROM units WHERE uscc = $1")
        .bind(&uscc)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::invalid("info.unit_not_registered").field("unit_uscc").arg("uscc", &uscc))?;
    let unit_id: String = unit.try_get("id")?;
    let unit_name: String = unit.try_get("name")?;

    // Step 2: check the items before anything is written.
    let today = state.today();
    let mut items = Vec::new();
    for item in &request.items {
        let reference = state
            .catalogue
            .resolve(&item.item_code, domain::catalogue::CatalogueVersion::V2019)
            .map_err(|error| ApiError::invalid("info.item_unknown").field("items").arg("item", &item.item_code).arg("detail", error.message(crate::error::current_locale())))?;
        let issued_on = match item.certificate_issued_on.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
            Some(text) => Some(parse_issue_date(text, today)?),
            None => None,
        };
        items.push((reference.code, issued_on));
    }

    // Step 3: attach to the unit and move the registration instance on.
    attach_to_unit(&state, &operator, &unit_id, &items, "info_completion").await?;
    tracing::info!(operator = %operator.id, unit = %unit_id, items = items.len(), "operator info completed");

    let mut profile = profile(&state, &operator.id).await?;
    profile["unit_name"] = json!(unit_name);
    Ok(Json(profile))
}

/// Attaches `operator` to unit `unit_id`, records the certificates `items` held
/// (item code, issue date) and moves the registration instance to `complete`. A new
/// period at the unit starts with `source` (`info_completion`, `join_request`).
///
/// Fails with 409 when the operator belongs to another unit, also when another
/// request attached them in the meantime.
pub async fn attach_to_unit(state: &AppState, operator: &OperatorRecord, unit_id: &str, items: &[(String, Option<NaiveDate>)], source: &str) -> Result<(), ApiError> {
    if let Some(current) = operator.unit_id.as_deref().filter(|current| *current != unit_id) {
        return Err(other_unit_conflict(state, current).await?);
    }
    let mut tx = state.engine.db.begin_write().await?;
    let attached = sqlx::query(
        "UPDATE operators SET unit_id = $1, status = 'complete', updated_at = $2 WHERE id = $3 AND (unit_id IS NULL OR unit_id = $1)",
    )
    .bind(unit_id)
    .bind(state.now_ms())
    .bind(&operator.id)
    .execute(&mut *tx)
    .await?;
    if attached.rows_affected() == 0 {
        // Another request attached the operator to a different unit in the meantime.
        drop(tx);
        let current = load_operator(state, &operator.id).await?.unit_id.unwrap_or_default();
        return Err(other_unit_conflict(state, &current).await?);
    }
    if operator.unit_id.is_none() {
        insert_affiliation(&mut tx, &operator.id, unit_id, source, state.now_ms()).await?;
    }
    for (item_code, issued_on) in items {
        upsert_operator_item(&mut tx, &operator.id, item_code, *issued_on).await?;
    }
    tx.commit().await?;

    // The registration instance goes to `complete`, first out of `visitor` when the
    // operator never passed through login since the roster created them.
    let instance = registration_instance(state, &operator.mobile).await?;
    if instance.state == "visitor" {
        let (event_id, event) = if operator.status == "pre_registered" {
            (format!("roster_matched:{}", operator.id), "roster_matched")
        } else {
            (format!("registered:{}", operator.id), "registered")
        };
        workflow::send(state, &instance.id, EventIn::new(event_id, event)).await?;
    }
    if instance.state != "complete" {
        // One event per period at a unit, so joining a new unit after a release is not
        // taken for a repeat of the first join.
        let period: Option<String> = sqlx::query_scalar("SELECT id FROM affiliations WHERE operator_id = $1 AND unit_id = $2 AND ended_at IS NULL")
            .bind(&operator.id)
            .bind(unit_id)
            .fetch_optional(&state.engine.db.pool)
            .await?;
        let event_id = format!("info_completed:{}:{}", operator.id, period.unwrap_or_default());
        let event = EventIn::new(event_id, "info_completed").with("has_unit", true);
        workflow::send(state, &instance.id, event).await?;
    }
    Ok(())
}

/// Returns the 409 for an operator attached to unit `current_unit_id`, naming the
/// unit and how to get released.
pub async fn other_unit_conflict(state: &AppState, current_unit_id: &str) -> Result<ApiError, ApiError> {
    let unit_name = find_unit(state, current_unit_id).await?.map(|unit| unit.name).unwrap_or_default();
    Ok(ApiError::conflict("info.attached_to_other_unit").field("unit_uscc").arg("unit", unit_name))
}

/// Parses a certificate issue date `YYYY-MM-DD`, which may not lie after `today`.
fn parse_issue_date(text: &str, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("info.issue_date_invalid").field("items").arg("value", text))?;
    if date > today {
        return Err(ApiError::invalid("info.issue_date_future").field("items").arg("value", text));
    }
    Ok(date)
}

/// Records that the operator joined the unit.
pub async fn insert_affiliation(tx: &mut Tx, operator_id: &str, unit_id: &str, source: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO affiliations (id, operator_id, unit_id, started_at, ended_at, source) VALUES ($1, $2, $3, $4, NULL, $5)")
        .bind(new_id())
        .bind(operator_id)
        .bind(unit_id)
        .bind(now_ms)
        .bind(source)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records an item for which the operator has a certificate, keeping a known issue
/// date when the new one is missing.
pub async fn upsert_operator_item(tx: &mut Tx, operator_id: &str, item_code: &str, issued_on: Option<NaiveDate>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO operator_items (operator_id, item_code, catalogue_version, certificate_issued_on) VALUES ($1, $2, '2019', $3)
         ON CONFLICT (operator_id, item_code)
         DO UPDATE SET certificate_issued_on = COALESCE(excluded.certificate_issued_on, operator_items.certificate_issued_on)",
    )
    .bind(operator_id)
    .bind(item_code)
    .bind(issued_on.map(|date| date.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `GET /api/operator/me` (operator): the profile, unit and items.
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let operator_id = caller.operator_id()?;
    Ok(Json(profile(&state, operator_id).await?))
}

/// Builds the operator's profile. The ID number is masked even for its owner, so the
/// full number never travels again after registration.
async fn profile(state: &AppState, operator_id: &str) -> Result<Value, ApiError> {
    let operator = load_operator(state, operator_id).await?;
    let unit = match &operator.unit_id {
        Some(unit_id) => find_unit(state, unit_id).await?,
        None => None,
    };
    let rows = sqlx::query("SELECT item_code, catalogue_version, certificate_issued_on FROM operator_items WHERE operator_id = $1 ORDER BY item_code")
        .bind(operator_id)
        .fetch_all(&state.engine.db.pool)
        .await?;
    let mut items = Vec::new();
    for row in rows {
        let code: String = row.try_get("item_code")?;
        let name = state.catalogue.item(&code).map(|item| item.name.clone());
        items.push(json!({
            "item_code": code,
            "item_name": name,
            "catalogue_version": row.try_get::<String, _>("catalogue_version")?,
            "certificate_issued_on": row.try_get::<Option<String>, _>("certificate_issued_on")?,
        }));
    }
    Ok(json!({
        "operator_id": operator.id,
        "mobile": operator.mobile,
        "name": operator.name,
        "id_number_masked": operator.id_number.as_deref().map(mask::id_number),
        "gender": operator.gender,
        "email": operator.email,
        "status": operator.status,
        "next": next_step(&operator.status),
        "unit": unit.map(|unit| json!({ "id": unit.id, "uscc": unit.uscc, "name": unit.name, "status": unit.status })),
        "items": items,
    }))
}
