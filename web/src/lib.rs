//! The web pages of certflow: server-rendered HTML in Simplified Chinese (English as
//! the second locale), served by the same binary as the JSON API.
//!
//! Pages hold no business rules. Every read and write goes through the API's own
//! router in the same process ([`backend::Backend`]), with the visitor's session, so a
//! page and an API client are checked by the same handlers and get the same errors.
//! A few read-only lists the API lacked live there too (`/api/units/search`,
//! `GET /api/institutions`).
//!
//! Layout of the crate:
//! - [`views`]: the handlebars templates compiled into the binary and the `t` helper
//!   that looks texts up in the message catalogue (`definitions/messages/web.yaml`);
//! - [`context`]: the extractor each page handler starts from (locale, session,
//!   CSRF token, footer);
//! - [`csrf`], [`assets`], [`config`]: cross-cutting parts;
//! - [`pages`]: one module per area, each with its own `router()`.
//!
//! To add a page: write `templates/pages/NAME.hbs` starting with `{{#> layout}}`, a
//! handler that builds a [`views::Page`], and add its route to its area's router.

pub mod assets;
pub mod backend;
pub mod config;
pub mod context;
pub mod csrf;
pub mod forms;
pub mod pages;
pub mod plain_text;
pub mod views;

use std::sync::Arc;

use api::AppState;
use axum::middleware;
use axum::Router;

pub use config::WebConfig;

/// The state of every page handler.
#[derive(Clone)]
pub struct WebState {
    pub app: AppState,
    pub backend: backend::Backend,
    pub views: Arc<views::Views>,
    pub config: Arc<WebConfig>,
}

impl WebState {
    /// Builds the pages' state over the API state `app`.
    pub fn new(app: AppState, config: WebConfig) -> WebState {
        let views = views::Views::embedded().expect("the templates compiled into the binary parse");
        WebState { backend: backend::Backend::new(app.clone()), app, views: Arc::new(views), config: Arc::new(config) }
    }
}

/// Builds the router of the pages and their static files, to be merged with the API's.
pub fn router(state: WebState) -> Router {
    Router::new()
        .merge(pages::router())
        .merge(assets::router())
        .layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .with_state(state)
}

/// Builds the whole site: the pages merged with the API's router.
pub fn site(app: AppState, config: WebConfig) -> Router {
    let api = api::router(app.clone());
    router(WebState::new(app, config)).merge(api)
}
