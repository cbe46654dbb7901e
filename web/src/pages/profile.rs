//! Registration (name and ID number), info completion (employer unit, found by name
//! or credit code, and the items of the certificates held), and the change of the
//! operator's mobile number (更换手机号) with a code to each number.

use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::pages::mobile_change::keeps_code_form;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/register", get(show_register).post(register))
        .route("/info", get(show_info).post(complete_info))
        .route("/profile/mobile", get(show_mobile).post(request_mobile_change))
        .route("/profile/mobile/confirm", post(confirm_mobile_change))
}

#[derive(Deserialize, Default)]
struct RegisterForm {
    name: String,
    id_number: String,
    #[serde(default)]
    email: String,
}

fn register_data(form: &RegisterForm, errors: &FormErrors) -> Value {
    json!({ "title": "web.register.title", "name": form.name, "id_number": form.id_number, "email": form.email, "errors": errors.to_json() })
}

/// `GET /register`.
async fn show_register(context: PageContext) -> Response {
    if let Err(response) = context.operator_session() {
        return response;
    }
    context.render("register", register_data(&RegisterForm::default(), &FormErrors::default()))
}

/// `POST /register {name, id_number, email}`.
async fn register(context: PageContext, Form(form): Form<RegisterForm>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let body = json!({ "name": form.name, "id_number": form.id_number, "email": form.email });
    match context.state.backend.post("/api/operator/register", Some(token), context.locale, body).await {
        Ok(_) => redirect("/info"),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["name", "id_number", "email"]);
            context.render_status(StatusCode::BAD_REQUEST, "register", register_data(&form, &errors))
        }
    }
}

#[derive(Deserialize, Default)]
struct InfoQuery {
    #[serde(default)]
    q: String,
}

/// `GET /info?q=…`: the info form; with `q`, the units found by name or credit code.
async fn show_info(context: PageContext, Query(query): Query<InfoQuery>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    info_page(&context, token, &query.q, "", "", StatusCode::OK, &FormErrors::default()).await
}

/// Renders the info page, searching units when `q` is not blank.
async fn info_page(context: &PageContext, token: &str, q: &str, unit_uscc: &str, item_code: &str, status: StatusCode, errors: &FormErrors) -> Response {
    let mut search_error = Value::Null;
    let mut units = Value::Array(Vec::new());
    if !q.trim().is_empty() {
        let path = format!("/api/units/search?{}", serde_urlencoded::to_string([("q", q)]).unwrap_or_default());
        match context.state.backend.get(&path, Some(token), context.locale).await {
            Ok(found) => units = found["units"].clone(),
            Err(problem) if problem.status == StatusCode::UNAUTHORIZED => return context.fail(problem),
            Err(problem) => search_error = Value::String(problem.message),
        }
    }
    let items: Vec<Value> = context
        .state
        .app
        .catalogue
        .items()
        .iter()
        .filter_map(|item| item.code.as_ref().map(|code| json!({ "code": code, "name": item.name, "selected": code == item_code })))
        .collect();
    let data = json!({
        "title": "web.info.title",
        "q": q,
        "searched": !q.trim().is_empty(),
        "units": units,
        "search_error": search_error,
        "unit_uscc": unit_uscc,
        "items": items,
        "errors": errors.to_json(),
    });
    context.render_status(status, "info", data)
}

#[derive(Deserialize)]
struct InfoForm {
    #[serde(default)]
    unit_uscc: String,
    #[serde(default)]
    item_code: String,
    #[serde(default)]
    q: String,
}

/// `POST /info {unit_uscc, item_code}`: attaches the operator to the unit.
async fn complete_info(context: PageContext, Form(form): Form<InfoForm>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    if form.unit_uscc.trim().is_empty() {
        let errors = FormErrors::for_field("unit_uscc", domain::messages::text(context.locale, "web.info.unit_required", &[]));
        return info_page(&context, token, &form.q, "", &form.item_code, StatusCode::BAD_REQUEST, &errors).await;
    }
    let items: Vec<Value> = if form.item_code.trim().is_empty() { Vec::new() } else { vec![json!({ "item_code": form.item_code })] };
    let body = json!({ "unit_uscc": form.unit_uscc, "items": items });
    match context.state.backend.post("/api/operator/info", Some(token), context.locale, body).await {
        Ok(_) => redirect("/home"),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(mut problem) => {
            // The API's code checks name the field `uscc`; on this form it is `unit_uscc`.
            if problem.field.as_deref() == Some("uscc") {
                problem.field = Some("unit_uscc".into());
            }
            let errors = FormErrors::from_problem(&problem, &["unit_uscc", "items"]);
            info_page(&context, token, &form.q, &form.unit_uscc, &form.item_code, StatusCode::BAD_REQUEST, &errors).await
        }
    }
}

