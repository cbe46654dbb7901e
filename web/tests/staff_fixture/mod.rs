//! Shared setup of the staff page tests: an operator studying at an institution,
//! sessions reported through the institution's signed API, and multipart uploads.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::common::{self, TestApp, id_number, uscc};

/// A 1×1 PNG image, standing in for a camera snapshot.
pub const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// The first bytes of a WAV file, standing in for an audio clip.
pub const WAV_BASE64: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=";

/// Reports a session of `course` from `start` for 90 minutes with face check
/// `face_check` and `evidence`, through the institution's signed API.
pub async fn report(app: &TestApp, institution: &api::CreatedInstitution, enrollment_id: &str, id: &str, course: &str, start: DateTime<Utc>, face_check: &str, evidence: Value) {
    let body = json!({
        "statement_id": id,
        "enrollment_id": enrollment_id,
        "course_code": course,
        "started_at": start.to_rfc3339(),
        "ended_at": (start + Duration::minutes(90)).to_rfc3339(),
        "face_check": face_check,
        "evidence": evidence,
    });
    let reply = app.signed(institution, "/api/institution/sessions", &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
}

/// Sends a multipart request of `fields` and `files` with `token`.
pub async fn post_multipart(app: &TestApp, path: &str, token: &str, fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> common::Reply {
    let (content_type, body) = common::multipart(fields, files);
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

/// Returns the id of the review case of the session reported as `statement_id`.
pub async fn case_of(app: &TestApp, statement_id: &str) -> String {
    sqlx::query_scalar("SELECT c.id FROM review_cases c JOIN study_sessions s ON s.id = c.subject_id WHERE s.statement_id = $1")
        .bind(statement_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// An operator of a new unit, enrolled for T in 2026 and handed off to an institution.
pub struct Studying {
    pub token: String,
    pub operator_id: String,
    pub enrollment_id: String,
    pub institution: api::CreatedInstitution,
}

pub async fn studying(app: &TestApp, mobile: &str) -> Studying {
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L3333");
    app.create_unit(&admin, &unit, "湘江电梯工程有限公司", "unit-c").await;
    let (token, operator_id, enrollment_id) = app.enrolled_operator(mobile, &id_number("43010219800101456"), &unit).await;
    let institution = app.handed_off(&token, &enrollment_id).await;
    Studying { token, operator_id, enrollment_id, institution }
}


pub fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}
