//! Credits by year, with each item's card, and the public card check.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Datelike;
use serde::Deserialize;
use serde_json::json;

use crate::context::PageContext;
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/credits", get(show))
        .route("/verify/{card_no}", get(verify))
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

/// `GET /credits?year=2026`: the current Beijing year by default.
async fn show(context: PageContext, Query(query): Query<YearQuery>) -> Response {
    let token = match context.operator_session() {
        Ok(token) => token,
        Err(response) => return response,
    };
    let this_year = context.state.app.today().year();
    let year = query.year.unwrap_or(this_year);
    let credits = match context.state.backend.get(&format!("/api/credits?year={year}"), Some(token), context.locale).await {
        Ok(credits) => credits,
        Err(problem) => return context.fail(problem),
    };
    let years: Vec<_> = (this_year - 5..=this_year + 1).rev().map(|option| json!({ "year": option, "selected": option == year })).collect();
    context.render("credits", json!({ "title": "web.credits.title", "credits": credits, "years": years }))
}

#[derive(Deserialize)]
struct SignatureQuery {
    s: Option<String>,
}

/// `GET /verify/{card_no}?s=…` (public), the page a card's QR code opens: whether the
/// card is valid, revoked or unknown. A wrong signature `s` marks the card as forged.
async fn verify(context: PageContext, Path(card_no): Path<String>, Query(query): Query<SignatureQuery>) -> Response {
    let number: String = card_no.chars().filter(char::is_ascii_alphanumeric).collect();
    let signature = query.s.unwrap_or_default();
    let path = format!("/api/cards/{number}/verify?{}", serde_urlencoded::to_string([("s", signature.as_str())]).unwrap_or_default());
    match context.state.backend.get(&path, None, context.locale).await {
        Ok(card) => {
            let forged = card["signature"] == "invalid";
            context.render("verify", json!({ "title": "web.verify.title", "card_no": card_no, "card": card, "found": !forged, "forged": forged }))
        }
        Err(problem) if problem.status == StatusCode::NOT_FOUND => {
            context.render_status(StatusCode::NOT_FOUND, "verify", json!({ "title": "web.verify.title", "card_no": card_no, "card": null, "found": false, "forged": false }))
        }
        Err(problem) => context.fail(problem),
    }
}
