//! The pages of association staff (协会工作人员, roles association_admin and reviewer)
//! under `/staff`, one module per area. The API decides what each role may do; a page
//! only hides the buttons of actions the visitor's role cannot take.

// Institutions, incidents, provincial sync and definitions.
pub mod definition_edit;
pub mod definitions;
pub mod incidents;
pub mod institutions;
pub mod migrations;
pub mod ops_common;
pub mod sync;

use axum::Router;

use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        // Institutions, incidents, provincial sync and definitions.
        .merge(institutions::router())
        .merge(incidents::router())
        .merge(sync::router())
        .merge(definitions::router())
        .merge(definition_edit::router())
        .merge(migrations::router())
}
