//! Training events of a unit: created and edited as drafts, submitted for review, and
//! listed for the unit's admin and for association staff.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::Row;
use workflows::runtime::EventIn;
use workflows::runtime::instance::subject_key;

use super::qualifications::require_qualified;
use super::PIPELINE;
use crate::auth::allowed::{UnitAdmins, UnitAdminsAndStaff};
use crate::auth::{Allowed, Caller};
use crate::db::new_id;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::study::courses_for;
use crate::AppState;

/// Statuses in which the unit may still change an event.
pub const EDITABLE: [&str; 2] = ["draft", "changes_requested"];
/// Maximum title length, in characters.
const MAX_TITLE_CHARS: usize = 100;

/// A teacher (授课教师) of the event, with the number of the credential that
/// qualifies them; the credential itself is uploaded as a `credential` file.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Teacher {
    pub name: String,
    /// Professional title, such as 高级工程师.
    #[serde(default)]
    pub title: String,
    pub credential_no: String,
}

/// The fields a unit fills in for an event.
#[derive(Deserialize)]
pub struct EventForm {
    title: String,
    year: i32,
    item_code: String,
    courses: Vec<String>,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    location: Option<String>,
    teachers: Vec<Teacher>,
}

/// An event as stored.
pub struct EventRow {
    pub id: String,
    pub unit_id: String,
    pub title: String,
    pub year: i64,
    pub item_code: String,
    pub courses: Vec<String>,
    pub status: String,
    pub instance_id: Option<String>,
}

impl EventRow {
    /// Loads event `event_id`, or 404.
    pub async fn load<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E, event_id: &str) -> Result<EventRow, ApiError> {
        let row = sqlx::query("SELECT id, unit_id, title, year, item_code, courses, status, instance_id FROM training_events WHERE id = $1")
            .bind(event_id)
            .fetch_optional(executor)
            .await?
            .ok_or_else(|| ApiError::not_found("training.event_not_found"))?;
        let courses: String = row.try_get("courses")?;
        Ok(EventRow {
            id: row.try_get("id")?,
            unit_id: row.try_get("unit_id")?,
            title: row.try_get("title")?,
            year: row.try_get("year")?,
            item_code: row.try_get("item_code")?,
            courses: serde_json::from_str(&courses).map_err(ApiError::internal)?,
            status: row.try_get("status")?,
            instance_id: row.try_get("instance_id")?,
        })
    }

    /// Fails with 404 unless the caller is association staff or the admin of the
    /// event's unit, so a unit admin of another unit learns nothing about the event.
    pub fn check_visible(&self, caller: &Caller) -> Result<(), ApiError> {
        if caller.role.is_staff() || caller.is_admin_of_unit(&self.unit_id) {
            Ok(())
        } else {
            Err(ApiError::not_found("training.event_not_found"))
        }
    }

    /// Fails unless the caller is the admin of the event's unit and the event may
    /// still be changed.
    pub fn check_editable(&self, caller: &Caller) -> Result<(), ApiError> {
        if !caller.is_admin_of_unit(&self.unit_id) {
            return Err(if caller.role.is_staff() { ApiError::forbidden("auth.forbidden") } else { ApiError::not_found("training.event_not_found") });
        }
        if !EDITABLE.contains(&self.status.as_str()) {
            return Err(ApiError::conflict("training.not_editable").arg("status", &self.status));
        }
        Ok(())
    }
}

