//! Authorization matrix: every route of the API against every kind of caller.
//!
//! The route list is read from the `.route("path", method(handler)…)` calls in
//! `api/src`, the same calls that build the router, so a route added there without a
//! row in [`MATRIX`] fails `matrix_covers_every_route`. A second test sends each route
//! a request from every caller and checks:
//! - a caller outside the row's roles is refused (401 without a session, else 403 or 404),
//!   with a well-formed body and again with a malformed body or query string, since
//!   the role is checked before either is parsed;
//! - a caller inside them is not refused for its role (no 401 or 403);
//! - on a route scoped to the caller's own data, operator A and the admin of unit A are
//!   refused on the ids of operator B, unit B, enrollment B, exam B, case B and unit B's
//!   training event and upload;
//! - no response to an A-side caller contains any of B's ids, name, mobile or ID number,
//!   and no response to anyone but the operator concerned carries a full ID number or
//!   mobile.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use api::auth::Role;
use api::CreatedInstitution;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use common::{Reply, TestApp, app, id_number, uscc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use workflows::both_backends;
use workflows::db::Db;

/// A kind of caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// No session at all.
    Public,
    /// Operator A, of unit A.
    Operator,
    /// The admin of unit A.
    UnitAdmin,
    /// Association administrator (all staff rights).
    Admin,
    /// Association reviewer.
    Reviewer,
    /// A staff account of institution 1 (a session, not a signed server request).
    Institution,
}

const SESSION_CALLERS: [Who; 5] = [Who::Operator, Who::UnitAdmin, Who::Admin, Who::Reviewer, Who::Institution];
const ALL: &[Who] = &[Who::Public, Who::Operator, Who::UnitAdmin, Who::Admin, Who::Reviewer, Who::Institution];
const STAFF: &[Who] = &[Who::Admin, Who::Reviewer];
const ADMIN: &[Who] = &[Who::Admin];
const OPERATOR: &[Who] = &[Who::Operator];
const UNIT_ADMIN: &[Who] = &[Who::UnitAdmin];
const UNIT_ADMIN_OR_STAFF: &[Who] = &[Who::UnitAdmin, Who::Admin, Who::Reviewer];
/// Every caller with a session, whatever its role.
const SESSION: &[Who] = &SESSION_CALLERS;
/// Routes that institutions' servers call with a signed request and no session.
const SIGNED: &[Who] = &[];

/// Whether a route serves data of one operator, unit or enrollment named in its path or
/// body, so that A-side callers must be refused on B's ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The route's data is the caller's own or public; nothing in the path names a subject.
    Open,
    /// The path or body names a subject that the operator or unit admin must own.
    Subject,
}

struct Row {
    method: &'static str,
    path: &'static str,
    allow: &'static [Who],
    scope: Scope,
}

const fn row(method: &'static str, path: &'static str, allow: &'static [Who], scope: Scope) -> Row {
    Row { method, path, allow, scope }
}

use Scope::{Open, Subject};

