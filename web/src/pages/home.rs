//! The operator's home: profile summary and each enrollment's progress with what to
//! do next and its deadline.

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{Value, json};

use crate::context::{PageContext, redirect};
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().route("/home", get(show))
}

/// `GET /home`.
async fn show(context: PageContext) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let profile = match context.state.backend.get("/api/operator/me", Some(token), context.locale).await {
        Ok(profile) => profile,
        Err(problem) => return context.fail(problem),
    };
    match profile["next"].as_str() {
        Some("register") => return redirect("/register"),
        Some("complete_info") => return redirect("/info"),
        _ => {}
    }
    let enrollments = match context.state.backend.get("/api/enrollments", Some(token), context.locale).await {
        Ok(reply) => reply["enrollments"].as_array().cloned().unwrap_or_default(),
        Err(problem) => return context.fail(problem),
    };
    let enrollments: Vec<Value> = enrollments.into_iter().map(with_next_step).collect();
    context.render("home", json!({ "title": "web.home.title", "profile": profile, "enrollments": enrollments }))
}

/// Adds to an enrollment the catalogue code of its next step, the page that takes it,
/// the number of completed courses still to examine, and the year's deadline.
pub fn with_next_step(mut enrollment: Value) -> Value {
    let id = enrollment["id"].as_str().unwrap_or_default().to_string();
    let examinable = enrollment["courses"]
        .as_array()
        .map(|courses| courses.iter().filter(|course| course["completed"] == true && course["credited"] != true).count())
        .unwrap_or(0);
    let (next, link) = match enrollment["state"].as_str().unwrap_or_default() {
        "enrolled" => ("web.next.choose_institution", format!("/study/{id}")),
        "studying" if examinable > 0 => ("web.next.take_exam", format!("/exam/{id}")),
        "studying" => ("web.next.study", format!("/study/{id}")),
        "exam" | "grading" => ("web.next.resume_exam", format!("/exam/{id}")),
        "under_review" => ("web.next.wait_review", format!("/study/{id}")),
        "credited" => ("web.next.study", format!("/study/{id}")),
        "card_issued" => ("web.next.card", "/credits".to_string()),
        _ => ("web.next.closed", "/credits".to_string()),
    };
    let year = enrollment["year"].as_i64().unwrap_or_default();
    enrollment["next"] = json!(next);
    enrollment["next_link"] = json!(link);
    enrollment["examinable"] = json!(examinable);
    enrollment["deadline"] = json!(format!("{year}-12-31"));
    enrollment
}
