//! Re-keying an instance to a new subject, on SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use workflows::both_backends;
use workflows::db::Db;
use workflows::definition::set::DefinitionSet;
use workflows::definition::validate::AnyEnvironment;
use workflows::runtime::instance::subject_key;
use workflows::runtime::{Engine, EngineError, EventIn, EventOutcome, Rekey};
use workflows::SimClock;

const REMINDER: &str = include_str!("defs/reminder.yaml");

async fn engine(db: Db) -> Engine {
    let clock = SimClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 0).unwrap());
    let engine = Engine::new(db, Arc::new(clock));
    let set = DefinitionSet::from_sources(vec![("pipelines/reminder.yaml".into(), REMINDER.into())], &AnyEnvironment);
    engine.publish(set.definitions.first().expect("the definition parses"), "test", "").await.unwrap();
    engine
}

async fn start(engine: &Engine, operator: &str) -> String {
    engine.start("reminder_loop", &[("operator", operator.to_string())], Default::default()).await.unwrap().id
}

fn subject(operator: &str) -> [(&'static str, String); 1] {
    [("operator", operator.to_string())]
}

both_backends!(rekey_moves_the_instance_and_later_events_reach_it, |db: Db| async move {
    let engine = engine(db.clone()).await;
    let id = start(&engine, "op-old-0001").await;
    let new_subject = subject("op-new-0002");

    let mut tx = db.begin_write().await.unwrap();
    let rekey = Rekey { definition_id: "reminder_loop", old_key: "operator=op-old-0001", new_subject: &new_subject, by: "account-1", reason: "号码变更" };
    assert_eq!(engine.rekey_instance(&mut tx, &rekey).await.unwrap().as_deref(), Some(id.as_str()));
    tx.commit().await.unwrap();

    let instance = engine.instance(&id).await.unwrap();
    assert_eq!(instance.subject_key, "operator=op-new-0002");
    assert_eq!(instance.subject["operator"], "op-new-0002");
    assert!(engine.find_instance("reminder_loop", "operator=op-old-0001").await.unwrap().is_none(), "the old key is free");

    // Starting for the new subject finds the same instance, and events reach it.
    assert_eq!(start(&engine, "op-new-0002").await, id);
    let outcome = engine.send(&id, EventIn::new("credits-1", "credits_updated").with("credits", 5)).await.unwrap();
    assert!(matches!(outcome, EventOutcome::Applied { .. }), "{outcome:?}");
    assert_eq!(engine.instance(&id).await.unwrap().context["credits"], 5);

    let history = engine.history(&id, 0, 100).await.unwrap();
    let entry = history.iter().find(|record| record.kind == "rekeyed").expect("a rekeyed entry");
    assert_eq!(entry.detail["old_key"], "operator=op-******01");
    assert_eq!(entry.detail["new_key"], "operator=op-******02");
    assert_eq!(entry.detail["by"], "account-1");
    assert_eq!(entry.detail["reason"], "号码变更");
    assert!(!entry.detail.to_string().contains("op-new-0002"), "history holds the masked key only");

    // The old subject may start afresh: a different instance.
    assert_ne!(start(&engine, "op-old-0001").await, id);
});

both_backends!(rekey_refuses_a_key_that_has_an_instance, |db: Db| async move {
    let engine = engine(db.clone()).await;
    let first = start(&engine, "op-a-000001").await;
    let second = start(&engine, "op-b-000002").await;
    let new_subject = subject("op-b-000002");

    let mut tx = db.begin_write().await.unwrap();
    let rekey = Rekey { definition_id: "reminder_loop", old_key: "operator=op-a-000001", new_subject: &new_subject, by: "account-1", reason: "x" };
    let error = engine.rekey_instance(&mut tx, &rekey).await.unwrap_err();
    assert!(matches!(error, EngineError::SubjectTaken(ref key) if key == "operator=op-******02"), "{error:?}");
    drop(tx);

    assert_eq!(engine.instance(&first).await.unwrap().subject_key, "operator=op-a-000001", "nothing changed");
    assert_eq!(engine.instance(&second).await.unwrap().subject_key, "operator=op-b-000002");
    assert!(engine.history(&first, 0, 100).await.unwrap().iter().all(|record| record.kind != "rekeyed"));
});

both_backends!(rekey_rolls_back_with_the_callers_transaction, |db: Db| async move {
    let engine = engine(db.clone()).await;
    let id = start(&engine, "op-c-000003").await;
    let new_subject = subject("op-d-000004");

    let mut tx = db.begin_write().await.unwrap();
    let rekey = Rekey { definition_id: "reminder_loop", old_key: "operator=op-c-000003", new_subject: &new_subject, by: "account-1", reason: "x" };
    engine.rekey_instance(&mut tx, &rekey).await.unwrap();
    tx.rollback().await.unwrap();

    assert_eq!(engine.instance(&id).await.unwrap().subject_key, "operator=op-c-000003");
    assert!(engine.find_instance("reminder_loop", &subject_key(&new_subject)).await.unwrap().is_none());
});

both_backends!(rekey_without_an_instance_or_with_other_parts, |db: Db| async move {
    let engine = engine(db.clone()).await;
    start(&engine, "op-e-000005").await;
    let new_subject = subject("op-f-000006");

    let mut tx = db.begin_write().await.unwrap();
    let missing = Rekey { definition_id: "reminder_loop", old_key: "operator=nobody", new_subject: &new_subject, by: "system", reason: "x" };
    assert_eq!(engine.rekey_instance(&mut tx, &missing).await.unwrap(), None);
    let other_parts = [("mobile", "13800000000".to_string())];
    let mismatch = Rekey { definition_id: "reminder_loop", old_key: "operator=op-e-000005", new_subject: &other_parts, by: "system", reason: "x" };
    assert!(matches!(engine.rekey_instance(&mut tx, &mismatch).await.unwrap_err(), EngineError::SubjectMismatch(_)));
});