/// Who may call each route. Institutions' servers reach `/api/institution/*` only with
/// signed requests, which `signed_routes_check_the_institution` covers.
const MATRIX: &[Row] = &[
    row("POST", "/api/auth/code", ALL, Open),
    row("POST", "/api/auth/login", ALL, Open),
    row("POST", "/api/auth/password-login", ALL, Open),
    row("POST", "/api/auth/logout", &[Who::Operator, Who::UnitAdmin, Who::Admin, Who::Reviewer, Who::Institution], Open),
    row("POST", "/api/operator/register", OPERATOR, Open),
    row("POST", "/api/operator/info", OPERATOR, Open),
    row("GET", "/api/operator/me", OPERATOR, Open),
    row("GET", "/api/operator/certificates", OPERATOR, Open),
    row("GET", "/api/credits", OPERATOR, Open),
    row("GET", "/api/cards/{card_no}/verify", ALL, Open),
    row("GET", "/api/cards/{card_no}/pdf", OPERATOR, Subject),
    row("POST", "/api/enrollments", OPERATOR, Open),
    row("GET", "/api/enrollments", OPERATOR, Open),
    row("POST", "/api/enrollments/{enrollment_id}/exam/start", OPERATOR, Subject),
    row("POST", "/api/enrollments/{enrollment_id}/handoff", OPERATOR, Subject),
    row("GET", "/api/enrollments/{enrollment_id}/proctoring-consent", OPERATOR, Subject),
    row("POST", "/api/enrollments/{enrollment_id}/proctoring-consent", OPERATOR, Subject),
    row("GET", "/api/exams/{attempt_id}", OPERATOR, Subject),
    row("PUT", "/api/exams/{attempt_id}/answers", OPERATOR, Subject),
    row("POST", "/api/exams/{attempt_id}/submit", OPERATOR, Subject),
    row("POST", "/api/exams/{attempt_id}/evidence", OPERATOR, Subject),
    row("POST", "/api/reviews/{case_id}/appeal", OPERATOR, Subject),
    row("GET", "/api/archives/{operator_id}", &[Who::Operator, Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/archives/{operator_id}/export", &[Who::Operator, Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("POST", "/api/archives/{operator_id}/corrections", ADMIN, Open),
    row("GET", "/api/instances/{instance_id}/history", &[Who::Operator, Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("POST", "/api/instances/{instance_id}/pause", ADMIN, Open),
    row("POST", "/api/instances/{instance_id}/resume", ADMIN, Open),
    row("GET", "/api/incidents", STAFF, Open),
    row("POST", "/api/incidents/{incident_id}/{action}", ADMIN, Open),
    row("GET", "/healthz", ALL, Open),
    row("GET", "/readyz", ALL, Open),
    // Public like the probes: counts only, which `metrics_carry_no_ids` checks.
    row("GET", "/metrics", ALL, Open),
    row("GET", "/api/openapi.json", ALL, Open),
    row("GET", "/api/bank/courses", STAFF, Open),
    row("POST", "/api/bank/courses", STAFF, Open),
    row("POST", "/api/bank/courses/{id}/review", STAFF, Open),
    row("GET", "/api/bank/questions", STAFF, Open),
    row("POST", "/api/bank/questions", STAFF, Open),
    row("GET", "/api/bank/questions/{id}", STAFF, Open),
    row("POST", "/api/bank/questions/{id}/review", STAFF, Open),
    row("POST", "/api/bank/import", STAFF, Open),
    row("GET", "/api/bank/export", STAFF, Open),
    row("GET", "/api/definitions", STAFF, Open),
    row("POST", "/api/definitions", ADMIN, Open),
    row("POST", "/api/definitions/validate", STAFF, Open),
    row("GET", "/api/definitions/{definition_id}/versions", STAFF, Open),
    row("GET", "/api/definitions/{definition_id}/versions/{version}", STAFF, Open),
    row("GET", "/api/definitions/{definition_id}/versions/{version}/diagram", STAFF, Open),
    row("POST", "/api/definitions/{definition_id}/versions/{version}/pause", ADMIN, Open),
    row("POST", "/api/definitions/{definition_id}/versions/{version}/resume", ADMIN, Open),
    row("POST", "/api/definitions/{definition_id}/migrations/plan", STAFF, Open),
    row("POST", "/api/definitions/{definition_id}/migrations/apply", ADMIN, Open),
    row("POST", "/api/institution/handoff/verify", SIGNED, Open),
    row("POST", "/api/institution/sessions", SIGNED, Open),
    row("POST", "/api/institutions", ADMIN, Open),
    row("GET", "/api/institutions/registered", STAFF, Open),
    row("GET", "/api/institutions", SESSION, Open),
    row("POST", "/api/past-records", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/past-records", STAFF, Open),
    row("POST", "/api/past-records/{record_id}/decision", STAFF, Open),
    row("GET", "/api/reviews", STAFF, Open),
    row("GET", "/api/reviews/{case_id}", STAFF, Open),
    row("POST", "/api/reviews/{case_id}/decision", STAFF, Open),
    row("GET", "/api/reviews/{case_id}/evidence", STAFF, Open),
    row("GET", "/api/appeals", STAFF, Open),
    row("POST", "/api/appeals/{appeal_id}/decision", STAFF, Open),
    row("GET", "/api/appeals/{appeal_id}/files", STAFF, Open),
    row("GET", "/api/sync/status", STAFF, Open),
    row("GET", "/api/sync/dead-letters", STAFF, Open),
    row("POST", "/api/sync/dead-letters/{incident_id}/replay", STAFF, Open),
    row("POST", "/api/sync/dead-letters/{incident_id}/skip", STAFF, Open),
    row("GET", "/api/units", STAFF, Open),
    row("POST", "/api/units", ADMIN, Open),
    row("POST", "/api/units/{unit_id}/admins", &[Who::UnitAdmin, Who::Admin], Subject),
    row("POST", "/api/units/{unit_id}/roster", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("POST", "/api/units/{unit_id}/operators/{operator_id}/release", &[Who::UnitAdmin, Who::Admin], Subject),
    row("GET", "/api/units/{unit_id}/operators/{operator_id}/records", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/units/{unit_id}/staff", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/units/{unit_id}/staff/export", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/units/{unit_id}/staff/cards", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("POST", "/api/units/{unit_id}/staff/enroll", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("POST", "/api/units/{unit_id}/staff/remind", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/units/mine", &[Who::UnitAdmin], Open),
    row("POST", "/api/units/{unit_id}/roster/preview", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/units/{unit_id}/roster/imports/{import_id}", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("POST", "/api/units/{unit_id}/roster/imports/{import_id}/confirm", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/units/{unit_id}/join-requests", &[Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("POST", "/api/units/{unit_id}/join-requests", &[Who::UnitAdmin, Who::Admin], Subject),
    row("POST", "/api/units/{unit_id}/join-requests/{request_id}/decision", &[Who::UnitAdmin, Who::Admin], Subject),
    row("GET", "/api/units/search", SESSION, Open),
    row("POST", "/api/verifications", &[Who::Operator, Who::UnitAdmin, Who::Admin, Who::Reviewer], Subject),
    row("GET", "/api/verifications", STAFF, Open),
    row("POST", "/api/verifications/{verification_id}/decision", STAFF, Open),
    row("GET", "/api/verifications/{verification_id}/documents", STAFF, Open),
    row("GET", "/api/staff/queue-counts", STAFF, Open),
    // Internal training: the association qualifies a unit, whose admin files events and
    // their files, and association staff decide them.
    row("GET", "/api/units/{unit_id}/qualifications", UNIT_ADMIN_OR_STAFF, Subject),
    row("POST", "/api/units/{unit_id}/qualifications", ADMIN, Open),
    row("DELETE", "/api/units/{unit_id}/qualifications/{qualification}", ADMIN, Open),
    row("GET", "/api/training/events", UNIT_ADMIN_OR_STAFF, Open),
    row("POST", "/api/training/events", UNIT_ADMIN, Open),
    row("GET", "/api/training/events/{event_id}", UNIT_ADMIN_OR_STAFF, Subject),
    row("PUT", "/api/training/events/{event_id}", UNIT_ADMIN, Subject),
    row("POST", "/api/training/events/{event_id}/submit", UNIT_ADMIN, Subject),
    row("POST", "/api/training/events/{event_id}/decision", STAFF, Open),
    row("POST", "/api/training/events/{event_id}/uploads", UNIT_ADMIN, Subject),
    row("GET", "/api/training/uploads/{upload_id}", UNIT_ADMIN_OR_STAFF, Subject),
    row("PUT", "/api/training/uploads/{upload_id}/chunks/{index}", UNIT_ADMIN, Subject),
    row("POST", "/api/training/uploads/{upload_id}/complete", UNIT_ADMIN, Subject),
    row("GET", "/api/training/uploads/{upload_id}/content", UNIT_ADMIN_OR_STAFF, Subject),
    row("DELETE", "/api/training/uploads/{upload_id}", UNIT_ADMIN, Subject),
    // Statistics, notices, help pages and footer settings.
    row("GET", "/api/statistics", STAFF, Open),
    row("GET", "/api/statistics/export", STAFF, Open),
    row("GET", "/api/notices", ALL, Open),
    row("GET", "/api/notices/{notice_id}", ALL, Open),
    row("GET", "/api/site/notices", STAFF, Open),
    row("POST", "/api/site/notices", STAFF, Open),
    row("GET", "/api/site/notices/{notice_id}", STAFF, Open),
    row("PUT", "/api/site/notices/{notice_id}", STAFF, Open),
    row("POST", "/api/site/notices/{notice_id}/publish", STAFF, Open),
    row("POST", "/api/site/notices/{notice_id}/withdraw", STAFF, Open),
    row("GET", "/api/help", ALL, Open),
    row("GET", "/api/help/{slug}", ALL, Open),
    row("POST", "/api/site/help", STAFF, Open),
    row("PUT", "/api/site/help/{slug}", STAFF, Open),
    row("DELETE", "/api/site/help/{slug}", STAFF, Open),
    row("GET", "/api/site/footer", ALL, Open),
    row("GET", "/api/site/settings", ADMIN, Open),
    row("PUT", "/api/site/settings", ADMIN, Open),
    // Mobile number changes.
    row("POST", "/api/operator/mobile-change", OPERATOR, Open),
    row("POST", "/api/operator/mobile-change/confirm", OPERATOR, Open),
    row("POST", "/api/units/{unit_id}/operators/{operator_id}/mobile-change", &[Who::UnitAdmin], Subject),
    row("POST", "/api/units/{unit_id}/operators/{operator_id}/mobile-change/confirm", &[Who::UnitAdmin], Subject),
    row("GET", "/api/staff/operators", ADMIN, Open),
    row("POST", "/api/staff/operators/{operator_id}/mobile-change", ADMIN, Open),
    row("POST", "/api/staff/operators/{operator_id}/mobile-change/confirm", ADMIN, Open),
];

/// Returns every `(METHOD, path)` that the `.route(…)` calls under `api/src` register.
fn router_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let source_dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut pending = vec![source_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("api/src is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("source file is UTF-8");
                routes.extend(routes_in(&text));
            }
        }
    }
    routes
}

/// Parses `.route("path", get(a).post(b))` calls: the path literal and the method
/// functions at any nesting depth of the second argument.
fn routes_in(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(".route(") {
        rest = &rest[start + ".route(".len()..];
        let Some(open_quote) = rest.find('"') else { break };
        let after_quote = &rest[open_quote + 1..];
        let close_quote = after_quote.find('"').expect("route path literal is closed");
        let path = after_quote[..close_quote].to_string();

        // The call's arguments end at the parenthesis that balances `.route(`.
        let mut depth = 1;
        let mut end = 0;
        for (index, character) in rest.char_indices() {
            match character {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = index;
                break;
            }
        }
        let arguments = &rest[open_quote + 1 + close_quote + 1..end];
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = arguments.match_indices(&format!("{method}(")).any(|(at, _)| {
                let before = arguments[..at].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                found.push((method.to_uppercase(), path.clone()));
            }
        }
        rest = &rest[end..];
    }
    found
}

#[test]
fn matrix_covers_every_route() {
    let routes = router_routes();
    assert!(routes.len() >= 60, "the route scan found only {} routes: {routes:?}", routes.len());
    let rows: BTreeSet<(String, String)> = MATRIX.iter().map(|row| (row.method.to_string(), row.path.to_string())).collect();
    assert_eq!(rows.len(), MATRIX.len(), "a route has two rows in MATRIX");

    let missing: Vec<_> = routes.difference(&rows).collect();
    assert!(missing.is_empty(), "routes without a row in MATRIX (add who may call them): {missing:?}");
    let stale: Vec<_> = rows.difference(&routes).collect();
    assert!(stale.is_empty(), "MATRIX rows for routes the router no longer has: {stale:?}");
}

#[test]
fn route_scan_reads_chained_methods() {
    let text = r#"Router::new().route("/a/{id}", get(show).post(create)).route("/b", axum::routing::put(x))"#;
    let routes = routes_in(text);
    assert_eq!(routes, vec![
        ("GET".to_string(), "/a/{id}".to_string()),
        ("POST".to_string(), "/a/{id}".to_string()),
        ("PUT".to_string(), "/b".to_string()),
    ]);
}

/// The fixtures: two units with an operator each, everyone logged in, and B's records.
struct World {
    admin: String,
    reviewer: String,
    unit_admin_a: String,
    institution_account: String,
    operator_a: String,
    unit_a: String,
    unit_b: String,
    operator_a_id: String,
    operator_b_id: String,
    enrollment_a: String,
    enrollment_b: String,
    instance_a: String,
    instance_b: String,
    attempt_a: String,
    attempt_b: String,
    card_a: String,
    card_b: String,
    /// Training events of each unit, each with one complete upload (a teacher
    /// credential); unit B's event lists operator B as an attendee.
    event_a: String,
    event_b: String,
    upload_a: String,
    upload_b: String,
    /// A course code of item T in 2026, for training event forms.
    training_course: String,
    /// A previewed roster import of unit A.
    import_a: String,
    institution_1: CreatedInstitution,
    institution_2: CreatedInstitution,
    /// Strings that identify operator B, which no A-side caller may receive.
    b_markers: Vec<String>,
    /// Full ID numbers and mobiles of both operators.
    a_personal: Vec<String>,
    b_personal: Vec<String>,
}

const MOBILE_A: &str = "13800000101";
const MOBILE_B: &str = "13900000202";
const NAME_B: &str = "欧阳青松";
const CARD_A: &str = "XF2026T000101";
const CARD_B: &str = "XF2026T000202";

/// Registers, completes info with unit `unit_uscc`, enrolls for T 2026, hands off to
/// `institution`, reports and clears three sessions and starts an exam. Returns
/// (token, operator id, enrollment id, attempt id).
async fn operator_with_attempt(app: &TestApp, mobile: &str, name: &str, id: &str, unit_uscc: &str, institution: &CreatedInstitution) -> (String, String, String, String) {
    let login = app.login(mobile).await;
    let token = login["token"].as_str().unwrap().to_string();
    let operator_id = login["operator_id"].as_str().unwrap().to_string();
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": name, "id_number": id })).await;
    assert_eq!(reply.status, StatusCode::OK, "register failed: {:?}", reply.body);
    let reply = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": unit_uscc, "items": [{ "item_code": "T" }] })).await;
    assert_eq!(reply.status, StatusCode::OK, "info failed: {:?}", reply.body);
    let reply = app.post("/api/enrollments", Some(&token), json!({ "year": 2026, "item_code": "T" })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "enroll failed: {:?}", reply.body);
    let enrollment_id = reply.body["id"].as_str().unwrap().to_string();
    let reply = app.post(&format!("/api/enrollments/{enrollment_id}/handoff"), Some(&token), json!({ "institution_id": institution.id })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "hand-off failed: {:?}", reply.body);

    let day_before = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    for (index, course) in ["T-01", "T-02", "T-03"].iter().enumerate() {
        let start = day_before + Duration::hours(index as i64 * 2);
        let reply = app.report_session(institution, &enrollment_id, &format!("{mobile}-{course}"), course, start, 90).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    app.clear_sessions(&enrollment_id, 3).await;
    let reply = app.start_exam(&token, &enrollment_id).await;
    assert_eq!(reply.status, StatusCode::CREATED, "exam start failed: {:?}", reply.body);
    let attempt_id = reply.body["attempt_id"].as_str().unwrap().to_string();
    (token, operator_id, enrollment_id, attempt_id)
}

/// Qualifies `unit_id` for internal training and has its admin create an event with one
/// teacher credential uploaded and completed. Returns (event id, upload id).
async fn training_event(app: &TestApp, admin: &str, unit_id: &str, unit_admin: &str, course: &str) -> (String, String) {
    let grant = json!({ "qualification": "internal_training", "valid_until": "2026-12-31" });
    let reply = app.post(&format!("/api/units/{unit_id}/qualifications"), Some(admin), grant).await;
    assert_eq!(reply.status, StatusCode::OK, "qualification failed: {:?}", reply.body);
    let reply = app.post("/api/training/events", Some(unit_admin), event_form(course)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "event creation failed: {:?}", reply.body);
    let event_id = reply.body["id"].as_str().unwrap().to_string();

    let reply = app.post(&format!("/api/training/events/{event_id}/uploads"), Some(unit_admin), upload_declaration()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "upload start failed: {:?}", reply.body);
    let upload_id = reply.body["upload_id"].as_str().unwrap().to_string();
    let reply = app.send(request("PUT", &format!("/api/training/uploads/{upload_id}/chunks/0"), Some(unit_admin), Payload::Bytes(PDF))).await;
    assert_eq!(reply.status, StatusCode::OK, "chunk failed: {:?}", reply.body);
    let reply = app.post(&format!("/api/training/uploads/{upload_id}/complete"), Some(unit_admin), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "upload completion failed: {:?}", reply.body);
    (event_id, upload_id)
}

/// Returns a training event form of item T in 2026 with one course.
fn event_form(course: &str) -> Value {
    json!({
        "title": "电梯安全内部培训",
        "year": 2026,
        "item_code": "T",
        "courses": [course],
        "starts_on": "2026-03-02",
        "ends_on": "2026-03-03",
        "teachers": [{ "name": "张工", "credential_no": "TJ-2020-0001" }],
    })
}

/// Returns the declaration of [`PDF`] as a teacher credential, uploaded in one chunk.
fn upload_declaration() -> Value {
    json!({ "purpose": "credential", "file_name": "证书.pdf", "size": PDF.len(), "sha256": hex::encode(Sha256::digest(PDF)) })
}

async fn build_world(app: &TestApp) -> World {
    let admin = app.admin_token().await;
    let reviewer = app.account_token(Role::Reviewer, "matrix-reviewer", None).await;
    let uscc_a = uscc("91430100MA4M0001");
    let uscc_b = uscc("91430100MA4M0002");
    let (unit_a, unit_admin_a) = app.create_unit(&admin, &uscc_a, "甲电梯公司", "matrix-unit-a").await;
    let (unit_b, unit_admin_b) = app.create_unit(&admin, &uscc_b, "乙电梯公司", "matrix-unit-b").await;
    let institution_1 = api::create_institution(&app.state, "一号培训学校", &uscc("52430100MJ000101"), &["T".to_string()]).await.unwrap();
    let institution_2 = api::create_institution(&app.state, "二号培训学校", &uscc("52430100MJ000102"), &["T".to_string()]).await.unwrap();
    let account = api::NewAccount {
        role: Role::Institution,
        login: "matrix-institution",
        password: common::ADMIN_PASSWORD,
        display_name: "培训学校账号",
        unit_id: None,
        institution_id: Some(institution_1.id.as_str()),
        mobile: None,
        email: None,
    };
    api::create_account(&app.db, &account, app.state.now_ms()).await.unwrap();
    let institution_account = app.password_login("matrix-institution", common::ADMIN_PASSWORD).await;

    let id_a = id_number("43010219800101201");
    let id_b = id_number("43010219800101202");
    let (operator_a, operator_a_id, enrollment_a, attempt_a) = operator_with_attempt(app, MOBILE_A, "王小明", &id_a, &uscc_a, &institution_1).await;
    let (_, operator_b_id, enrollment_b, attempt_b) = operator_with_attempt(app, MOBILE_B, NAME_B, &id_b, &uscc_b, &institution_2).await;
    let instance_of = |enrollment: String| async move {
        sqlx::query_scalar::<_, String>("SELECT instance_id FROM enrollments WHERE id = $1").bind(enrollment).fetch_one(&app.db.pool).await.unwrap()
    };
    let instance_a = instance_of(enrollment_a.clone()).await;
    let instance_b = instance_of(enrollment_b.clone()).await;

    // B's rejected review case, and a card of each operator's.
    sqlx::query(
        "INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, decided_by, decided_at, reason, created_at)
         VALUES ('case-b', 'exam', $1, $2, '[]', 'rejected', 'staff', $3, '替考', $3)",
    )
    .bind(&attempt_b)
    .bind(&enrollment_b)
    .bind(app.state.now_ms())
    .execute(&app.db.pool)
    .await
    .unwrap();
    let cards = [(CARD_A, &operator_a_id, &enrollment_a, "甲电梯公司"), (CARD_B, &operator_b_id, &enrollment_b, "乙电梯公司")];
    for (card_no, operator_id, enrollment_id, unit_name) in cards {
        sqlx::query(
            "INSERT INTO cards (id, card_no, operator_id, enrollment_id, year, item_code, unit_name, credits, issued_at, revoked_at, revoke_reason)
             VALUES ($1, $1, $2, $3, 2026, 'T', $4, 20, $5, NULL, NULL)",
        )
        .bind(card_no)
        .bind(operator_id)
        .bind(enrollment_id)
        .bind(unit_name)
        .bind(app.state.now_ms())
        .execute(&app.db.pool)
        .await
        .unwrap();
    }

    // A training event of each unit; operator B attended unit B's.
    let training_course = app.state.courseware.item("T").expect("item T has courseware").courses.iter().find(|course| course.years.contains(&2026)).expect("a T course in 2026").code.clone();
    let (event_a, upload_a) = training_event(app, &admin, &unit_a, &unit_admin_a, &training_course).await;
    let (event_b, upload_b) = training_event(app, &admin, &unit_b, &unit_admin_b, &training_course).await;
    sqlx::query("INSERT INTO training_attendees (event_id, operator_id, enrollment_id, line) VALUES ($1, $2, $3, 1)")
        .bind(&event_b)
        .bind(&operator_b_id)
        .bind(&enrollment_b)
        .execute(&app.db.pool)
        .await
        .unwrap();

    // A roster preview of unit A, whose import id the import routes name.
    let roster = format!("姓名,身份证号码,手机号码,作业项目代号\n李预览,{},13700000777,T\n", id_number("43010219800101203"));
    let preview = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_a}/roster/preview?file_name=roster.csv"))
        .header("authorization", format!("Bearer {unit_admin_a}"))
        .body(Body::from(roster))
        .unwrap();
    let preview = app.send(preview).await;
    assert_eq!(preview.status, StatusCode::CREATED, "{:?}", preview.body);
    let import_a = preview.body["import_id"].as_str().unwrap().to_string();

    World {
        admin,
        reviewer,
        unit_admin_a,
        institution_account,
        operator_a,
        unit_a,
        b_markers: vec![
            operator_b_id.clone(),
            enrollment_b.clone(),
            attempt_b.clone(),
            instance_b.clone(),
            event_b.clone(),
            upload_b.clone(),
            NAME_B.to_string(),
            MOBILE_B.to_string(),
            id_b.clone(),
        ],
        a_personal: vec![MOBILE_A.to_string(), id_a],
        b_personal: vec![MOBILE_B.to_string(), id_b],
        unit_b,
        operator_a_id,
        operator_b_id,
        enrollment_a,
        enrollment_b,
        instance_a,
        instance_b,
        attempt_a,
        attempt_b,
        card_a: CARD_A.to_string(),
        card_b: CARD_B.to_string(),
        event_a,
        event_b,
        upload_a,
        upload_b,
        training_course,
        import_a,
        institution_1,
        institution_2,
    }
}

/// Which subjects a request names: B's (foreign to every A-side caller), A's, or unit A
/// with B's other ids (a unit admin naming its own unit but another unit's operator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subjects {
    OfB,
    OfA,
    UnitAWithB,
}

impl World {
    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Public => None,
            Who::Operator => Some(&self.operator_a),
            Who::UnitAdmin => Some(&self.unit_admin_a),
            Who::Admin => Some(&self.admin),
            Who::Reviewer => Some(&self.reviewer),
            Who::Institution => Some(&self.institution_account),
        }
    }

    /// Fills the path's `{…}` parameters with ids of `subjects`.
    fn fill(&self, path: &str, subjects: Subjects) -> String {
        let b = subjects != Subjects::OfA;
        let unit = if subjects == Subjects::OfB { &self.unit_b } else { &self.unit_a };
        let pick = |a: &str, other: &str| if b { other.to_string() } else { a.to_string() };
        path.replace("{unit_id}", unit)
            .replace("{operator_id}", &pick(&self.operator_a_id, &self.operator_b_id))
            .replace("{enrollment_id}", &pick(&self.enrollment_a, &self.enrollment_b))
            .replace("{attempt_id}", &pick(&self.attempt_a, &self.attempt_b))
            .replace("{instance_id}", &pick(&self.instance_a, &self.instance_b))
            .replace("{case_id}", "case-b")
            .replace("{card_no}", &pick(&self.card_a, &self.card_b))
            .replace("{event_id}", &pick(&self.event_a, &self.event_b))
            .replace("{upload_id}", &pick(&self.upload_a, &self.upload_b))
            .replace("{index}", "0")
            .replace("{qualification}", "internal_training")
            .replace("{definition_id}", "annual_ce")
            .replace("{version}", "no-such-version")
            .replace("{action}", "retry")
            .replace("{incident_id}", "no-such-incident")
            .replace("{record_id}", "no-such-record")
            .replace("{verification_id}", "no-such-verification")
            .replace("{appeal_id}", "no-such-appeal")
            .replace("{notice_id}", "no-such-notice")
            .replace("{slug}", "no-such-page")
            .replace("{import_id}", &self.import_a)
            .replace("{request_id}", "no-such-request")
            .replace("{id}", "no-such-id")
    }
}

/// A request body: JSON, a multipart form with one PDF, raw CSV, raw bytes (an upload
/// chunk), or a body that no route can parse.
enum Payload {
    Empty,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    Csv(&'static str),
    Bytes(&'static [u8]),
    Malformed { content_type: &'static str },
}

/// Returns a well-formed body for `row` that names B's subjects, so that the only
/// reason left to refuse it is who sends it.
fn sample_body(row: &Row, world: &World, who: Who) -> Payload {
    let operator_b = world.operator_b_id.clone();
    match (row.method, row.path) {
        ("POST", "/api/auth/code") => Payload::Json(json!({ "mobile": "13700000999" })),
        ("POST", "/api/auth/login") => Payload::Json(json!({ "mobile": "13700000999", "code": "000000" })),
        ("POST", "/api/auth/password-login") => Payload::Json(json!({ "login": "nobody", "password": "wrong-password" })),
        ("POST", "/api/operator/register") => Payload::Json(json!({ "name": "张三", "id_number": "110" })),
        ("POST", "/api/operator/info") => Payload::Json(json!({ "unit_uscc": "x", "items": [] })),
        ("POST", "/api/enrollments") => Payload::Json(json!({ "year": 2026, "item_code": "T" })),
        ("POST", "/api/enrollments/{enrollment_id}/handoff") => Payload::Json(json!({ "institution_id": world.institution_1.id })),
        ("POST", "/api/enrollments/{enrollment_id}/proctoring-consent") => Payload::Json(json!({ "notice_version": api::proctoring::NOTICE_VERSION })),
        ("PUT", "/api/exams/{attempt_id}/answers") => Payload::Json(json!({ "answers": {} })),
        ("POST", "/api/exams/{attempt_id}/evidence") => Payload::Json(json!({ "face_checks": [] })),
        ("POST", "/api/reviews/{case_id}/appeal") => Payload::Form(vec![("reason", "不是本人作弊".to_string())]),
        ("POST", "/api/archives/{operator_id}/corrections") => {
            Payload::Json(json!({ "supersedes": 1, "reason": "更正", "approved_by": "nobody", "body": { "note": "x" } }))
        }
        ("POST", "/api/instances/{instance_id}/pause") => Payload::Json(json!({ "reason": "检查" })),
        ("POST", "/api/past-records") => Payload::Json(json!({ "operator_id": operator_b, "year": 2025, "item_code": "T", "credits": 5, "source": "纸质档案" })),
        ("POST", "/api/units/{unit_id}/admins") => {
            Payload::Json(json!({ "login": "intruder-admin", "password": common::ADMIN_PASSWORD, "display_name": "入侵者" }))
        }
        ("POST", "/api/units/{unit_id}/roster") => Payload::Csv("姓名,身份证号码,手机号码,作业项目代号\n"),
        ("POST", "/api/units/{unit_id}/operators/{operator_id}/release") => Payload::Json(json!({ "reason": "离职" })),
        ("POST", "/api/units/{unit_id}/staff/enroll") => Payload::Json(json!({ "year": 2026, "item_code": "T", "operator_ids": [operator_b] })),
        ("POST", "/api/units/{unit_id}/staff/remind") => Payload::Json(json!({ "year": 2026, "operator_ids": [operator_b] })),
        ("POST", "/api/units/{unit_id}/roster/preview") => Payload::Csv("姓名,身份证号码,手机号码,作业项目代号\n"),
        ("POST", "/api/units/{unit_id}/join-requests") => Payload::Json(json!({ "id_number": "110", "name": "张三" })),
        ("POST", "/api/units/{unit_id}/join-requests/{request_id}/decision") => Payload::Json(json!({ "decision": "decline", "reason": "不同意" })),
        ("POST", "/api/verifications") => match who {
            Who::UnitAdmin => Payload::Form(vec![("kind", "unit_credit_code".to_string()), ("subject_id", world.unit_b.clone())]),
            _ => Payload::Form(vec![("kind", "operator_real_name".to_string()), ("subject_id", operator_b)]),
        },
        ("POST", "/api/institutions") => Payload::Json(json!({ "name": "x", "uscc": "x", "items": ["T"] })),
        ("POST", "/api/units") => Payload::Json(json!({ "uscc": "x", "name": "x", "admin": { "login": "x", "password": "x", "display_name": "x" } })),
        ("POST", "/api/definitions" | "/api/definitions/validate") => Payload::Json(json!({ "source": "id: x" })),
        ("POST", "/api/definitions/{definition_id}/versions/{version}/pause") => Payload::Json(json!({ "reason": "x" })),
        ("POST", "/api/definitions/{definition_id}/migrations/plan" | "/api/definitions/{definition_id}/migrations/apply") => {
            Payload::Json(json!({ "from_version": "x" }))
        }
        ("POST", "/api/past-records/{record_id}/decision" | "/api/verifications/{verification_id}/decision") => {
            Payload::Json(json!({ "decision": "approve", "reason": "x" }))
        }
        ("POST", "/api/reviews/{case_id}/decision") => Payload::Json(json!({ "decision": "accept", "reason": "x" })),
        ("POST", "/api/appeals/{appeal_id}/decision") => Payload::Json(json!({ "outcome": "uphold", "reason": "x" })),
        ("POST", "/api/bank/courses/{id}/review" | "/api/bank/questions/{id}/review") => Payload::Json(json!({ "action": "approve" })),
        ("POST", "/api/bank/courses") => Payload::Json(json!({ "item_code": "T", "year": 2026, "code": "T-99", "title": "x", "minutes": 45 })),
        ("POST", "/api/bank/questions") => Payload::Json(json!({
            "item_code": "T", "course_code": "T-01", "type": "single", "stem": "x", "options": ["a", "b"], "answer": "A", "explanation": "x", "difficulty": 1,
        })),
        ("POST", "/api/bank/import") => Payload::Csv("x"),
        ("POST", "/api/site/notices") | ("PUT", "/api/site/notices/{notice_id}") => Payload::Json(json!({ "title": "通知", "body": "正文" })),
        ("POST", "/api/site/help") => Payload::Json(json!({ "slug": "matrix", "title": "帮助", "body": "正文" })),
        ("PUT", "/api/site/help/{slug}") => Payload::Json(json!({ "title": "帮助", "body": "正文" })),
        ("POST", "/api/operator/mobile-change") => Payload::Json(json!({ "new_mobile": "13700000998" })),
        ("POST", "/api/operator/mobile-change/confirm") => Payload::Json(json!({ "request_id": "no-such-request", "new_code": "000000", "old_code": "000000" })),
        ("POST", "/api/units/{unit_id}/operators/{operator_id}/mobile-change" | "/api/staff/operators/{operator_id}/mobile-change") => {
            Payload::Json(json!({ "new_mobile": "13700000998", "reason": "原号码已停用" }))
        }
        ("POST", "/api/units/{unit_id}/operators/{operator_id}/mobile-change/confirm" | "/api/staff/operators/{operator_id}/mobile-change/confirm") => {
            Payload::Json(json!({ "request_id": "no-such-request", "new_code": "000000" }))
        }
        ("POST", "/api/units/{unit_id}/qualifications") => Payload::Json(json!({ "qualification": "internal_training", "valid_until": "2026-12-31" })),
        ("POST", "/api/training/events") | ("PUT", "/api/training/events/{event_id}") => Payload::Json(event_form(&world.training_course)),
        ("POST", "/api/training/events/{event_id}/decision") => Payload::Json(json!({ "decision": "approve", "reason": "x" })),
        ("POST", "/api/training/events/{event_id}/uploads") => Payload::Json(upload_declaration()),
        ("PUT", "/api/training/uploads/{upload_id}/chunks/{index}") => Payload::Bytes(PDF),
        ("GET" | "DELETE", _) => Payload::Empty,
        _ => Payload::Json(json!({})),
    }
}

const PDF: &[u8] = b"%PDF-1.4\n%matrix test\n";

/// A body cut off inside a JSON object, which no route parses.
const MALFORMED_BODY: &str = "{\"x\":";

/// A query string with text where routes expect numbers.
const MALFORMED_QUERY: &str = "?year=not-a-year&page=not-a-page&limit=not-a-limit";

/// Returns `path` and a payload for `row` that its handler cannot parse: a bad query
/// string for GET, a multipart type without a boundary where the route reads a form,
/// and a cut-off JSON body elsewhere.
fn malformed(row: &Row, world: &World, who: Who, path: &str) -> (String, Payload) {
    match sample_body(row, world, who) {
        Payload::Empty if row.method == "GET" => (format!("{path}{MALFORMED_QUERY}"), Payload::Empty),
        Payload::Form(_) => (path.to_string(), Payload::Malformed { content_type: "multipart/form-data" }),
        _ => (path.to_string(), Payload::Malformed { content_type: "application/json" }),
    }
}

fn request(method: &str, path: &str, token: Option<&str>, payload: Payload) -> Request<Body> {
    let mut builder = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    match payload {
        Payload::Empty => builder.body(Body::empty()).unwrap(),
        Payload::Json(value) => builder.header("content-type", "application/json").body(Body::from(value.to_string())).unwrap(),
        Payload::Csv(text) => builder.header("content-type", "text/csv").body(Body::from(text)).unwrap(),
        Payload::Bytes(bytes) => builder.header("content-type", "application/octet-stream").body(Body::from(bytes)).unwrap(),
        Payload::Malformed { content_type } => builder.header("content-type", content_type).body(Body::from(MALFORMED_BODY)).unwrap(),
        Payload::Form(fields) => {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
            let (content_type, body) = common::multipart(&fields, &[("proof.pdf", PDF)]);
            builder.header("content-type", content_type).body(Body::from(body)).unwrap()
        }
    }
}

fn refused(status: StatusCode) -> bool {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
}

/// Checks a response for data the caller must not see; returns the problems found.
fn leaks(world: &World, who: Who, label: &str, reply: &Reply) -> Vec<String> {
    let text = reply.body.to_string();
    let mut problems = Vec::new();
    if matches!(who, Who::Public | Who::Operator | Who::UnitAdmin | Who::Institution) {
        for marker in &world.b_markers {
            if text.contains(marker.as_str()) {
                problems.push(format!("{label}: {who:?} received operator B's {marker}"));
            }
        }
    }
    let mut personal: Vec<&String> = world.b_personal.iter().collect();
    if who != Who::Operator {
        personal.extend(world.a_personal.iter());
    }
    for value in personal {
        if text.contains(value.as_str()) {
            problems.push(format!("{label}: {who:?} received the unmasked {value}"));
        }
    }
    problems
}

both_backends!(every_route_refuses_wrong_callers, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let world = build_world(&app).await;
    let mut problems = Vec::new();

    // Logout ends the caller's session, so it goes last.
    let mut rows: Vec<&Row> = MATRIX.iter().filter(|row| row.path != "/api/auth/logout").collect();
    rows.extend(MATRIX.iter().filter(|row| row.path == "/api/auth/logout"));

    for row in rows {
        for &who in ALL {
            let allowed = row.allow.contains(&who);
            let a_side = matches!(who, Who::Operator | Who::UnitAdmin);

            // Callers the row does not list, and A-side callers on B's subjects of a
            // scoped route, get a well-formed request and must be refused.
            let must_refuse = !allowed || (row.scope == Subject && a_side);
            let payload = if must_refuse || row.method == "GET" { sample_body(row, &world, who) } else { Payload::Json(json!({ "probe": true })) };
            let path = world.fill(row.path, Subjects::OfB);
            let label = format!("{} {}", row.method, path);
            let reply = app.send(request(row.method, &path, world.token(who), payload)).await;
            problems.extend(leaks(&world, who, &label, &reply));
            if must_refuse && !refused(reply.status) {
                problems.push(format!("{label}: {who:?} should be refused but got {} {}", reply.status, reply.body));
            }
            if !must_refuse && matches!(reply.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                problems.push(format!("{label}: {who:?} should be allowed but got {} {}", reply.status, reply.body));
            }
            if who == Who::Public && !allowed && reply.status != StatusCode::UNAUTHORIZED {
                problems.push(format!("{label}: without a session the answer should be 401, got {}", reply.status));
            }

            // The role is checked before the body or query string is parsed, so a caller
            // without the role learns nothing about their shape from a 400.
            if !allowed {
                let (path, payload) = malformed(row, &world, who, &path);
                let label = format!("{} {path} (malformed)", row.method);
                let reply = app.send(request(row.method, &path, world.token(who), payload)).await;
                problems.extend(leaks(&world, who, &label, &reply));
                if !refused(reply.status) {
                    problems.push(format!("{label}: {who:?} should be refused but got {} {}", reply.status, reply.body));
                }
                if who == Who::Public && reply.status != StatusCode::UNAUTHORIZED {
                    problems.push(format!("{label}: without a session the answer should be 401, got {}", reply.status));
                }
            }

            // A unit admin naming its own unit with another unit's operator is refused too.
            if who == Who::UnitAdmin && allowed && row.path.contains("{unit_id}") && row.path.contains("{operator_id}") {
                let path = world.fill(row.path, Subjects::UnitAWithB);
                let reply = app.send(request(row.method, &path, world.token(who), sample_body(row, &world, who))).await;
                problems.extend(leaks(&world, who, &path, &reply));
                if !refused(reply.status) {
                    problems.push(format!("{} {path}: unit admin A on operator B should be refused but got {} {}", row.method, reply.status, reply.body));
                }
            }

            // On their own subjects, allowed A-side callers may read.
            if allowed && a_side && row.scope == Subject && row.method == "GET" {
                let path = world.fill(row.path, Subjects::OfA);
                let reply = app.send(request(row.method, &path, world.token(who), Payload::Empty)).await;
                problems.extend(leaks(&world, who, &path, &reply));
                if reply.status != StatusCode::OK {
                    problems.push(format!("GET {path}: {who:?} on its own subject should get 200, got {} {}", reply.status, reply.body));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} authorization problems:\n{}", problems.len(), problems.join("\n"));
    for who in SESSION_CALLERS {
        assert!(world.token(who).is_some());
    }
});

both_backends!(metrics_carry_no_ids, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let world = build_world(&app).await;
    // Paths with ids in them, which the latency series must record by route template.
    app.send(request("GET", &format!("/api/archives/{}", world.operator_a_id), world.token(Who::Operator), Payload::Empty)).await;
    app.send(request("GET", &format!("/api/training/events/{}", world.event_a), world.token(Who::UnitAdmin), Payload::Empty)).await;

    // `/metrics` has no session check: it is meant for the internal network only and
    // carries counts and route templates, never an id or personal data.
    let reply = app.send(request("GET", "/metrics", None, Payload::Empty)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let text = reply.body.as_str().expect("metrics are plain text");
    assert!(text.contains("certflow_http_request_duration_seconds"), "{text}");
    assert!(text.contains("/api/archives/{operator_id}"), "the route template is the label: {text}");
    let ids = [&world.operator_a_id, &world.operator_b_id, &world.enrollment_a, &world.enrollment_b, &world.attempt_a, &world.event_a, &world.unit_a, &world.unit_b];
    for id in ids {
        assert!(!text.contains(id.as_str()), "/metrics carries the id {id}");
    }
    for value in world.a_personal.iter().chain(&world.b_personal) {
        assert!(!text.contains(value.as_str()), "/metrics carries personal data {value}");
    }
});

both_backends!(signed_routes_check_the_institution, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()).await;
    let world = build_world(&app).await;
    let reported_at = Utc.with_ymd_and_hms(2026, 3, 4, 9, 0, 0).unwrap();
    let report = |enrollment: &str, statement: &str| {
        json!({
            "statement_id": statement,
            "enrollment_id": enrollment,
            "course_code": "T-04",
            "started_at": reported_at.to_rfc3339(),
            "ended_at": (reported_at + Duration::minutes(60)).to_rfc3339(),
            "face_check": "passed",
            "evidence": {},
        })
    };

    // Institution 1 taught operator A only; operator B was handed off to institution 2.
    let foreign = app.signed(&world.institution_1, "/api/institution/sessions", &report(&world.enrollment_b, "matrix-foreign")).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{:?}", foreign.body);
    assert_eq!(foreign.code(), "session.not_handed_off");
    let own = app.signed(&world.institution_2, "/api/institution/sessions", &report(&world.enrollment_b, "matrix-own")).await;
    assert_ne!(own.status, StatusCode::FORBIDDEN, "{:?}", own.body);
    assert_ne!(own.status, StatusCode::UNAUTHORIZED, "{:?}", own.body);

    // Sessions, staff or not, do not open the signed routes.
    for path in ["/api/institution/sessions", "/api/institution/handoff/verify"] {
        for who in ALL {
            let reply = app.send(request("POST", path, world.token(*who), Payload::Json(report(&world.enrollment_b, "matrix-session")))).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path} with the session of {who:?}: {:?}", reply.body);
        }
    }
    let count = app.count("SELECT COUNT(*) FROM study_sessions WHERE statement_id = $1", "matrix-foreign").await;
    assert_eq!(count, 0);
});
