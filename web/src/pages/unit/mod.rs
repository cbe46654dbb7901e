//! The unit admin's (单位管理员) pages under `/unit`.

pub mod staff;
pub mod staff_chart;

use axum::Router;

use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().merge(staff::router())
}
