//! The pages of association staff (协会工作人员, roles `association_admin` and
//! `reviewer`) under `/staff`, one module per area. The API decides what each role may
//! do; a page only hides the buttons of actions the visitor's role cannot take.

// Dashboard, reviews, appeals, verifications and the question bank.
pub mod appeals;
pub mod bank;
pub mod dashboard;
pub mod reviews;
pub mod verifications;

// Statistics, notices, help pages and footer settings.
pub mod help;
pub mod notices;
pub mod site;
pub mod statistics;

// Institutions, units, incidents, provincial sync and definitions.
pub mod definition_edit;
pub mod definitions;
pub mod incidents;
pub mod institutions;
pub mod migrations;
pub mod operators;
pub mod ops_common;
pub mod sync;
pub mod units;

use axum::response::Response;
use axum::Router;
use serde_json::Value;

use crate::context::{PageContext, Role};
use crate::WebState;

/// The roles that may open staff pages; the API checks each call again.
pub const STAFF_ROLES: &[Role] = &[Role::AssociationAdmin, Role::Reviewer];

pub fn router() -> Router<WebState> {
    Router::new()
        // Dashboard, reviews, appeals, verifications and the question bank.
        .merge(dashboard::router())
        .merge(reviews::router())
        .merge(appeals::router())
        .merge(verifications::router())
        .merge(bank::router())
        // Statistics, notices, help pages and footer settings.
        .merge(statistics::router())
        .merge(notices::router())
        .merge(help::router())
        .merge(site::router())
        // Institutions, units, incidents, provincial sync and definitions.
        .merge(institutions::router())
        .merge(units::router())
        .merge(incidents::router())
        .merge(sync::router())
        .merge(definitions::router())
        .merge(definition_edit::router())
        .merge(migrations::router())
        .merge(operators::router())
}

/// Returns the session token of a staff visitor, or the redirect for anyone else.
pub fn staff_session(context: &PageContext) -> Result<&str, Response> {
    context.session_for(STAFF_ROLES)
}

/// Replaces each millisecond timestamp under `keys` of every object in `rows` with its
/// Beijing time text, the form staff read times in.
pub fn beijing_times(rows: &mut [Value], keys: &[&str]) {
    for row in rows {
        for key in keys {
            if let Some(ms) = row[*key].as_i64() {
                row[*key] = Value::String(api::beijing_text(ms));
            }
        }
    }
}

/// Returns the query string of the non-empty `fields`, url-encoded, with a leading `?`
/// when there is any.
pub fn query_string(fields: &[(&str, &str)]) -> String {
    let present: Vec<(&str, &str)> = fields.iter().copied().filter(|(_, value)| !value.trim().is_empty()).collect();
    if present.is_empty() {
        return String::new();
    }
    format!("?{}", serde_urlencoded::to_string(present).unwrap_or_default())
}
