//! The exam-takers of the load test, set up before the timed run. Through the API, each
//! one logs in by SMS code, registers, joins the bench unit, enrolls for item T of the
//! current year and is handed off to the bench institution. Then one cleared session
//! of every course is stored in the table, and the workflow gets the count of completed
//! courses. Each enrollment is then `studying` with every course completed.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Asia::Shanghai;
use futures::StreamExt;
use serde_json::json;
use workflows::runtime::{EventIn, EventOutcome};

use super::stack::Stack;
use crate::demo::people::login_by_sms;
use crate::demo::setup::{UnitAdmin, register_institution, register_unit, staff_token};

/// The item every exam-taker studies; its courseware ships with the platform.
pub const ITEM: &str = "T";

const UNIT_USCC_BODY: &str = "91430100MA4P0001";
const INSTITUTION_USCC_BODY: &str = "91430100MA4P0002";
const ADMIN_LOGIN: &str = "peak-admin";
const ADMIN_PASSWORD: &str = "peak-password-2026";

/// Maximum wait for a login code to reach the SMS provider stub while many exam-takers
/// are set up at once.
const LOGIN_CODE_TIMEOUT: Duration = Duration::from_secs(120);

/// One exam-taker ready for the timed run.
#[derive(Clone, Debug)]
pub struct ExamTaker {
    pub token: String,
    pub enrollment_id: String,
}

/// A synthetic operator: a unique mobile and ID number from the index.
struct Identity {
    name: String,
    mobile: String,
    id_number: String,
}

fn identity(index: usize) -> anyhow::Result<Identity> {
    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    const GIVEN: [&str; 10] = ["建国", "小明", "海涛", "丽娟", "志强", "秀英", "伟", "芳", "军", "静"];
    let name = format!("{}{}", SURNAMES[index % 10], GIVEN[(index / 10) % 10]);
    // Birth dates from 1980-01-01 on, one a day, keep every ID number distinct.
    let birth = NaiveDate::from_ymd_opt(1980, 1, 1).expect("valid date") + chrono::Duration::days(index as i64);
    let body = format!("430102{}{:03}", birth.format("%Y%m%d"), 100 + index % 800);
    let check = domain::identity::checksum::id_number_check_character(&body).ok_or_else(|| anyhow::anyhow!("no check character for ID number body {body}"))?;
    Ok(Identity { name, mobile: format!("139{index:08}"), id_number: format!("{body}{check}") })
}

fn uscc(body16: &str) -> anyhow::Result<String> {
    let body = format!("{body16}1");
    let check = domain::identity::checksum::uscc_check_character(&body).ok_or_else(|| anyhow::anyhow!("no check character for credit code body {body}"))?;
    Ok(format!("{body}{check}"))
}

/// The unit and institution every exam-taker belongs to.
struct Shared {
    unit_uscc: String,
    institution_id: String,
    year: i32,
    /// Course code and minutes of every course of [`ITEM`] in `year`.
    courses: Vec<(String, i64)>,
}

/// Sets up `count` exam-takers with `tasks` of them in flight at a time and returns
/// them in index order.
pub async fn exam_takers(stack: &Stack, count: usize, tasks: usize, quiet: bool) -> anyhow::Result<Vec<ExamTaker>> {
    let shared = shared(stack).await?;
    let started = Instant::now();
    let mut takers: Vec<(usize, ExamTaker)> = Vec::with_capacity(count);
    let shared_ref = &shared;
    let mut pending = futures::stream::iter(0..count)
        .map(|index| async move { one(stack, shared_ref, index).await.map(|taker| (index, taker)).with_context(|| format!("setting up exam-taker {index}")) })
        .buffer_unordered(tasks.max(1));
    while let Some(taker) = pending.next().await {
        takers.push(taker?);
        if !quiet && takers.len() % 200 == 0 {
            eprintln!("[exam-peak] {} / {count} exam-takers set up ({:.0} s)", takers.len(), started.elapsed().as_secs_f64());
        }
    }
    takers.sort_by_key(|(index, _)| *index);
    Ok(takers.into_iter().map(|(_, taker)| taker).collect())
}

