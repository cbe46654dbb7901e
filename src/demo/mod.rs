//! `certflow demo`: a compressed year for the bundled demo data, driven through the
//! real HTTP API on loopback with a simulated clock.
//!
//! The year: on 5 January the association registers the units, their admins upload
//! rosters (CSV in UTF-8 and GBK, xlsx, and rows that must be rejected), and every
//! operator logs in by SMS code, completes their info and enrolls. By March each has
//! studied 20 courses at the institution, some with a failed face check that a
//! reviewer decides. Exams follow: most pass, some fail and retake the next day, some
//! reach the daily limit, some are flagged and reviewed. Credits and cards follow, and
//! on 1 December those still short of credits are reminded.

pub(crate) mod answers;
pub(crate) mod client;
pub(crate) mod data;
pub(crate) mod people;
pub(crate) mod setup;
pub(crate) mod sms_stub;
mod summary;
mod training;
mod world;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use domain::courseware::Courseware;
use rand::SeedableRng;
use serde_json::{Value, json};

use self::people::{ExamPlan, Person, login, report_session};
use self::world::{Options, World};

/// The demo's year.
const YEAR: i32 = 2026;

pub struct DemoOptions {
    pub json: bool,
    pub seed: u64,
    pub database: Option<String>,
    pub smtp: Option<String>,
    /// Plays only the first N operators (all 229 when unset).
    pub operators: Option<usize>,
}

/// Results that exist only in this run; the database stores the rest.
#[derive(Default)]
pub struct Tally {
    pub rows_rejected: usize,
    pub sessions_reported: usize,
    pub attempts_refused: usize,
    pub exams_failed: usize,
    pub reviews_decided: usize,
    pub training_attendees_credited: usize,
    /// Flagged exams decided so far, which sets which of them the reviewer voids.
    pub flagged_exams_decided: usize,
}

fn beijing(date: (i32, u32, u32), hour: u32) -> DateTime<Utc> {
    let local = NaiveDate::from_ymd_opt(date.0, date.1, date.2).expect("valid date").and_hms_opt(hour, 0, 0).expect("valid hour");
    Shanghai.from_local_datetime(&local).single().expect("unique Beijing time").with_timezone(&Utc)
}

fn progress(line: &str) {
    eprintln!("[demo] {line}");
}

/// Returns a progress bar on a terminal, or a hidden one in logs, where progress lines
/// take its place.
fn progress_bar(total: usize) -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    }
}

pub async fn run(options: DemoOptions) -> anyhow::Result<ExitCode> {
    progress("启动演示环境（模拟时钟、回环地址上的接口与省平台模拟器）");
    let world = World::start(Options { database: options.database.clone(), smtp: options.smtp.clone(), start: beijing((YEAR, 1, 5), 9) }).await?;
    let result = play(&world, &options).await;
    let summary = match result {
        Ok(tally) => summary::collect(&world, &tally).await,
        Err(error) => Err(error),
    };
    let labels = summary::labels(&world);
    world.stop().await;

    let summary = summary?;
    if summary.papers_outside_studied_courses > 0 || summary.papers_with_unpublished_questions > 0 {
        anyhow::bail!(
            "演示核对未通过：{} 份试卷含未学完课程的试题，{} 份含未发布的试题 / paper check failed: {} papers outside the studied courses, {} with unpublished questions",
            summary.papers_outside_studied_courses,
            summary.papers_with_unpublished_questions,
            summary.papers_outside_studied_courses,
            summary.papers_with_unpublished_questions
        );
    }
    if options.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{}", summary::render_zh(&summary, &labels));
    }
    Ok(ExitCode::SUCCESS)
}

/// Plays the demo's year for the first `operators` operators on `database` (a new
/// SQLite file in a temporary folder when `None`) and returns the operators played and
/// the real time the year took, start-up of the world excluded.
pub(crate) async fn timed_year(database: Option<String>, operators: usize) -> anyhow::Result<(usize, std::time::Duration)> {
    let options = DemoOptions { json: true, seed: 7, database: database.clone(), smtp: None, operators: Some(operators) };
    let world = World::start(Options { database, smtp: None, start: beijing((YEAR, 1, 5), 9) }).await?;
    let started = std::time::Instant::now();
    let played = play(&world, &options).await;
    let elapsed = started.elapsed();
    world.stop().await;
    played?;
    Ok((operators.min(data::operators().len()), elapsed))
}

