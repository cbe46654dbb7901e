//! Scheduled work on each backend: one run per cron tick across schedulers, certificates
//! pulled from the simulator at registration, review reminders from them, weekly unit
//! digests, and the daily reconciliation with the platform's counts.

mod support;

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use support::{Harness, harness, insert_unit_and_operator, mail_texts, sms_lines, wait_advancing, wait_for};
use workers::provincial::sim::synthetic_certificates;
use workers::{certificates, cron, reconciliation, reminders};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::{Engine, EventIn};
use workflows::SimClock;

/// Returns an 18-character id number for which the simulator serves two certificates.
fn id_number_with_two_certificates() -> String {
    (0..1000).map(|n| format!("4303021983022{n:05}")).find(|id| synthetic_certificates(id).len() == 2).expect("some id number has two certificates")
}

async fn unit_and_operator(db: &Db, id_number: &str) {
    insert_unit_and_operator(db, "op1", "13800138000", Some(id_number), Some("chen@example.cn")).await;
}

/// Moves the registration of op1 to `complete`, which pulls its certificates and sends
/// its operator and affiliation records.
async fn complete_registration(h: &Harness) -> String {
    let instance = h.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    h.engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    h.engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    instance.id
}

both_backends!(cron_tick_claimed_once, |db: Db| async move {
    let clock = SimClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap());
    let engine = Engine::new(db.clone(), Arc::new(clock));
    let tick = Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap();

    // Eight schedulers reach the same tick at once.
    let claims = futures::future::join_all((0..8).map(|_| {
        let engine = engine.clone();
        async move { cron::claim_tick(&engine, "unit_digest", tick).await }
    }))
    .await;
    assert_eq!(claims.iter().filter(|claimed| **claimed).count(), 1, "{claims:?}");

    assert!(!cron::claim_tick(&engine, "unit_digest", tick).await, "a late scheduler gets nothing");
    assert!(cron::claim_tick(&engine, "stuck_check", tick).await, "another job has its own tick");
    assert!(cron::claim_tick(&engine, "unit_digest", tick + Duration::days(7)).await, "the next tick is free");
});

both_backends!(certificates_pulled_at_registration, |db: Db| async move {
    let h = harness(db.clone()).await;
    let id_number = id_number_with_two_certificates();
    unit_and_operator(&db, &id_number).await;
    complete_registration(&h).await;

    wait_advancing(&h, "the certificates cached", async || {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM operator_certificates WHERE operator_id = 'op1'").fetch_one(&db.pool).await.unwrap() == 2
    })
    .await;
    let mut expected = synthetic_certificates(&id_number);
    expected.sort_by(|a, b| a.certificate_no.cmp(&b.certificate_no));
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT certificate_no, item_code, issued_on, expires_on FROM operator_certificates WHERE operator_id = 'op1' ORDER BY certificate_no")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for (row, certificate) in rows.iter().zip(&expected) {
        assert_eq!(row.0, certificate.certificate_no);
        assert_eq!(row.1, certificate.item_code);
        assert_eq!(row.2, certificate.issued_on.to_string());
        assert_eq!(row.3, certificate.expires_on.to_string());
    }

    // The certificates' items become the operator's items, for enrollment.
    let items: Vec<String> = sqlx::query_scalar("SELECT item_code FROM operator_items WHERE operator_id = 'op1' ORDER BY item_code").fetch_all(&db.pool).await.unwrap();
    for certificate in &expected {
        assert!(items.contains(&certificate.item_code), "{items:?} lacks {}", certificate.item_code);
    }

    // The nightly refresh skips a fresh pull and repeats one 30 days old.
    assert_eq!(certificates::refresh_due(&h.services, 100).await.unwrap(), 0);
    h.clock.advance(Duration::days(31));
    assert_eq!(certificates::refresh_due(&h.services, 100).await.unwrap(), 1);
    h.handle.stop().await;
});

