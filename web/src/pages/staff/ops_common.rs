//! Helpers of the staff operations pages (institutions, incidents, provincial sync and
//! definitions): the roles that open them, times in Beijing time, and the confirmation
//! page an action passes through before it is posted.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::backend::ApiProblem;
use crate::context::{PageContext, redirect};

/// Adds `{key}_text`, the time in Beijing time, beside each unix-millisecond `keys` of
/// `value` and of every object in it.
pub fn with_beijing_times(mut value: Value, keys: &[&str]) -> Value {
    add_times(&mut value, keys);
    value
}

fn add_times(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(object) => {
            for key in keys {
                if let Some(ms) = object.get(*key).and_then(Value::as_i64) {
                    object.insert(format!("{key}_text"), json!(api::beijing_text(ms)));
                }
            }
            for child in object.values_mut() {
                add_times(child, keys);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| add_times(item, keys)),
        _ => {}
    }
}

/// The confirmation page of an action: what it does, on what, and the form that posts it.
pub struct Confirmation<'a> {
    /// Catalogue code of the page title.
    pub title: &'a str,
    /// Catalogue code of the sentence that explains the action.
    pub explanation: &'a str,
    /// `[(label code, value)]` describing the object of the action.
    pub details: Vec<(&'a str, String)>,
    /// Path the form posts to.
    pub action: String,
    /// Catalogue code of the confirm button.
    pub confirm: &'a str,
    /// Path of the cancel link.
    pub back: &'a str,
}

/// Renders `confirmation` with the `staff_confirm` template.
pub fn render_confirmation(context: &PageContext, confirmation: Confirmation<'_>) -> Response {
    let details: Vec<Value> = confirmation.details.into_iter().map(|(label, value)| json!({ "label": label, "value": value })).collect();
    context.render(
        "staff_confirm",
        json!({
            "title": confirmation.title,
            "explanation": confirmation.explanation,
            "details": details,
            "action": confirmation.action,
            "confirm": confirmation.confirm,
            "back": confirmation.back,
        }),
    )
}

/// Returns the not-found error of a staff page path whose action part is unknown.
fn unknown_page(context: &PageContext) -> ApiProblem {
    ApiProblem {
        status: StatusCode::NOT_FOUND,
        code: "request.unknown_route".into(),
        message: domain::messages::text(context.locale, "request.unknown_route", &[]),
        field: None,
    }
}

/// Returns the staff visitor's session token on an action's page, or the response to send
/// instead: a redirect for other visitors, or not found when `action` is not in `actions`.
pub fn action_session<'a>(context: &'a PageContext, action: &str, actions: &[&str]) -> Result<&'a str, Response> {
    let token = context.session_for(super::STAFF_ROLES)?;
    if !actions.contains(&action) {
        return Err(context.fail(unknown_page(context)));
    }
    Ok(token)
}

/// Returns field `key` of `object` as text for a page: a string as it is, else its JSON.
pub fn field_text(object: &Value, key: &str) -> String {
    object[key].as_str().map(str::to_string).unwrap_or_else(|| object[key].to_string())
}

/// Returns a redirect to list page `list` with `pairs` as its query, which the list reads
/// to show the outcome of the action just taken.
pub fn back_with_outcome(list: &str, pairs: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    redirect(&format!("{list}?{query}"))
}