async fn play(world: &World, options: &DemoOptions) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let courseware = Courseware::embedded().map_err(|e| anyhow::anyhow!("{e}"))?;

    // 5 January: staff, units, rosters, the institution.
    let admin = staff_token(world, api::auth::Role::AssociationAdmin, "demo-admin", "协会管理员").await?;
    let units = register_units(world, &admin).await?;
    import_rosters(world, &units, &mut tally).await?;
    let institution = register_institution(world, &admin).await?;

    let mut everyone: Vec<Person> = data::operators().into_iter().map(|operator| Person::new(operator, &mut rng)).collect();
    if let Some(limit) = options.operators {
        everyone.truncate(limit);
    }
    let mut people = Vec::new();
    for person in everyone {
        // NOTE: an operator whose earlier run stopped half-way is not resumed.
        if already_enrolled(world, &person).await? {
            continue;
        }
        people.push(person);
    }
    progress(&format!("{} 名作业人员登录、完善信息并报名", people.len()));
    let bar = progress_bar(people.len());
    for (index, person) in people.iter_mut().enumerate() {
        enroll(world, person, &institution).await?;
        bar.inc(1);
        if (index + 1) % 50 == 0 && bar.is_hidden() {
            progress(&format!("已报名 {} 人", index + 1));
        }
    }
    bar.finish_and_clear();
    world.settle().await?;

    // January and February: study, reported by the institution.
    world.advance_to(beijing((YEAR, 3, 2), 8)).await?;
    progress("施教机构上报学习记录");
    let bar = progress_bar(people.len());
    for person in &people {
        study(world, person, &institution, &courseware, &mut tally).await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    world.settle().await?;
    decide_reviews(world, &people, &mut tally).await?;
    world.settle().await?;
    restudy_rejected(world, &people, &institution, &courseware, &mut tally).await?;
    world.settle().await?;

    // 26 and 27 February: one unit's internal training, approved on 2 March.
    tally.training_attendees_credited = training::internal_training(world, &units, &people, &courseware).await?;
    world.settle().await?;

    // 2 and 3 March: exams, retakes and the daily limit.
    world.advance_to(beijing((YEAR, 3, 2), 10)).await?;
    progress("在线考试");
    let bank = answers::bank(&courseware);
    let bar = progress_bar(people.len());
    for person in people.iter_mut() {
        exam_day_one(world, person, &bank, &mut tally).await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    world.settle().await?;
    world.advance_to(beijing((YEAR, 3, 3), 10)).await?;
    for person in people.iter_mut().filter(|p| matches!(p.plan, ExamPlan::FailOnce | ExamPlan::FailTwice)) {
        // Sessions last 12 hours of the clock: a new day means a new login.
        let (token, _) = login(world, person).await?;
        person.token = Some(token);
        take_exam(world, person, &bank, true, false, &mut tally).await?;
    }
    world.settle().await?;
    decide_reviews(world, &people, &mut tally).await?;
    world.settle().await?;

    // 1 December: reminders to those still short of credits.
    progress("年底提醒");
    world.advance_to(beijing((YEAR, 12, 1), 10)).await?;
    world.advance_to(beijing((YEAR, 12, 2), 10)).await?;
    Ok(tally)
}

/// Creates a staff account (kept on a rerun) and logs it in.
async fn staff_token(world: &World, role: api::auth::Role, login: &str, name: &str) -> anyhow::Result<String> {
    let account = api::NewAccount { role, login, password: "demo-password-2026", display_name: name, unit_id: None, institution_id: None, mobile: None, email: None };
    setup::staff_token(&world.client, &world.engine.db, world.engine.now_ms(), &account).await
}

/// The password of every demo unit admin.
const UNIT_ADMIN_PASSWORD: &str = "unit-password-2026";

/// Returns the login of the first admin of the demo unit with credit code `uscc`.
fn unit_admin_login(uscc: &str) -> String {
    format!("unit-{}", uscc.to_lowercase())
}

/// Registers the 12 units with their first admins; returns uscc → (unit id, admin token).
async fn register_units(world: &World, admin: &str) -> anyhow::Result<HashMap<String, (String, String)>> {
    let mut units = HashMap::new();
    for unit in data::units() {
        let login = unit_admin_login(&unit.uscc);
        let password = UNIT_ADMIN_PASSWORD;
        let unit_admin = setup::UnitAdmin { login: &login, password, display_name: &unit.contact_name, mobile: Some(&unit.contact_mobile) };
        setup::register_unit(&world.client, admin, &unit.uscc, &unit.name, &unit.region_code, &unit_admin).await?;
        let unit_id: String = sqlx::query_scalar("SELECT id FROM units WHERE uscc = $1").bind(&unit.uscc).fetch_one(&world.engine.db.pool).await?;
        let token = world.client.post("/api/auth/password-login", None, &json!({ "login": login, "password": password })).await?.expect("unit admin login")?;
        units.insert(unit.uscc.clone(), (unit_id, token["token"].as_str().unwrap_or_default().to_string()));
    }
    progress(&format!("已登记 {} 个单位", units.len()));
    Ok(units)
}

/// Each unit admin uploads the unit's roster; the first unit also uploads the xlsx and
/// GBK exports of its roster and a file of rows that must be rejected.
async fn import_rosters(world: &World, units: &HashMap<String, (String, String)>, tally: &mut Tally) -> anyhow::Result<()> {
    let mut uploads: Vec<(String, &'static str, Vec<u8>)> = Vec::new();
    for unit in data::units() {
        uploads.push((unit.uscc.clone(), "roster.csv", data::unit_roster_csv(&unit.uscc)));
    }
    let first = data::units()[0].uscc.clone();
    uploads.push((first.clone(), "roster.xlsx", data::ROSTER_XLSX.to_vec()));
    uploads.push((first.clone(), "roster-gbk.csv", data::ROSTER_GBK.to_vec()));
    uploads.push((first, "invalid-rows.csv", data::INVALID_ROWS.to_vec()));

    let names: HashMap<String, String> = data::units().into_iter().map(|unit| (unit.uscc, unit.name)).collect();
    for (uscc, file_name, bytes) in uploads {
        let (unit_id, token) = &units[&uscc];
        let reply = world.client.upload(&format!("/api/units/{unit_id}/roster?file_name={file_name}"), token, bytes).await?;
        let report = reply.expect("roster import")?;
        let rejected = report["rejected"].as_u64().unwrap_or(0) as usize;
        tally.rows_rejected += rejected;
        progress(&format!(
            "{} 名册 {file_name}（{}）：接受 {} 行，拒绝 {rejected} 行",
            names[&uscc],
            report["encoding_used"].as_str().unwrap_or("xlsx"),
            report["accepted"].as_u64().unwrap_or(0)
        ));
    }
    Ok(())
}

/// Registers the demo institution (kept on a rerun) and returns its credentials.
async fn register_institution(world: &World, admin: &str) -> anyhow::Result<Value> {
    let items = ["T", "R1", "R2", "R3", "N1", "N2"];
    setup::register_institution(&world.client, &world.engine.db, admin, "湖南特种设备作业人员培训中心（演示）", "91430100MA4L00001J", &items).await
}

/// Returns whether the operator already enrolled for the demo year, in an earlier run
/// against the same database; such an operator is left as that run left them.
async fn already_enrolled(world: &World, person: &Person) -> anyhow::Result<bool> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM enrollments e JOIN operators o ON o.id = e.operator_id WHERE o.mobile = $1 AND e.year = $2",
    )
    .bind(&person.operator.mobile)
    .bind(i64::from(YEAR))
    .fetch_one(&world.engine.db.pool)
    .await?;
    Ok(count > 0)
}

