//! Enrollment (报名) of an operator for one year and operation item, which starts the
//! `annual_ce` instance of that operator, year and item.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use workflows::db::is_unique_violation;

use crate::auth::allowed::Operators;
use crate::auth::{Allowed, Caller};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::Json;
use crate::operator::load_operator;
use crate::study::{course_progress, courses_for};
use crate::workflow::{ANNUAL_CE, context_int, state_label};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/enrollments", post(enroll).get(list))
}

/// An `enrollments` row.
#[derive(Clone, Debug)]
pub struct EnrollmentRecord {
    pub id: String,
    pub operator_id: String,
    pub year: i32,
    pub item_code: String,
    pub instance_id: String,
    pub institution_id: Option<String>,
}

impl EnrollmentRecord {
    const COLUMNS: &'static str = "id, operator_id, year, item_code, instance_id, institution_id";

    fn from_row(row: &AnyRow) -> Result<EnrollmentRecord, sqlx::Error> {
        let year: i64 = row.try_get("year")?;
        Ok(EnrollmentRecord {
            id: row.try_get("id")?,
            operator_id: row.try_get("operator_id")?,
            year: year as i32,
            item_code: row.try_get("item_code")?,
            instance_id: row.try_get("instance_id")?,
            institution_id: row.try_get("institution_id")?,
        })
    }
}

/// Loads enrollment `id`, or 404.
pub async fn load_enrollment(state: &AppState, id: &str) -> Result<EnrollmentRecord, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {} FROM enrollments WHERE id = $1", EnrollmentRecord::COLUMNS)))
        .bind(id)
        .fetch_optional(&state.engine.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("enrollment.not_found"))?;
    Ok(EnrollmentRecord::from_row(&row)?)
}

/// Loads enrollment `id` of the calling operator. Someone else's enrollment is a 404.
pub async fn own_enrollment(state: &AppState, caller: &Caller, id: &str) -> Result<EnrollmentRecord, ApiError> {
    let operator_id = caller.operator_id()?;
    let enrollment = load_enrollment(state, id).await?;
    if enrollment.operator_id != operator_id {
        return Err(ApiError::not_found("enrollment.not_found"));
    }
    Ok(enrollment)
}

async fn find_enrollment(state: &AppState, operator_id: &str, year: i32, item_code: &str) -> Result<Option<EnrollmentRecord>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM enrollments WHERE operator_id = $1 AND year = $2 AND item_code = $3",
        EnrollmentRecord::COLUMNS
    )))
    .bind(operator_id)
    .bind(i64::from(year))
    .bind(item_code)
    .fetch_optional(&state.engine.db.pool)
    .await?;
    Ok(row.as_ref().map(EnrollmentRecord::from_row).transpose()?)
}

#[derive(Deserialize)]
struct EnrollRequest {
    year: i32,
    item_code: String,
}

/// `POST /api/enrollments {year, item_code}` (operator with complete info): enrolls for
/// a trial item in the current or next Beijing year. 201 when new; 200 with the same
/// enrollment when it already exists.
async fn enroll(State(state): State<AppState>, caller: Allowed<Operators>, Json(request): Json<EnrollRequest>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let operator_id = caller.operator_id()?;
    let enrolled = enroll_operator(&state, operator_id, request.year, &request.item_code).await?;
    let status = if enrolled.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(enrollment_json(&state, &enrolled.enrollment).await?)))
}

/// The result of [`enroll_operator`]: the enrollment and whether this call created it.
pub struct Enrolled {
    pub enrollment: EnrollmentRecord,
    pub created: bool,
}

