//! The dead-letter routes for provincial records on each backend: staff list a record
//! that failed for good with its body, error and attempts, and replay or skip it; other
//! roles are refused.

mod common;

use common::{app, march_5_10am_beijing};
use axum::http::Method;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

/// Records a rejected `operator` record for operator `op1` with an open incident, as the
/// sync worker leaves one after a 422, and returns its outbox id.
async fn dead_letter(t: &common::TestApp) -> String {
    let engine = &t.state.engine;
    let instance = engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    let outbox_id: String = sqlx::query_scalar("SELECT id FROM wf_outbox WHERE kind = 'sync' ORDER BY created_at, id LIMIT 1").fetch_one(&t.db.pool).await.unwrap();
    sqlx::query(
        "INSERT INTO sync_records (idempotency_key, operator_ref, sequence, kind, body, status, created_at, occurred_at, instance_id)
         VALUES ($1, 'op1', 1, 'operator', '{\"name\":\"陈超\",\"id_number\":null}', 'rejected', 0, 0, $2)",
    )
    .bind(&outbox_id)
    .bind(&instance.id)
    .execute(&t.db.pool)
    .await
    .unwrap();
    engine.fail_action(&outbox_id, 1, "rejected", "HTTP 422 invalid_record (body.id_number): id_number is missing").await.unwrap();
    outbox_id
}

both_backends!(dead_letters_listed_for_staff, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let outbox_id = dead_letter(&t).await;
    let staff = t.admin_token().await;

    let reply = t.get("/api/sync/dead-letters", Some(&staff)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let letters = reply.body["dead_letters"].as_array().unwrap().clone();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter["outbox_id"], outbox_id.as_str());
    assert_eq!(letter["kind"], "operator");
    assert_eq!(letter["operator_ref"], "op1");
    assert_eq!(letter["sequence"], 1);
    assert_eq!(letter["attempts"], 1);
    assert_eq!(letter["body"]["name"], "陈超");
    assert!(letter["error"].as_str().unwrap().contains("body.id_number"), "{letter}");

    let (_, unit_admin) = t.create_unit(&staff, &common::uscc("9143010205132188"), "湖南姚和电梯工程有限公司", "unit-admin-1").await;
    assert_eq!(t.get("/api/sync/dead-letters", Some(&unit_admin)).await.status, 403);
});

both_backends!(dead_letter_replay_reopens_entry, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let outbox_id = dead_letter(&t).await;
    let staff = t.admin_token().await;
    let incident = t.get("/api/sync/dead-letters", Some(&staff)).await.body["dead_letters"][0]["incident_id"].as_str().unwrap().to_string();

    let reply = t.call(Method::POST, &format!("/api/sync/dead-letters/{incident}/replay"), Some(&staff), None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let (status, attempts): (String, i64) = sqlx::query_as("SELECT status, attempts FROM wf_outbox WHERE id = $1").bind(&outbox_id).fetch_one(&t.db.pool).await.unwrap();
    assert_eq!(status, "pending");
    assert_eq!(attempts, 0, "a replay starts again from attempt 1");
    assert!(t.get("/api/sync/dead-letters", Some(&staff)).await.body["dead_letters"].as_array().unwrap().is_empty());

    let again = t.call(Method::POST, &format!("/api/sync/dead-letters/{incident}/replay"), Some(&staff), None).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.code(), "sync.dead_letter_not_found");
});

both_backends!(dead_letter_skip_marks_record_skipped, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let outbox_id = dead_letter(&t).await;
    let staff = t.admin_token().await;
    let incident = t.get("/api/sync/dead-letters", Some(&staff)).await.body["dead_letters"][0]["incident_id"].as_str().unwrap().to_string();

    let reply = t.call(Method::POST, &format!("/api/sync/dead-letters/{incident}/skip"), Some(&staff), None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let status: String = sqlx::query_scalar("SELECT status FROM sync_records WHERE idempotency_key = $1").bind(&outbox_id).fetch_one(&t.db.pool).await.unwrap();
    assert_eq!(status, "skipped");
    let outbox: String = sqlx::query_scalar("SELECT status FROM wf_outbox WHERE id = $1").bind(&outbox_id).fetch_one(&t.db.pool).await.unwrap();
    assert_eq!(outbox, "done");
});

both_backends!(operator_sees_cached_certificates, |db: Db| async move {
    let t = app(db, march_5_10am_beijing()).await;
    let login = t.login("13800138000").await;
    let token = login["token"].as_str().unwrap().to_string();
    let operator_id = login["operator_id"].as_str().unwrap().to_string();
    for (number, item, issued, expires) in [("TZ-N1-01", "N1", "2022-04-19", "2026-04-19"), ("TZ-OLD-01", "N1", "2018-01-10", "2022-01-10")] {
        sqlx::query("INSERT INTO operator_certificates (operator_id, certificate_no, item_code, issued_on, expires_on, fetched_at) VALUES ($1, $2, $3, $4, $5, 0)")
            .bind(&operator_id)
            .bind(number)
            .bind(item)
            .bind(issued)
            .bind(expires)
            .execute(&t.db.pool)
            .await
            .unwrap();
    }

    let reply = t.get("/api/operator/certificates", Some(&token)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let certificates = reply.body["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 2);
    assert_eq!(certificates[0]["certificate_no"], "TZ-N1-01");
    assert_eq!(certificates[0]["item_name"], "叉车司机");
    assert_eq!(certificates[0]["review_apply_by"], "2026-03-19");
    assert_eq!(certificates[0]["expired"], false);
    assert_eq!(certificates[1]["expired"], true);
    let items = reply.body["enrollable_items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["item_code"], "N1");
    assert_eq!(reply.body["pulled_at"], serde_json::Value::Null);

    let staff = t.admin_token().await;
    assert_eq!(t.get("/api/operator/certificates", Some(&staff)).await.status, 403);
});
