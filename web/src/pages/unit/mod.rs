//! Pages of unit admins (单位管理员), under `/unit`. Each area has its own module and
//! router; the API checks every call the pages make.

pub mod joins;
pub mod operator;
pub mod roster;
pub mod staff;
pub mod staff_chart;

use axum::response::Response;
use axum::Router;
use serde_json::Value;

use crate::context::{PageContext, Role};
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().merge(staff::router()).merge(operator::router()).merge(roster::router()).merge(joins::router())
}

/// Returns the session token and the admin's unit (`GET /api/units/mine`), or the
/// response for a visitor who is not a signed-in unit admin.
pub async fn unit_session(context: &PageContext) -> Result<(&str, Value), Response> {
    let token = context.session_for(&[Role::UnitAdmin])?;
    match context.state.backend.get("/api/units/mine", Some(token), context.locale).await {
        Ok(unit) => Ok((token, unit)),
        Err(problem) => Err(context.fail(problem)),
    }
}

/// Returns `ms` (unix milliseconds) as Beijing local time, or an empty string.
pub fn beijing(ms: &Value) -> Value {
    ms.as_i64().map(api::beijing_text).map(Value::String).unwrap_or(Value::String(String::new()))
}
