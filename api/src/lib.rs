//! The HTTP API of certflow: JSON over axum for operators, unit admins, association
//! staff and training institutions.
//!
//! Each area has a module with its own `router()`; [`router`] merges them and adds the
//! cross-cutting layers: the request's locale for error messages, idempotency keys,
//! and request logging. Handlers take the current time from the engine's clock, never
//! from the system, so tests and the demo can run on a simulated clock.

pub mod archive_pdf;
pub mod archive_text;
pub mod archive_xlsx;
pub mod appeal_files;
pub mod appeals;
pub mod archives;
pub mod auth;
pub mod bank;
pub mod card_pdf;
pub mod certificates;
pub mod credits;
pub mod db;
pub mod definitions;
pub mod documents;
pub mod enrollments;
pub mod error;
pub mod evidence_log;
pub mod exams;
pub mod extract;
pub mod help_pages;
pub mod handoff;
pub mod idempotency;
pub mod institution_registry;
pub mod institutions;
pub mod mask;
pub mod metrics;
pub mod mobile_change;
pub mod notices;
pub mod operator;
pub mod openapi;
pub mod past_records;
pub mod proctoring;
pub mod realname;
pub mod ops;
pub mod reviews;
pub mod roster;
pub mod roster_import_runs;
pub mod roster_imports;
pub mod sessions;
pub mod staff_queues;
pub mod site_settings;
pub mod site_text;
pub mod statistics;
pub mod study;
pub mod sync_ops;
pub mod sync_status;
pub mod training;
pub mod unit_admin;
pub mod unit_change;
pub mod unit_join;
pub mod unit_list;
pub mod unit_search;
pub mod unit_staff;
pub mod units;
pub mod verification_documents;
pub mod verifications;
pub mod workflow;
pub mod xapi;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use domain::catalogue::Catalogue;
use domain::courseware::{Courseware, CoursewareError};
use domain::realname::RealNameProvider;
use workflows::clock::{beijing_date, from_millis};
use workers::notify::Templates;
use workers::object_store::{LocalStore, ObjectStore};
use workflows::runtime::Engine;

pub use auth::{NewAccount, create_account};
pub use error::ApiError;
pub use institutions::{CreatedInstitution, create_institution};
pub use roster::{RosterImport, import_roster};

/// The state shared by every handler: the engine (database and clock), the operator
/// catalogue, and the bundled courseware (courses and each item's exam rule; exams
/// draw questions from the bank in the database).
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub catalogue: &'static Catalogue,
    pub courseware: Arc<Courseware>,
    /// Notification templates, against which published definitions are validated.
    pub templates: Arc<Templates>,
    /// Where uploaded files are kept: `./data/objects` unless set by [`AppState::with_objects`].
    pub objects: Arc<dyn ObjectStore>,
    /// The deployment's real-name check provider (ID number and name, face against the
    /// ID photo), if one is configured. Without one, registrations stay unchecked and
    /// exam snapshots go to review as unverified.
    pub real_name: Option<Arc<dyn RealNameProvider>>,
}

impl AppState {
    /// Builds the state with the courseware compiled into the binary.
    pub fn new(engine: Engine) -> Result<AppState, CoursewareError> {
        Ok(AppState::with_courseware(engine, Courseware::embedded()?))
    }

    /// Builds the state with `courseware`, such as one loaded from a directory.
    pub fn with_courseware(engine: Engine, courseware: Courseware) -> AppState {
        let templates = Arc::new(Templates::embedded().expect("the templates compiled into the binary parse"));
        let objects = Arc::new(LocalStore::new("./data/objects"));
        AppState { engine, catalogue: Catalogue::embedded(), courseware: Arc::new(courseware), templates, objects, real_name: None }
    }

    /// Keeps uploaded files in `objects`, such as the configured data directory or bucket.
    pub fn with_objects(mut self, objects: Arc<dyn ObjectStore>) -> AppState {
        self.objects = objects;
        self
    }

    /// Checks real names and exam faces with `provider`.
    pub fn with_real_name(mut self, provider: Arc<dyn RealNameProvider>) -> AppState {
        self.real_name = Some(provider);
        self
    }

    /// Uses `templates` (such as those of a definitions directory) for validation.
    pub fn with_templates(mut self, templates: Templates) -> AppState {
        self.templates = Arc::new(templates);
        self
    }

    /// Returns the current instant of the engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.engine.clock.now()
    }

    /// Returns the current instant of the engine's clock in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.engine.now_ms()
    }

    /// Returns today's date in Beijing by the engine's clock.
    pub fn today(&self) -> NaiveDate {
        beijing_date(self.now())
    }
}

/// Builds the router of the operations probes alone (`/healthz`, `/readyz`, `/metrics`),
/// for worker and scheduler processes, which serve no API.
pub fn probes_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(ops::healthz))
        .route("/readyz", axum::routing::get(ops::readyz))
        .merge(metrics::router())
        .with_state(state)
}

/// Builds the API's router with all routes and layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(auth::router())
        .merge(operator::router())
        .merge(certificates::router())
        .merge(units::router())
        .merge(unit_search::router())
        .merge(institutions::router())
        .merge(institution_registry::router())
        .merge(enrollments::router())
        .merge(handoff::router())
        .merge(sessions::router())
        .merge(exams::router())
        .merge(proctoring::router())
        .merge(bank::router())
        .merge(reviews::router())
        .merge(archives::router())
        .merge(unit_change::router())
        .merge(mobile_change::router())
        .merge(unit_staff::router())
        .merge(unit_join::router())
        .merge(unit_admin::router())
        .merge(roster_imports::router())
        .merge(appeals::router())
        .merge(appeal_files::router())
        .merge(verifications::router())
        .merge(verification_documents::router())
        .merge(staff_queues::router())
        .merge(past_records::router())
        .merge(credits::router())
        .merge(card_pdf::router())
        .merge(ops::router())
        .merge(metrics::router())
        .merge(definitions::router())
        .merge(sync_ops::router())
        .merge(training::router())
        .merge(openapi::router())
        // Statistics and site content for association staff.
        .merge(statistics::router())
        .merge(notices::router())
        .merge(help_pages::router())
        .merge(site_settings::router())
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::replay_or_record))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn(metrics::time_request))
        .layer(middleware::from_fn(error::scope_locale))
        .with_state(state)
}

/// Answers a path no route serves with the API's error body instead of an empty 404.
async fn unknown_route() -> ApiError {
    ApiError::not_found("request.unknown_route")
}

/// Logs each request's method, path, status and duration. Query strings are left out
/// because they may carry personal data.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if response.status().is_server_error() {
        tracing::warn!(%method, %path, status, elapsed_ms, "request finished");
    } else {
        tracing::info!(%method, %path, status, elapsed_ms, "request finished");
    }
    response
}

/// Formats unix milliseconds as Beijing local time, `2026-03-05 11:00:00`, for messages.
pub fn beijing_text(ms: i64) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    from_millis(ms).with_timezone(&beijing).format("%Y-%m-%d %H:%M:%S").to_string()
}