/// Checks the form against the courseware and the calendar; returns it trimmed.
fn check_form(state: &AppState, mut form: EventForm) -> Result<EventForm, ApiError> {
    form.title = form.title.trim().to_string();
    if form.title.is_empty() || form.title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::invalid("training.title_invalid").field("title").arg("max", MAX_TITLE_CHARS));
    }
    if state.catalogue.item(&form.item_code).is_none() {
        return Err(ApiError::invalid("training.item_invalid").field("item_code").arg("value", &form.item_code));
    }
    let this_year = state.today().year();
    if form.year != this_year {
        return Err(ApiError::invalid("training.year_invalid").field("year").arg("year", this_year));
    }
    if form.starts_on > form.ends_on || form.starts_on.year() != form.year || form.ends_on.year() != form.year {
        return Err(ApiError::invalid("training.dates_invalid").field("starts_on").arg("year", form.year));
    }
    if form.ends_on > state.today() {
        return Err(ApiError::invalid("training.dates_future").field("ends_on").arg("date", form.ends_on));
    }

    let offered: HashSet<&str> = courses_for(&state.courseware, &form.item_code, form.year).into_iter().map(|course| course.code.as_str()).collect();
    form.courses = form.courses.iter().map(|code| code.trim().to_string()).collect();
    if form.courses.is_empty() {
        return Err(ApiError::invalid("training.courses_required").field("courses"));
    }
    let mut seen = HashSet::new();
    for code in &form.courses {
        if !offered.contains(code.as_str()) {
            return Err(ApiError::invalid("training.course_invalid").field("courses").arg("course", code).arg("item", &form.item_code).arg("year", form.year));
        }
        if !seen.insert(code.as_str()) {
            return Err(ApiError::invalid("training.course_repeated").field("courses").arg("course", code));
        }
    }

    if form.teachers.is_empty() {
        return Err(ApiError::invalid("training.teachers_required").field("teachers"));
    }
    for teacher in &mut form.teachers {
        teacher.name = teacher.name.trim().to_string();
        teacher.title = teacher.title.trim().to_string();
        teacher.credential_no = teacher.credential_no.trim().to_string();
        if teacher.name.is_empty() || teacher.credential_no.is_empty() {
            return Err(ApiError::invalid("training.teacher_invalid").field("teachers"));
        }
    }
    form.location = form.location.map(|text| text.trim().to_string()).filter(|text| !text.is_empty());
    Ok(form)
}

/// `POST /api/training/events {title, year, item_code, courses, starts_on, ends_on,
/// location?, teachers}` (the admin of a qualified unit): creates a draft event. 201.
pub async fn create(State(state): State<AppState>, caller: Allowed<UnitAdmins>, Json(form): Json<EventForm>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let unit_id = caller.unit_id.clone().ok_or_else(|| ApiError::forbidden("auth.forbidden"))?;
    require_qualified(&state, &unit_id).await?;
    let form = check_form(&state, form)?;

    let event_id = new_id();
    let now_ms = state.now_ms();
    sqlx::query(
        "INSERT INTO training_events (id, unit_id, title, year, item_code, courses, starts_on, ends_on, location, teachers, status, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'draft', $11, $12)",
    )
    .bind(&event_id)
    .bind(&unit_id)
    .bind(&form.title)
    .bind(i64::from(form.year))
    .bind(&form.item_code)
    .bind(json!(form.courses).to_string())
    .bind(form.starts_on.to_string())
    .bind(form.ends_on.to_string())
    .bind(&form.location)
    .bind(json!(form.teachers).to_string())
    .bind(caller.account_id.clone().unwrap_or_default())
    .bind(now_ms)
    .execute(&state.engine.db.pool)
    .await?;
    tracing::info!(event = %event_id, unit = %unit_id, item = %form.item_code, courses = form.courses.len(), "training event created");
    Ok((StatusCode::CREATED, Json(event_json(&state, &event_id).await?)))
}

/// `PUT /api/training/events/{event_id}` with the same fields as creation (the unit's
/// admin, while the event is a draft or changes were requested).
pub async fn update(State(state): State<AppState>, caller: Allowed<UnitAdmins>, Path(event_id): Path<String>, Json(form): Json<EventForm>) -> Result<Json<Value>, ApiError> {
    let event = EventRow::load(&state.engine.db.pool, &event_id).await?;
    event.check_editable(&caller)?;
    let form = check_form(&state, form)?;
    if form.year != event.year as i32 || form.item_code != event.item_code {
        // The attendance list was matched to enrollments of the year and item.
        let attendees: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM training_attendees WHERE event_id = $1").bind(&event_id).fetch_one(&state.engine.db.pool).await?;
        if attendees > 0 {
            return Err(ApiError::conflict("training.item_fixed"));
        }
    }
    let updated = sqlx::query(
        "UPDATE training_events SET title = $1, year = $2, item_code = $3, courses = $4, starts_on = $5, ends_on = $6, location = $7, teachers = $8
         WHERE id = $9 AND status IN ('draft', 'changes_requested')",
    )
    .bind(&form.title)
    .bind(i64::from(form.year))
    .bind(&form.item_code)
    .bind(json!(form.courses).to_string())
    .bind(form.starts_on.to_string())
    .bind(form.ends_on.to_string())
    .bind(&form.location)
    .bind(json!(form.teachers).to_string())
    .bind(&event_id)
    .execute(&state.engine.db.pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::conflict("training.not_editable").arg("status", "submitted"));
    }
    Ok(Json(event_json(&state, &event_id).await?))
}

