//! The OpenAPI document the API serves: it lists the routes institutions and the
//! regulator call, with their request schemas and the signature scheme.

mod common;

use common::{app, march_5_10am_beijing};
use workflows::both_backends;
use workflows::db::Db;

both_backends!(openapi_lists_institution_routes, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let reply = t.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let document = &reply.body;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."), "{}", document["openapi"]);

    let paths = &document["paths"];
    for (path, method) in [
        ("/api/institution/sessions", "post"),
        ("/api/institution/handoff/verify", "post"),
        ("/api/cards/{card_no}/verify", "get"),
        ("/api/institutions", "post"),
        ("/api/institutions/registered", "get"),
        ("/api/sync/status", "get"),
        ("/api/sync/dead-letters", "get"),
        ("/api/sync/dead-letters/{incident_id}/replay", "post"),
        ("/api/sync/dead-letters/{incident_id}/skip", "post"),
        ("/api/operator/certificates", "get"),
        ("/api/statistics", "get"),
        ("/api/statistics/export", "get"),
        ("/api/notices", "get"),
        ("/api/notices/{notice_id}", "get"),
        ("/api/help", "get"),
        ("/api/help/{slug}", "get"),
        ("/api/site/footer", "get"),
        ("/api/units/{unit_id}/roster/preview", "post"),
        ("/api/units/{unit_id}/roster/imports/{import_id}/confirm", "post"),
        ("/api/units/{unit_id}/join-requests", "post"),
        ("/api/units/{unit_id}/join-requests/{request_id}/decision", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing from {}", serde_json::to_string(paths).unwrap());
    }

    // Routes that check the caller's role before reading the request document the 403
    // that a caller of another role gets.
    for (path, method) in [
        ("/api/institutions", "post"),
        ("/api/sync/dead-letters", "get"),
        ("/api/reviews/{case_id}/evidence", "get"),
        ("/api/verifications/{verification_id}/documents", "get"),
        ("/api/appeals/{appeal_id}/files", "get"),
        ("/api/statistics", "get"),
        ("/api/statistics/export", "get"),
        ("/api/units/{unit_id}/staff", "get"),
        ("/api/units/{unit_id}/staff/export", "get"),
        ("/api/units/{unit_id}/staff/enroll", "post"),
        ("/api/units/{unit_id}/staff/remind", "post"),
        ("/api/units/{unit_id}/staff/cards", "get"),
        ("/api/units/{unit_id}/roster/preview", "post"),
        ("/api/units/{unit_id}/join-requests", "post"),
        ("/api/units/{unit_id}/join-requests/{request_id}/decision", "post"),
        ("/api/operator/mobile-change", "post"),
        ("/api/operator/mobile-change/confirm", "post"),
        ("/api/units/{unit_id}/operators/{operator_id}/mobile-change", "post"),
        ("/api/units/{unit_id}/operators/{operator_id}/mobile-change/confirm", "post"),
        ("/api/staff/operators", "get"),
        ("/api/staff/operators/{operator_id}/mobile-change", "post"),
        ("/api/staff/operators/{operator_id}/mobile-change/confirm", "post"),
    ] {
        let responses = &paths[path][method]["responses"];
        assert!(responses.is_object(), "{method} {path} has no responses");
        assert!(responses["403"].is_object(), "{method} {path} does not document 403: {responses}");
    }

    // The session webhook documents its body, its duplicate answer and its signature.
    let sessions = &paths["/api/institution/sessions"]["post"];
    assert_eq!(sessions["tags"][0], "institution");
    assert!(sessions["responses"]["200"].is_object());
    assert!(sessions["responses"]["202"].is_object());
    assert_eq!(sessions["security"][0]["institution_signature"], serde_json::json!([]));
    let schema = &document["components"]["schemas"]["SessionReport"];
    for field in ["statement_id", "enrollment_id", "course_code", "started_at", "ended_at", "face_check"] {
        assert!(schema["properties"][field].is_object(), "SessionReport lacks {field}: {schema}");
    }
    let signature = &document["components"]["securitySchemes"]["institution_signature"];
    assert_eq!(signature["in"], "header");
    assert_eq!(signature["name"], "X-Certflow-Signature");

    // Every documented route exists in the router: none answers with the unknown-route error.
    assert_eq!(t.get("/api/cards/NO-SUCH-CARD/verify", None).await.code(), "card.not_found");
});
