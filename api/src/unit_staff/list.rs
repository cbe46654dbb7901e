//! `GET /api/units/{unit_id}/staff`: the unit's operators with their enrollments of
//! the year, filtered by state and item, one page at a time, with counts by state.

use std::collections::HashMap;

use axum::extract::{Path, State};
use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Asia::Shanghai;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::{authorized_unit, placeholders};
use crate::auth::allowed::UnitAdminsAndStaff;
use crate::auth::Allowed;
use crate::error::{ApiError, text};
use crate::extract::{Json, Query};
use crate::workflow::ANNUAL_CE;
use crate::{AppState, beijing_text, mask};

/// Operators per page of the list.
pub const PAGE_SIZE: i64 = 50;

/// The state filter value for operators without an enrollment in the year and item.
pub const NOT_ENROLLED: &str = "not_enrolled";

/// Operators whose enrollments one query loads, so that an `IN` list stays well below
/// the bind parameter limits of both backends.
const ENROLLMENT_CHUNK: usize = 500;

/// Earliest year the list accepts.
const FIRST_YEAR: i32 = 2000;

#[derive(Deserialize)]
pub struct StaffQuery {
    year: Option<i32>,
    state: Option<String>,
    item: Option<String>,
    page: Option<i64>,
}

/// A checked filter of the list: the year, a state id or [`NOT_ENROLLED`] or empty
/// for any, and an item code or empty for any.
pub(crate) struct StaffFilter {
    pub year: i32,
    pub state: String,
    pub item: String,
}

impl StaffFilter {
    /// Checks the query's year, state and item: 400 naming the field for an unknown one.
    pub fn from_query(state: &AppState, query: &StaffQuery) -> Result<StaffFilter, ApiError> {
        let this_year = state.today().year();
        let year = query.year.unwrap_or(this_year);
        if !(FIRST_YEAR..=this_year + 1).contains(&year) {
            return Err(ApiError::invalid("unit_staff.year_invalid").field("year").arg("year", year).arg("first", FIRST_YEAR).arg("last", this_year + 1));
        }

        let requested_state = query.state.as_deref().map(str::trim).unwrap_or_default().to_string();
        let known_states = annual_states(state);
        if !requested_state.is_empty() && requested_state != NOT_ENROLLED && !known_states.iter().any(|(id, _)| *id == requested_state) {
            let labels = known_states.iter().map(|(id, label)| format!("{id}（{label}）")).collect::<Vec<_>>().join("、");
            return Err(ApiError::invalid("unit_staff.state_invalid").field("state").arg("state", &requested_state).arg("states", format!("{NOT_ENROLLED}、{labels}")));
        }

        let requested_item = query.item.as_deref().map(str::trim).unwrap_or_default();
        let item = if requested_item.is_empty() {
            String::new()
        } else {
            state
                .catalogue
                .item(requested_item)
                .and_then(|item| item.code.clone())
                .ok_or_else(|| ApiError::invalid("unit_staff.item_invalid").field("item").arg("item", requested_item))?
        };
        Ok(StaffFilter { year, state: requested_state, item })
    }

    /// Returns the `WHERE` condition on `operators o` (unit `$1`, year `$2`, item `$3`,
    /// state `$4`) and whether it uses `$4`.
    fn condition(&self) -> (String, bool) {
        let enrolled = "SELECT 1 FROM enrollments e JOIN wf_instances i ON i.id = e.instance_id
             WHERE e.operator_id = o.id AND e.year = $2 AND ($3 = '' OR e.item_code = $3)";
        match self.state.as_str() {
            "" => (format!("o.unit_id = $1 AND ($3 = '' OR EXISTS ({enrolled}))"), false),
            NOT_ENROLLED => (format!("o.unit_id = $1 AND NOT EXISTS ({enrolled})"), false),
            _ => (format!("o.unit_id = $1 AND EXISTS ({enrolled} AND i.state = $4)"), true),
        }
    }
}

/// Returns the states of the published `annual_ce` definition as (id, zh-CN label), in
/// definition order.
pub(super) fn annual_states(state: &AppState) -> Vec<(String, String)> {
    state
        .engine
        .registry
        .latest(ANNUAL_CE)
        .map(|(_, definition)| definition.states.iter().map(|s| (s.id.clone(), s.label.clone())).collect())
        .unwrap_or_default()
}

