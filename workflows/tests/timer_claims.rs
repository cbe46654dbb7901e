//! Leased timer claims, on SQLite and on PostgreSQL: each due timer is handed out once
//! per lease, and a claim whose worker died is handed out again after the lease.

mod common;

use std::collections::HashSet;

use chrono::Duration;
use common::{reminder_engine, scalar, start_many};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::outbox::DISPATCH_LEASE_MS;
use workflows::runtime::EventOutcome;

both_backends!(thousand_due_timers_fire_once_each, |db: Db| async move {
    let (engine, clock) = reminder_engine(db.clone()).await;
    start_many(&engine, 1000).await;
    clock.advance(Duration::hours(2));

    // Three dispatchers claim at once until nothing is left to claim.
    let mut claimers = Vec::new();
    for _ in 0..3 {
        let engine = engine.clone();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = engine.claim_due_timers(200).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch);
            }
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = claimed.iter().map(|timer| timer.id.clone()).collect();
    assert_eq!(claimed.len(), 1000, "each due timer handed out once");
    assert_eq!(distinct.len(), 1000);
    assert!(engine.claim_due_timers(200).await.unwrap().is_empty(), "claimed timers are leased");

    let fires: Vec<_> = claimed
        .into_iter()
        .map(|timer| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.fire_timer(&timer.id).await })
        })
        .collect();
    for fire in fires {
        assert!(matches!(fire.await.unwrap(), Ok(EventOutcome::Applied { .. })));
    }
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_events WHERE event_id LIKE 'timer:%'").await, 1000);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_history WHERE event = 'daily_reminder'").await, 1000);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_timers WHERE status = 'fired'").await, 1000);
    assert!(engine.claim_due_timers(200).await.unwrap().is_empty(), "the next reminders are due tomorrow");
});

both_backends!(timer_claim_expires_after_lease, |db: Db| async move {
    let (engine, clock) = reminder_engine(db.clone()).await;
    start_many(&engine, 1).await;
    clock.advance(Duration::hours(2));

    let first = engine.claim_due_timers(10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(engine.claim_due_timers(10).await.unwrap().is_empty(), "held while the lease runs");

    // The worker that took the claim died a lease ago without firing the timer.
    sqlx::query("UPDATE wf_timers SET dispatched_at = dispatched_at - $1 WHERE id = $2")
        .bind(DISPATCH_LEASE_MS + 1)
        .bind(&first[0].id)
        .execute(&db.pool)
        .await
        .unwrap();
    let again = engine.claim_due_timers(10).await.unwrap();
    assert_eq!(again.len(), 1, "an expired lease is claimed again");
    assert_eq!(again[0].id, first[0].id);
    assert_ne!(again[0].job_key(), first[0].job_key(), "the new claim is queued as a new job");

    assert!(matches!(engine.fire_timer(&again[0].id).await.unwrap(), EventOutcome::Applied { .. }));
    assert_eq!(engine.fire_timer(&first[0].id).await.unwrap(), EventOutcome::Duplicate, "the late first job changes nothing");
    assert!(engine.claim_due_timers(10).await.unwrap().is_empty());
});
