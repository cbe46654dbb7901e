//! The SQLite planner's statistics for apalis's `Jobs` table. SQLite only: PostgreSQL
//! keeps its own statistics through autovacuum, and the plans checked here are
//! SQLite's.

use apalis_sqlite::SqliteStorage;
use sqlx::SqlitePool;
use workers::queues::JobQueues;
use workflows::db::Backend;
use workflows::testing::fresh_db;

/// The shape of apalis-sqlite's acknowledgement: the worker's jobs joined with a JSON
/// list of finished ones.
const ACK_SHAPE: &str = "EXPLAIN QUERY PLAN
    WITH j AS (SELECT value ->> 'task_id' AS task_id, value ->> 'status' AS status FROM json_each(?1))
    UPDATE Jobs SET status = j.status FROM j WHERE Jobs.id = j.task_id AND Jobs.lock_by = ?2";

/// The shape of apalis-sqlite's lock of fetched jobs.
const LOCK_SHAPE: &str = "EXPLAIN QUERY PLAN
    UPDATE Jobs SET status = 'Running' WHERE id IN (SELECT value FROM json_each(?1))
    AND (status = 'Queued' OR status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))";

async fn plan(pool: &SqlitePool, statement: &'static str) -> String {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(statement).bind("[]").bind("worker").fetch_all(pool).await.unwrap();
    rows.into_iter().map(|row| row.3).collect::<Vec<_>>().join("\n")
}

fn sqlite_pool(queues: &JobQueues) -> SqlitePool {
    match queues {
        JobQueues::Sqlite(pool) => pool.clone(),
        JobQueues::Postgres(_) => panic!("expected the SQLite job storage"),
    }
}

#[tokio::test]
async fn new_queue_gets_statistics() {
    let test = fresh_db(Backend::Sqlite).await;
    let queues = JobQueues::connect(&test.db.url).await.unwrap();
    let pool = sqlite_pool(&queues);

    let described: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'Jobs'").fetch_one(&pool).await.unwrap();
    let indexes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_index_list('Jobs')").fetch_one(&pool).await.unwrap();
    assert!(indexes > 0, "apalis's setup created no index on Jobs");
    assert_eq!(described, indexes, "every index of Jobs should be described");
}

#[tokio::test]
async fn acknowledgement_looks_jobs_up_by_id() {
    let test = fresh_db(Backend::Sqlite).await;
    let queues = JobQueues::connect(&test.db.url).await.unwrap();
    let pool = sqlite_pool(&queues);

    let ack = plan(&pool, ACK_SHAPE).await;
    assert!(ack.contains("sqlite_autoindex_Jobs_1 (id=?)"), "acknowledgement plan:\n{ack}");
    assert!(!ack.contains("LIdx"), "acknowledgement plan walks the worker index:\n{ack}");

    let lock = plan(&pool, LOCK_SHAPE).await;
    assert!(lock.contains("sqlite_autoindex_Jobs_1 (id=?)"), "lock plan:\n{lock}");
}

#[tokio::test]
async fn without_statistics_ack_walks_worker_index() {
    // The plan the statistics prevent: it keeps the check above meaningful if a later
    // apalis or SQLite plans well without them.
    let test = fresh_db(Backend::Sqlite).await;
    let pool = SqlitePool::connect(&test.db.url).await.unwrap();
    SqliteStorage::setup(&pool).await.unwrap();

    let ack = plan(&pool, ACK_SHAPE).await;
    assert!(ack.contains("LIdx"), "acknowledgement plan without statistics:\n{ack}");
}

#[tokio::test]
async fn restart_keeps_existing_statistics() {
    let test = fresh_db(Backend::Sqlite).await;
    let first = JobQueues::connect(&test.db.url).await.unwrap();
    let pool = sqlite_pool(&first);
    sqlx::query("UPDATE sqlite_stat1 SET stat = '7 7' WHERE tbl = 'Jobs' AND idx = 'LIdx'").execute(&pool).await.unwrap();
    first.close().await;

    let second = JobQueues::connect(&test.db.url).await.unwrap();
    let stat: String = sqlx::query_scalar("SELECT stat FROM sqlite_stat1 WHERE tbl = 'Jobs' AND idx = 'LIdx'").fetch_one(&sqlite_pool(&second)).await.unwrap();
    assert_eq!(stat, "7 7");
}
