//! `GET /api/staff/queue-counts`: how much work waits for association staff, counted
//! in the database so that the staff dashboard shows exact numbers where the list
//! routes stop at their row limits.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/staff/queue-counts", get(queue_counts))
}

/// The dashboard's counts: the response key of each and its query, which takes no binds.
const COUNTS: [(&str, &str); 5] = [
    ("review_cases", "SELECT COUNT(*) FROM review_cases WHERE status = 'open'"),
    ("appeals", "SELECT COUNT(*) FROM review_appeals WHERE status = 'open'"),
    ("verifications", "SELECT COUNT(*) FROM manual_verifications WHERE status = 'open'"),
    ("bank_courses", "SELECT COUNT(*) FROM course_versions WHERE status = 'under_review'"),
    ("bank_questions", "SELECT COUNT(*) FROM questions WHERE status = 'under_review'"),
];

/// `GET /api/staff/queue-counts` (association staff): open review cases, open appeals,
/// open manual verifications, and course and question versions under review.
#[utoipa::path(
    get,
    path = "/api/staff/queue-counts",
    tag = "staff",
    responses(
        (status = 200, description = "`{review_cases, appeals, verifications, bank_courses, bank_questions}`, each a count of open items", body = serde_json::Value),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn queue_counts(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let mut counts = serde_json::Map::new();
    for (key, sql) in COUNTS {
        let count: i64 = sqlx::query_scalar(sql).fetch_one(&state.engine.db.pool).await?;
        counts.insert(key.to_string(), json!(count));
    }
    Ok(Json(Value::Object(counts)))
}
