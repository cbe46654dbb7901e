//! Helpers shared by the engine's integration tests.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use sqlx::Row;
use workflows::db::Db;
use workflows::definition::set::DefinitionSet;
use workflows::definition::validate::AnyEnvironment;
use workflows::runtime::Engine;
use workflows::SimClock;

const REMINDER: &str = include_str!("../defs/reminder.yaml");

/// Returns an engine on `db` with the reminder definition published, its simulated
/// clock at 08:00 Beijing time on 5 March 2026, an hour before the daily timer.
pub async fn reminder_engine(db: Db) -> (Engine, SimClock) {
    let clock = SimClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 0).unwrap());
    let engine = Engine::new(db, Arc::new(clock.clone()));
    let set = DefinitionSet::from_sources(vec![("pipelines/reminder.yaml".into(), REMINDER.into())], &AnyEnvironment);
    assert!(!set.has_errors(), "{:?}", set.diagnostics);
    engine.publish(&set.definitions[0], "test", "").await.unwrap();
    (engine, clock)
}

/// Starts `n` reminder instances, eight at a time, and returns their ids. Each arms
/// one timer for 09:00 Beijing time.
pub async fn start_many(engine: &Engine, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let starts = chunk.iter().map(|i| async move {
            let subject = [("operator", format!("op-{i}"))];
            engine.start("reminder_loop", &subject, Default::default()).await
        });
        for instance in futures::future::join_all(starts).await {
            ids.push(instance.unwrap().id);
        }
    }
    ids
}

/// Returns the first column of the single row that `sql` selects.
pub async fn scalar(db: &Db, sql: &'static str) -> i64 {
    sqlx::query(sql).fetch_one(&db.pool).await.unwrap().get(0)
}