/// The state of the mobile change form: the new number typed, and after the codes were
/// sent, the request they belong to and the masked numbers they were sent to.
#[derive(Default)]
struct MobileStep<'a> {
    new_mobile: &'a str,
    request_id: &'a str,
    sent: Value,
    done: Value,
}

/// Renders the mobile change page; the current number comes from `/api/operator/me`.
async fn mobile_page(context: &PageContext, token: &str, step: MobileStep<'_>, status: StatusCode, errors: &FormErrors) -> Response {
    let me = match context.state.backend.get("/api/operator/me", Some(token), context.locale).await {
        Ok(me) => me,
        Err(problem) => return context.fail(problem),
    };
    let data = json!({
        "title": "web.mobile_change.title",
        "current_mobile": api::mask::mobile(me["mobile"].as_str().unwrap_or_default()),
        "new_mobile": step.new_mobile,
        "request_id": step.request_id,
        "sent": step.sent,
        "done": step.done,
        "errors": errors.to_json(),
    });
    context.render_status(status, "profile_mobile", data)
}

/// `GET /profile/mobile`: the form for a new number.
async fn show_mobile(context: PageContext) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    mobile_page(&context, token, MobileStep::default(), StatusCode::OK, &FormErrors::default()).await
}

#[derive(Deserialize)]
struct MobileForm {
    #[serde(default)]
    new_mobile: String,
}

/// `POST /profile/mobile {new_mobile}`: texts the two codes and shows the code form.
async fn request_mobile_change(context: PageContext, Form(form): Form<MobileForm>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let body = json!({ "new_mobile": form.new_mobile });
    match context.state.backend.post("/api/operator/mobile-change", Some(token), context.locale, body).await {
        Ok(reply) => {
            let request_id = reply["request_id"].as_str().unwrap_or_default();
            let sent = json!({ "new_mobile": reply["new_mobile_masked"], "old_mobile": reply["old_mobile_masked"] });
            let step = MobileStep { new_mobile: &form.new_mobile, request_id, sent, ..MobileStep::default() };
            mobile_page(&context, token, step, StatusCode::OK, &FormErrors::default()).await
        }
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["new_mobile"]);
            let step = MobileStep { new_mobile: &form.new_mobile, ..MobileStep::default() };
            mobile_page(&context, token, step, StatusCode::BAD_REQUEST, &errors).await
        }
    }
}

#[derive(Deserialize)]
struct MobileConfirmForm {
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    new_mobile: String,
    #[serde(default)]
    new_code: String,
    #[serde(default)]
    old_code: String,
}

/// `POST /profile/mobile/confirm {request_id, new_code, old_code}`: changes the number.
async fn confirm_mobile_change(context: PageContext, Form(form): Form<MobileConfirmForm>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let body = json!({ "request_id": form.request_id, "new_code": form.new_code, "old_code": form.old_code });
    match context.state.backend.post("/api/operator/mobile-change/confirm", Some(token), context.locale, body).await {
        Ok(reply) => {
            let step = MobileStep { done: reply["new_mobile_masked"].clone(), ..MobileStep::default() };
            mobile_page(&context, token, step, StatusCode::OK, &FormErrors::default()).await
        }
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["new_code", "old_code"]);
            // A wrong code keeps the code form; an expired or replaced request starts over.
            let code_form_stays = keeps_code_form(&problem.code);
            let request_id = if code_form_stays { form.request_id.as_str() } else { "" };
            let sent = if code_form_stays { json!({ "again": true }) } else { Value::Null };
            let step = MobileStep { new_mobile: &form.new_mobile, request_id, sent, ..MobileStep::default() };
            mobile_page(&context, token, step, StatusCode::BAD_REQUEST, &errors).await
        }
    }
}
