//! Delivery guarantees of the provincial sync on each backend, through the real worker
//! runtime and the simulator on loopback, with outages on the engine's simulated clock:
//! nothing lost, nothing stored twice, each operator's order kept, a rejected record
//! holding back only its operator, and a backlog that drains without a retry storm.

mod support;

use std::collections::{BTreeMap, HashSet};

use chrono::Duration;
use support::{Harness, harness, wait_advancing};
use workers::provincial::dead_letter;
use workers::provincial::sim::SimFaults;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

/// Records each operator produces: operator and affiliation at info completion, and one
/// enrollment for each of two items.
const RECORDS_PER_OPERATOR: usize = 4;

/// Creates a unit and `count` operators `op0..`; an id number of `None` makes the
/// operator's `operator` record malformed for the receiver.
async fn operators(db: &Db, count: usize, missing_id_number: &[usize]) {
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', '91430102051321883T', '湖南姚和电梯工程有限公司', 'active', 0)").execute(&db.pool).await.unwrap();
    for i in 0..count {
        let id_number = (!missing_id_number.contains(&i)).then(|| format!("43030219830227{:04}", 7400 + i));
        sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'u1', 'complete', 0, 0)")
            .bind(format!("op{i}"))
            .bind(format!("138001380{i:02}"))
            .bind(format!("操作员{i}"))
            .bind(id_number)
            .execute(&db.pool)
            .await
            .unwrap();
    }
}

/// Completes registration of operator `i` (two records) and enrolls it in two items (one
/// record each).
async fn produce_records(h: &Harness, i: usize) {
    let mobile = format!("138001380{i:02}");
    let registration = h.engine.start("registration", &[("mobile", mobile)], Default::default()).await.unwrap();
    h.engine.send(&registration.id, EventIn::new(format!("reg-{i}"), "registered")).await.unwrap();
    h.engine.send(&registration.id, EventIn::new(format!("info-{i}"), "info_completed").with("has_unit", true)).await.unwrap();
    for item in ["T", "N1"] {
        let subject = [("operator", format!("op{i}")), ("year", "2026".to_string()), ("item", item.to_string())];
        h.engine.start("annual_ce", &subject, Default::default()).await.unwrap();
    }
}

async fn sync_status_counts(h: &Harness) -> BTreeMap<String, i64> {
    h.engine.outbox_counts().await.unwrap().into_iter().filter(|(kind, _, _)| kind == "sync").map(|(_, status, n)| (status, n)).collect()
}

async fn sync_done(h: &Harness) -> i64 {
    sync_status_counts(h).await.get("done").copied().unwrap_or(0)
}

/// Checks that every record reached the simulator once and each operator's sequences
/// run 1, 2, 3, … in the order the records were created.
async fn assert_each_operator_in_order(h: &Harness, operators: &[usize], expected_per_operator: usize) {
    for i in operators {
        let stored = h.sim.records(Some(&format!("op{i}"))).await;
        let sequences: Vec<u64> = stored.iter().map(|s| s.record.sequence).collect();
        let expected: Vec<u64> = (1..=expected_per_operator as u64).collect();
        assert_eq!(sequences, expected, "operator op{i} arrival order");
        let occurred: Vec<_> = stored.iter().map(|s| (s.record.occurred_at, s.record.kind)).collect();
        let mut sorted = occurred.clone();
        sorted.sort_by_key(|(at, _)| *at);
        assert_eq!(occurred, sorted, "operator op{i} records arrive in the order they occurred");
        assert_eq!(stored[0].record.kind.as_str(), "operator", "op{i} first record");
    }
}

async fn assert_stored_once(h: &Harness, expected: usize) {
    let all = h.sim.records(None).await;
    let keys: HashSet<&str> = all.iter().map(|s| s.record.idempotency_key.as_str()).collect();
    assert_eq!(all.len(), expected, "records stored at the receiver");
    assert_eq!(keys.len(), expected, "each idempotency key stored once");
}

