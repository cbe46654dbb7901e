//! The worker runtime end to end on each backend: a transition's outbox entries go
//! through the dispatcher and the apalis queues to the SMS file outbox and to the
//! provincial simulator on loopback, exactly once each.

mod support;

use support::{harness, sms_lines, wait_advancing, wait_for};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::{EventIn, EventOutcome};

both_backends!(login_code_reaches_sms_outbox_once, |db: Db| async move {
    let h = harness(db.clone()).await;
    let instance = h.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    let event = EventIn::new("code-1", "code_requested").with("secret_code", "482913").with("minutes", 5);
    assert!(matches!(h.engine.send(&instance.id, event.clone()).await.unwrap(), EventOutcome::Applied { .. }));
    assert_eq!(h.engine.send(&instance.id, event).await.unwrap(), EventOutcome::Duplicate);

    wait_for("the login code SMS", async || sms_lines(&h.dir).iter().any(|line| line.contains("482913"))).await;
    wait_for("the outbox entry to finish", async || {
        h.engine.outbox_counts().await.unwrap().iter().any(|(kind, status, n)| kind == "notify" && status == "done" && *n == 1)
    })
    .await;
    let lines = sms_lines(&h.dir);
    assert_eq!(lines.iter().filter(|line| line.contains("482913")).count(), 1, "one SMS: {lines:?}");

    // History keeps no secret.
    let history = h.engine.history(&instance.id, 0, 50).await.unwrap();
    assert!(!serde_json::to_string(&history).unwrap().contains("482913"));
    h.handle.stop().await;
});

both_backends!(info_completion_syncs_in_order, |db: Db| async move {
    let h = harness(db.clone()).await;
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', '91430102051321883T', '湖南姚和电梯工程有限公司', 'active', 0)").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ('op1', '13800138000', '陈超', '430302198302277431', 'u1', 'complete', 0, 0)")
        .execute(&db.pool)
        .await
        .unwrap();

    let instance = h.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    h.engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    let outcome = h.engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    assert_eq!(outcome, EventOutcome::Applied { from: "info_pending".into(), to: "complete".into() });

    // The second record waits for the first one's attempt on the simulated clock.
    wait_advancing(&h, "two records at the simulator", async || h.sim.stats().accepted == 2).await;
    let records = h.sim.records(Some("op1")).await;
    let sequences: Vec<u64> = records.iter().map(|stored| stored.record.sequence).collect();
    assert_eq!(sequences, vec![1, 2], "one operator's records arrive in order");
    wait_advancing(&h, "both sync entries done", async || {
        h.engine.outbox_counts().await.unwrap().iter().any(|(kind, status, n)| kind == "sync" && status == "done" && *n == 2)
    })
    .await;
    assert_eq!(h.sim.stats().duplicates, 0);
    h.handle.stop().await;
});