/// `POST /api/training/events/{event_id}/submit` (the unit's admin): sends the event
/// for review. It needs an attendance list with at least one attendee, a lecture
/// recording and a teacher credential, all uploaded completely.
pub async fn submit(State(state): State<AppState>, caller: Caller, Path(event_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let event = EventRow::load(&state.engine.db.pool, &event_id).await?;
    event.check_editable(&caller)?;
    require_qualified(&state, &event.unit_id).await?;
    let pool = &state.engine.db.pool;
    let attendees: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM training_attendees WHERE event_id = $1").bind(&event_id).fetch_one(pool).await?;
    if attendees == 0 {
        return Err(ApiError::conflict("training.attendance_required"));
    }
    for purpose in ["lecture", "credential"] {
        let files: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE owner_kind = 'training_event' AND owner_id = $1 AND purpose = $2 AND status = 'complete'")
            .bind(&event_id)
            .bind(purpose)
            .fetch_one(pool)
            .await?;
        if files == 0 {
            return Err(ApiError::conflict(if purpose == "lecture" { "training.lecture_required" } else { "training.credential_required" }));
        }
    }

    // The first submission starts the review instance; a later one resumes it.
    let instance_id = match &event.instance_id {
        Some(instance_id) => instance_id.clone(),
        None => {
            let subject = [("unit", event.unit_id.clone()), ("event", event.id.clone())];
            let instance = match state.engine.find_instance(PIPELINE, &subject_key(&subject)).await? {
                Some(instance) => instance,
                None => {
                    let mut context = Map::new();
                    context.insert("title".into(), json!(event.title));
                    state.engine.start(PIPELINE, &subject, context).await?
                }
            };
            instance.id
        }
    };
    let now_ms = state.now_ms();
    let moved = sqlx::query("UPDATE training_events SET status = 'submitted', submitted_at = $1, instance_id = $2 WHERE id = $3 AND status IN ('draft', 'changes_requested')")
        .bind(now_ms)
        .bind(&instance_id)
        .bind(&event_id)
        .execute(pool)
        .await?;
    if moved.rows_affected() == 0 {
        return Err(ApiError::conflict("training.not_editable").arg("status", "submitted"));
    }
    if event.status == "changes_requested" {
        crate::workflow::send(&state, &instance_id, EventIn::new(format!("training:{event_id}:resubmitted:{now_ms}"), "resubmitted")).await?;
    }
    tracing::info!(event = %event_id, unit = %event.unit_id, instance = %instance_id, attendees, "training event submitted");
    Ok(Json(event_json(&state, &event_id).await?))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    unit_id: Option<String>,
}

/// `GET /api/training/events?status=&unit_id=`: every unit's events for association
/// staff (submitted ones by default, oldest first), and the unit's own for its admin.
pub async fn list(State(state): State<AppState>, caller: Allowed<UnitAdminsAndStaff>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let (unit_filter, default_status) = if caller.role.is_staff() {
        (query.unit_id.clone(), Some("submitted".to_string()))
    } else {
        let own = caller.unit_id.clone().ok_or_else(|| ApiError::forbidden("auth.forbidden"))?;
        (Some(own), None)
    };
    let status = query.status.clone().or(default_status).filter(|status| status != "all");
    let rows = sqlx::query(
        "SELECT e.id, e.unit_id, u.name AS unit_name, e.title, e.year, e.item_code, e.status, e.starts_on, e.ends_on, e.submitted_at,
                (SELECT COUNT(*) FROM training_attendees a WHERE a.event_id = e.id) AS attendees
         FROM training_events e JOIN units u ON u.id = e.unit_id
         WHERE ($1 = '' OR e.unit_id = $1) AND ($2 = '' OR e.status = $2)
         ORDER BY COALESCE(e.submitted_at, e.created_at), e.id",
    )
    .bind(unit_filter.unwrap_or_default())
    .bind(status.unwrap_or_default())
    .fetch_all(&state.engine.db.pool)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        events.push(json!({
            "id": row.try_get::<String, _>("id")?,
            "unit_id": row.try_get::<String, _>("unit_id")?,
            "unit_name": row.try_get::<String, _>("unit_name")?,
            "title": row.try_get::<String, _>("title")?,
            "year": row.try_get::<i64, _>("year")?,
            "item_code": row.try_get::<String, _>("item_code")?,
            "status": row.try_get::<String, _>("status")?,
            "starts_on": row.try_get::<String, _>("starts_on")?,
            "ends_on": row.try_get::<String, _>("ends_on")?,
            "submitted_at": row.try_get::<Option<i64>, _>("submitted_at")?,
            "attendees": row.try_get::<i64, _>("attendees")?,
        }));
    }
    Ok(Json(json!({ "events": events })))
}

