//! Two worker runtimes on one database, as two `certflow serve --role worker` processes
//! would run: each job runs once, each cron tick fires once, and a stopping runtime
//! hands its unfinished attempts back.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{services, sms_lines, wait_for};
use workers::queues::JobQueues;
use workers::runtime::{self, Roles};
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::EventIn;

const BOTH: Roles = Roles { workers: true, scheduler: true };

both_backends!(two_runtimes_run_each_job_once, |db: Db| async move {
    let (services, parts) = services(db.clone(), None).await;
    let services = Arc::new(services);
    // Each runtime gets its own job storage pool, as a separate process would.
    let first = runtime::start(services.clone(), JobQueues::connect(&db.url).await.unwrap(), BOTH, Duration::from_millis(50));
    let second = runtime::start(services.clone(), JobQueues::connect(&db.url).await.unwrap(), BOTH, Duration::from_millis(50));
    assert_ne!(first.process(), second.process(), "worker names are unique per start");

    const CODES: usize = 30;
    for n in 0..CODES {
        let mobile = format!("1380013{n:04}");
        let instance = parts.engine.start("registration", &[("mobile", mobile)], Default::default()).await.unwrap();
        let event = EventIn::new(format!("code-{n}"), "code_requested").with("secret_code", format!("{:06}", 700_000 + n)).with("minutes", 5);
        parts.engine.send(&instance.id, event).await.unwrap();
    }

    wait_for("every login code SMS", async || {
        parts.engine.outbox_counts().await.unwrap().iter().any(|(kind, status, n)| kind == "notify" && status == "done" && *n == CODES as i64)
    })
    .await;
    // Both dispatchers and both sets of workers were running; give a duplicate time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = sms_lines(&parts.dir);
    // Codes are compared with the template's `code` parameter, not searched in the raw
    // line, whose acceptance time can contain the same six digits.
    let sent_codes: Vec<String> = lines
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("an outbox line is JSON"))
        .map(|sent| sent["params"]["code"].as_str().unwrap_or_default().to_string())
        .collect();
    for n in 0..CODES {
        let code = format!("{:06}", 700_000 + n);
        assert_eq!(sent_codes.iter().filter(|sent| **sent == code).count(), 1, "code {code} sent once: {lines:?}");
    }
    assert_eq!(lines.len(), CODES, "{lines:?}");

    // Both schedulers saw the hourly tick missed at start-up; one ran it.
    wait_for("the start-up stuck check to finish", async || {
        let finished: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cron_runs WHERE job = 'stuck_check' AND finished_at IS NOT NULL").fetch_one(&db.pool).await.unwrap();
        finished >= 1
    })
    .await;
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cron_runs WHERE job = 'stuck_check'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(runs, 1, "one run of the tick across both schedulers");

    // The next hour's tick, seen by both schedulers on the shared clock, also runs once.
    parts.clock.advance(chrono::Duration::hours(1));
    wait_for("the next hourly stuck check", async || {
        let finished: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cron_runs WHERE job = 'stuck_check' AND finished_at IS NOT NULL").fetch_one(&db.pool).await.unwrap();
        finished >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cron_runs WHERE job = 'stuck_check'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(runs, 2, "one run per tick");

    first.stop().await;
    second.stop().await;
});

both_backends!(stopping_runtime_returns_running_attempt, |db: Db| async move {
    // A provincial endpoint on loopback that accepts connections and never responds, so
    // the sync attempt is still running when the runtime stops.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let (services, parts) = services(db.clone(), Some(url)).await;
    let services = Arc::new(services);
    sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ('u1', '91430102051321883T', '湖南姚和电梯工程有限公司', 'active', 0)").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ('op1', '13800138000', '陈超', '430302198302277431', 'u1', 'complete', 0, 0)")
        .execute(&db.pool)
        .await
        .unwrap();
    let handle = runtime::start(services.clone(), JobQueues::connect(&db.url).await.unwrap(), Roles { workers: true, scheduler: false }, Duration::from_millis(50));

    let instance = parts.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    parts.engine.send(&instance.id, EventIn::new("reg-1", "registered")).await.unwrap();
    parts.engine.send(&instance.id, EventIn::new("info-1", "info_completed").with("has_unit", true)).await.unwrap();
    // The certificate pull and the sync records all wait on the silent endpoint. Which of
    // them runs first depends on the queues, so the test follows whichever run.
    // Notifications go to the file outbox and finish at once, so only the attempts that
    // call the endpoint are followed.
    let hanging = async |ids: Vec<String>| {
        let mut calling = Vec::new();
        for id in ids {
            let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM wf_outbox WHERE id = $1").bind(&id).fetch_optional(&db.pool).await.unwrap();
            if kind.is_some_and(|kind| kind != "notify") {
                calling.push(id);
            }
        }
        calling
    };
    wait_for("an attempt calling the endpoint to start", async || !hanging(handle.running_outbox_ids()).await.is_empty()).await;
    let running = hanging(handle.running_outbox_ids()).await;

    let returned = handle.stop_within(Duration::from_millis(300)).await;
    assert!(returned >= 1, "the running attempts are handed back: {returned} of {running:?}");
    for outbox_id in &running {
        let (status, attempts, dispatched): (String, i64, i64) =
            sqlx::query_as("SELECT status, attempts, dispatched_attempt FROM wf_outbox WHERE id = $1").bind(outbox_id).fetch_one(&db.pool).await.unwrap();
        // An attempt may also have ended on its own just before the stop, as a failed
        // try that is rescheduled. Either way none stays leased to the stopped runtime.
        assert_eq!(status, "pending", "the attempt is still to do, not lost");
        assert_eq!(dispatched, attempts, "attempt {outbox_id} no longer leased to the stopped runtime");
    }
    // Attempts handed to the queue but not started keep their lease, which expires, or
    // another process takes the queued job.
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE kind = 'sync' AND status = 'pending'").fetch_one(&db.pool).await.unwrap();
    assert!(pending >= 1, "the sync records are still to do, not lost");
});

/// PostgreSQL only, since SQLite has no notifications: a commit in a process without
/// workers (an API process) reaches a worker process whose polls are ten minutes apart,
/// so only `NOTIFY` can have woken its dispatcher and its job worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_other_process_postgres() {
    let test_db = workflows::testing::fresh_db(workflows::db::Backend::Postgres).await;
    let db = test_db.db.clone();
    let (worker_services, worker_parts) = services(db.clone(), None).await;
    let (api_services, api_parts) = services(db.clone(), None).await;
    let slow_poll = Duration::from_secs(600);
    let worker = runtime::start(Arc::new(worker_services), JobQueues::connect(&db.url).await.unwrap(), Roles { workers: true, scheduler: false }, slow_poll);
    let api = runtime::start(Arc::new(api_services), JobQueues::connect(&db.url).await.unwrap(), Roles { workers: false, scheduler: false }, slow_poll);
    // Both listeners connect before the commit.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let instance = api_parts.engine.start("registration", &[("mobile", "13800138000".to_string())], Default::default()).await.unwrap();
    let event = EventIn::new("code-1", "code_requested").with("secret_code", "615243").with("minutes", 5);
    api_parts.engine.send(&instance.id, event).await.unwrap();

    wait_for("the worker process to send the SMS", async || sms_lines(&worker_parts.dir).iter().any(|line| line.contains("615243"))).await;
    assert!(sms_lines(&api_parts.dir).is_empty(), "the process without workers sends nothing");
    worker.stop().await;
    api.stop().await;
}
