//! The reviewer queue: `GET /api/reviews` with filters, and `GET /api/reviews/{id}`
//! with the evidence of the session or attempt. Every evidence view is written to the
//! evidence access log.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::allowed::Staff;
use crate::auth::{Allowed, Caller};
use crate::error::ApiError;
use crate::evidence_log;
use crate::extract::{Json, Query};
use crate::AppState;

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    rule: Option<String>,
    item_code: Option<String>,
    year: Option<i64>,
    unit_id: Option<String>,
    operator_id: Option<String>,
    limit: Option<i64>,
}

const CASE_COLUMNS: &str = "c.id, c.kind, c.subject_id, c.enrollment_id, c.findings, c.status, c.outcome, c.decision, c.effects,
    c.decided_by, c.decided_at, c.reason, c.created_at, e.year, e.item_code, e.operator_id, o.name AS operator_name, o.unit_id";

/// `GET /api/reviews?status=open&kind=&outcome=&rule=&item_code=&year=&unit_id=&operator_id=&limit=`
/// (association staff): review cases, oldest first. Status is `open` (default),
/// `accepted`, `rejected` or `all`; outcome is `review` or `sample`; rule is a rule
/// name such as `shared_device`.
pub async fn list(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let status = query.status.unwrap_or_else(|| "open".to_string());
    if !matches!(status.as_str(), "open" | "accepted" | "rejected" | "all") {
        return Err(ApiError::invalid("review.status_invalid").field("status").arg("value", &status));
    }
    if let Some(kind) = query.kind.as_deref().filter(|kind| !matches!(*kind, "session" | "exam")) {
        return Err(ApiError::invalid("review.kind_invalid").field("kind").arg("value", kind));
    }
    if let Some(outcome) = query.outcome.as_deref().filter(|outcome| !matches!(*outcome, "review" | "sample")) {
        return Err(ApiError::invalid("review.outcome_invalid").field("outcome").arg("value", outcome));
    }
    if let Some(rule) = query.rule.as_deref().filter(|rule| domain::review::Rule::parse(rule).is_none()) {
        return Err(ApiError::invalid("review.rule_invalid").field("rule").arg("value", rule));
    }

    // Text filters bind as $1..; the rule matches the stored JSON, which serde writes
    // without spaces.
    let mut conditions = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut add = |condition: &str, value: String| {
        binds.push(value);
        conditions.push(condition.replace('?', &format!("${}", binds.len())));
    };
    if status != "all" {
        add("c.status = ?", status.clone());
    }
    if let Some(kind) = query.kind {
        add("c.kind = ?", kind);
    }
    if let Some(outcome) = query.outcome {
        add("c.outcome = ?", outcome);
    }
    if let Some(rule) = query.rule {
        add("c.findings LIKE ?", format!("%\"rule\":\"{rule}\"%"));
    }
    if let Some(item_code) = query.item_code {
        add("e.item_code = ?", item_code);
    }
    if let Some(unit_id) = query.unit_id {
        add("o.unit_id = ?", unit_id);
    }
    if let Some(operator_id) = query.operator_id {
        add("e.operator_id = ?", operator_id);
    }
    if let Some(year) = query.year {
        // Years are integers; a literal of a parsed i64 is safe.
        conditions.push(format!("e.year = {year}"));
    }
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM review_cases c JOIN enrollments e ON e.id = c.enrollment_id JOIN operators o ON o.id = e.operator_id
         {filter} ORDER BY c.created_at, c.id LIMIT {}",
        query.limit.unwrap_or(100).clamp(1, 500)
    );
    let mut select = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in &binds {
        select = select.bind(value);
    }
    let rows = select.fetch_all(&state.engine.db.pool).await?;
    let cases = rows.iter().map(case_json).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "cases": cases })))
}