both_backends!(outage_of_two_hours_loses_nothing, |db: Db| async move {
    const OPERATORS: usize = 6;
    let total = OPERATORS * RECORDS_PER_OPERATOR;
    let h = harness(db.clone()).await;
    operators(&db, OPERATORS, &[]).await;

    let outage_end = h.clock.now_utc() + Duration::hours(2);
    h.sim.set_faults(SimFaults { down_until: Some(outage_end.timestamp()), ..SimFaults::default() }).unwrap();
    for i in 0..OPERATORS {
        produce_records(&h, i).await;
    }

    // Two simulated hours pass with the receiver down; retries run on the clock.
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let next: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM wf_outbox WHERE kind = 'sync' AND status = 'pending'").fetch_one(&db.pool).await.unwrap();
        match next.map(|ms| chrono::DateTime::from_timestamp_millis(ms).unwrap()) {
            Some(next) if next < outage_end => h.clock.advance_to(next),
            _ => break,
        }
    }
    let failed_during_outage = h.sim.stats().errors_injected;
    assert_eq!(h.sim.stats().accepted, 0, "nothing accepted while down");
    h.clock.advance_to(outage_end);
    let recovered_at = outage_end;

    wait_advancing(&h, "every record delivered", async || sync_done(&h).await == total as i64).await;

    assert_stored_once(&h, total).await;
    assert_each_operator_in_order(&h, &(0..OPERATORS).collect::<Vec<_>>(), RECORDS_PER_OPERATOR).await;
    assert!(h.engine.incidents("open", 10).await.unwrap().is_empty(), "no record gave up during a 2-hour outage");

    // Capped backoff: no entry reached the policy's 30 attempts, and the outage cost
    // about 15 requests per record (10 s doubling to a 30 min cap, full jitter), far
    // fewer than the 120 a retry every minute would have made.
    let max_attempts: i64 = sqlx::query_scalar("SELECT MAX(attempts) FROM wf_outbox WHERE kind = 'sync'").fetch_one(&db.pool).await.unwrap();
    assert!(max_attempts < 30, "attempts per record {max_attempts}");
    assert!(failed_during_outage <= (total * 20) as u64, "requests during the outage {failed_during_outage}");

    // The backlog drains within one capped retry interval (30 min) of recovery, and
    // once the first record is through, the rest follow within minutes, not one by one
    // on their own backoff.
    let stored = h.sim.records(None).await;
    let first = stored.iter().map(|s| s.received_at).min().unwrap();
    let last = stored.iter().map(|s| s.received_at).max().unwrap();
    assert!(first >= recovered_at - Duration::seconds(1), "first delivery {first} after recovery {recovered_at}");
    assert!(last - recovered_at <= Duration::minutes(31), "drained {} after recovery", last - recovered_at);
    assert!(last - first <= Duration::minutes(5), "drain took {} after the first delivery", last - first);
    eprintln!(
        "outage of 2 h, {total} records: {failed_during_outage} requests refused during the outage, at most {max_attempts} attempts per record, first delivery {} s and last {} s after recovery",
        (first - recovered_at).num_seconds(),
        (last - recovered_at).num_seconds()
    );
    h.handle.stop().await;
});

both_backends!(rejected_record_holds_only_its_operator, |db: Db| async move {
    let h = harness(db.clone()).await;
    operators(&db, 3, &[1]).await;
    for i in 0..3 {
        produce_records(&h, i).await;
    }

    // op0 and op2 deliver everything; op1's first record is malformed (no id number).
    wait_advancing(&h, "other operators delivered", async || h.sim.records(None).await.len() == 2 * RECORDS_PER_OPERATOR).await;
    wait_advancing(&h, "the rejected record's incident", async || !dead_letter::list(&h.engine, 10).await.unwrap().is_empty()).await;
    assert_each_operator_in_order(&h, &[0, 2], RECORDS_PER_OPERATOR).await;
    assert!(h.sim.records(Some("op1")).await.is_empty(), "op1's later records are held");

    wait_advancing(&h, "op1's later records numbered and held", async || {
        dead_letter::list(&h.engine, 10).await.unwrap().first().is_some_and(|letter| letter.held_records == 3)
    })
    .await;
    let letters = dead_letter::list(&h.engine, 10).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.kind, "operator");
    assert_eq!(letter.operator_ref, "op1");
    assert_eq!(letter.sequence, 1);
    assert_eq!(letter.attempts, 1, "a 4xx is not retried");
    assert!(letter.error.contains("body.id_number"), "{}", letter.error);
    assert_eq!(letter.body["id_number"], serde_json::Value::Null);
    assert_eq!(letter.held_records, 3, "op1's affiliation and two enrollments wait");

    // Held records are deferred, not failed: they keep their attempts for later.
    let held_failures: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_outbox o JOIN sync_records s ON s.idempotency_key = o.id WHERE s.operator_ref = 'op1' AND o.status = 'failed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(held_failures, 1, "only the malformed record failed");

    // Staff fix the data and replay: the record is rebuilt and the held ones follow.
    sqlx::query("UPDATE operators SET id_number = '430302198302277431' WHERE id = 'op1'").execute(&db.pool).await.unwrap();
    dead_letter::replay(&h.engine, &letter.incident_id, "staff-1").await.unwrap();
    wait_advancing(&h, "op1 delivered after replay", async || h.sim.records(Some("op1")).await.len() == RECORDS_PER_OPERATOR).await;
    assert_each_operator_in_order(&h, &[0, 1, 2], RECORDS_PER_OPERATOR).await;
    assert_eq!(h.sim.records(Some("op1")).await[0].record.body["id_number"], "430302198302277431");
    assert!(dead_letter::list(&h.engine, 10).await.unwrap().is_empty());
    assert_stored_once(&h, 3 * RECORDS_PER_OPERATOR).await;
    h.handle.stop().await;
});

