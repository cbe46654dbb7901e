//! The scripted pipeline the drill runs while the server is being killed. Staff set
//! up the units and an institution before the first kill. Then each operator logs in by
//! SMS code, registers, completes info, enrolls, studies twenty courses reported by the
//! institution, and passes an exam, which staff accept on review. Each operator step is
//! sent until the server responds, with one idempotency key per step, so a kill at any
//! moment only delays the script.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use domain::courseware::{Courseware, Question};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workflows::db::Db;

use super::client::{Client, Institution};
use crate::demo::answers::answer_paper;
use crate::demo::client::Client as DemoClient;
use crate::demo::data::Operator;
use crate::demo::setup::{UnitAdmin, register_institution, register_unit, staff_token};

const STAFF_LOGIN: &str = "drill-admin";
const STAFF_PASSWORD: &str = "drill-password-2026";
const INSTITUTION_USCC: &str = "91430100MA4L00001J";

/// The steps the server acknowledged for one operator, which the checks look for in the
/// database.
#[derive(Debug, Default)]
pub struct Acknowledged {
    pub mobile: String,
    pub enrollment_id: String,
    /// Statement ids of the session reports the server accepted.
    pub statements: Vec<String>,
    /// Whether the exam result came back as passed.
    pub exam_passed: bool,
}

/// What the set-up created: the institution that reports sessions, and the staff token
/// that decides review cases.
pub struct Setup {
    pub institution: Institution,
    pub staff_token: String,
}

/// Creates the staff account, the operators' units and the institution. It runs before
/// the first kill, so it sends each request once, through the demo's client.
pub async fn setup(client: &DemoClient, db: &Db, operators: &[Operator]) -> anyhow::Result<Setup> {
    let account = api::NewAccount {
        role: api::auth::Role::AssociationAdmin,
        login: STAFF_LOGIN,
        password: STAFF_PASSWORD,
        display_name: "演练管理员",
        unit_id: None,
        institution_id: None,
        mobile: None,
        email: None,
    };
    let admin = staff_token(client, db, Utc::now().timestamp_millis(), &account).await?;

    for unit in crate::demo::data::units().into_iter().filter(|unit| operators.iter().any(|o| o.unit_uscc == unit.uscc)) {
        let login = format!("drill-{}", unit.uscc.to_lowercase());
        let unit_admin = UnitAdmin { login: &login, password: STAFF_PASSWORD, display_name: &unit.contact_name, mobile: Some(&unit.contact_mobile) };
        register_unit(client, &admin, &unit.uscc, &unit.name, &unit.region_code, &unit_admin).await?;
    }

    let items = ["T", "R1", "R2", "R3", "N1", "N2"];
    let institution = register_institution(client, db, &admin, "演练施教机构", INSTITUTION_USCC, &items).await?;
    Ok(Setup { institution: institution_from(&institution)?, staff_token: admin })
}

fn institution_from(body: &Value) -> anyhow::Result<Institution> {
    let text = |key: &str| body[key].as_str().map(str::to_string).with_context(|| format!("institution reply lacks {key}: {body}"));
    Ok(Institution { id: text("id")?, key_id: text("key_id")?, secret: hex::decode(text("secret")?)? })
}

