//! Faults of the mail path through the real worker runtime, on each backend: the SMTP
//! server down, and the file store full. Weekly unit digests (one email per unit admin)
//! are queued while the fault lasts, and the workers retry them on the engine's clock.
//! Once the fault ends, every digest arrives exactly once.
//!
//! The full disk is a 64 KiB tmpfs mounted for the test, so the test needs root (or
//! CAP_SYS_ADMIN), as `scripts/test` has; without it the test fails with that reason.

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use support::{Harness, services, wait_advancing};
use workers::notify::{EmailSender, SmtpConfig, Tls};
use workers::queues::JobQueues;
use workers::reminders;
use workers::runtime::{self, Roles};
use workers::services::Services;
use workflows::both_backends;
use workflows::db::Db;
use workflows::runtime::Engine;
use workflows::testing::TempDir;

const UNITS: usize = 4;

/// Selects the outbox entries of the digests' emails.
const DIGEST_MAIL: &str = "kind = 'notify' AND instance_id IN (SELECT id FROM wf_instances WHERE definition_id = 'unit_digest')";

/// Inserts `UNITS` units, each with an admin who has an email address and one enrolled
/// operator with no credits, so that each unit gets a digest.
async fn units_behind(db: &Db, engine: &Engine) {
    for i in 0..UNITS {
        sqlx::query("INSERT INTO units (id, uscc, name, status, created_at) VALUES ($1, $2, $3, 'active', 0)")
            .bind(format!("u{i}"))
            .bind(format!("9143010205132188{i}T"))
            .bind(format!("故障测试{i}号公司"))
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO accounts (id, role, login, password_hash, display_name, unit_id, email, created_at) VALUES ($1, 'unit_admin', $2, 'x', '单位管理员', $3, $4, 0)")
            .bind(format!("a{i}"))
            .bind(format!("admin-u{i}"))
            .bind(format!("u{i}"))
            .bind(format!("admin{i}@example.cn"))
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO operators (id, mobile, name, id_number, unit_id, status, created_at, updated_at) VALUES ($1, $2, '陈超', NULL, $3, 'complete', 0, 0)")
            .bind(format!("op{i}"))
            .bind(format!("1380013800{i}"))
            .bind(format!("u{i}"))
            .execute(&db.pool)
            .await
            .unwrap();
        let subject = [("operator", format!("op{i}")), ("year", "2026".to_string()), ("item", "N1".to_string())];
        let instance = engine.start("annual_ce", &subject, Default::default()).await.unwrap();
        sqlx::query("INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, created_at) VALUES ($1, $2, 2026, 'N1', $3, 0)")
            .bind(format!("en-{i}"))
            .bind(format!("op{i}"))
            .bind(&instance.id)
            .execute(&db.pool)
            .await
            .unwrap();
    }
}

/// Starts the worker runtime on `services` with `email` in place of the file outbox.
async fn harness_with_email(db: Db, email: EmailSender) -> Harness {
    let (mut services, parts) = services(db.clone(), None).await;
    services.email = email;
    let services: Arc<Services> = Arc::new(services);
    let queues = JobQueues::connect(&db.url).await.unwrap();
    let handle = runtime::start(services.clone(), queues, Roles { workers: true, scheduler: false }, Duration::from_millis(50));
    Harness { engine: parts.engine, clock: parts.clock, sim: parts.sim, dir: parts.dir, handle, services }
}

/// Returns the email notifications of the digests: (done, failed or given up, pending).
async fn digest_mail_counts(db: &Db) -> (i64, i64, i64) {
    let count = |status: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM wf_outbox WHERE {DIGEST_MAIL} AND status = $1"))).bind(status).fetch_one(&db.pool).await.unwrap()
        }
    };
    (count("done").await, count("failed").await, count("pending").await)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Debian's aiosmtpd writing each message into the Maildir `dir`, killed on drop.
struct Smtp(Child);

