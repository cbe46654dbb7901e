//! `GET /staff`: the start page of association staff, with the counts of work waiting
//! in each queue and links to every staff section.

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::staff_session;
use crate::context::PageContext;
use crate::WebState;

/// Staff sections besides the queues, as (path, catalogue code of the link text).
/// Their pages are built in their own modules.
const SECTIONS: [(&str, &str); 10] = [
    ("/staff/statistics", "web.staff.section.statistics"),
    ("/staff/notices", "web.staff.section.notices"),
    ("/staff/help", "web.staff.section.help"),
    ("/staff/site", "web.staff.section.site"),
    ("/staff/units", "web.staff.section.units"),
    ("/staff/institutions", "web.staff.section.institutions"),
    ("/staff/incidents", "web.staff.section.incidents"),
    ("/staff/sync", "web.staff.section.sync"),
    ("/staff/definitions", "web.staff.section.definitions"),
    ("/staff/operators", "web.staff_operators.menu"),
];

pub fn router() -> Router<WebState> {
    Router::new().route("/staff", get(show))
}

async fn show(context: PageContext) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let counts = match context.state.backend.get("/api/staff/queue-counts", Some(token), context.locale).await {
        Ok(counts) => counts,
        Err(problem) => return context.fail(problem),
    };
    let bank_waiting = counts["bank_courses"].as_i64().unwrap_or(0) + counts["bank_questions"].as_i64().unwrap_or(0);
    let sections: Vec<_> = SECTIONS.iter().map(|(path, text)| json!({ "path": path, "text": text })).collect();
    context.render("staff_dashboard", json!({ "title": "web.staff.dashboard.title", "counts": counts, "bank_waiting": bank_waiting, "sections": sections }))
}