/// Runs one operator through the pipeline and returns what the server acknowledged.
pub async fn operator(
    client: &mut Client,
    data_dir: &Path,
    setup: &Setup,
    operator: &Operator,
    courseware: &Courseware,
    bank: &HashMap<String, Question>,
) -> anyhow::Result<Acknowledged> {
    let mut done = Acknowledged { mobile: operator.mobile.clone(), ..Default::default() };
    let institution = &setup.institution;
    let year = workflows::clock::beijing_date(Utc::now()).format("%Y").to_string().parse::<i32>()?;

    // Login, registration and info completion.
    let (token, next) = login(client, data_dir, &operator.mobile).await?;
    let token = token.as_str();
    let key = |step: &str| format!("{}-{step}", operator.mobile);
    if next == "register" {
        let body = json!({ "name": operator.name, "id_number": operator.id_number });
        let reply = client.send(Method::POST, "/api/operator/register", Some(token), Some(&body), Some(&key("register"))).await?;
        expect(&reply, "registration", &["register.already_registered"])?;
    }
    let reply = client.send(Method::POST, "/api/operator/info", Some(token), Some(&json!({ "unit_uscc": operator.unit_uscc })), Some(&key("info"))).await?;
    expect(&reply, "info completion", &[])?;

    // Enrollment and hand-off.
    let body = json!({ "year": year, "item_code": operator.item_code });
    let reply = client.send(Method::POST, "/api/enrollments", Some(token), Some(&body), Some(&key("enroll"))).await?;
    expect(&reply, "enrollment", &[])?;
    done.enrollment_id = reply.body["id"].as_str().or_else(|| reply.body["enrollment"]["id"].as_str()).context("enrollment reply lacks its id")?.to_string();
    let path = format!("/api/enrollments/{}/handoff", done.enrollment_id);
    let reply = client.send(Method::POST, &path, Some(token), Some(&json!({ "institution_id": institution.id })), Some(&key("handoff"))).await?;
    expect(&reply, "hand-off", &[])?;

    // Twenty sessions, back to back, ending before now.
    let courses: Vec<_> = courseware.item(&operator.item_code).context("item without courseware")?.courses.iter().take(20).collect();
    let total: i64 = courses.iter().map(|c| i64::from(c.minutes) + 5).sum();
    // NOTE: on the first day of a year the sessions would start in the year before, and
    // the API rejects those. Run the drill on any other day.
    let mut start = Utc::now() - chrono::Duration::minutes(total + 60);
    for course in &courses {
        let end = start + chrono::Duration::minutes(i64::from(course.minutes));
        let statement = format!("drill-{}-{}", done.enrollment_id, course.code);
        let body = json!({
            "statement_id": statement, "enrollment_id": done.enrollment_id, "course_code": course.code,
            "started_at": start.to_rfc3339(), "ended_at": end.to_rfc3339(), "face_check": "passed",
            "evidence": { "snapshots": 3, "device": format!("drill-{}", operator.mobile) },
        });
        let reply = client.send_signed("/api/institution/sessions", institution, &body).await?;
        expect(&reply, "session report", &[])?;
        done.statements.push(statement);
        start = end + chrono::Duration::minutes(5);
    }

    // The exam, once the workers have counted every session, as the progress page shows.
    wait_for_courses(client, token, &done.enrollment_id, courses.len()).await?;
    let consent_path = format!("/api/enrollments/{}/proctoring-consent", done.enrollment_id);
    let consent = json!({ "notice_version": api::proctoring::NOTICE_VERSION });
    until_ok(client, Method::POST, &consent_path, token, &consent, &key("consent"), &[]).await?;
    let path = format!("/api/enrollments/{}/exam/start", done.enrollment_id);
    let attempt = until_ok(client, Method::POST, &path, token, &json!({}), &key("exam"), &["exam.not_studying", "exam.no_courses"]).await?;
    let attempt_id = attempt["attempt_id"].as_str().context("attempt without id")?.to_string();
    let answers = json!({ "answers": answer_paper(&attempt, bank, true) });
    let reply = client.send(Method::PUT, &format!("/api/exams/{attempt_id}/answers"), Some(token), Some(&answers), Some(&key("answers"))).await?;
    expect(&reply, "answers", &[])?;
    let result = until_ok(client, Method::POST, &format!("/api/exams/{attempt_id}/submit"), token, &json!({}), &key("submit"), &["exam.grading_pending"]).await?;
    done.exam_passed = result["passed"] == true;

    // The script fills the paper in seconds, faster than a person can read, so screening
    // keeps the attempt for a reviewer. Staff accept it and the credits count.
    if done.exam_passed {
        review_until_credited(client, token, &setup.staff_token, &done.enrollment_id, courses.len()).await?;
    }
    Ok(done)
}

