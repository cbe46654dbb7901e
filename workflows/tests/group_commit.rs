//! Events sent together: on SQLite they share the committer's transactions, on
//! PostgreSQL each has its own, and on both each caller gets its own outcome or error.

mod common;

use common::{reminder_engine, scalar, start_many};
use sqlx::Row;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::{EngineError, EventIn, EventOutcome};

both_backends!(concurrent_events_each_get_their_own_outcome, |db: Db| async move {
    let (engine, _clock) = reminder_engine(db.clone()).await;
    let ids = start_many(&engine, 16).await;

    // Sent at once, these queue behind one another and are committed in shared
    // transactions; every kind of outcome and an error are mixed in.
    let mut sends = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        for round in 0..4 {
            let event = EventIn::new(format!("credits-{index}-{round}"), "credits_updated").with("credits", round);
            sends.push((engine.clone(), id.clone(), event));
        }
        sends.push((engine.clone(), id.clone(), EventIn::new(format!("noise-{index}"), "noise")));
        sends.push((engine.clone(), id.clone(), EventIn::new(format!("bogus-{index}"), "no_such_event")));
    }
    sends.push((engine.clone(), "no-such-instance".to_string(), EventIn::new("lost", "credits_updated").with("credits", 1)));
    let tasks: Vec<_> = sends.into_iter().map(|(engine, id, event)| tokio::spawn(async move { engine.send(&id, event).await })).collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    let applied = outcomes.iter().filter(|outcome| matches!(outcome, Ok(EventOutcome::Applied { .. }))).count();
    let ignored = outcomes.iter().filter(|outcome| matches!(outcome, Ok(EventOutcome::Ignored { .. }))).count();
    let rejected = outcomes.iter().filter(|outcome| matches!(outcome, Ok(EventOutcome::Rejected { .. }))).count();
    let not_found = outcomes.iter().filter(|outcome| matches!(outcome, Err(EngineError::InstanceNotFound(_)))).count();
    assert_eq!(applied, 16 * 4, "{outcomes:?}");
    assert_eq!(ignored, 16);
    assert_eq!(rejected, 16);
    assert_eq!(not_found, 1, "the event to a missing instance fails alone");

    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_history WHERE kind = 'transition'").await, 16 * 4);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_events").await, 16 * 6, "every answered event is recorded once");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_events WHERE instance_id = 'no-such-instance'").await, 0);
    for id in &ids {
        let lock: i64 = sqlx::query("SELECT lock_version FROM wf_instances WHERE id = $1").bind(id).fetch_one(&db.pool).await.unwrap().get(0);
        assert_eq!(lock, 1 + 4, "instance {id}: one optimistic update per applied event");
    }
});

both_backends!(failing_event_rolls_back_alone, |db: Db| async move {
    let (engine, _clock) = reminder_engine(db.clone()).await;
    let ids = start_many(&engine, 8).await;

    // A text where the guard compares a number fails the guard's evaluation; the
    // event's savepoint is rolled back and its neighbours commit.
    let mut tasks = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let credits = if index % 2 == 0 { serde_json::json!(5) } else { serde_json::json!("five") };
        let event = EventIn::new(format!("credits-{index}"), "credits_updated").with("credits", credits);
        let (engine, id) = (engine.clone(), id.clone());
        tasks.push(tokio::spawn(async move { engine.send(&id, event).await }));
    }
    for (index, task) in tasks.into_iter().enumerate() {
        let outcome = task.await.unwrap();
        if index % 2 == 0 {
            assert!(matches!(outcome, Ok(EventOutcome::Applied { .. })), "event {index}: {outcome:?}");
        } else {
            assert!(matches!(outcome, Err(EngineError::Expression(_))), "event {index}: {outcome:?}");
        }
    }
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_events").await, 4, "failed events leave no record");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_history WHERE kind = 'transition'").await, 4);

    // The failed events were not recorded, so the same ids apply once corrected.
    for (index, id) in ids.iter().enumerate().filter(|(index, _)| index % 2 == 1) {
        let event = EventIn::new(format!("credits-{index}"), "credits_updated").with("credits", 5);
        assert!(matches!(engine.send(id, event).await.unwrap(), EventOutcome::Applied { .. }));
    }
});

both_backends!(cancelled_callers_leave_others_committed, |db: Db| async move {
    let (engine, _clock) = reminder_engine(db.clone()).await;
    let ids = start_many(&engine, 8).await;

    // Every other caller gives up at once, as a client that disconnects does: its
    // event is applied whole or not at all, and the rest are all applied.
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        for round in 0..4 {
            let event = EventIn::new(format!("credits-{index}-{round}"), "credits_updated").with("credits", round);
            let (engine, id) = (engine.clone(), id.clone());
            if round % 2 == 0 {
                kept.push(tokio::spawn(async move { engine.send(&id, event).await }));
            } else {
                dropped.push(tokio::spawn(async move { tokio::time::timeout(std::time::Duration::ZERO, engine.send(&id, event)).await }));
            }
        }
    }
    for task in kept {
        assert!(matches!(task.await.unwrap(), Ok(EventOutcome::Applied { .. })));
    }
    for task in dropped {
        let _ = task.await.unwrap();
    }
    // Let any dropped event that was already in a batch finish committing.
    let probe = EventIn::new("probe", "noise");
    assert!(matches!(engine.send(&ids[0], probe).await.unwrap(), EventOutcome::Ignored { .. }));

    let events = scalar(&db, "SELECT COUNT(*) FROM wf_events WHERE event_id LIKE 'credits-%'").await;
    let transitions = scalar(&db, "SELECT COUNT(*) FROM wf_history WHERE kind = 'transition'").await;
    assert!(events >= 16, "all 16 kept events applied, got {events}");
    assert_eq!(events, transitions, "each recorded event has its history entry");
    for id in &ids {
        let row = sqlx::query("SELECT lock_version, (SELECT COUNT(*) FROM wf_events WHERE instance_id = $1 AND outcome = 'applied') FROM wf_instances WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let (lock, applied): (i64, i64) = (row.get(0), row.get(1));
        assert_eq!(lock, 1 + applied, "instance {id}: state written once per recorded event");
    }
});

both_backends!(close_commits_drains_queued_events, |db: Db| async move {
    let (engine, _clock) = reminder_engine(db.clone()).await;
    let ids = start_many(&engine, 100).await;

    // One event per instance: an event sent after the close runs in a transaction of
    // its own, and one instance per event keeps those from racing for one row.
    let mut tasks = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let event = EventIn::new(format!("credits-{index}"), "credits_updated").with("credits", 5);
        let (engine, id) = (engine.clone(), id.clone());
        tasks.push(tokio::spawn(async move { engine.send(&id, event).await }));
    }
    tokio::task::yield_now().await;
    engine.close_commits().await;
    for task in tasks {
        let outcome = task.await.unwrap();
        assert!(matches!(outcome, Ok(EventOutcome::Applied { .. })), "{outcome:?}");
    }
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM wf_history WHERE kind = 'transition'").await, 100);

    // After the close, a caller applies its event in a transaction of its own.
    let late = EventIn::new("late", "credits_updated").with("credits", 3);
    assert!(matches!(engine.send(&ids[0], late.clone()).await.unwrap(), EventOutcome::Applied { .. }));
    assert_eq!(engine.send(&ids[0], late).await.unwrap(), EventOutcome::Duplicate);
});
