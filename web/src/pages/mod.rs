//! The pages, one module per area. Each module owns its routes.

pub mod account_login;
pub mod credits;
pub mod enroll;
pub mod exam;
pub mod help;
pub mod home;
pub mod language;
pub mod login;
pub mod mobile_change;
pub mod notices;
pub mod profile;
pub mod staff;
pub mod study;
pub mod unit;

use axum::Router;

use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .merge(language::router())
        .merge(login::router())
        .merge(account_login::router())
        .merge(profile::router())
        .merge(home::router())
        .merge(enroll::router())
        .merge(study::router())
        .merge(exam::router())
        .merge(credits::router())
        // Public notices and help pages, and the staff pages.
        .merge(notices::router())
        .merge(help::router())
        .merge(staff::router())
        .merge(unit::router())
}
