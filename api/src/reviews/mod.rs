//! Review cases (审核案件): study sessions and exam attempts that the anti-cheat
//! screening sent to association reviewers, because a rule found something (`review`)
//! or because the record was drawn as a sample of clean ones (`sample`).
//!
//! - [`queue`]: the reviewer queue with filters, and one case with its evidence.
//! - [`decide`]: a reviewer's decision with a reason.
//! - [`media`]: one image or audio clip of a case's evidence, logged like the case view.
//! - [`effects`]: what a decision changes (sessions voided, attempts voided, credits
//!   withdrawn) and the event that moves the workflow.

pub mod decide;
pub mod effects;
pub mod media;
pub mod queue;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub use effects::Decision;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/reviews", get(queue::list))
        .route("/api/reviews/{case_id}", get(queue::detail))
        .route("/api/reviews/{case_id}/decision", post(decide::decide))
        .route("/api/reviews/{case_id}/evidence", get(media::media))
}