/// One operator of the list with the enrollments of the year.
pub(crate) struct StaffRow {
    pub operator_id: String,
    pub name: String,
    pub mobile_masked: String,
    pub id_number_masked: String,
    pub last_activity_at: Option<i64>,
    pub enrollments: Vec<StaffEnrollment>,
}

pub(crate) struct StaffEnrollment {
    pub enrollment_id: String,
    pub item_code: String,
    pub item_name: String,
    pub state: String,
    pub state_label: String,
    pub credits: i64,
    pub required_credits: i64,
    /// The next deadline in unix milliseconds and its message code, when one is open.
    pub deadline: Option<(i64, &'static str)>,
}

impl StaffRow {
    fn to_json(&self) -> Value {
        let enrollments: Vec<Value> = self
            .enrollments
            .iter()
            .map(|enrollment| {
                json!({
                    "enrollment_id": enrollment.enrollment_id,
                    "item_code": enrollment.item_code,
                    "item_name": enrollment.item_name,
                    "state": enrollment.state,
                    "state_label": enrollment.state_label,
                    "credits": enrollment.credits,
                    "required_credits": enrollment.required_credits,
                    "deadline_at": enrollment.deadline.map(|(at, _)| at),
                    "deadline": enrollment.deadline.map(|(at, code)| text(code, &[("time", &beijing_text(at))])),
                })
            })
            .collect();
        json!({
            "operator_id": self.operator_id,
            "name": self.name,
            "mobile": self.mobile_masked,
            "id_number": self.id_number_masked,
            "last_activity_at": self.last_activity_at,
            "last_activity": self.last_activity_at.map(beijing_text),
            "enrollments": enrollments,
        })
    }
}

/// `GET /api/units/{unit_id}/staff?year=&state=&item=&page=` (the unit's admin, or
/// association staff): one page of [`PAGE_SIZE`] operators ordered by name, the
/// number matching the filter, and counts by state of the year's enrollments.
#[utoipa::path(
    get,
    path = "/api/units/{unit_id}/staff",
    tag = "unit",
    params(
        ("unit_id" = String, Path, description = "单位编号 / unit id"),
        ("year" = Option<i32>, Query, description = "年度，默认北京时间当年 / year, the current Beijing year by default"),
        ("state" = Option<String>, Query, description = "状态编号或 not_enrolled / state id or not_enrolled"),
        ("item" = Option<String>, Query, description = "作业项目代号 / operation item code"),
        ("page" = Option<i64>, Query, description = "页码，从 1 开始 / page, from 1"),
    ),
    responses(
        (status = 200, description = "One page of operators with their enrollments, the number matching, and counts by state", body = serde_json::Value),
        (status = 400, description = "Invalid year, state, item or page", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is neither the unit's admin nor association staff", body = crate::openapi::ErrorResponse),
        (status = 404, description = "No unit has this id", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, caller: Allowed<UnitAdminsAndStaff>, Path(unit_id): Path<String>, Query(query): Query<StaffQuery>) -> Result<Json<Value>, ApiError> {
    let unit = authorized_unit(&state, &caller, &unit_id).await?;
    let filter = StaffFilter::from_query(&state, &query)?;
    let page = query.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::invalid("unit_staff.page_invalid").field("page").arg("page", page));
    }

    // Step 1: the page of operators and how many match.
    let total = count_matching(&state, &unit_id, &filter).await?;
    let rows = load_rows(&state, &unit_id, &filter, Some(((page - 1) * PAGE_SIZE, PAGE_SIZE))).await?;

    // Step 2: counts by state over the whole unit, for the item filter alone.
    let counts = state_counts(&state, &unit_id, &filter).await?;

    let items: Vec<Value> = state
        .catalogue
        .trial_items()
        .iter()
        .filter_map(|item| item.code.clone().map(|code| json!({ "code": code, "name": item.name })))
        .collect();
    Ok(Json(json!({
        "unit": { "id": unit.id, "name": unit.name },
        "year": filter.year,
        "state": filter.state,
        "item": filter.item,
        "page": page,
        "page_size": PAGE_SIZE,
        "total": total,
        "pages": ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        "staff_count": counts.staff,
        "counts": counts.to_json(),
        "items": items,
        "rows": rows.iter().map(StaffRow::to_json).collect::<Vec<_>>(),
    })))
}

async fn count_matching(state: &AppState, unit_id: &str, filter: &StaffFilter) -> Result<i64, ApiError> {
    let (condition, uses_state) = filter.condition();
    let sql = format!("SELECT COUNT(*) FROM operators o WHERE {condition}");
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(unit_id).bind(i64::from(filter.year)).bind(&filter.item);
    if uses_state {
        query = query.bind(&filter.state);
    }
    Ok(query.fetch_one(&state.engine.db.pool).await?)
}

/// Loads the operators matching `filter`, ordered by name, with their enrollments of
/// the year: the page `(offset, limit)`, or all of them for the export.
pub(super) async fn load_rows(state: &AppState, unit_id: &str, filter: &StaffFilter, page: Option<(i64, i64)>) -> Result<Vec<StaffRow>, ApiError> {
    let (condition, uses_state) = filter.condition();
    let limit = page.map(|(offset, limit)| format!(" LIMIT {limit} OFFSET {offset}")).unwrap_or_default();
    let sql = format!("SELECT o.id, o.name, o.mobile, o.id_number FROM operators o WHERE {condition} ORDER BY COALESCE(o.name, ''), o.id{limit}");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(unit_id).bind(i64::from(filter.year)).bind(&filter.item);
    if uses_state {
        query = query.bind(&filter.state);
    }
    let operators = query.fetch_all(&state.engine.db.pool).await?;

    let mut rows = Vec::with_capacity(operators.len());
    for row in &operators {
        rows.push(StaffRow {
            operator_id: row.try_get("id")?,
            name: row.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
            mobile_masked: mask::mobile(&row.try_get::<String, _>("mobile")?),
            id_number_masked: row.try_get::<Option<String>, _>("id_number")?.as_deref().map(mask::id_number).unwrap_or_default(),
            last_activity_at: None,
            enrollments: Vec::new(),
        });
    }
    for chunk in rows.chunks_mut(ENROLLMENT_CHUNK) {
        fill_enrollments(state, unit_id, filter.year, chunk).await?;
    }
    Ok(rows)
}

/// Adds the year's enrollments and the last activity to `rows`.
async fn fill_enrollments(state: &AppState, unit_id: &str, year: i32, rows: &mut [StaffRow]) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Ok(());
    }
    let pool = &state.engine.db.pool;
    let ids = placeholders(2, rows.len());

    // Enrollments with their state, credits and open exam.
    let sql = format!(
        "SELECT e.id, e.operator_id, e.item_code, i.state, i.version, i.status, i.context,
                (SELECT COUNT(*) FROM credits c WHERE c.enrollment_id = e.id AND c.withdrawn_at IS NULL) AS credits,
                (SELECT MIN(a.deadline_at) FROM exam_attempts a WHERE a.enrollment_id = e.id AND a.status = 'in_progress') AS exam_deadline
         FROM enrollments e JOIN wf_instances i ON i.id = e.instance_id
         WHERE e.year = $1 AND e.operator_id IN ({ids}) ORDER BY e.item_code"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(year));
    for row in rows.iter() {
        query = query.bind(row.operator_id.clone());
    }
    let enrollments = query.fetch_all(pool).await?;

    // Study sessions of this unit's periods, and exams since the current period began.
    let sql = format!(
        "SELECT operator_id, MAX(at) AS last_at FROM (
             SELECT s.operator_id, s.ended_at AS at FROM study_sessions s WHERE s.unit_id = $1 AND s.operator_id IN ({ids})
             UNION ALL
             SELECT a.operator_id, a.started_at AS at FROM exam_attempts a
             JOIN affiliations f ON f.operator_id = a.operator_id AND f.unit_id = $1 AND f.ended_at IS NULL AND a.started_at >= f.started_at
             WHERE a.operator_id IN ({ids})
         ) activity GROUP BY operator_id"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(unit_id.to_string());
    for row in rows.iter() {
        query = query.bind(row.operator_id.clone());
    }
    let activity = query.fetch_all(pool).await?;

    let index: HashMap<String, usize> = rows.iter().enumerate().map(|(at, row)| (row.operator_id.clone(), at)).collect();
    let year_end = year_end_ms(year);
    for record in &enrollments {
        let operator_id: String = record.try_get("operator_id")?;
        let Some(&at) = index.get(&operator_id) else { continue };
        rows[at].enrollments.push(staff_enrollment(state, record, year_end)?);
    }
    for record in &activity {
        let operator_id: String = record.try_get("operator_id")?;
        if let Some(&at) = index.get(&operator_id) {
            rows[at].last_activity_at = record.try_get::<Option<i64>, _>("last_at")?;
        }
    }
    Ok(())
}

