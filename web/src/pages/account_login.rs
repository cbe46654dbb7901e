//! Login with an account name and password: unit admins (单位管理员) and association
//! staff (协会工作人员). Operators log in by SMS code on `/login`.
//!
//! A successful login sets the API's session cookie and goes to the role's start page.
//! Institution accounts are rejected here: they exist for their servers' signed API
//! calls, and the institution integrator guide describes that interface.

use axum::extract::Form;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::{PageContext, Role, redirect, start_page};
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().route("/login/account", get(show).post(login))
}

/// `GET /login/account`.
async fn show(context: PageContext) -> Response {
    let mut data = page_data("", &FormErrors::default(), false);
    data["latest_notices"] = super::notices::latest(&context).await;
    context.render("account_login", data)
}

fn page_data(login: &str, errors: &FormErrors, institution_rejected: bool) -> Value {
    json!({
        "title": "web.account.title",
        "login": login,
        "errors": errors.to_json(),
        "institution_rejected": institution_rejected,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
}

/// `POST /login/account {login, password}`: logs in and goes to the role's start page.
async fn login(context: PageContext, Form(form): Form<LoginForm>) -> Response {
    let body = json!({ "login": form.login, "password": form.password });
    let reply = match context.state.backend.post("/api/auth/password-login", None, context.locale, body).await {
        Ok(reply) => reply,
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["login", "password"]);
            return context.render_status(StatusCode::BAD_REQUEST, "account_login", page_data(&form.login, &errors, false));
        }
    };

    let token = reply["token"].as_str().unwrap_or_default();
    let role = reply["role"].as_str().and_then(Role::parse);
    let Some(role) = role.filter(|role| *role != Role::Institution) else {
        // The session just made is ended at once so that it cannot be used from a browser.
        if let Err(problem) = context.state.backend.post("/api/auth/logout", Some(token), context.locale, json!({})).await {
            tracing::warn!(code = %problem.code, "ending an institution account's page session failed");
        }
        return context.render_status(StatusCode::FORBIDDEN, "account_login", page_data(&form.login, &FormErrors::default(), true));
    };

    let mut response = redirect(start_page(role));
    let cookie = api::auth::session_cookie(&context.headers, token, api::auth::SESSION_HOURS * 3600);
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}
