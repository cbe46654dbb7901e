//! Login by mobile number and SMS code, and logout.
//!
//! The page has two steps without scripts: the mobile number form sends a code
//! (`POST /login/code`), then the same page shows the code field. A successful login
//! sets the API's session cookie and goes to the step named by the API's `next`: registration,
//! info completion or home.

use axum::extract::Form;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::{PageContext, redirect, start_page};
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/", get(root))
        .route("/login", get(show).post(login))
        .route("/login/code", post(request_code))
        .route("/logout", post(logout))
}

/// `GET /`: the start page of a signed-in visitor's role, else login.
async fn root(context: PageContext) -> Response {
    redirect(context.role.map(start_page).unwrap_or("/login"))
}

/// `GET /login`.
async fn show(context: PageContext) -> Response {
    let mut data = login_data("", false, &FormErrors::default());
    data["latest_notices"] = super::notices::latest(&context).await;
    context.render("login", data)
}

/// Builds the login page's data. A valid number is carried on in its normalized form
/// and shown masked in the code-sent notice, such as `139****9000` for
/// `008613900139000`. An invalid one stays as typed so that it can be corrected.
fn login_data(mobile: &str, code_sent: bool, errors: &FormErrors) -> Value {
    let (mobile, masked) = match domain::identity::normalize_mobile(mobile) {
        Ok(normalized) => (normalized.as_str().to_string(), api::mask::mobile(normalized.as_str())),
        Err(_) => (mobile.to_string(), String::new()),
    };
    json!({ "title": "web.login.title", "mobile": mobile, "masked_mobile": masked, "code_sent": code_sent, "errors": errors.to_json() })
}

#[derive(Deserialize)]
struct CodeForm {
    mobile: String,
}

/// `POST /login/code {mobile}`: sends a code, then shows the code field.
async fn request_code(context: PageContext, Form(form): Form<CodeForm>) -> Response {
    let body = json!({ "mobile": form.mobile });
    match context.state.backend.post("/api/auth/code", None, context.locale, body).await {
        Ok(_) => context.render("login", login_data(&form.mobile, true, &FormErrors::default())),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["mobile"]);
            context.render_status(StatusCode::BAD_REQUEST, "login", login_data(&form.mobile, false, &errors))
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    mobile: String,
    code: String,
}

/// `POST /login {mobile, code}`: logs in and goes to the next step.
async fn login(context: PageContext, Form(form): Form<LoginForm>) -> Response {
    let body = json!({ "mobile": form.mobile, "code": form.code });
    let reply = match context.state.backend.post("/api/auth/login", None, context.locale, body).await {
        Ok(reply) => reply,
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["mobile", "code"]);
            return context.render_status(StatusCode::BAD_REQUEST, "login", login_data(&form.mobile, true, &errors));
        }
    };

    let token = reply["token"].as_str().unwrap_or_default();
    let next = match reply["next"].as_str() {
        Some("register") => "/register",
        Some("complete_info") => "/info",
        _ => "/home",
    };
    let mut response = redirect(next);
    let cookie = api::auth::session_cookie(&context.headers, token, api::auth::SESSION_HOURS * 3600);
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// `POST /logout`: ends the session and clears its cookie.
async fn logout(context: PageContext) -> Response {
    if let Some(token) = context.session.as_deref() {
        if let Err(problem) = context.state.backend.post("/api/auth/logout", Some(token), context.locale, json!({})).await {
            tracing::info!(code = %problem.code, "logout of an already ended session");
        }
    }
    let mut response = redirect("/login");
    response.headers_mut().append(SET_COOKIE, api::auth::session_cookie(&context.headers, "", 0));
    response
}
