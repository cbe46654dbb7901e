//! `/staff/notices`: association staff write notices (通知公告), publish and withdraw
//! them. The public reads them at `/notices`; the newest appear on the login pages.

use axum::extract::{Form, Path};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDateTime, TimeZone};
use domain::messages::{Locale, text};
use serde::Deserialize;
use serde_json::{Value, json};

use super::STAFF_ROLES;
use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::WebState;

const FIELDS: [&str; 3] = ["title", "body", "publish_at"];

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/notices", get(list).post(create))
        .route("/staff/notices/{notice_id}", get(edit).post(save))
        .route("/staff/notices/{notice_id}/publish", post(publish))
        .route("/staff/notices/{notice_id}/withdraw", post(withdraw))
}

#[derive(Deserialize, Default)]
struct NoticeForm {
    title: String,
    body: String,
    /// `datetime-local` value in Beijing time, such as `2026-03-05T09:00`; blank is now.
    #[serde(default)]
    publish_at: String,
}

/// `GET /staff/notices`: every notice with its status, and the form for a new one.
async fn list(context: PageContext) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    render_list(&context, token, StatusCode::OK, &NoticeForm::default(), &FormErrors::default()).await
}

async fn render_list(context: &PageContext, token: &str, status: StatusCode, form: &NoticeForm, errors: &FormErrors) -> Response {
    let notices = match context.state.backend.get("/api/site/notices", Some(token), context.locale).await {
        Ok(reply) => reply["notices"].clone(),
        Err(problem) => return context.fail(problem),
    };
    let data = json!({ "title": "web.staff.notices.title", "notices": notices, "form": form_json(form), "errors": errors.to_json() });
    context.render_status(status, "staff_notices", data)
}

/// `POST /staff/notices {title, body, publish_at}`: saves a draft.
async fn create(context: PageContext, Form(form): Form<NoticeForm>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let body = match request_body(&form, context.locale) {
        Ok(body) => body,
        Err(errors) => return render_list(&context, token, StatusCode::BAD_REQUEST, &form, &errors).await,
    };
    match context.state.backend.post("/api/site/notices", Some(token), context.locale, body).await {
        Ok(_) => redirect("/staff/notices"),
        Err(problem) if problem.status == StatusCode::BAD_REQUEST => {
            let errors = FormErrors::from_problem(&problem, &FIELDS);
            render_list(&context, token, StatusCode::BAD_REQUEST, &form, &errors).await
        }
        Err(problem) => context.fail(problem),
    }
}

/// `GET /staff/notices/{notice_id}`: the edit form of one notice.
async fn edit(context: PageContext, Path(notice_id): Path<String>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let notice = match context.state.backend.get(&format!("/api/site/notices/{}", clean_id(&notice_id)), Some(token), context.locale).await {
        Ok(notice) => notice,
        Err(problem) => return context.fail(problem),
    };
    let form = NoticeForm {
        title: notice["title"].as_str().unwrap_or_default().to_string(),
        body: notice["body"].as_str().unwrap_or_default().to_string(),
        publish_at: beijing_input(notice["publish_at"].as_str().unwrap_or_default()),
    };
    context.render("staff_notice_edit", json!({ "title": "web.staff.notices.edit_title", "notice": notice, "form": form_json(&form), "errors": FormErrors::default().to_json() }))
}

/// `POST /staff/notices/{notice_id} {title, body, publish_at}`: saves the changes.
async fn save(context: PageContext, Path(notice_id): Path<String>, Form(form): Form<NoticeForm>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let id = clean_id(&notice_id);
    let path = format!("/api/site/notices/{id}");
    let errors = match request_body(&form, context.locale) {
        Ok(body) => match context.state.backend.call(Method::PUT, &path, Some(token), context.locale, Some(body)).await {
            Ok(_) => return redirect("/staff/notices"),
            Err(problem) if problem.status == StatusCode::BAD_REQUEST => FormErrors::from_problem(&problem, &FIELDS),
            Err(problem) => return context.fail(problem),
        },
        Err(errors) => errors,
    };

    let notice = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(notice) => notice,
        Err(problem) => return context.fail(problem),
    };
    let data = json!({ "title": "web.staff.notices.edit_title", "notice": notice, "form": form_json(&form), "errors": errors.to_json() });
    context.render_status(StatusCode::BAD_REQUEST, "staff_notice_edit", data)
}

/// `POST /staff/notices/{notice_id}/publish`: makes the notice public from its publish time.
async fn publish(context: PageContext, Path(notice_id): Path<String>) -> Response {
    change_status(context, &notice_id, "publish").await
}

/// `POST /staff/notices/{notice_id}/withdraw`: hides the notice from the public pages.
async fn withdraw(context: PageContext, Path(notice_id): Path<String>) -> Response {
    change_status(context, &notice_id, "withdraw").await
}

async fn change_status(context: PageContext, notice_id: &str, action: &str) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/site/notices/{}/{action}", clean_id(notice_id));
    match context.state.backend.post(&path, Some(token), context.locale, json!({})).await {
        Ok(_) => redirect("/staff/notices"),
        Err(problem) => context.fail(problem),
    }
}

/// Builds the API request from the form, turning the Beijing `datetime-local` value
/// into RFC 3339. A value that is not a date and time is reported on its field.
fn request_body(form: &NoticeForm, locale: Locale) -> Result<Value, FormErrors> {
    let publish_at = form.publish_at.trim();
    let publish_at = if publish_at.is_empty() {
        Value::Null
    } else {
        let parsed = NaiveDateTime::parse_from_str(publish_at, "%Y-%m-%dT%H:%M").or_else(|_| NaiveDateTime::parse_from_str(publish_at, "%Y-%m-%dT%H:%M:%S"));
        match parsed.ok().and_then(|local| beijing().from_local_datetime(&local).single()) {
            Some(instant) => Value::String(instant.to_rfc3339()),
            None => return Err(FormErrors::for_field("publish_at", text(locale, "web.staff.notices.publish_at_invalid", &[]))),
        }
    };
    Ok(json!({ "title": form.title, "body": form.body, "publish_at": publish_at }))
}

/// Returns an RFC 3339 instant as a `datetime-local` value in Beijing time.
fn beijing_input(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map(|instant| instant.with_timezone(&beijing()).format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default()
}

fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

fn form_json(form: &NoticeForm) -> Value {
    json!({ "title": form.title, "body": form.body, "publish_at": form.publish_at })
}

/// Keeps only the characters of a notice id, so the API path cannot be changed.
fn clean_id(notice_id: &str) -> String {
    notice_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}
