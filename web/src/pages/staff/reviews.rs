//! The review queue (审核队列): `GET /staff/reviews` with the API's filters, one case at
//! `GET /staff/reviews/{case_id}` with its findings and evidence, and the decision form
//! posted to `POST /staff/reviews/{case_id}/decision`.
//!
//! Images and audio clips of the evidence are not copied into the page. The page links
//! each one to `GET /api/reviews/{case_id}/evidence`, which the browser loads with the
//! session cookie, so every view of a face image or clip is written to the evidence
//! access log.

use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use domain::review::Rule;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{beijing_times, query_string, staff_session};
use crate::backend::ApiProblem;
use crate::context::{PageContext, redirect};
use crate::forms::FormErrors;
use crate::WebState;

/// Decisions offered for each kind of case, in the order the form lists them. The API's
/// `reject` stands for the first non-accept decision and is not offered separately.
const SESSION_DECISIONS: [&str; 4] = ["accept", "clear_sessions", "clear_course", "clear_year"];
const EXAM_DECISIONS: [&str; 2] = ["accept", "void_score"];

/// Fields of the decision form that API errors may name.
const DECISION_FIELDS: [&str; 3] = ["decision", "reason", "session_ids"];

/// Fields of the queue's filter form that API errors may name.
const FILTER_FIELDS: [&str; 8] = ["status", "kind", "outcome", "rule", "item_code", "year", "unit_id", "operator_id"];

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/staff/reviews", get(queue))
        .route("/staff/reviews/{case_id}", get(case))
        .route("/staff/reviews/{case_id}/decision", post(decide))
}

#[derive(Deserialize, Default)]
struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    item_code: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    unit_id: String,
    #[serde(default)]
    operator_id: String,
}

impl Filters {
    fn pairs(&self) -> [(&str, &str); 8] {
        [
            ("status", self.status.as_str()),
            ("kind", self.kind.as_str()),
            ("outcome", self.outcome.as_str()),
            ("rule", self.rule.as_str()),
            ("item_code", self.item_code.as_str()),
            ("year", self.year.as_str()),
            ("unit_id", self.unit_id.as_str()),
            ("operator_id", self.operator_id.as_str()),
        ]
    }
}

/// `GET /staff/reviews?status=&kind=&outcome=&rule=&item_code=&year=&unit_id=&operator_id=`:
/// the cases the API lists for these filters, oldest first. A filter the API rejects
/// is shown beside its field.
async fn queue(context: PageContext, Query(filters): Query<Filters>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let path = format!("/api/reviews{}", query_string(&filters.pairs()));
    let (status, cases, errors) = match context.state.backend.get(&path, Some(token), context.locale).await {
        Ok(body) => (StatusCode::OK, case_rows(&body, &context), FormErrors::default()),
        Err(problem) if problem.status == StatusCode::BAD_REQUEST => (StatusCode::BAD_REQUEST, Vec::new(), FormErrors::from_problem(&problem, &FILTER_FIELDS)),
        Err(problem) => return context.fail(problem),
    };
    let rules: Vec<Value> = Rule::ALL.iter().map(|rule| json!({ "name": rule.as_str(), "text": format!("web.staff.rule.{}", rule.as_str()), "selected": rule.as_str() == filters.rule })).collect();
    let filter_values: serde_json::Map<String, Value> = filters.pairs().iter().map(|(name, value)| (name.to_string(), json!(value))).collect();
    let data = json!({
        "title": "web.staff.reviews.title",
        "cases": cases,
        "filters": filter_values,
        "rules": rules,
        "errors": errors.to_json(),
    });
    context.render_status(status, "staff_reviews", data)
}

/// Returns the queue's rows: each case with its Beijing creation time and the rule
/// names of its findings as catalogue codes.
fn case_rows(body: &Value, context: &PageContext) -> Vec<Value> {
    let mut cases: Vec<Value> = body["cases"].as_array().cloned().unwrap_or_default();
    for case in &mut cases {
        case["rule_texts"] = json!(rule_texts(&case["findings"], context));
        case["status_text"] = json!(format!("web.staff.status.{}", case["status"].as_str().unwrap_or("open")));
    }
    beijing_times(&mut cases, &["created_at", "decided_at"]);
    cases
}

