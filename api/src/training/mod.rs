//! Internal training (内部培训): a unit that the association qualified submits a
//! training event (courses, dates, teachers, attendance list, lecture recordings,
//! teacher credentials), and association staff approve it, request changes or reject it.
//!
//! - [`qualifications`]: the association grants and revokes the qualification.
//! - [`events`]: a unit creates, edits, lists and submits its events.
//! - [`uploads`]: resumable chunked uploads of the event's files into the object store.
//! - [`attendance`]: the attendance list matched to the unit's enrolled operators.
//! - [`decide`]: the review decision and what it moves: credits for the attendees
//!   through their `annual_ce` workflows, archive entries, the unit admin's notice.

pub mod attendance;
pub mod decide;
pub mod events;
pub mod qualifications;
pub mod uploads;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;

use crate::AppState;

/// The pipeline of a training event's review, one instance per event.
pub const PIPELINE: &str = "internal_training";
/// The qualification a unit needs to submit training events.
pub const QUALIFICATION: &str = "internal_training";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/units/{unit_id}/qualifications", post(qualifications::grant).get(qualifications::list))
        .route("/api/units/{unit_id}/qualifications/{qualification}", axum::routing::delete(qualifications::revoke))
        .route("/api/training/events", post(events::create).get(events::list))
        .route("/api/training/events/{event_id}", get(events::detail).put(events::update))
        .route("/api/training/events/{event_id}/submit", post(events::submit))
        .route("/api/training/events/{event_id}/decision", post(decide::decide))
        .route("/api/training/events/{event_id}/uploads", post(uploads::start))
        .route("/api/training/uploads/{upload_id}", get(uploads::status).delete(uploads::discard))
        .route(
            "/api/training/uploads/{upload_id}/chunks/{index}",
            put(uploads::put_chunk).layer(DefaultBodyLimit::max(uploads::MAX_CHUNK_BYTES as usize + 1024)),
        )
        .route("/api/training/uploads/{upload_id}/complete", post(uploads::complete))
        .route("/api/training/uploads/{upload_id}/content", get(uploads::content))
}