/// Enrolls operator `operator_id` for `year` and `item_code` under the rules of an
/// operator's own enrollment: complete info, a trial item, the current or next Beijing
/// year, and courses published for that year. An existing enrollment is returned with
/// `created: false`. Unit admins enrolling their staff call this too.
pub async fn enroll_operator(state: &AppState, operator_id: &str, year: i32, item_code: &str) -> Result<Enrolled, ApiError> {
    let operator = load_operator(state, operator_id).await?;
    if operator.status != "complete" {
        return Err(ApiError::conflict("enroll.info_incomplete"));
    }

    // Step 1: check item and year.
    let open_items = || state.catalogue.trial_items().iter().filter_map(|item| item.code.clone()).collect::<Vec<_>>().join("、");
    if item_code.trim().is_empty() {
        return Err(ApiError::invalid("enroll.item_missing").field("item_code").arg("items", open_items()));
    }
    let item_code = state
        .catalogue
        .item(item_code)
        .filter(|item| item.trial)
        .and_then(|item| item.code.clone())
        .ok_or_else(|| ApiError::invalid("enroll.item_not_open").field("item_code").arg("item", item_code.trim()).arg("items", open_items()))?;
    let this_year = state.today().year();
    if year != this_year && year != this_year + 1 {
        return Err(ApiError::invalid("enroll.year_invalid").field("year").arg("year", year).arg("this_year", this_year).arg("next_year", this_year + 1));
    }
    if courses_for(&state.courseware, &item_code, year).is_empty() {
        return Err(ApiError::invalid("enroll.no_courses").field("year").arg("item", &item_code).arg("year", year));
    }

    // Step 2: an existing enrollment is returned as it is.
    if let Some(existing) = find_enrollment(state, operator_id, year, &item_code).await? {
        return Ok(Enrolled { enrollment: existing, created: false });
    }

    // Step 3: start the instance (idempotent per subject), then record the enrollment.
    let subject = [("operator", operator_id.to_string()), ("year", year.to_string()), ("item", item_code.clone())];
    let instance = state.engine.start(ANNUAL_CE, &subject, Default::default()).await?;
    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, institution_id, created_at) VALUES ($1, $2, $3, $4, $5, NULL, $6)",
    )
    .bind(&id)
    .bind(operator_id)
    .bind(i64::from(year))
    .bind(&item_code)
    .bind(&instance.id)
    .bind(state.now_ms())
    .execute(&state.engine.db.pool)
    .await;
    match inserted {
        Ok(_) => {}
        // A parallel request enrolled first; theirs is the enrollment.
        Err(error) if is_unique_violation(&error) => {
            let existing = find_enrollment(state, operator_id, year, &item_code)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("enrollment vanished after a unique violation")))?;
            return Ok(Enrolled { enrollment: existing, created: false });
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(operator = %operator_id, enrollment = %id, instance = %instance.id, year, item = %item_code, "operator enrolled");

    let enrollment = load_enrollment(state, &id).await?;
    Ok(Enrolled { enrollment, created: true })
}

/// `GET /api/enrollments` (operator): the caller's enrollments with state and progress.
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let operator_id = caller.operator_id()?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM enrollments WHERE operator_id = $1 ORDER BY year DESC, item_code",
        EnrollmentRecord::COLUMNS
    )))
    .bind(operator_id)
    .fetch_all(&state.engine.db.pool)
    .await?;
    let mut enrollments = Vec::with_capacity(rows.len());
    for row in &rows {
        enrollments.push(enrollment_json(&state, &EnrollmentRecord::from_row(row)?).await?);
    }
    Ok(Json(json!({ "enrollments": enrollments })))
}

/// Describes an enrollment with its workflow state and course progress.
pub async fn enrollment_json(state: &AppState, enrollment: &EnrollmentRecord) -> Result<Value, ApiError> {
    let instance = state.engine.instance(&enrollment.instance_id).await?;
    let progress = course_progress(state, &enrollment.id, &enrollment.item_code, enrollment.year).await?;
    let completed = progress.iter().filter(|course| course.completed).count();
    let credited = progress.iter().filter(|course| course.credited).count();
    Ok(json!({
        "id": enrollment.id,
        "year": enrollment.year,
        "item_code": enrollment.item_code,
        "item_name": state.catalogue.item(&enrollment.item_code).map(|item| item.name.clone()),
        "instance_id": enrollment.instance_id,
        "institution_id": enrollment.institution_id,
        "state": instance.state,
        "state_label": state_label(state, &instance),
        "credits": credited,
        "required_credits": context_int(&instance, "required_credits", 20),
        "completed_courses": completed,
        "courses": progress,
    }))
}
