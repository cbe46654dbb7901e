//! `certflow demo` through the real binary: a short compressed year on each backend,
//! the JSON summary's totals, a second run that adds nothing, and email through a real
//! SMTP server on loopback.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use workflows::testing::{TempDir, fresh_postgres_url};

const OPERATORS: &str = "12";

fn demo(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_certflow"))
        .args(["demo", "--json", "--operators", OPERATORS, "--seed", "7"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed: {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "one JSON object on stdout: {stdout}");
    serde_json::from_str(stdout.trim()).unwrap()
}

fn check_totals(summary: &Value) {
    for key in ["operators_imported", "rows_rejected", "instances_by_state", "credits_awarded", "cards_issued", "sync_delivered", "emails_sent", "sms_sent", "incidents"] {
        assert!(summary.get(key).is_some(), "summary lacks {key}: {summary}");
    }
    assert_eq!(summary["operators_imported"], 229);
    assert_eq!(summary["rows_rejected"], 5, "the five invalid rows");
    assert_eq!(summary["papers_outside_studied_courses"], 0, "papers draw only from studied courses: {summary}");
    assert_eq!(summary["papers_with_unpublished_questions"], 0, "{summary}");
    assert!(summary["exam_attempts"].as_i64().unwrap() >= 1, "{summary}");
    assert!(summary["cards_issued"].as_i64().unwrap() >= 1, "{summary}");
    assert!(summary["sync_delivered"].as_i64().unwrap() >= 1, "{summary}");
    assert!(summary["emails_sent"].as_i64().unwrap() >= 1, "{summary}");
    assert!(summary["sms_sent"].as_i64().unwrap() >= 12, "at least one login code each: {summary}");
    assert_eq!(summary["sms_transport"], "signed_api_stub", "SMS went through the provider adapter: {summary}");
    assert_eq!(summary["instances_by_state"]["registration"]["complete"], 12);
    let annual: i64 = summary["instances_by_state"]["annual_ce"].as_object().unwrap().values().map(|n| n.as_i64().unwrap()).sum();
    assert_eq!(annual, 12, "one annual instance per operator");
    assert!(summary["sessions_voided"].as_i64().unwrap() >= 1, "a reviewer cleared the hours of a session: {summary}");
    assert!(summary["scores_voided"].as_i64().unwrap() >= 1, "a reviewer voided an exam score: {summary}");
    assert_eq!(summary["training_events_approved"], 1, "one unit's internal training was approved: {summary}");
    let training_credits = summary["training_credits"].as_i64().unwrap();
    assert!(training_credits >= 2, "the attendees got the event's courses: {summary}");

    // Every card stands for 20 credits; an operator without a card holds only credits
    // from the internal training, since a passed exam completes the 20.
    let credits = summary["credits_awarded"].as_i64().unwrap();
    let card_credits = summary["cards_issued"].as_i64().unwrap() * 20;
    assert!(credits >= card_credits, "{summary}");
    assert!(credits <= card_credits + training_credits, "{summary}");
}

fn rerun_adds_nothing(database: &str) {
    let first = demo(&["--database", database]);
    check_totals(&first);
    let second = demo(&["--database", database]);
    assert_eq!(first, second, "a second run against the same database adds nothing");
}

#[test]
fn demo_year_on_sqlite() {
    let dir = TempDir::new();
    rerun_adds_nothing(&format!("sqlite://{}/demo.db", dir.path.display()));
}

#[tokio::test]
async fn demo_year_on_postgres() {
    let url = fresh_postgres_url().await;
    tokio::task::spawn_blocking(move || rerun_adds_nothing(&url)).await.unwrap();
}

/// Debian's aiosmtpd SMTP server on a free loopback port, storing mail as a Maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: TempDir,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = TempDir::new();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.path.join(sub)).unwrap();
        }
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir.path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start /usr/bin/python3 -m aiosmtpd (apt-get install python3-aiosmtpd)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return SmtpServer { child, port, maildir };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("aiosmtpd did not accept connections on 127.0.0.1:{port}; is python3-aiosmtpd installed?");
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn demo_sends_email_through_smtp() {
    let smtp = SmtpServer::start();
    let summary = demo(&["--smtp", &format!("127.0.0.1:{}", smtp.port)]);
    check_totals(&summary);
    assert_eq!(summary["email_transport"], "smtp");
    let delivered = std::fs::read_dir(smtp.maildir.path.join("new")).unwrap().count() as i64;
    assert_eq!(delivered, summary["emails_sent"].as_i64().unwrap(), "every counted email reached the SMTP server");
}
