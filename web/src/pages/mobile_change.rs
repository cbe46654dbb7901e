//! The parts of the mobile number change (更换手机号) that its three pages share. The
//! operator changes the number at `/profile/mobile`. For a lost number, the unit admin
//! (`/unit/staff/{operator_id}`) or an association admin (`/staff/operators`) makes the
//! change with a code that the operator reads out.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::context::PageContext;
use crate::forms::FormErrors;

/// Returns whether the code form stays after the API error `code`: a wrong or missing
/// code can be typed again, while a void code or an expired, replaced or finished
/// request needs a new request.
pub fn keeps_code_form(code: &str) -> bool {
    matches!(code, "login.code_wrong" | "mobile_change.old_code_required")
}

/// Builds the `mobile_override` template's form state for a change made for an
/// operator. It contains the typed `new_mobile` and `reason`, and the form's errors.
/// Once a code was sent it also contains the open `request_id` and the masked number
/// the code went to (`sent`), and once the number changed, the new masked number (`done`).
pub fn mobile_form(new_mobile: &str, reason: &str, request_id: &str, sent: Value, done: Value, errors: &FormErrors) -> Value {
    json!({ "new_mobile": new_mobile, "reason": reason, "request_id": request_id, "sent": sent, "done": done, "errors": errors.to_json() })
}

/// Posts `{new_mobile, reason}` to the API's change route `api_path`, which texts a
/// code to the new number. Returns the page status and the form state, or the error
/// page for a missing session, a forbidden caller or an unknown operator.
pub async fn request_override(context: &PageContext, token: &str, api_path: &str, new_mobile: &str, reason: &str) -> Result<(StatusCode, Value), Response> {
    let body = json!({ "new_mobile": new_mobile, "reason": reason });
    match context.state.backend.post(api_path, Some(token), context.locale, body).await {
        Ok(reply) => {
            let request_id = reply["request_id"].as_str().unwrap_or_default();
            let form = mobile_form(new_mobile, reason, request_id, reply["new_mobile_masked"].clone(), Value::Null, &FormErrors::default());
            Ok((StatusCode::OK, form))
        }
        Err(problem) if matches!(problem.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) => Err(context.fail(problem)),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["new_mobile", "reason"]);
            Ok((StatusCode::BAD_REQUEST, mobile_form(new_mobile, reason, "", Value::Null, Value::Null, &errors)))
        }
    }
}

/// Posts `{request_id, new_code}` to `{api_path}/confirm`, which changes the number.
/// Returns the page status and the form state, or the error page for a missing
/// session or a forbidden caller.
pub async fn confirm_override(context: &PageContext, token: &str, api_path: &str, request_id: &str, new_code: &str) -> Result<(StatusCode, Value), Response> {
    let path = format!("{api_path}/confirm");
    let body = json!({ "request_id": request_id, "new_code": new_code });
    match context.state.backend.post(&path, Some(token), context.locale, body).await {
        Ok(reply) => Ok((StatusCode::OK, mobile_form("", "", "", Value::Null, reply["new_mobile_masked"].clone(), &FormErrors::default()))),
        Err(problem) if matches!(problem.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => Err(context.fail(problem)),
        Err(problem) => {
            let errors = FormErrors::from_problem(&problem, &["new_code"]);
            let request_id = if keeps_code_form(&problem.code) { request_id } else { "" };
            Ok((StatusCode::BAD_REQUEST, mobile_form("", "", request_id, Value::Null, Value::Null, &errors)))
        }
    }
}