fn staff_enrollment(state: &AppState, record: &sqlx::any::AnyRow, year_end: i64) -> Result<StaffEnrollment, ApiError> {
    let item_code: String = record.try_get("item_code")?;
    let state_id: String = record.try_get("state")?;
    let version: String = record.try_get("version")?;
    let running = record.try_get::<String, _>("status")? != "terminal";
    let context: Value = serde_json::from_str(&record.try_get::<String, _>("context")?).unwrap_or_default();
    let required_credits = context.get("required_credits").and_then(Value::as_i64).unwrap_or(20);
    let credits: i64 = record.try_get("credits")?;
    let exam_deadline: Option<i64> = record.try_get("exam_deadline")?;
    let state_label = state
        .engine
        .registry
        .by_version(&version)
        .and_then(|definition| definition.state(&state_id).map(|s| s.label.clone()))
        .unwrap_or_else(|| state_id.clone());

    // An open exam ends first; otherwise credits short of the requirement are due by
    // the end of the Beijing year.
    let deadline = match exam_deadline {
        Some(at) => Some((at, "unit_staff.deadline_exam")),
        None if running && credits < required_credits => Some((year_end, "unit_staff.deadline_credits")),
        None => None,
    };
    Ok(StaffEnrollment {
        enrollment_id: record.try_get("id")?,
        item_name: state.catalogue.item(&item_code).map(|item| item.name.clone()).unwrap_or_default(),
        item_code,
        state: state_id,
        state_label,
        credits,
        required_credits,
        deadline,
    })
}