/// Returns the names of the rules in `findings` in the visitor's language.
fn rule_texts(findings: &Value, context: &PageContext) -> Vec<String> {
    findings
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|finding| finding["rule"].as_str())
        .map(|rule| rule_text(rule, context))
        .collect()
}

fn rule_text(rule: &str, context: &PageContext) -> String {
    match Rule::parse(rule) {
        Some(rule) => domain::messages::text(context.locale, &format!("web.staff.rule.{}", rule.as_str()), &[]),
        None => rule.to_string(),
    }
}

/// `GET /staff/reviews/{case_id}`: the case, its findings, its evidence and the
/// decision form while it is open. The API logs this view in the evidence access log.
async fn case(context: PageContext, Path(case_id): Path<String>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    case_page(&context, token, &case_id, StatusCode::OK, &DecisionForm::default(), &FormErrors::default()).await
}

/// The decision form as typed, kept when the page is shown again with errors.
#[derive(Default)]
struct DecisionForm {
    decision: String,
    reason: String,
    session_ids: Vec<String>,
}

impl DecisionForm {
    fn from_fields(fields: &[(String, String)]) -> DecisionForm {
        let mut form = DecisionForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "decision" => form.decision = value.clone(),
                "reason" => form.reason = value.clone(),
                "session_ids" => form.session_ids.push(value.clone()),
                _ => {}
            }
        }
        form
    }
}

