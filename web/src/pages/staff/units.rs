//! Units (单位) for association staff: the register, searched by name or credit code,
//! and the registration form of association admins, which creates the unit with its
//! first admin account through `POST /api/units`.

use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use domain::messages::Catalogue;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ops_common::with_beijing_times;
use super::{STAFF_ROLES, query_string};
use crate::context::PageContext;
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().route("/staff/units", get(show).post(create))
}

/// The API's names of the registration fields, with the page's form field for each.
/// The admin's fields are nested in the API's body and named `admin.…` in its errors.
const FIELDS: [(&str, &str); 7] = [
    ("name", "name"),
    ("uscc", "uscc"),
    ("region_code", "region_code"),
    ("admin.login", "admin_login"),
    ("admin.display_name", "admin_display_name"),
    ("admin.password", "admin_password"),
    ("admin.mobile", "admin_mobile"),
];

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// The registration form's values, kept after an error. The password is never sent
/// back to the browser.
#[derive(Default, Deserialize)]
struct Draft {
    #[serde(default)]
    name: String,
    #[serde(default)]
    uscc: String,
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    admin_login: String,
    #[serde(default)]
    admin_display_name: String,
    #[serde(default)]
    admin_password: String,
    #[serde(default)]
    admin_mobile: String,
}

impl Draft {
    /// Builds the body of `POST /api/units`. Blank optional values are left out.
    fn body(&self) -> Value {
        let optional = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_string());
        json!({
            "name": self.name,
            "uscc": self.uscc,
            "region_code": optional(&self.region_code),
            "admin": {
                "login": self.admin_login,
                "display_name": self.admin_display_name,
                "password": self.admin_password,
                "mobile": optional(&self.admin_mobile),
            },
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "uscc": self.uscc,
            "region_code": self.region_code,
            "admin_login": self.admin_login,
            "admin_display_name": self.admin_display_name,
            "admin_mobile": self.admin_mobile,
        })
    }
}

/// `GET /staff/units?q=`.
async fn show(context: PageContext, Query(query): Query<SearchQuery>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    units_page(&context, token, &query.q, StatusCode::OK, &Draft::default(), &FormErrors::default(), None).await
}

/// Renders the register for search `q`, the registration form with `draft` and
/// `errors`, and the unit just registered, if any.
async fn units_page(context: &PageContext, token: &str, q: &str, status: StatusCode, draft: &Draft, errors: &FormErrors, created: Option<Value>) -> Response {
    let path = format!("/api/units{}", query_string(&[("q", q)]));
    let (units, search_error) = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(reply) => (with_beijing_times(reply["units"].clone(), &["created_at"]), None),
        Err(problem) if problem.field.as_deref() == Some("q") => (json!([]), Some(problem.message)),
        Err(problem) => return context.fail(problem),
    };
    let data = json!({
        "title": "web.staff.units.title",
        "q": q,
        "search_error": search_error,
        "units": units,
        "regions": known_regions(context.locale),
        "draft": draft.to_json(),
        "errors": form_errors(errors),
        "created": created,
    });
    context.render_status(status, "staff_units", data)
}

/// Returns the regions the catalogue names, as `{code, name}` in code order, for the
/// region field's suggestions.
fn known_regions(locale: domain::messages::Locale) -> Vec<Value> {
    Catalogue::global()
        .codes()
        .filter_map(|code| code.strip_prefix("region."))
        .filter_map(|code| domain::messages::region_name(locale, code).map(|name| json!({ "code": code, "name": name })))
        .collect()
}

/// Returns the errors for the template with the API's `admin.…` field names replaced
/// by the form's, because a template path cannot hold a dot inside a name.
fn form_errors(errors: &FormErrors) -> Value {
    let mut template_errors = errors.to_json();
    let fields = template_errors["fields"].as_object().cloned().unwrap_or_default();
    let renamed: Map<String, Value> = fields
        .into_iter()
        .map(|(name, message)| {
            let form_name = FIELDS.iter().find(|(api_name, _)| *api_name == name).map_or(name.clone(), |(_, form_name)| form_name.to_string());
            (form_name, message)
        })
        .collect();
    template_errors["fields"] = Value::Object(renamed);
    template_errors
}

/// `POST /staff/units {name, uscc, region_code, admin_login, admin_display_name,
/// admin_password, admin_mobile}` (association admin): registers the unit with its
/// first admin account and shows it at the top of the register. When a well-formed
/// credit code has a wrong check character, the API still registers the unit, with
/// status `pending_verification`, and the page shows the API's notice about it.
async fn create(context: PageContext, Form(draft): Form<Draft>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    match context.state.backend.post("/api/units", Some(token), context.locale, draft.body()).await {
        Ok(created) => {
            tracing::info!(unit = %created["id"].as_str().unwrap_or_default(), "unit registered from the staff page");
            let q = created["uscc"].as_str().unwrap_or_default().to_string();
            units_page(&context, token, &q, StatusCode::CREATED, &Draft::default(), &FormErrors::default(), Some(created)).await
        }
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let known: Vec<&str> = FIELDS.iter().map(|(api_name, _)| *api_name).collect();
            let errors = FormErrors::from_problem(&problem, &known);
            let status = if problem.status.is_client_error() { problem.status } else { StatusCode::BAD_REQUEST };
            units_page(&context, token, "", status, &draft, &errors, None).await
        }
    }
}