/// Returns 23:00 on 31 December of `year`, Beijing time, in unix milliseconds: when
/// the `annual_ce` timer `at: "12-31 23:00"` closes the year and credits stop counting.
// NOTE: the hour is copied from definitions/pipelines/annual_ce.yaml; a definition
// that moves that timer needs this constant moved too.
fn year_end_ms(year: i32) -> i64 {
    let closing = NaiveDate::from_ymd_opt(year, 12, 31).and_then(|date| date.and_hms_opt(23, 0, 0)).expect("31 December exists");
    Shanghai.from_local_datetime(&closing).single().expect("Beijing has no daylight saving").timestamp_millis()
}

/// The unit's operators and their enrollments of the year counted by state.
pub(crate) struct StateCounts {
    pub staff: i64,
    pub not_enrolled: i64,
    /// (state id, zh-CN label, enrollments) in definition order, states with none included.
    pub by_state: Vec<(String, String, i64)>,
}

impl StateCounts {
    pub fn to_json(&self) -> Vec<Value> {
        let mut counts = vec![json!({ "state": NOT_ENROLLED, "label": text("unit_staff.not_enrolled", &[]), "count": self.not_enrolled })];
        counts.extend(self.by_state.iter().map(|(id, label, count)| json!({ "state": id, "label": label, "count": count })));
        counts
    }
}

/// Counts the unit's operators, those without an enrollment of the year (and item,
/// when the filter names one), and the enrollments by state.
pub(super) async fn state_counts(state: &AppState, unit_id: &str, filter: &StaffFilter) -> Result<StateCounts, ApiError> {
    let pool = &state.engine.db.pool;
    let staff: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM operators WHERE unit_id = $1").bind(unit_id).fetch_one(pool).await?;
    let not_enrolled_filter = StaffFilter { year: filter.year, state: NOT_ENROLLED.to_string(), item: filter.item.clone() };
    let not_enrolled = count_matching(state, unit_id, &not_enrolled_filter).await?;

    let rows = sqlx::query(
        "SELECT i.state, COUNT(*) AS enrollments FROM enrollments e
         JOIN operators o ON o.id = e.operator_id JOIN wf_instances i ON i.id = e.instance_id
         WHERE o.unit_id = $1 AND e.year = $2 AND ($3 = '' OR e.item_code = $3) GROUP BY i.state",
    )
    .bind(unit_id)
    .bind(i64::from(filter.year))
    .bind(&filter.item)
    .fetch_all(pool)
    .await?;
    let mut counted: HashMap<String, i64> = HashMap::new();
    for row in &rows {
        counted.insert(row.try_get("state")?, row.try_get("enrollments")?);
    }
    let by_state = annual_states(state).into_iter().map(|(id, label)| {
        let count = counted.get(&id).copied().unwrap_or(0);
        (id, label, count)
    });
    Ok(StateCounts { staff, not_enrolled, by_state: by_state.collect() })
}