/// First login, info completion, enrollment and hand-off to the institution.
async fn enroll(world: &World, person: &mut Person, institution: &Value) -> anyhow::Result<()> {
    let (token, next) = login(world, person).await?;
    if next == "register" {
        let body = json!({ "name": person.operator.name, "id_number": person.operator.id_number });
        world.client.post("/api/operator/register", Some(&token), &body).await?.expect("registration")?;
    }
    if next != "home" {
        world.client.post("/api/operator/info", Some(&token), &json!({ "unit_uscc": person.operator.unit_uscc })).await?.expect("info completion")?;
    }
    let enrollment = world.client.post("/api/enrollments", Some(&token), &json!({ "year": YEAR, "item_code": person.operator.item_code })).await?.expect("enrollment")?;
    let enrollment_id = enrollment["id"].as_str().or_else(|| enrollment["enrollment"]["id"].as_str()).unwrap_or_default().to_string();
    let path = format!("/api/enrollments/{enrollment_id}/handoff");
    world.client.post(&path, Some(&token), &json!({ "institution_id": institution["id"] })).await?.expect("hand-off")?;
    person.token = Some(token);
    person.enrollment_id = Some(enrollment_id);
    Ok(())
}

/// Twenty courses, one session each on consecutive days from 6 January.
async fn study(world: &World, person: &Person, institution: &Value, courseware: &Courseware, tally: &mut Tally) -> anyhow::Result<()> {
    let Some(item) = courseware.item(&person.operator.item_code) else { return Ok(()) };
    for (index, course) in item.courses.iter().take(20).enumerate() {
        let start = beijing((YEAR, 1, 6), 9) + Duration::days(index as i64);
        let face_check = if index == 3 && person.flagged_session.is_some() { "failed" } else { "passed" };
        if report_session(&world.client, institution, world.now(), person, &course.code, start, i64::from(course.minutes), face_check, 1).await? {
            tally.sessions_reported += 1;
        }
    }
    Ok(())
}

