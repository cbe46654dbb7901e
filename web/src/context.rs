//! The extractor every page handler starts from: the visitor's locale, session token
//! and CSRF token, and the rendering of a page with the layout's data.

use axum::extract::FromRequestParts;
use axum::http::header::{ACCEPT_LANGUAGE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::messages::Locale;
use serde_json::{Value, json};

pub use api::auth::{cookie_value, is_https, Role};

use crate::backend::ApiProblem;
use crate::config::WebConfig;
use crate::csrf::CsrfToken;
use crate::WebState;

/// The cookie that keeps the locale a visitor chose.
pub const LOCALE_COOKIE: &str = "certflow_lang";

/// The request data every page handler starts from.
pub struct PageContext {
    pub state: WebState,
    pub locale: Locale,
    /// The API session token from the session cookie, if any.
    pub session: Option<String>,
    /// The role of that session while it is valid; it chooses the menu.
    pub role: Option<Role>,
    pub csrf: String,
    /// The request's path and query, for the language switch to come back to.
    pub path: String,
    pub headers: HeaderMap,
    /// The footer: the start-up settings overridden by those staff stored.
    pub site: WebConfig,
}

impl FromRequestParts<WebState> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<PageContext, Self::Rejection> {
        let csrf = parts.extensions.get::<CsrfToken>().map(|token| token.0.clone()).unwrap_or_default();
        let session = api::auth::session_token(&parts.headers);
        let role = match &session {
            Some(token) => api::auth::session_role(&state.app, token).await.unwrap_or_else(|error| {
                tracing::warn!(error = %error, "session role lookup failed; showing the signed-out menu");
                None
            }),
            None => None,
        };
        let site = site_footer(state, locale_of(&parts.headers)).await;
        Ok(PageContext {
            site,
            state: state.clone(),
            locale: locale_of(&parts.headers),
            session,
            role,
            csrf,
            path: parts.uri.path_and_query().map(|path| path.as_str().to_string()).unwrap_or_else(|| "/".into()),
            headers: parts.headers.clone(),
        })
    }
}

impl PageContext {
    /// Renders template `pages/{name}` inside the layout with `data`, whose `title` key
    /// names the catalogue code of the page title.
    pub fn render(&self, name: &str, data: Value) -> Response {
        self.render_status(StatusCode::OK, name, data)
    }

    /// Renders like [`PageContext::render`] with `status`, such as 400 for a form with errors.
    pub fn render_status(&self, status: StatusCode, name: &str, data: Value) -> Response {
        let layout = json!({
            "locale": self.locale.tag(),
            "is_en": self.locale == Locale::En,
            "csrf": self.csrf,
            "signed_in": self.role.is_some(),
            "menu": self.role.map(menu_of),
            // The whole path and query as one encoded `back` parameter, so a query such as
            // `?year=2026&state=enrolled` survives the language switch.
            "language_back": serde_urlencoded::to_string([("back", self.path.as_str())]).unwrap_or_default(),
            "site": &self.site,
        });
        self.state.views.page(status, name, merge(layout, data))
    }

    /// Returns the session token for an operator's page: a redirect to the login page
    /// without a session, or to the visitor's own start page when signed in with
    /// another role.
    pub fn operator_session(&self) -> Result<&str, Response> {
        match self.role {
            Some(role) if role != Role::Operator => Err(redirect(start_page(role))),
            _ => self.session.as_deref().ok_or_else(|| redirect("/login")),
        }
    }

    /// Returns the session token when the visitor has one of `roles`. Otherwise returns
    /// a redirect: to the visitor's own start page when signed in with another role, else
    /// to the account login page. The API still checks every call it makes.
    pub fn session_for(&self, roles: &[Role]) -> Result<&str, Response> {
        match (self.session.as_deref(), self.role) {
            (Some(token), Some(role)) if roles.contains(&role) => Ok(token),
            (_, Some(role)) => Err(redirect(start_page(role))),
            _ => Err(redirect("/login/account")),
        }
    }

    /// Turns an API error that the page cannot show beside a field into a response:
    /// a redirect to login for an expired session, else the error page.
    pub fn fail(&self, problem: ApiProblem) -> Response {
        if problem.status == StatusCode::UNAUTHORIZED {
            return redirect("/login");
        }
        self.state.views.error_page(self.locale, &self.site, problem.status, &problem.message)
    }
}

/// Returns the footer settings: those stored through `/staff/site`, else the start-up
/// ones. When the API call fails, the start-up settings are shown and the error logged.
pub async fn site_footer(state: &WebState, locale: Locale) -> WebConfig {
    match state.backend.get("/api/site/footer", None, locale).await {
        Ok(stored) => state.config.overridden_by(&stored),
        Err(problem) => {
            tracing::warn!(code = %problem.code, "footer settings unavailable; showing the start-up ones");
            (*state.config).clone()
        }
    }
}

/// Returns the page a signed-in visitor of `role` starts from.
pub fn start_page(role: Role) -> &'static str {
    match role {
        Role::Operator => "/home",
        Role::UnitAdmin => "/unit",
        Role::AssociationAdmin | Role::Reviewer => "/staff",
        // Institution accounts serve their servers' API calls and have no pages.
        Role::Institution => "/login/account",
    }
}

/// Returns the name of the layout's menu for `role`: `operator`, `unit`, `staff` or
/// `institution`, read by `layout.hbs`.
fn menu_of(role: Role) -> Value {
    let name = match role {
        Role::Operator => "operator",
        Role::UnitAdmin => "unit",
        Role::AssociationAdmin | Role::Reviewer => "staff",
        Role::Institution => "institution",
    };
    json!({ name: true, "is_admin": role == Role::AssociationAdmin })
}

/// Adds the keys of `data` to `layout`.
fn merge(mut layout: Value, data: Value) -> Value {
    if let (Some(target), Value::Object(source)) = (layout.as_object_mut(), data) {
        target.extend(source);
    }
    layout
}

/// Returns a 303 redirect to `location`, which browsers follow with GET after a form.
pub fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Returns a redirect that also sets cookie `cookie` (a full `Set-Cookie` value).
pub fn redirect_with_cookie(location: &str, cookie: HeaderValue) -> Response {
    let mut response = redirect(location);
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// Returns the locale from the visitor's choice cookie, else from `Accept-Language`.
pub fn locale_of(headers: &HeaderMap) -> Locale {
    if let Some(chosen) = cookie_value(headers, LOCALE_COOKIE) {
        return Locale::parse(&chosen);
    }
    headers.get(ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()).map(Locale::parse).unwrap_or_default()
}

/// Returns `back` when it is a path on this site, else `/`, so that a crafted link
/// cannot send the visitor elsewhere.
pub fn local_path(back: Option<&str>) -> String {
    match back {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_string(),
        _ => "/".to_string(),
    }
}
