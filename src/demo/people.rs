//! The demo's operators as the script plays them: how each one logs in, studies and
//! takes exams, and what plan the seed gave them.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{Value, json};

use super::client::Client;
use super::data::Operator;
use super::sms_stub::SmsStub;
use super::world::World;

/// What happens to one operator in the demo year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExamPlan {
    /// Passes at the first attempt.
    Pass,
    /// Fails the first attempt and passes the next day.
    FailOnce,
    /// Fails twice in one day, is refused a third attempt that day, passes the next day.
    FailTwice,
    /// Loses focus repeatedly, so the passed exam goes to a reviewer, who accepts it.
    Flagged,
    /// Never takes the exam, so the year-end reminder finds the operator short of credits.
    Skip,
}

#[derive(Clone, Debug)]
pub struct Person {
    pub operator: Operator,
    pub plan: ExamPlan,
    /// A session whose face check failed, and whether the reviewer accepts it.
    pub flagged_session: Option<bool>,
    pub token: Option<String>,
    pub enrollment_id: Option<String>,
}

impl Person {
    pub fn new(operator: Operator, rng: &mut impl Rng) -> Person {
        let roll: f64 = rng.random();
        let plan = match roll {
            r if r < 0.10 => ExamPlan::FailOnce,
            r if r < 0.18 => ExamPlan::FailTwice,
            r if r < 0.26 => ExamPlan::Flagged,
            r if r < 0.31 => ExamPlan::Skip,
            _ => ExamPlan::Pass,
        };
        let flagged_session = (rng.random::<f64>() < 0.12).then(|| rng.random::<bool>());
        Person { operator, plan, flagged_session, token: None, enrollment_id: None }
    }
}

/// Maximum wait of the demo for a login code to reach the SMS provider stub.
const LOGIN_CODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Logs the operator in by SMS code and returns the token and the next step the API named.
pub async fn login(world: &World, person: &Person) -> anyhow::Result<(String, String)> {
    login_by_sms(&world.client, &world.sms, &person.operator.mobile, LOGIN_CODE_TIMEOUT).await
}

/// Requests a login code for `mobile`, reads it from the SMS provider stub as a test
/// would, logs in with it and returns the session token and the next step the API named.
/// Fails when no new code reaches the stub within `timeout`.
pub async fn login_by_sms(client: &Client, sms: &SmsStub, mobile: &str, timeout: std::time::Duration) -> anyhow::Result<(String, String)> {
    let before = sms.login_codes(mobile).len();
    client.post("/api/auth/code", None, &json!({ "mobile": mobile })).await?.expect("login code request")?;

    let deadline = std::time::Instant::now() + timeout;
    let code = loop {
        let codes = sms.login_codes(mobile);
        if codes.len() > before {
            break codes.last().cloned().unwrap_or_default();
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("no login code reached the SMS provider stub for {} within {} s", mask(mobile), timeout.as_secs());
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let reply = client.post("/api/auth/login", None, &json!({ "mobile": mobile, "code": code })).await?.expect("login")?;
    let token = reply["token"].as_str().unwrap_or_default().to_string();
    let next = reply["next"].as_str().unwrap_or_default().to_string();
    Ok((token, next))
}

/// Reports one study session as the institution does: signed, with a statement id
/// derived from the operator, course and attempt so a rerun repeats it exactly.
#[allow(clippy::too_many_arguments)]
pub async fn report_session(
    client: &Client,
    institution: &Value,
    now: DateTime<Utc>,
    person: &Person,
    course_code: &str,
    start: DateTime<Utc>,
    minutes: i64,
    face_check: &str,
    attempt: u32,
) -> anyhow::Result<bool> {
    let enrollment_id = person.enrollment_id.as_deref().unwrap_or_default();
    let body = json!({
        "statement_id": format!("demo-{enrollment_id}-{course_code}-{attempt}"),
        "enrollment_id": enrollment_id,
        "course_code": course_code,
        "started_at": start.to_rfc3339(),
        "ended_at": (start + Duration::minutes(minutes)).to_rfc3339(),
        "face_check": face_check,
        "evidence": { "device": format!("demo-device-{enrollment_id}") },
    });
    let key_id = institution["key_id"].as_str().unwrap_or_default();
    let secret = institution["secret"].as_str().unwrap_or_default();
    let reply = client.post_signed("/api/institution/sessions", key_id, secret, now.timestamp(), &body).await?;
    let duplicate = reply.body["duplicate"].as_bool().unwrap_or(false);
    reply.expect("session report")?;
    Ok(!duplicate)
}

/// Masks a mobile for progress lines: 138****8000.
pub fn mask(mobile: &str) -> String {
    if mobile.len() == 11 { format!("{}****{}", &mobile[..3], &mobile[7..]) } else { "***".into() }
}
