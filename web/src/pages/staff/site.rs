//! `/staff/site` (association admin only): the site's name, ICP filing number
//! (ICP备案号) and contact line shown in every page's footer, with the change log.

use axum::extract::{Form, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::{PageContext, Role, redirect};
use crate::forms::FormErrors;
use crate::WebState;

const FIELDS: [&str; 3] = ["site_name", "icp_filing", "contact"];

pub fn router() -> Router<WebState> {
    Router::new().route("/staff/site", get(show).post(save))
}

#[derive(Deserialize)]
struct SavedQuery {
    /// Present after a successful save, to confirm it.
    saved: Option<String>,
}

#[derive(Deserialize, Default)]
struct SiteForm {
    site_name: String,
    icp_filing: String,
    contact: String,
}

/// `GET /staff/site?saved=1`: the stored settings (blank where the start-up default applies),
/// the defaults, and the latest changes.
async fn show(context: PageContext, Query(query): Query<SavedQuery>) -> Response {
    let token = match context.session_for(&[Role::AssociationAdmin]) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let settings = match context.state.backend.get("/api/site/settings", Some(token), context.locale).await {
        Ok(settings) => settings,
        Err(problem) => return context.fail(problem),
    };
    let stored = &settings["settings"];
    let form = SiteForm {
        site_name: stored["site_name"].as_str().unwrap_or_default().to_string(),
        icp_filing: stored["icp_filing"].as_str().unwrap_or_default().to_string(),
        contact: stored["contact"].as_str().unwrap_or_default().to_string(),
    };
    render(&context, StatusCode::OK, &form, &FormErrors::default(), &settings["log"], query.saved.is_some())
}

fn render(context: &PageContext, status: StatusCode, form: &SiteForm, errors: &FormErrors, log: &Value, saved: bool) -> Response {
    let data = json!({
        "title": "web.staff.site.title",
        "form": { "site_name": form.site_name, "icp_filing": form.icp_filing, "contact": form.contact },
        "defaults": &*context.state.config,
        "errors": errors.to_json(),
        "log": log,
        "saved": saved,
    });
    context.render_status(status, "staff_site", data)
}

/// `POST /staff/site {site_name, icp_filing, contact}`: saves all three; a blank field
/// returns to the start-up default.
async fn save(context: PageContext, Form(form): Form<SiteForm>) -> Response {
    let token = match context.session_for(&[Role::AssociationAdmin]) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let body = json!({ "site_name": form.site_name, "icp_filing": form.icp_filing, "contact": form.contact });
    match context.state.backend.call(Method::PUT, "/api/site/settings", Some(token), context.locale, Some(body)).await {
        Ok(_) => redirect("/staff/site?saved=1"),
        Err(problem) if problem.status == StatusCode::BAD_REQUEST => {
            let errors = FormErrors::from_problem(&problem, &FIELDS);
            render(&context, StatusCode::BAD_REQUEST, &form, &errors, &Value::Null, false)
        }
        Err(problem) => context.fail(problem),
    }
}
