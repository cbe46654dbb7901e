//! Per-recipient limits of notifications on each backend: a sixth non-urgent SMS to one
//! mobile within an hour waits until the hour has room, every delivery is logged with its
//! status and the provider's message id, and a second outbox entry for the same instance,
//! event and template sends nothing.

mod support;

use std::sync::Arc;

use apalis::prelude::Data;
use chrono::Duration;
use support::{harness, insert_unit_and_operator, services, sms_lines, wait_for};
use workers::actions::run_action_job;
use workers::queues::ActionJob;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

both_backends!(sms_rate_limit_holds_excess, |db: Db| async move {
    let h = harness(db.clone()).await;
    insert_unit_and_operator(&db, "op1", "13800138000", Some("430302198302277431"), None).await;
    let subject = [("operator", "op1".to_string()), ("year", "2026".to_string()), ("item", "N1".to_string())];
    let instance = h.engine.start("annual_ce", &subject, Default::default()).await.unwrap();
    h.engine.send(&instance.id, EventIn::new("handoff-1", "handed_off")).await.unwrap();
    wait_for("the enrollment SMS", async || sms_lines(&h.dir).len() == 1).await;

    // Six more reminders within the hour: four fit the limit of five, two wait. The
    // clock is at 10:00 Beijing time, so the hour has just begun.
    for n in 0..6 {
        h.engine.send(&instance.id, EventIn::new(format!("reminder-{n}"), "year_end_reminder")).await.unwrap();
    }
    wait_for("two reminders held", async || {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM wf_outbox WHERE kind = 'notify' AND status = 'pending' AND last_error LIKE 'deferred: rate limit%'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            == 2
    })
    .await;
    assert_eq!(sms_lines(&h.dir).len(), 5, "five SMS in the first hour");

    // In the next hour the held ones go out.
    h.clock.advance(Duration::minutes(60));
    wait_for("the held reminders sent", async || sms_lines(&h.dir).len() == 7).await;
    wait_for("seven SMS deliveries logged", async || {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM deliveries WHERE channel = 'sms'").fetch_one(&db.pool).await.unwrap() == 7
    })
    .await;

    let logged: Vec<(String, String, Option<String>)> = sqlx::query_as("SELECT channel, status, provider_message_id FROM deliveries WHERE channel = 'sms' ORDER BY created_at")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(logged.len(), 7);
    assert!(logged.iter().all(|(_, status, id)| status == "sent" && id.as_deref().is_some_and(|id| !id.is_empty())), "{logged:?}");
    h.handle.stop().await;
});

both_backends!(year_end_reminder_only_short_operators, |db: Db| async move {
    let h = harness(db.clone()).await;
    insert_unit_and_operator(&db, "op1", "13800138000", Some("430302198302277431"), None).await;
    insert_unit_and_operator(&db, "op2", "13900139000", Some("430302198302277432"), None).await;
    let mut instances = Vec::new();
    for (operator, credits) in [("op1", 12), ("op2", 20)] {
        let subject = [("operator", operator.to_string()), ("year", "2026".to_string()), ("item", "N1".to_string())];
        let instance = h.engine.start("annual_ce", &subject, Default::default()).await.unwrap();
        h.engine.send(&instance.id, EventIn::new(format!("handoff-{operator}"), "handed_off")).await.unwrap();
        h.engine.send(&instance.id, EventIn::new(format!("credits-{operator}"), "credits_updated").with("credits", credits)).await.unwrap();
        instances.push(instance.id);
    }
    wait_for("both enrollment SMS", async || sms_lines(&h.dir).len() == 2).await;

    // 1 December, 09:00 Beijing time (01:00 UTC): the studying state's reminder timer.
    h.clock.advance_to(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 1, 1, 0, 0).unwrap());
    h.engine.work_ready.notify_waiters();
    wait_for("the reminder to the operator short of credits", async || sms_lines(&h.dir).iter().any(|line| line.contains("13800138000") && line.contains("credits_short"))).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let reminders: Vec<String> = sms_lines(&h.dir).into_iter().filter(|line| line.contains("credits_short")).collect();
    assert_eq!(reminders.len(), 1, "only op1 is short of 20 credits: {reminders:?}");
    assert!(reminders[0].contains("12"), "the SMS states the credits earned: {}", reminders[0]);
    h.handle.stop().await;
});

both_backends!(same_event_and_template_sent_once, |db: Db| async move {
    insert_unit_and_operator(&db, "op1", "13800138000", Some("430302198302277431"), None).await;
    let (services, parts) = services(db.clone(), None).await;
    let services = Arc::new(services);
    let engine = &parts.engine;
    let subject = [("operator", "op1".to_string()), ("year", "2026".to_string()), ("item", "N1".to_string())];
    let instance = engine.start("annual_ce", &subject, Default::default()).await.unwrap();
    engine.send(&instance.id, EventIn::new("handoff-1", "handed_off")).await.unwrap();
    let entry = engine.claim_due_actions(&["notify"], 10).await.unwrap().remove(0);

    // A copy of the entry under another id stands for the same event producing the same
    // notification twice (a definition listing it twice, or an event replayed by staff).
    sqlx::query(
        "INSERT INTO wf_outbox (id, instance_id, kind, action, policy, status, attempts, due_at, dispatched_attempt, dispatched_at, last_error, result, created_at, completed_at)
         SELECT 'copy-1', instance_id, kind, action, policy, 'pending', 0, due_at, 0, NULL, NULL, NULL, created_at, NULL FROM wf_outbox WHERE id = $1",
    )
    .bind(&entry.id)
    .execute(&db.pool)
    .await
    .unwrap();

    let job = ActionJob { outbox_id: entry.id.clone(), attempt: entry.attempt(), key: entry.job_key() };
    run_action_job(job, Data(services.clone())).await.unwrap();
    let copy = engine.claim_due_actions(&["notify"], 10).await.unwrap().into_iter().find(|claimed| claimed.id == "copy-1").expect("the copy is due");
    let job = ActionJob { outbox_id: copy.id.clone(), attempt: copy.attempt(), key: copy.job_key() };
    run_action_job(job, Data(services.clone())).await.unwrap();

    assert_eq!(sms_lines(&parts.dir).len(), 1, "one SMS for one instance, event and template");
    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE channel = 'sms' AND status = 'sent'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(sent, 1, "one delivery logged");
    let copy_status: String = sqlx::query_scalar("SELECT status FROM wf_outbox WHERE id = 'copy-1'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(copy_status, "done", "the copy completes without sending");
});