/// Accepts, as association staff, every open review case of the enrollment until its
/// credits are awarded, for at most four minutes.
async fn review_until_credited(client: &mut Client, token: &str, staff_token: &str, enrollment_id: &str, credits: usize) -> anyhow::Result<()> {
    // A decision sent before the instance reached review is refused, and the refusal is
    // stored under its idempotency key, so each retry of a case takes a new key.
    let mut tries: HashMap<String, usize> = HashMap::new();
    for _ in 0..480 {
        let reply = client.send(Method::GET, "/api/enrollments", Some(token), None, None).await?;
        let credited = reply.body["enrollments"]
            .as_array()
            .and_then(|list| list.iter().find(|e| e["id"] == enrollment_id))
            .and_then(|e| e["credits"].as_u64());
        if credited == Some(credits as u64) {
            return Ok(());
        }

        let queue = client.send(Method::GET, "/api/reviews?status=open&limit=500", Some(staff_token), None, None).await?;
        let cases: Vec<String> = queue.body["cases"]
            .as_array()
            .map(|cases| cases.iter().filter(|c| c["enrollment_id"] == enrollment_id).filter_map(|c| c["id"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        for case_id in cases {
            let tried = tries.entry(case_id.clone()).or_default();
            let body = json!({ "decision": "accept", "reason": "崩溃演练：人工复核为本人作答" });
            let path = format!("/api/reviews/{case_id}/decision");
            let reply = client.send(Method::POST, &path, Some(staff_token), Some(&body), Some(&format!("review-{case_id}-{tried}"))).await?;
            if reply.code() == "review.not_under_review" {
                *tried += 1;
                continue;
            }
            if !reply.status.is_success() && reply.code() != "review.already_decided" {
                bail!("review decision on {case_id}: {} {}", reply.status, reply.body);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("enrollment {enrollment_id} did not reach {credits} credits within four minutes")
}

/// Logs in by SMS code read from the outbox file, asking for a new code when none
/// arrives (the request may have died with the server).
async fn login(client: &mut Client, data_dir: &Path, mobile: &str) -> anyhow::Result<(String, String)> {
    for _ in 0..20 {
        let before = login_codes(data_dir, mobile).len();
        let reply = client.send(Method::POST, "/api/auth/code", None, Some(&json!({ "mobile": mobile })), None).await?;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        expect(&reply, "login code request", &[])?;
        for _ in 0..300 {
            let codes = login_codes(data_dir, mobile);
            if codes.len() > before {
                let code = codes.last().cloned().unwrap_or_default();
                let reply = client.send(Method::POST, "/api/auth/login", None, Some(&json!({ "mobile": mobile, "code": code })), None).await?;
                if reply.status.is_success() {
                    let token = reply.body["token"].as_str().unwrap_or_default().to_string();
                    return Ok((token, reply.body["next"].as_str().unwrap_or_default().to_string()));
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    bail!("no login succeeded for {}", crate::demo::people::mask(mobile))
}

/// Returns the login codes sent to `mobile`, oldest first, from the SMS outbox file
/// that `serve` writes under `data_dir` when no SMS provider is configured.
fn login_codes(data_dir: &Path, mobile: &str) -> Vec<String> {
    std::fs::read_to_string(data_dir.join("outbox/sms/sms-outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["to"] == mobile && line["template"] == "login_code")
        .filter_map(|line| line["params"]["code"].as_str().map(str::to_string))
        .collect()
}

/// Waits until the enrollment shows `count` completed courses, for at most four minutes:
/// work a killed process had claimed waits out the outbox's two-minute lease.
async fn wait_for_courses(client: &mut Client, token: &str, enrollment_id: &str, count: usize) -> anyhow::Result<()> {
    for _ in 0..480 {
        let reply = client.send(Method::GET, "/api/enrollments", Some(token), None, None).await?;
        let completed = reply.body["enrollments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|enrollment| enrollment["id"] == enrollment_id)
            .and_then(|enrollment| enrollment["completed_courses"].as_u64())
            .unwrap_or(0);
        if completed as usize >= count {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("enrollment {enrollment_id} did not show {count} completed courses within four minutes")
}

/// Sends until the response is a success, waiting while its code is one of the `wait_codes`
/// (work the workers have not finished yet), for at most four minutes.
#[allow(clippy::too_many_arguments)]
async fn until_ok(client: &mut Client, method: Method, path: &str, token: &str, body: &Value, key: &str, wait_codes: &[&str]) -> anyhow::Result<Value> {
    for _ in 0..480 {
        let reply = client.send(method.clone(), path, Some(token), Some(body), Some(key)).await?;
        if reply.status.is_success() {
            return Ok(reply.body);
        }
        if !wait_codes.contains(&reply.code()) {
            bail!("{path}: {} {}", reply.status, reply.body);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("{path} did not succeed within four minutes")
}

/// Accepts a success, or one of `also` (a step a lost response had already done).
fn expect(reply: &super::client::Reply, what: &str, also: &[&str]) -> anyhow::Result<()> {
    if reply.status.is_success() || also.contains(&reply.code()) {
        return Ok(());
    }
    bail!("{what}: {} {}", reply.status, reply.body)
}