async fn shared(stack: &Stack) -> anyhow::Result<Shared> {
    let now = stack.state.now();
    let year = now.with_timezone(&Shanghai).year();
    let item = stack.state.courseware.item(ITEM).ok_or_else(|| anyhow::anyhow!("the shipped courseware has no item {ITEM}"))?;
    let courses: Vec<(String, i64)> = item.courses.iter().filter(|course| course.years.contains(&year)).map(|course| (course.code.clone(), i64::from(course.minutes))).collect();
    if courses.is_empty() {
        anyhow::bail!("item {ITEM} has no course for {year} in the shipped courseware");
    }
    // One session a day from 2 January must end before now.
    let last_day = Shanghai.with_ymd_and_hms(year, 1, 2 + courses.len() as u32, 18, 0, 0).single().map(|last| last.with_timezone(&chrono::Utc));
    if last_day.is_none_or(|last| last > now) {
        anyhow::bail!("the exam peak test reports one study session a day from 2 January, so it needs the date to be after {year}-01-{:02}", 2 + courses.len());
    }

    let account = api::NewAccount {
        role: api::auth::Role::AssociationAdmin,
        login: ADMIN_LOGIN,
        password: ADMIN_PASSWORD,
        display_name: "压测管理员",
        unit_id: None,
        institution_id: None,
        mobile: None,
        email: None,
    };
    let admin = staff_token(&stack.client, &stack.engine.db, stack.engine.now_ms(), &account).await?;

    let unit_uscc = uscc(UNIT_USCC_BODY)?;
    let unit_admin = UnitAdmin { login: "peak-unit-admin", password: ADMIN_PASSWORD, display_name: "单位管理员", mobile: None };
    register_unit(&stack.client, &admin, &unit_uscc, "压测电梯维保有限公司", "430102", &unit_admin).await?;
    let institution = register_institution(&stack.client, &stack.engine.db, &admin, "压测培训中心", &uscc(INSTITUTION_USCC_BODY)?, &[ITEM]).await?;
    let institution_id = institution["id"].as_str().with_context(|| format!("the bench institution has no id: {institution}"))?.to_string();
    Ok(Shared { unit_uscc, institution_id, year, courses })
}

/// Logs in, registers, enrolls and records the studies of exam-taker `index`.
async fn one(stack: &Stack, shared: &Shared, index: usize) -> anyhow::Result<ExamTaker> {
    let person = identity(index)?;
    let (token, _) = login_by_sms(&stack.client, &stack.sms, &person.mobile, LOGIN_CODE_TIMEOUT).await?;
    let client = &stack.client;
    client.post("/api/operator/register", Some(&token), &json!({ "name": person.name, "id_number": person.id_number })).await?.expect("registration")?;
    client.post("/api/operator/info", Some(&token), &json!({ "unit_uscc": shared.unit_uscc })).await?.expect("info completion")?;
    let enrollment = client.post("/api/enrollments", Some(&token), &json!({ "year": shared.year, "item_code": ITEM })).await?.expect("enrollment")?;
    let enrollment_id = enrollment["id"].as_str().unwrap_or_default().to_string();
    let handoff = json!({ "institution_id": shared.institution_id });
    client.post(&format!("/api/enrollments/{enrollment_id}/handoff"), Some(&token), &handoff).await?.expect("hand-off")?;

    record_studies(stack, shared, &enrollment_id, index).await?;
    Ok(ExamTaker { token, enrollment_id })
}

/// Stores one cleared session of every course, one a day from 2 January, as the
/// institution's reports would leave them after screening, and sends the enrollment's
/// workflow the count of completed courses as the screening job does. Reporting and
/// screening 22 sessions per operator through the API and the jobs would make the setup
/// of 2,000 exam-takers take longer than the timed run by far.
async fn record_studies(stack: &Stack, shared: &Shared, enrollment_id: &str, index: usize) -> anyhow::Result<()> {
    let pool = &stack.engine.db.pool;
    let (operator_id, instance_id, unit_id): (String, String, Option<String>) = sqlx::query_as(
        "SELECT e.operator_id, e.instance_id, o.unit_id FROM enrollments e JOIN operators o ON o.id = e.operator_id WHERE e.id = $1",
    )
    .bind(enrollment_id)
    .fetch_one(pool)
    .await?;
    let now_ms = stack.engine.now_ms();
    let mut tx = stack.engine.db.begin_write().await?;
    for (day, (course, minutes)) in shared.courses.iter().enumerate() {
        let start = Shanghai.with_ymd_and_hms(shared.year, 1, 2 + day as u32, 9, 0, 0).single().expect("a unique Beijing time").timestamp_millis();
        sqlx::query(
            "INSERT INTO study_sessions (id, statement_id, institution_id, enrollment_id, operator_id, unit_id, course_code, started_at, ended_at, face_check, evidence, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'passed', $10, 'cleared', $11)",
        )
        .bind(api::db::new_id())
        .bind(format!("peak-{enrollment_id}-{course}"))
        .bind(&shared.institution_id)
        .bind(enrollment_id)
        .bind(&operator_id)
        .bind(&unit_id)
        .bind(course)
        .bind(start)
        .bind(start + minutes * 60_000)
        .bind(json!({ "device": format!("peak-device-{index}") }).to_string())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    let completed = shared.courses.len() as i64;
    let event = EventIn::new(format!("peak-studied:{enrollment_id}"), "courses_updated").with("completed", completed);
    let outcome = stack.engine.send(&instance_id, event).await?;
    if !matches!(outcome, EventOutcome::Applied { .. }) {
        anyhow::bail!("courses_updated was not applied to enrollment {enrollment_id}: {outcome:?}");
    }
    Ok(())
}