both_backends!(review_reminder_sent_once, |db: Db| async move {
    let h = harness(db.clone()).await;
    unit_and_operator(&db, "430302198302277431").await;
    complete_registration(&h).await;
    wait_advancing(&h, "the registration's pull finished", async || {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM certificate_pulls WHERE operator_id = 'op1'").fetch_one(&db.pool).await.unwrap() == 1
    })
    .await;

    // A certificate that expires in 45 days, and one that expires in a year.
    let today = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
    sqlx::query("DELETE FROM operator_certificates").execute(&db.pool).await.unwrap();
    for (number, expires) in [("TZ-SOON", today + Duration::days(45)), ("TZ-LATER", today + Duration::days(365))] {
        sqlx::query("INSERT INTO operator_certificates (operator_id, certificate_no, item_code, issued_on, expires_on, fetched_at) VALUES ('op1', $1, 'N1', '2022-04-19', $2, 0)")
            .bind(number)
            .bind(expires.to_string())
            .execute(&db.pool)
            .await
            .unwrap();
    }

    assert_eq!(reminders::certificate_reviews(&h.services, today).await.unwrap(), 1);
    assert_eq!(reminders::certificate_reviews(&h.services, today + Duration::days(1)).await.unwrap(), 0, "one reminder per certificate term");
    wait_for("the review SMS", async || sms_lines(&h.dir).iter().any(|line| line.contains("TZ-SOON"))).await;
    wait_for("the review email", async || mail_texts(&h.dir).iter().any(|mail| mail.contains("TZ-SOON"))).await;

    let lines: Vec<String> = sms_lines(&h.dir).into_iter().filter(|line| line.contains("TZ-")).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("2026-04-19"), "expiry date in the SMS: {}", lines[0]);
    assert!(lines[0].contains("2026-03-19"), "apply-by date one month earlier: {}", lines[0]);
    h.handle.stop().await;
});

both_backends!(unit_digest_lists_operators_behind, |db: Db| async move {
    let h = harness(db.clone()).await;
    unit_and_operator(&db, "430302198302277431").await;
    sqlx::query("INSERT INTO accounts (id, role, login, password_hash, display_name, unit_id, email, created_at) VALUES ('a1', 'unit_admin', 'admin-u1', 'x', '单位管理员', 'u1', 'admin@example.cn', 0)")
        .execute(&db.pool)
        .await
        .unwrap();
    let subject = [("operator", "op1".to_string()), ("year", "2026".to_string()), ("item", "N1".to_string())];
    let instance = h.engine.start("annual_ce", &subject, Default::default()).await.unwrap();
    sqlx::query("INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, created_at) VALUES ('en-1', 'op1', 2026, 'N1', $1, 0)")
        .bind(&instance.id)
        .execute(&db.pool)
        .await
        .unwrap();

    let monday = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    assert_eq!(reminders::unit_digests(&h.services, monday).await.unwrap(), 1);
    assert_eq!(reminders::unit_digests(&h.services, monday).await.unwrap(), 0, "one digest per unit and week");
    wait_for("the digest email", async || mail_texts(&h.dir).iter().any(|mail| mail.contains("admin@example.cn"))).await;
    let mail = mail_texts(&h.dir).into_iter().find(|mail| mail.contains("admin@example.cn")).unwrap();
    assert!(mail.contains("0/20"), "credits of the operator behind: {mail}");
    h.handle.stop().await;
});

both_backends!(reconciliation_difference_raises_incident, |db: Db| async move {
    let h = harness(db.clone()).await;
    unit_and_operator(&db, "430302198302277431").await;
    complete_registration(&h).await;
    wait_advancing(&h, "both records delivered", async || h.sim.stats().accepted == 2).await;
    let today = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();

    // Matching counts: the job completes.
    let started = reconciliation::start_for_day(&h.services, today).await.unwrap();
    assert!(started.contains("instance"), "{started}");
    wait_advancing(&h, "the matching reconciliation", async || {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM wf_outbox o JOIN wf_instances i ON i.id = o.instance_id WHERE i.definition_id = 'reconciliation' AND o.status = 'done'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            == 1
    })
    .await;

    // A record certflow counts as delivered that the platform never stored.
    let occurred = Utc.with_ymd_and_hms(2026, 3, 6, 3, 0, 0).unwrap().timestamp_millis();
    sqlx::query(
        "INSERT INTO sync_records (idempotency_key, operator_ref, sequence, kind, body, status, ack_id, created_at, occurred_at)
         VALUES ('lost-credit-1', 'op1', 3, 'credit', '{}', 'delivered', 'ack-lost', 0, $1)",
    )
    .bind(occurred)
    .execute(&db.pool)
    .await
    .unwrap();
    reconciliation::start_for_day(&h.services, today + Duration::days(1)).await.unwrap();
    wait_advancing(&h, "the reconciliation incident", async || !h.engine.incidents("open", 10).await.unwrap().is_empty()).await;
    let incident = h.engine.incidents("open", 10).await.unwrap().remove(0);
    assert!(incident.error.contains("credit: certflow delivered 1, platform counts 0"), "{}", incident.error);
    assert!(incident.error.contains("lost-credit-1/ack-lost/op1/3"), "{}", incident.error);
    assert_eq!(incident.attempts, 1, "a difference is not retried");
    h.handle.stop().await;
});
