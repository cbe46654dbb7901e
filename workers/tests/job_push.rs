//! Pushing jobs in batches: one transaction per batch, and a key queued before is
//! skipped without losing the rest of its batch. Runs on SQLite and PostgreSQL.

use workers::queues::{JobQueues, TIMER_QUEUE, TimerJob};
use workflows::both_backends;
use workflows::db::Db;

fn timer(id: &str) -> TimerJob {
    TimerJob { timer_id: id.to_string(), key: format!("timer:{id}:1") }
}

async fn queued_timers(queues: &JobQueues) -> i64 {
    match queues {
        JobQueues::Sqlite(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM Jobs WHERE job_type = ?1").bind(TIMER_QUEUE).fetch_one(pool).await.unwrap(),
        JobQueues::Postgres(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1").bind(TIMER_QUEUE).fetch_one(pool).await.unwrap(),
    }
}

both_backends!(batch_queues_every_job, |db: Db| async move {
    let queues = JobQueues::connect(&db.url).await.unwrap();
    queues.push_timers(vec![timer("a"), timer("b"), timer("c")]).await.unwrap();
    assert_eq!(queued_timers(&queues).await, 3);
});

both_backends!(repeated_key_keeps_rest_of_batch, |db: Db| async move {
    let queues = JobQueues::connect(&db.url).await.unwrap();
    queues.push_timers(vec![timer("a")]).await.unwrap();

    queues.push_timers(vec![timer("a"), timer("b")]).await.unwrap();
    assert_eq!(queued_timers(&queues).await, 2, "the repeated key is skipped and the new job queued");
});

both_backends!(empty_batch_is_accepted, |db: Db| async move {
    let queues = JobQueues::connect(&db.url).await.unwrap();
    queues.push_timers(Vec::new()).await.unwrap();
    assert_eq!(queued_timers(&queues).await, 0);
});
