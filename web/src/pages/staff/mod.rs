//! Pages of association staff (协会工作人员: association admins and reviewers), one
//! module per area under `/staff`.

pub mod help;
pub mod notices;
pub mod site;
pub mod statistics;

use axum::Router;

use crate::context::Role;
use crate::WebState;

/// The roles of association staff, for [`crate::context::PageContext::session_for`].
pub const STAFF: &[Role] = &[Role::AssociationAdmin, Role::Reviewer];

pub fn router() -> Router<WebState> {
    Router::new()
        // Statistics, notices, help pages and footer settings.
        .merge(statistics::router())
        .merge(notices::router())
        .merge(help::router())
        .merge(site::router())
}
