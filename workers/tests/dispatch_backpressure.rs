//! The dispatcher hands out no more work than the queues can hold: with 800 jobs
//! waiting it claims nothing, and with fewer it claims only up to that bound. Runs on
//! SQLite and PostgreSQL.

mod support;

use workers::dispatcher::dispatch_once;
use workers::queues::{JobQueues, TimerJob};
use workflows::both_backends;
use workflows::db::Db;

/// Queues `count` timer jobs that no worker takes (none runs in these tests).
async fn fill_queue(queues: &JobQueues, count: usize) {
    let jobs = (0..count).map(|index| TimerJob { timer_id: format!("filler-{index}"), key: format!("filler-{index}") }).collect();
    queues.push_timers(jobs).await.unwrap();
}

/// Adds one running instance with `count` timers due long ago.
async fn due_timers(db: &Db, count: i64) {
    sqlx::query(
        "INSERT INTO wf_instances (id, definition_id, version, subject_key, subject, state, context, status, lock_version, history_seq, created_at, updated_at)
         VALUES ('held', 'held', 'v', 'key=held', '{}', 'idle', '{}', 'running', 1, 0, 0, 0)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO wf_timers (id, instance_id, state, timer_index, event, due_at, status, created_at)
         SELECT 'held-timer-' || i, 'held', 'idle', 0, 'tick', 1, 'pending', 1 FROM n",
    )
    .bind(count)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn handed_out_timers(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM wf_timers WHERE dispatched_at IS NOT NULL").fetch_one(&db.pool).await.unwrap()
}

both_backends!(full_queues_stop_dispatch, |db: Db| async move {
    let (services, _parts) = support::services(db.clone(), None).await;
    let queues = JobQueues::connect(&db.url).await.unwrap();
    fill_queue(&queues, 800).await;
    due_timers(&db, 30).await;

    assert_eq!(dispatch_once(&services, &queues).await.unwrap(), 0);
    assert_eq!(handed_out_timers(&db).await, 0);
});

both_backends!(dispatch_fills_remaining_room, |db: Db| async move {
    let (services, _parts) = support::services(db.clone(), None).await;
    let queues = JobQueues::connect(&db.url).await.unwrap();
    fill_queue(&queues, 790).await;
    due_timers(&db, 30).await;

    assert_eq!(dispatch_once(&services, &queues).await.unwrap(), 10);
    assert_eq!(handed_out_timers(&db).await, 10);
    assert_eq!(queues.waiting_jobs().await.unwrap(), 800);
});