both_backends!(skipped_record_releases_its_sequence, |db: Db| async move {
    let h = harness(db.clone()).await;
    operators(&db, 1, &[0]).await;
    produce_records(&h, 0).await;
    wait_advancing(&h, "the rejected record's incident", async || !dead_letter::list(&h.engine, 10).await.unwrap().is_empty()).await;
    wait_advancing(&h, "the later records numbered and held", async || {
        dead_letter::list(&h.engine, 10).await.unwrap().first().is_some_and(|letter| letter.held_records == 3)
    })
    .await;
    let letter = dead_letter::list(&h.engine, 10).await.unwrap().remove(0);

    let woken = dead_letter::skip(&h.engine, &letter.incident_id, "staff-1").await.unwrap();
    assert!(woken >= 1, "held records woken: {woken}");
    wait_advancing(&h, "the held records delivered", async || h.sim.records(Some("op0")).await.len() == RECORDS_PER_OPERATOR - 1).await;
    let stored = h.sim.records(Some("op0")).await;
    let sequences: Vec<u64> = stored.iter().map(|s| s.record.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3], "no gap where the skipped record was");
    assert_eq!(stored[0].record.kind.as_str(), "affiliation");
    assert!(stored.iter().all(|s| s.record.kind.as_str() != "operator"), "the skipped record is never sent");
    let status: String = sqlx::query_scalar("SELECT status FROM sync_records WHERE idempotency_key = $1").bind(&letter.outbox_id).fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "skipped");
    h.handle.stop().await;
});

both_backends!(random_errors_and_duplicate_acks_harmless, |db: Db| async move {
    const OPERATORS: usize = 4;
    let total = OPERATORS * RECORDS_PER_OPERATOR;
    let h = harness(db.clone()).await;
    operators(&db, OPERATORS, &[]).await;
    let faults = SimFaults { error_rate: 0.3, duplicate_acks: true, delay_ms: 20, seed: Some(7), ..SimFaults::default() };
    h.sim.set_faults(faults).unwrap();
    for i in 0..OPERATORS {
        produce_records(&h, i).await;
    }

    wait_advancing(&h, "every record delivered", async || sync_done(&h).await == total as i64).await;
    let stats = h.sim.stats();
    assert!(stats.errors_injected > 0, "the seeded error rate injected errors: {stats:?}");
    assert!(stats.duplicates + stats.accepted >= total as u64, "{stats:?}");
    assert_stored_once(&h, total).await;
    assert_each_operator_in_order(&h, &(0..OPERATORS).collect::<Vec<_>>(), RECORDS_PER_OPERATOR).await;
    assert!(h.engine.incidents("open", 10).await.unwrap().is_empty());
    let delivered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_records WHERE status = 'delivered' AND ack_id IS NOT NULL").fetch_one(&db.pool).await.unwrap();
    assert_eq!(delivered, total as i64);
    h.handle.stop().await;
});