/// Decides every open review case through the API: a study session as the operator's
/// plan sets (accepted, or its hours cleared), a sampled clean record accepted, and of
/// the flagged exams the first and every second one after it voided, the others accepted.
async fn decide_reviews(world: &World, people: &[Person], tally: &mut Tally) -> anyhow::Result<()> {
    // Sessions last 12 hours of the clock, so the reviewer logs in on the day of review.
    let reviewer = &staff_token(world, api::auth::Role::Reviewer, "demo-reviewer", "审核员").await?;
    let cases = world.client.get("/api/reviews?status=open&limit=500", Some(reviewer)).await?.expect("review queue")?;
    for case in cases["cases"].as_array().into_iter().flatten() {
        let enrollment = case["enrollment_id"].as_str().unwrap_or_default();
        let person = people.iter().find(|p| p.enrollment_id.as_deref() == Some(enrollment));
        let (decision, reason) = match (case["kind"].as_str(), case["outcome"].as_str()) {
            (_, Some("sample")) => ("accept", "抽查核对抓拍照片与作答记录，未见异常"),
            (Some("session"), _) if person.and_then(|p| p.flagged_session) == Some(false) => {
                ("clear_sessions", "人脸核验未通过且无法确认为本人，本次学习学时清除，请重新学习")
            }
            (Some("session"), _) => ("accept", "核对抓拍照片后确认为本人学习"),
            // The first flagged exam of the year and every second one after it are voided.
            _ => {
                tally.flagged_exams_decided += 1;
                if tally.flagged_exams_decided % 2 == 1 { ("void_score", "考试中多次切出考试画面，成绩作废") } else { ("accept", "切出画面系网络中断，核实后认可成绩") }
            }
        };
        let path = format!("/api/reviews/{}/decision", case["id"].as_str().unwrap_or_default());
        world.client.post(&path, Some(reviewer), &json!({ "decision": decision, "reason": reason })).await?.expect("review decision")?;
        tally.reviews_decided += 1;
    }
    Ok(())
}

