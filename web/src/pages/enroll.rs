//! Enrollment: choose the year, then the category (作业种类), then the item (作业项目).
//! Each choice is a GET of the same page, so it works without scripts.

use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().route("/enroll", get(show).post(enroll))
}

#[derive(Deserialize, Default)]
struct Choice {
    year: Option<i32>,
    category: Option<u32>,
    #[serde(default)]
    item_code: String,
}

/// `GET /enroll?year=&category=`.
async fn show(context: PageContext, Query(choice): Query<Choice>) -> Response {
    if let Err(response) = context.operator_session() {
        return response;
    }
    context.render("enroll", enroll_data(&context, &choice, &FormErrors::default()))
}

/// Lists the years open for enrollment (this Beijing year and the next), the
/// categories with items open for enrollment, and the items of the chosen category.
fn enroll_data(context: &PageContext, choice: &Choice, errors: &FormErrors) -> Value {
    let this_year = context.state.app.today().year();
    let years: Vec<Value> = [this_year, this_year + 1].iter().map(|year| json!({ "year": year, "selected": choice.year == Some(*year) })).collect();
    let open_items = context.state.app.catalogue.trial_items();
    let mut categories: Vec<Value> = Vec::new();
    for item in &open_items {
        if !categories.iter().any(|category| category["no"] == item.category_no) {
            categories.push(json!({ "no": item.category_no, "name": item.category_name, "selected": choice.category == Some(item.category_no) }));
        }
    }
    let items: Vec<Value> = open_items
        .iter()
        .filter(|item| choice.category == Some(item.category_no))
        .filter_map(|item| item.code.as_ref().map(|code| json!({ "code": code, "name": item.name, "selected": *code == choice.item_code })))
        .collect();
    json!({
        "title": "web.enroll.title",
        "years": years,
        "year": choice.year,
        "categories": categories,
        "category": choice.category,
        "items": items,
        "errors": errors.to_json(),
    })
}

/// `POST /enroll {year, category, item_code}`.
async fn enroll(context: PageContext, Form(choice): Form<Choice>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let body = json!({ "year": choice.year.unwrap_or_default(), "item_code": choice.item_code });
    match context.state.backend.post("/api/enrollments", Some(token), context.locale, body).await {
        Ok(enrollment) => redirect(&format!("/study/{}", enrollment["id"].as_str().unwrap_or_default())),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED => context.fail(problem),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["year", "item_code"]);
            context.render_status(StatusCode::BAD_REQUEST, "enroll", enroll_data(&context, &choice, &errors))
        }
    }
}
