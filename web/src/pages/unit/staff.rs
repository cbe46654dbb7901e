//! `/unit`, the unit admin's start page: the unit's operators for a year with filters,
//! counts and a progress chart, the export and card archive links, and the bulk
//! actions (enroll, remind) on the operators ticked in the list.
//!
//! The page calls `/api/units/{unit_id}/staff*` with the visitor's session; the
//! downloads link to the API routes directly, which accept the session cookie.

use axum::extract::{Query, RawForm};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::backend::ApiProblem;
use crate::context::{PageContext, Role, redirect};
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().route("/unit", get(show)).route("/unit/bulk", post(bulk))
}

/// The list's filter as the page's query string carries it.
#[derive(Deserialize, Default)]
struct ListQuery {
    year: Option<i32>,
    state: Option<String>,
    item: Option<String>,
    page: Option<i64>,
}

impl ListQuery {
    /// Returns the query string of the API call and of the page's links.
    fn to_query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(year) = self.year {
            pairs.push(("year", year.to_string()));
        }
        for (name, value) in [("state", &self.state), ("item", &self.item)] {
            if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
                pairs.push((name, value.to_string()));
            }
        }
        if let Some(page) = self.page {
            pairs.push(("page", page.to_string()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

/// `GET /unit?year=&state=&item=&page=`.
async fn show(context: PageContext, Query(query): Query<ListQuery>) -> Response {
    let (token, unit_id) = match unit_session(&context).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    render_list(&context, &token, &unit_id, &query, Value::Null).await
}

/// Renders the list for `query`, with `results` of a bulk action above it when set. An
/// invalid filter shows the API's message and the unfiltered list of the year.
async fn render_list(context: &PageContext, token: &str, unit_id: &str, query: &ListQuery, results: Value) -> Response {
    let backend = &context.state.backend;
    let path = |query: &ListQuery| format!("/api/units/{unit_id}/staff?{}", query.to_query_string());
    let (list, filter_error) = match backend.get(&path(query), Some(token), context.locale).await {
        Ok(list) => (list, None),
        Err(problem) if problem.status.is_client_error() && problem.field.is_some() => {
            let unfiltered = ListQuery { year: None, ..ListQuery::default() };
            match backend.get(&path(&unfiltered), Some(token), context.locale).await {
                Ok(list) => (list, Some(problem.message)),
                Err(problem) => return context.fail(problem),
            }
        }
        Err(problem) => return context.fail(problem),
    };

    let year = list["year"].as_i64().unwrap_or_default();
    let page = list["page"].as_i64().unwrap_or(1);
    let pages = list["pages"].as_i64().unwrap_or(1);
    let link = |page: i64| {
        let target = ListQuery { year: Some(year as i32), state: list["state"].as_str().map(str::to_string), item: list["item"].as_str().map(str::to_string), page: Some(page) };
        format!("/unit?{}", target.to_query_string())
    };
    let filter_query = ListQuery { year: Some(year as i32), state: list["state"].as_str().map(str::to_string), item: list["item"].as_str().map(str::to_string), page: None };
    let years: Vec<Value> = (year - 3..=year + 1).rev().map(|option| json!({ "year": option, "selected": option == year })).collect();
    let states: Vec<Value> = list["counts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|count| json!({ "state": count["state"], "label": count["label"], "count": count["count"], "selected": count["state"] == list["state"] }))
        .collect();
    let items: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| json!({ "code": item["code"], "name": item["name"], "selected": item["code"] == list["item"] }))
        .collect();

    context.render(
        "unit_staff",
        json!({
            "title": "web.unit.title",
            "list": list,
            "year": year,
            "years": years,
            "states": states,
            "items": items,
            "filter_error": filter_error,
            "chart": super::staff_chart::svg(&list["counts"], context.locale),
            "export_link": format!("/api/units/{unit_id}/staff/export?{}", filter_query.to_query_string()),
            "cards_link": format!("/api/units/{unit_id}/staff/cards?year={year}"),
            "previous": (page > 1).then(|| link(page - 1)),
            "next": (page < pages).then(|| link(page + 1)),
            "results": results,
        }),
    )
}

/// `POST /unit/bulk {action, operator_ids…, year, item_code}`: runs the ticked action
/// (`enroll` or `remind`) on the ticked operators and shows each one's result above
/// the list. The form repeats `operator_ids`, so the body is read as pairs.
async fn bulk(context: PageContext, RawForm(body): RawForm) -> Response {
    let (token, unit_id) = match unit_session(&context).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).unwrap_or_default();
    let operator_ids: Vec<&str> = pairs.iter().filter(|(key, _)| key == "operator_ids").map(|(_, value)| value.as_str()).collect();
    let year: Option<i32> = field("year").parse().ok();
    let query = ListQuery { year, state: Some(field("state")), item: Some(field("item")), page: field("page").parse().ok() };

    let action = field("action");
    let (path, request) = match action.as_str() {
        "enroll" => ("enroll", json!({ "year": year, "item_code": field("item_code"), "operator_ids": operator_ids })),
        "remind" => ("remind", json!({ "year": year, "operator_ids": operator_ids })),
        _ => return redirect(&format!("/unit?{}", query.to_query_string())),
    };
    let results = match context.state.backend.post(&format!("/api/units/{unit_id}/staff/{path}"), Some(&token), context.locale, request).await {
        Ok(reply) => json!({ "action": action, "rows": reply["results"] }),
        Err(ApiProblem { status, message, .. }) if status.is_client_error() && status.as_u16() != 401 => json!({ "action": action, "error": message }),
        Err(problem) => return context.fail(problem),
    };
    render_list(&context, &token, &unit_id, &query, results).await
}

/// Returns the unit admin's session token and unit, or the redirect for anyone else.
async fn unit_session(context: &PageContext) -> Result<(String, String), Response> {
    let token = context.session_for(&[Role::UnitAdmin])?.to_string();
    match api::unit_staff::session_unit(&context.state.app, &token).await {
        Ok(Some(unit_id)) => Ok((token, unit_id)),
        Ok(None) => Err(redirect("/login/account")),
        Err(error) => {
            tracing::error!(error = %error, "unit of the session could not be read");
            Err(redirect("/login/account"))
        }
    }
}
