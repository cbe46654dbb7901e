//! Fresh databases for tests, on both backends.
//!
//! SQLite databases are files in a temporary folder. PostgreSQL databases are created
//! on the server named by `CERTFLOW_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), one per test, so tests run in
//! parallel without seeing each other. A missing server fails the test with a message
//! that says how to start one; it never skips.

pub mod fuzz;

use crate::db::{Backend, Db};

/// The administrative URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("CERTFLOW_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A migrated database that lives as long as this value (SQLite) or until the server
/// is reset (PostgreSQL databases are named `certflow_test_<uuid v7>`, whose first 12
/// hex digits are the creation time in unix milliseconds, so clean-up can spare new ones).
pub struct TestDb {
    pub db: Db,
    _dir: Option<TempDir>,
}

/// Creates a fresh, migrated database on `backend`.
pub async fn fresh_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = TempDir::new();
            let url = format!("sqlite://{}/test.db", dir.path.display());
            let db = Db::connect(&url).await.expect("open SQLite test database");
            db.migrate().await.expect("migrate SQLite test database");
            TestDb { db, _dir: Some(dir) }
        }
        Backend::Postgres => {
            let url = fresh_postgres_url().await;
            let db = Db::connect(&url).await.expect("open PostgreSQL test database");
            db.migrate().await.expect("migrate PostgreSQL test database");
            TestDb { db, _dir: None }
        }
    }
}

/// Creates an empty PostgreSQL database and returns its URL.
pub async fn fresh_postgres_url() -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let admin = postgres_admin_url();
    let mut connection = sqlx::AnyConnection::connect(&admin).await.unwrap_or_else(|error| {
        panic!(
            "PostgreSQL is required for this test but {admin} is not reachable ({error}). \
             Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    });
    let name = format!("certflow_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("create PostgreSQL test database");
    let base = admin.rsplit_once('/').map(|(base, _)| base.to_string()).unwrap_or(admin);
    format!("{base}/{name}")
}

/// A temporary folder removed on drop.
pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("certflow-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temporary folder");
        TempDir { path }
    }
}

impl Default for TempDir {
    fn default() -> TempDir {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs an async test body once per backend: `both_backends!(name, |db| async move { ... })`
/// defines `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let test_db = $crate::testing::fresh_db($crate::db::Backend::Sqlite).await;
                ($body)(test_db.db.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test_db = $crate::testing::fresh_db($crate::db::Backend::Postgres).await;
                ($body)(test_db.db.clone()).await;
            }
        }
    };
}
