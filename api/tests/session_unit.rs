//! A study session belongs to the unit of the period in which it started, whenever the
//! institution reports it.

mod common;

use axum::http::StatusCode;
use chrono::Duration;
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

async fn session_unit(app: &TestApp, statement_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT unit_id FROM study_sessions WHERE statement_id = $1").bind(statement_id).fetch_one(&app.db.pool).await.unwrap()
}

both_backends!(late_report_keeps_earlier_unit, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let (unit_a, admin_a) = app.create_unit(&admin, &uscc("91430100MA4L7771"), "甲电梯公司", "unit-a-late").await;
    let unit_b_uscc = uscc("91430100MA4L7772");
    let (unit_b, _) = app.create_unit(&admin, &unit_b_uscc, "乙电梯公司", "unit-b-late").await;
    let (token, operator_id, enrollment_id) = app.enrolled_operator("13800000051", &id_number("43010219800101151"), &uscc("91430100MA4L7771")).await;
    let institution = app.handed_off(&token, &enrollment_id).await;
    let joined_a = march_5_10am_beijing();

    // At A from 10:00 to 11:00, then at B.
    app.clock.advance(Duration::hours(1));
    let release = app.post(&format!("/api/units/{unit_a}/operators/{operator_id}/release"), Some(&admin_a), json!({ "reason": "调往乙公司" })).await;
    assert_eq!(release.status, StatusCode::OK, "{:?}", release.body);
    let joined = app.post("/api/operator/info", Some(&token), json!({ "unit_uscc": unit_b_uscc })).await;
    assert_eq!(joined.status, StatusCode::OK, "{:?}", joined.body);
    app.clock.advance(Duration::hours(1));

    // Reported after the move: a session from A's hour stays with A, one from B's
    // time belongs to B, and one from before any period goes to the first unit after it.
    let during_a = app.report_session(&institution, &enrollment_id, "late-a", "T-01", joined_a + Duration::minutes(10), 40).await;
    assert_eq!(during_a.status, StatusCode::ACCEPTED, "{:?}", during_a.body);
    let during_b = app.report_session(&institution, &enrollment_id, "now-b", "T-02", joined_a + Duration::minutes(70), 40).await;
    assert_eq!(during_b.status, StatusCode::ACCEPTED, "{:?}", during_b.body);
    let before = app.report_session(&institution, &enrollment_id, "before", "T-03", joined_a - Duration::days(1), 40).await;
    assert_eq!(before.status, StatusCode::ACCEPTED, "{:?}", before.body);

    assert_eq!(session_unit(&app, "late-a").await.as_deref(), Some(unit_a.as_str()));
    assert_eq!(session_unit(&app, "now-b").await.as_deref(), Some(unit_b.as_str()));
    assert_eq!(session_unit(&app, "before").await.as_deref(), Some(unit_a.as_str()));
});
