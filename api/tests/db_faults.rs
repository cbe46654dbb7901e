//! Database connection loss under load on PostgreSQL: while an institution reports
//! sessions in parallel, every server backend of the test database is terminated
//! several times with `pg_terminate_backend`, which is what a database restart or a
//! failover does to open connections. Clients retry what failed, as the contract requires;
//! afterwards every report is stored once, its event applied once, and the API is ready.
//!
//! SQLite has no connections to lose (it is a file opened by this process), so this
//! fault exists on PostgreSQL only. The shared server itself is never stopped.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use common::{app, id_number, uscc};
use serde_json::json;
use sqlx::Connection;
use workflows::db::Backend;
use workflows::testing::{fresh_db, postgres_admin_url};

const REPORTS: usize = 120;
const PARALLEL: usize = 6;
const TERMINATIONS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_loss_under_load() {
    let test_db = fresh_db(Backend::Postgres).await;
    let app = Arc::new(app(test_db.db.clone(), Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await);
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4M0801");
    app.create_unit(&admin, &unit, "断线测试公司", "dbfault-unit").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13800000801", &id_number("43010219800101801"), &unit).await;
    let institution = Arc::new(app.handed_off(&token, &enrollment_id).await);
    let database = test_db.db.url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();

    // The load: REPORTS session reports, PARALLEL at a time, each retried until the
    // server acknowledges it (202 stored, or 200 already stored).
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..PARALLEL {
        let (app, institution, next, failures, enrollment_id) = (app.clone(), institution.clone(), next.clone(), failures.clone(), enrollment_id.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= REPORTS {
                    return;
                }
                let start = Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap() + Duration::minutes(index as i64);
                let body = json!({
                    "statement_id": format!("dbfault-{index}"),
                    "enrollment_id": enrollment_id,
                    "course_code": "T-01",
                    "started_at": start.to_rfc3339(),
                    "ended_at": (start + Duration::minutes(30)).to_rfc3339(),
                    "face_check": "passed",
                    "evidence": {},
                });
                for attempt in 0.. {
                    let reply = app.signed(&institution, "/api/institution/sessions", &body).await;
                    if reply.status == StatusCode::ACCEPTED || reply.status == StatusCode::OK {
                        break;
                    }
                    assert!(reply.status.is_server_error() || reply.status == StatusCode::CONFLICT, "report {index}: {} {}", reply.status, reply.body);
                    assert!(attempt < 50, "report {index} still failing after 50 tries: {}", reply.body);
                    failures.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }));
    }

    // The fault: terminate every backend of the database, a few times during the load.
    let mut admin_connection = sqlx::AnyConnection::connect(&postgres_admin_url()).await.expect("admin connection to PostgreSQL");
    let mut terminated = 0i64;
    for _ in 0..TERMINATIONS {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) AS t",
        )
        .bind(&database)
        .fetch_one(&mut admin_connection)
        .await
        .unwrap();
        terminated += count;
    }
    for client in clients {
        client.await.expect("client task");
    }
    eprintln!("terminated {terminated} backends; {} requests failed and were retried", failures.load(Ordering::SeqCst));
    assert!(terminated > 0, "no backend was terminated, so the fault never happened");

    // Nothing lost, nothing twice.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM study_sessions WHERE statement_id LIKE 'dbfault-%'").fetch_one(&app.db.pool).await.unwrap();
    let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT statement_id) FROM study_sessions WHERE statement_id LIKE 'dbfault-%'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, REPORTS as i64);
    assert_eq!(distinct, REPORTS as i64);
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(&app.db.pool).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_history WHERE instance_id = $1 AND kind = 'transition' AND event = 'session_reported'")
        .bind(&instance_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(applied, REPORTS as i64, "each report's event applied once");

    // The pool replaced its connections: the database is reachable again. (The API test
    // app creates no job tables, so /readyz reports the jobs part as unreachable.)
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.body["database"], "ok", "{:?}", ready.body);
}