/// Operators whose session was rejected study that course again, this time cleanly.
async fn restudy_rejected(world: &World, people: &[Person], institution: &Value, courseware: &Courseware, tally: &mut Tally) -> anyhow::Result<()> {
    for person in people.iter().filter(|p| p.flagged_session == Some(false)) {
        let Some(course) = courseware.item(&person.operator.item_code).and_then(|item| item.courses.get(3)) else { continue };
        let start = beijing((YEAR, 3, 1), 9);
        if report_session(&world.client, institution, world.now(), person, &course.code, start, i64::from(course.minutes), "passed", 2).await? {
            tally.sessions_reported += 1;
        }
    }
    Ok(())
}

async fn exam_day_one(world: &World, person: &mut Person, bank: &HashMap<String, domain::courseware::Question>, tally: &mut Tally) -> anyhow::Result<()> {
    let (token, _) = login(world, person).await?;
    person.token = Some(token);
    match person.plan {
        ExamPlan::Skip => Ok(()),
        ExamPlan::Pass => take_exam(world, person, bank, true, false, tally).await,
        ExamPlan::Flagged => take_exam(world, person, bank, true, true, tally).await,
        ExamPlan::FailOnce => take_exam(world, person, bank, false, false, tally).await,
        ExamPlan::FailTwice => {
            take_exam(world, person, bank, false, false, tally).await?;
            world.settle().await?;
            take_exam(world, person, bank, false, false, tally).await?;
            world.settle().await?;
            // A third start on the same Beijing day is refused.
            let path = format!("/api/enrollments/{}/exam/start", person.enrollment_id.as_deref().unwrap_or_default());
            let reply = world.client.post(&path, person.token.as_deref(), &json!({})).await?;
            if !reply.ok() {
                tally.attempts_refused += 1;
            }
            Ok(())
        }
    }
}

/// Starts an exam, answers it right or wrong, reports focus losses when `flag`, and submits.
async fn take_exam(world: &World, person: &Person, bank: &HashMap<String, domain::courseware::Question>, right: bool, flag: bool, tally: &mut Tally) -> anyhow::Result<()> {
    let token = person.token.as_deref();
    let enrollment_id = person.enrollment_id.as_deref().unwrap_or_default();
    // The consent screen comes first; agreeing again is acknowledged and changes nothing.
    let consent = json!({ "notice_version": api::proctoring::NOTICE_VERSION });
    world.client.post(&format!("/api/enrollments/{enrollment_id}/proctoring-consent"), token, &consent).await?.expect("proctoring consent")?;
    let path = format!("/api/enrollments/{enrollment_id}/exam/start");
    let reply = world.client.post(&path, token, &json!({})).await?;
    if !reply.ok() {
        progress(&format!("{} 未能开始考试：{}", people::mask(&person.operator.mobile), reply.body["message"].as_str().unwrap_or_default()));
        return Ok(());
    }
    let attempt = reply.body;
    let attempt_id = attempt["attempt_id"].as_str().unwrap_or_default().to_string();

    let evidence = if flag {
        json!({ "face_checks": [{ "at": "start", "result": "passed" }], "focus_loss": (0..7).map(|n| json!({ "seq": n })).collect::<Vec<_>>() })
    } else {
        json!({ "face_checks": [{ "at": "start", "result": "passed" }] })
    };
    world.client.post(&format!("/api/exams/{attempt_id}/evidence"), token, &evidence).await?.expect("exam evidence")?;

    // A person needs time to read and answer: 8 seconds a question, well above the
    // screening's fastest plausible pace, so only the planned cases are flagged.
    let questions = attempt["questions"].as_array().map_or(0, Vec::len) as i64;
    world.pass_time(Duration::seconds(8 * questions));
    let answers = answers::answer_paper(&attempt, bank, right);
    world.client.put(&format!("/api/exams/{attempt_id}/answers"), token, &json!({ "answers": answers })).await?.expect("saving answers")?;
    let result = world.client.post(&format!("/api/exams/{attempt_id}/submit"), token, &json!({})).await?.expect("submission")?;
    if result["passed"] != true {
        tally.exams_failed += 1;
    }
    Ok(())
}