impl Smtp {
    fn start(port: u16, dir: &Path) -> Smtp {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd; install it with `apt-get install -y python3-aiosmtpd`");
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Smtp(child);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("aiosmtpd did not listen on 127.0.0.1:{port} within 10 s");
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mailbox_messages(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("new")).map(|entries| entries.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok()).collect()).unwrap_or_default()
}

/// Moves the clock from retry to retry until each digest email has failed at least
/// twice, so every one was attempted during the fault.
async fn retry_during_fault(h: &Harness, db: &Db) {
    support::wait_for("every digest attempted during the fault", async || {
        let attempted: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM wf_outbox WHERE {DIGEST_MAIL} AND attempts >= 2"))).fetch_one(&db.pool).await.unwrap();
        support::advance_to_next_retry(h).await;
        attempted >= UNITS as i64
    })
    .await;
}

both_backends!(smtp_down_then_up_delivers_once, |db: Db| async move {
    let port = free_port();
    let mut config = SmtpConfig::new("127.0.0.1", "certflow@localhost");
    config.port = port;
    config.tls = Tls::None;
    let h = harness_with_email(db.clone(), EmailSender::smtp(config).unwrap()).await;
    units_behind(&db, &h.engine).await;

    // The server is down while the digests go out.
    let monday = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    assert_eq!(reminders::unit_digests(&h.services, monday).await.unwrap(), UNITS);
    retry_during_fault(&h, &db).await;
    let (done, failed, _) = digest_mail_counts(&db).await;
    assert_eq!((done, failed), (0, 0), "nothing delivered and nothing given up while the server is down");

    // The server comes back: each digest arrives once.
    let mailbox = TempDir::new();
    let _smtp = Smtp::start(port, &mailbox.path);
    wait_advancing(&h, "every digest delivered", async || digest_mail_counts(&db).await.0 == UNITS as i64).await;
    let messages = mailbox_messages(&mailbox.path);
    assert_eq!(messages.len(), UNITS, "one message per digest");
    for i in 0..UNITS {
        let to = format!("admin{i}@example.cn");
        assert_eq!(messages.iter().filter(|message| message.contains(&to)).count(), 1, "messages to {to}");
    }
    h.handle.stop().await;
});

/// A tmpfs of `kib` KiB mounted on a fresh folder, unmounted on drop.
struct SmallDisk {
    path: PathBuf,
    _dir: TempDir,
}

impl SmallDisk {
    fn mount(kib: usize) -> SmallDisk {
        let dir = TempDir::new();
        let path = dir.path.join("disk");
        std::fs::create_dir_all(&path).unwrap();
        let output = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"]).arg(&path).output().expect("run mount");
        assert!(
            output.status.success(),
            "mounting a {kib} KiB tmpfs failed (the disk-full test needs root or CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        SmallDisk { path, _dir: dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

both_backends!(full_file_store_then_space_delivers_once, |db: Db| async move {
    let disk = SmallDisk::mount(64);
    let outbox = disk.path.join("mail");
    let email = EmailSender::file_outbox(&outbox, "certflow@localhost").unwrap();
    let h = harness_with_email(db.clone(), email).await;
    units_behind(&db, &h.engine).await;

    // Fill the disk to the last byte.
    let filler = disk.path.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
    drop(file);

    let monday = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    assert_eq!(reminders::unit_digests(&h.services, monday).await.unwrap(), UNITS);
    retry_during_fault(&h, &db).await;
    let (done, failed, _) = digest_mail_counts(&db).await;
    assert_eq!((done, failed), (0, 0), "nothing delivered and nothing given up while the disk is full");
    let partial: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    assert!(partial.is_empty(), "a failed write leaves no file behind: {partial:?}");

    // Space comes back: each digest is written once.
    std::fs::remove_file(&filler).unwrap();
    wait_advancing(&h, "every digest written", async || digest_mail_counts(&db).await.0 == UNITS as i64).await;
    let files: Vec<PathBuf> = std::fs::read_dir(&outbox).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(files.len(), UNITS, "one file per digest: {files:?}");
    h.handle.stop().await;
});