/// `GET /api/training/events/{event_id}` (association staff or the unit's admin): the
/// event with its attendees, files and decisions.
pub async fn detail(State(state): State<AppState>, caller: Caller, Path(event_id): Path<String>) -> Result<Json<Value>, ApiError> {
    EventRow::load(&state.engine.db.pool, &event_id).await?.check_visible(&caller)?;
    Ok(Json(event_json(&state, &event_id).await?))
}

/// Renders an event with its attendees, complete files and decision history.
pub async fn event_json(state: &AppState, event_id: &str) -> Result<Value, ApiError> {
    let pool = &state.engine.db.pool;
    let row = sqlx::query(
        "SELECT id, unit_id, title, year, item_code, courses, starts_on, ends_on, location, teachers, status, instance_id, created_at, submitted_at,
                decided_by, decided_at, decision_reason FROM training_events WHERE id = $1",
    )
    .bind(event_id)
    .fetch_one(pool)
    .await?;
    let parse = |text: String| serde_json::from_str::<Value>(&text).map_err(ApiError::internal);

    let attendees = sqlx::query(
        "SELECT a.operator_id, a.enrollment_id, a.line, o.name FROM training_attendees a JOIN operators o ON o.id = a.operator_id WHERE a.event_id = $1 ORDER BY a.line",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| -> Result<Value, sqlx::Error> {
        Ok(json!({
            "operator_id": row.try_get::<String, _>("operator_id")?,
            "enrollment_id": row.try_get::<String, _>("enrollment_id")?,
            "line": row.try_get::<i64, _>("line")?,
            "name": row.try_get::<Option<String>, _>("name")?,
        }))
    })
    .collect::<Result<Vec<_>, _>>()?;

    let files = sqlx::query(
        "SELECT id, purpose, file_name, size, sha256, content_type, completed_at FROM uploads
         WHERE owner_kind = 'training_event' AND owner_id = $1 AND status = 'complete' ORDER BY completed_at, id",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| -> Result<Value, sqlx::Error> {
        Ok(json!({
            "upload_id": row.try_get::<String, _>("id")?,
            "purpose": row.try_get::<String, _>("purpose")?,
            "file_name": row.try_get::<String, _>("file_name")?,
            "size": row.try_get::<i64, _>("size")?,
            "sha256": row.try_get::<String, _>("sha256")?,
            "content_type": row.try_get::<Option<String>, _>("content_type")?,
            "completed_at": row.try_get::<Option<i64>, _>("completed_at")?,
        }))
    })
    .collect::<Result<Vec<_>, _>>()?;

    let decisions = sqlx::query("SELECT seq, decision, reason, decided_by, decided_at, effects FROM training_decisions WHERE event_id = $1 ORDER BY seq")
        .bind(event_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| -> Result<Value, ApiError> {
            Ok(json!({
                "seq": row.try_get::<i64, _>("seq")?,
                "decision": row.try_get::<String, _>("decision")?,
                "reason": row.try_get::<String, _>("reason")?,
                "decided_by": row.try_get::<String, _>("decided_by")?,
                "decided_at": row.try_get::<i64, _>("decided_at")?,
                "effects": row.try_get::<Option<String>, _>("effects")?.map(parse).transpose()?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(json!({
        "id": row.try_get::<String, _>("id")?,
        "unit_id": row.try_get::<String, _>("unit_id")?,
        "title": row.try_get::<String, _>("title")?,
        "year": row.try_get::<i64, _>("year")?,
        "item_code": row.try_get::<String, _>("item_code")?,
        "courses": parse(row.try_get("courses")?)?,
        "starts_on": row.try_get::<String, _>("starts_on")?,
        "ends_on": row.try_get::<String, _>("ends_on")?,
        "location": row.try_get::<Option<String>, _>("location")?,
        "teachers": parse(row.try_get("teachers")?)?,
        "status": row.try_get::<String, _>("status")?,
        "instance_id": row.try_get::<Option<String>, _>("instance_id")?,
        "created_at": row.try_get::<i64, _>("created_at")?,
        "submitted_at": row.try_get::<Option<i64>, _>("submitted_at")?,
        "decided_by": row.try_get::<Option<String>, _>("decided_by")?,
        "decided_at": row.try_get::<Option<i64>, _>("decided_at")?,
        "decision_reason": row.try_get::<Option<String>, _>("decision_reason")?,
        "attendees": attendees,
        "files": files,
        "decisions": decisions,
    }))
}