async fn case_page(context: &PageContext, token: &str, case_id: &str, status: StatusCode, form: &DecisionForm, errors: &FormErrors) -> Response {
    let case = match context.state.backend.get(&format!("/api/reviews/{case_id}"), Some(token), context.locale).await {
        Ok(case) => case,
        Err(problem) => return context.fail(problem),
    };
    let kind = case["kind"].as_str().unwrap_or_default();
    let offered: &[&str] = if kind == "exam" { &EXAM_DECISIONS } else { &SESSION_DECISIONS };
    let decisions: Vec<Value> = offered
        .iter()
        .map(|decision| json!({ "value": decision, "text": format!("web.staff.decision.{decision}"), "hint": format!("web.staff.decision.{decision}.hint"), "checked": form.decision == *decision }))
        .collect();
    let mut sessions: Vec<Value> = case["course_sessions"].as_array().cloned().unwrap_or_default();
    for session in &mut sessions {
        let id = session["id"].as_str().unwrap_or_default().to_string();
        session["checked"] = json!(form.session_ids.contains(&id));
        session["is_subject"] = json!(case["subject_id"] == id.as_str());
        session["status_text"] = json!(format!("web.staff.session_status.{}", session["status"].as_str().unwrap_or("reported")));
    }
    beijing_times(&mut sessions, &["started_at", "ended_at"]);
    let findings: Vec<Value> = case["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|finding| json!({ "rule": rule_text(finding["rule"].as_str().unwrap_or_default(), context), "evidence": labelled_rows(&finding["evidence"], context.locale) }))
        .collect();
    let evidence = &case["subject"]["evidence"];
    let data = json!({
        "title": "web.staff.case.title",
        "case": case,
        "decided_at": case["decided_at"].as_i64().map(api::beijing_text),
        "created_at": case["created_at"].as_i64().map(api::beijing_text),
        "subject_times": subject_times(&case["subject"]),
        "is_open": case["status"] == "open",
        "status_text": format!("web.staff.status.{}", case["status"].as_str().unwrap_or("open")),
        "decision_text": format!("web.staff.decision.{}", case["decision"].as_str().unwrap_or("accept")),
        "voided_count": case["effects"]["sessions_voided"].as_array().map_or(0, Vec::len),
        "is_session": kind == "session",
        "findings": findings,
        "media": media_items(case_id, evidence),
        "details": labelled_rows(evidence, context.locale),
        "sessions": sessions,
        "decisions": decisions,
        "reason": form.reason,
        "errors": errors.to_json(),
    });
    context.render_status(status, "staff_case", data)
}

/// Returns the start and end of the case's session or attempt in Beijing time.
fn subject_times(subject: &Value) -> Value {
    let text = |key: &str| subject[key].as_i64().map(api::beijing_text);
    json!({ "started_at": text("started_at"), "ended_at": text("ended_at").or_else(|| text("finished_at")) })
}

/// Returns the fields of a finding's evidence or of the subject's evidence as
/// `{name, value}` rows with labels in `locale`, Beijing times and durations in
/// minutes, the same labels the archive exports use. Images and clips become a mark.
fn labelled_rows(evidence: &Value, locale: domain::messages::Locale) -> Vec<Value> {
    let mut evidence = evidence.clone();
    strip_data_urls(&mut evidence);
    api::archive_text::labelled_fields(&evidence, locale).into_iter().map(|(name, value)| json!({ "name": name, "value": value })).collect()
}

/// Replaces every data URL inside `value` with a short mark, so that pages never copy
/// evidence media.
fn strip_data_urls(value: &mut Value) {
    match value {
        Value::String(text) if text.starts_with("data:") => *value = Value::String("[media]".into()),
        Value::Array(items) => items.iter_mut().for_each(strip_data_urls),
        Value::Object(fields) => fields.values_mut().for_each(strip_data_urls),
        _ => {}
    }
}

/// Returns the images and clips of the evidence with the API address that serves each:
/// `{src, is_audio, field, number, when}`, where `field` is the catalogue code of the
/// field's name, `number` the entry's number from 1 and `when` its trigger or its
/// time in Beijing time.
fn media_items(case_id: &str, evidence: &Value) -> Vec<Value> {
    let mut items = Vec::new();
    for field in api::reviews::media::MEDIA_FIELDS {
        for (index, entry) in evidence[*field].as_array().into_iter().flatten().enumerate() {
            let Some((media_type, _)) = api::reviews::media::entry_media(entry) else { continue };
            let is_audio = media_type.to_str().unwrap_or_default().starts_with("audio/");
            let when = match entry["trigger"].as_str() {
                Some(trigger) => trigger.to_string(),
                None => api::archive_text::instant_text(&entry["at"]).or_else(|| api::archive_text::instant_text(&entry["received_at"])).unwrap_or_default(),
            };
            items.push(json!({
                "src": format!("/api/reviews/{case_id}/evidence?field={field}&index={index}"),
                "is_audio": is_audio,
                "field": format!("web.staff.evidence.{field}"),
                "number": index + 1,
                "when": when,
            }));
        }
    }
    items
}

/// `POST /staff/reviews/{case_id}/decision {decision, reason, session_ids…}`: decides
/// the case through the API and shows it with the decision's effects. An error comes
/// back beside the field the API names.
async fn decide(context: PageContext, Path(case_id): Path<String>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let token = match staff_session(&context) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let form = DecisionForm::from_fields(&fields);
    if form.decision.is_empty() {
        let problem = local_problem(&context, "web.staff.decision.required", "decision");
        return case_page(&context, token, &case_id, StatusCode::BAD_REQUEST, &form, &FormErrors::from_problem(&problem, &DECISION_FIELDS)).await;
    }
    let body = json!({ "decision": form.decision, "reason": form.reason, "session_ids": form.session_ids });
    match context.state.backend.post(&format!("/api/reviews/{case_id}/decision"), Some(token), context.locale, body).await {
        Ok(_) => redirect(&format!("/staff/reviews/{case_id}")),
        Err(problem) if problem.status == StatusCode::UNAUTHORIZED || problem.status == StatusCode::NOT_FOUND => context.fail(problem),
        Err(problem) => {
            tracing::info!(case = %case_id, code = %problem.code, "review decision rejected by the API; shown on the case page");
            let status = if problem.status.is_client_error() { problem.status } else { StatusCode::BAD_REQUEST };
            case_page(&context, token, &case_id, status, &form, &FormErrors::from_problem(&problem, &DECISION_FIELDS)).await
        }
    }
}

/// Returns a form error found by the page itself, such as a choice left empty, in the
/// shape of an API error.
pub fn local_problem(context: &PageContext, code: &str, field: &str) -> ApiProblem {
    ApiProblem {
        status: StatusCode::BAD_REQUEST,
        code: code.to_string(),
        message: domain::messages::text(context.locale, code, &[]),
        field: Some(field.to_string()),
    }
}
