//! Changing an operator's mobile number (更换手机号).
//!
//! Operators sign in with their mobile, the `registration` instance is keyed by it and
//! the `operators` row stores it, so a change moves all three at once. Every change is
//! a request first and takes effect when its codes are confirmed:
//!
//! | who | route | codes |
//! |---|---|---|
//! | the operator ([`self_service`]) | `/api/operator/mobile-change` | one to the new number, one to the current number |
//! | the admin of the operator's unit ([`overrides`]) | `/api/units/{unit_id}/operators/{operator_id}/mobile-change` | one to the new number, read out by the operator |
//! | an association admin ([`overrides`]) | `/api/staff/operators/{operator_id}/mobile-change` | as for the unit admin |
//!
//! The overrides are for an operator whose old number is lost, so they need a reason
//! and no code from the old number. Codes are `login_codes` rows with their own purpose
//! (see [`crate::auth::code`]): the same expiry, attempt limit and per-number limits as
//! login codes. The SMS texts leave through a `mobile_change` instance per number, so
//! asking for a code never starts a registration for the new number.
//!
//! Confirming ([`apply`]) changes the operator row, re-keys the registration instance,
//! spends the codes, records the change in `mobile_changes` and in the operator's
//! continuing-education archive (`mobile_changed`), and ends the operator's other
//! sessions, in one transaction. The old number is then sent an SMS.

pub mod apply;
pub mod overrides;
pub mod request;
pub mod self_service;
pub mod staff_search;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// The pipeline that texts mobile-change codes and notices, one instance per number.
pub const MOBILE_CHANGE: &str = "mobile_change";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/operator/mobile-change", post(self_service::request))
        .route("/api/operator/mobile-change/confirm", post(self_service::confirm))
        .route("/api/units/{unit_id}/operators/{operator_id}/mobile-change", post(overrides::unit_request))
        .route("/api/units/{unit_id}/operators/{operator_id}/mobile-change/confirm", post(overrides::unit_confirm))
        .route("/api/staff/operators", get(staff_search::search))
        .route("/api/staff/operators/{operator_id}/mobile-change", post(overrides::staff_request))
        .route("/api/staff/operators/{operator_id}/mobile-change/confirm", post(overrides::staff_confirm))
}

/// The requester of a change, as stored in `mobile_change_requests.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The operator, with codes to both numbers.
    SelfService,
    /// The admin of the operator's unit, for a lost number.
    UnitOverride,
    /// An association admin, for a lost number.
    AssociationOverride,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::SelfService => "self",
            ChangeKind::UnitOverride => "unit_override",
            ChangeKind::AssociationOverride => "association_override",
        }
    }

    pub fn parse(text: &str) -> Option<ChangeKind> {
        match text {
            "self" => Some(ChangeKind::SelfService),
            "unit_override" => Some(ChangeKind::UnitOverride),
            "association_override" => Some(ChangeKind::AssociationOverride),
            _ => None,
        }
    }
}