/// `GET /api/reviews/{case_id}` (association staff): the case with the full record of
/// its session or attempt, evidence included, and the operator's other sessions of the
/// same course. The view is logged in the evidence access log.
pub async fn detail(State(state): State<AppState>, caller: Caller, Path(case_id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CASE_COLUMNS} FROM review_cases c JOIN enrollments e ON e.id = c.enrollment_id JOIN operators o ON o.id = e.operator_id WHERE c.id = $1"
    )))
    .bind(&case_id)
    .fetch_optional(&state.engine.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("review.not_found"))?;
    let mut case = case_json(&row)?;
    let kind: String = row.try_get("kind")?;
    let subject_id: String = row.try_get("subject_id")?;
    let enrollment_id: String = row.try_get("enrollment_id")?;

    let subject = match kind.as_str() {
        "session" => session_json(&state, &subject_id).await?,
        _ => attempt_json(&state, &subject_id).await?,
    };
    let course_sessions = match subject.get("course_code").and_then(Value::as_str) {
        Some(course) => {
            let rows = sqlx::query("SELECT id, started_at, ended_at, face_check, status FROM study_sessions WHERE enrollment_id = $1 AND course_code = $2 ORDER BY started_at, id")
                .bind(&enrollment_id)
                .bind(course)
                .fetch_all(&state.engine.db.pool)
                .await?;
            rows.iter()
                .map(|r| -> Result<Value, sqlx::Error> {
                    Ok(json!({ "id": r.try_get::<String, _>("id")?, "started_at": r.try_get::<i64, _>("started_at")?, "ended_at": r.try_get::<i64, _>("ended_at")?,
                        "face_check": r.try_get::<String, _>("face_check")?, "status": r.try_get::<String, _>("status")? }))
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        None => Vec::new(),
    };
    evidence_log::record(&state, &caller, &kind, &subject_id, Some(&case_id), "review").await?;
    case["subject"] = subject;
    case["course_sessions"] = Value::Array(course_sessions);
    Ok(Json(case))
}

async fn session_json(state: &AppState, session_id: &str) -> Result<Value, ApiError> {
    let row = sqlx::query(
        "SELECT id, institution_id, course_code, started_at, ended_at, face_check, evidence, status, device, ip, unit_id FROM study_sessions WHERE id = $1",
    )
    .bind(session_id)
    .fetch_one(&state.engine.db.pool)
    .await?;
    let evidence: String = row.try_get("evidence")?;
    Ok(json!({
        "id": row.try_get::<String, _>("id")?,
        "institution_id": row.try_get::<String, _>("institution_id")?,
        "course_code": row.try_get::<String, _>("course_code")?,
        "started_at": row.try_get::<i64, _>("started_at")?,
        "ended_at": row.try_get::<i64, _>("ended_at")?,
        "face_check": row.try_get::<String, _>("face_check")?,
        "status": row.try_get::<String, _>("status")?,
        "device": row.try_get::<Option<String>, _>("device")?,
        "ip": row.try_get::<Option<String>, _>("ip")?,
        "unit_id": row.try_get::<Option<String>, _>("unit_id")?,
        "evidence": serde_json::from_str::<Value>(&evidence).unwrap_or(Value::Null),
    }))
}

async fn attempt_json(state: &AppState, attempt_id: &str) -> Result<Value, ApiError> {
    let row = sqlx::query("SELECT id, started_at, deadline_at, finished_at, status, score, passed, evidence, review_status FROM exam_attempts WHERE id = $1")
        .bind(attempt_id)
        .fetch_one(&state.engine.db.pool)
        .await?;
    let evidence: String = row.try_get("evidence")?;
    Ok(json!({
        "id": row.try_get::<String, _>("id")?,
        "started_at": row.try_get::<i64, _>("started_at")?,
        "deadline_at": row.try_get::<i64, _>("deadline_at")?,
        "finished_at": row.try_get::<Option<i64>, _>("finished_at")?,
        "status": row.try_get::<String, _>("status")?,
        "score": row.try_get::<Option<f64>, _>("score")?,
        "passed": row.try_get::<Option<i64>, _>("passed")?.map(|passed| passed == 1),
        "review_status": row.try_get::<String, _>("review_status")?,
        "evidence": serde_json::from_str::<Value>(&evidence).unwrap_or(Value::Null),
    }))
}

fn case_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    let findings: String = row.try_get("findings")?;
    let effects: Option<String> = row.try_get("effects")?;
    Ok(json!({
        "id": row.try_get::<String, _>("id")?,
        "kind": row.try_get::<String, _>("kind")?,
        "subject_id": row.try_get::<String, _>("subject_id")?,
        "enrollment_id": row.try_get::<String, _>("enrollment_id")?,
        "operator_id": row.try_get::<String, _>("operator_id")?,
        "operator_name": row.try_get::<Option<String>, _>("operator_name")?,
        "unit_id": row.try_get::<Option<String>, _>("unit_id")?,
        "year": row.try_get::<i64, _>("year")?,
        "item_code": row.try_get::<String, _>("item_code")?,
        "findings": serde_json::from_str::<Value>(&findings).unwrap_or(Value::String(findings)),
        "outcome": row.try_get::<String, _>("outcome")?,
        "status": row.try_get::<String, _>("status")?,
        "decision": row.try_get::<Option<String>, _>("decision")?,
        "effects": effects.and_then(|text| serde_json::from_str::<Value>(&text).ok()),
        "decided_by": row.try_get::<Option<String>, _>("decided_by")?,
        "decided_at": row.try_get::<Option<i64>, _>("decided_at")?,
        "reason": row.try_get::<Option<String>, _>("reason")?,
        "created_at": row.try_get::<i64, _>("created_at")?,
    }))
}
