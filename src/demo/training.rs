//! The demo's internal training (内部培训): the association qualifies one unit, whose
//! admin submits a two-day training event with its attendance list, a lecture
//! recording sent in chunks and the teacher's credential, and a reviewer approves it.
//! The approval credits the attendees' courses through their annual workflows.

use std::collections::HashMap;

use reqwest::Method;
use rust_xlsxwriter::Workbook;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::people::Person;
use super::world::World;
use super::{YEAR, progress, staff_token};
use domain::courseware::Courseware;

/// Attendees of the demo's event at most.
const MAX_ATTENDEES: usize = 6;

/// Chunk size of the lecture upload: the smallest the API takes, so the demo's small
/// recording still goes up in several chunks.
const CHUNK_BYTES: usize = 64 * 1024;

/// Runs the event for the unit with the most enrolled operators of one item; returns
/// the number of attendees credited. Does nothing when no unit has two such operators,
/// as on a rerun, where every operator was enrolled before.
pub async fn internal_training(
    world: &World,
    units: &HashMap<String, (String, String)>,
    people: &[Person],
    courseware: &Courseware,
) -> anyhow::Result<usize> {
    let Some((uscc, item_code, attendees)) = largest_group(people) else { return Ok(0) };
    let Some(item) = courseware.item(&item_code) else { return Ok(0) };
    // Sessions last 12 hours of the clock, so staff and the unit admin log in again.
    let admin = staff_token(world, api::auth::Role::AssociationAdmin, "demo-admin", "协会管理员").await?;
    let (unit_id, _) = &units[&uscc];
    let unit_admin = &unit_admin_token(world, &uscc).await?;
    let courses: Vec<&str> = item.courses.iter().filter(|course| course.years.contains(&YEAR)).take(2).map(|course| course.code.as_str()).collect();

    // The association qualifies the unit, whose admin describes the event.
    let qualification = json!({ "qualification": "internal_training" });
    world.client.post(&format!("/api/units/{unit_id}/qualifications"), Some(&admin), &qualification).await?.expect("internal training qualification")?;
    let event = json!({
        "title": format!("{YEAR}年第一期内部安全培训（{item_code}）"),
        "year": YEAR,
        "item_code": item_code,
        "courses": courses,
        "starts_on": format!("{YEAR}-02-26"),
        "ends_on": format!("{YEAR}-02-27"),
        "location": "公司三楼培训室",
        "teachers": [{ "name": "张建国", "title": "高级工程师", "credential_no": "TJ-2019-0417" }],
    });
    let created = world.client.post("/api/training/events", Some(unit_admin), &event).await?.expect("training event")?;
    let event_id = created["id"].as_str().unwrap_or_default().to_string();

    // The three kinds of file, then the submission.
    upload(world, unit_admin, &event_id, "attendance", "签到表.xlsx", attendance_sheet(&attendees)?).await?;
    upload(world, unit_admin, &event_id, "lecture", "第一讲录像.mp4", lecture_recording(200 * 1024)).await?;
    upload(world, unit_admin, &event_id, "credential", "张建国教师资格证.pdf", b"%PDF-1.7\n% demo credential\n".to_vec()).await?;
    world.client.post(&format!("/api/training/events/{event_id}/submit"), Some(unit_admin), &json!({})).await?.expect("training event submission")?;

    // A reviewer approves it.
    let reviewer = staff_token(world, api::auth::Role::Reviewer, "demo-reviewer", "审核员").await?;
    let decision = json!({ "decision": "approve", "reason": "签到表、授课录像和教师证书齐全，同意认定学时" });
    let decided = world.client.post(&format!("/api/training/events/{event_id}/decision"), Some(&reviewer), &decision).await?.expect("training event decision")?;
    let credited = decided["effects"]["credited"].as_array().map_or(0, Vec::len);
    progress(&format!("内部培训 {}：{} 名参训人员，审核通过，{credited} 人获得学分", event["title"].as_str().unwrap_or_default(), attendees.len()));
    Ok(credited)
}

/// Logs in the first admin of the unit with credit code `uscc`, as registered by the demo.
async fn unit_admin_token(world: &World, uscc: &str) -> anyhow::Result<String> {
    let body = json!({ "login": super::unit_admin_login(uscc), "password": super::UNIT_ADMIN_PASSWORD });
    let reply = world.client.post("/api/auth/password-login", None, &body).await?.expect("unit admin login")?;
    Ok(reply["token"].as_str().unwrap_or_default().to_string())
}

/// Returns the unit and item with the most enrolled operators, with up to
/// [`MAX_ATTENDEES`] of them, when there are at least two.
fn largest_group(people: &[Person]) -> Option<(String, String, Vec<&Person>)> {
    let mut groups: HashMap<(String, String), Vec<&Person>> = HashMap::new();
    for person in people.iter().filter(|person| person.enrollment_id.is_some()) {
        groups.entry((person.operator.unit_uscc.clone(), person.operator.item_code.clone())).or_default().push(person);
    }
    // Sorted by size, then by key, so that the same seed picks the same group.
    let mut groups: Vec<_> = groups.into_iter().filter(|(_, members)| members.len() >= 2).collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let ((uscc, item_code), mut members) = groups.into_iter().next()?;
    members.truncate(MAX_ATTENDEES);
    Some((uscc, item_code, members))
}

/// Builds the attendance list as a unit would keep it: a title row, then 姓名 and
/// 身份证号 columns.
fn attendance_sheet(attendees: &[&Person]) -> anyhow::Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "内部培训签到表")?;
    sheet.write_string(1, 0, "姓名")?;
    sheet.write_string(1, 1, "身份证号")?;
    for (index, person) in attendees.iter().enumerate() {
        let row = 2 + index as u32;
        sheet.write_string(row, 0, &person.operator.name)?;
        sheet.write_string(row, 1, &person.operator.id_number)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// Returns a stand-in MP4 recording of `size` bytes: an `ftyp` box, which the upload's
/// type check reads, then filler.
fn lecture_recording(size: usize) -> Vec<u8> {
    let mut bytes = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41".to_vec();
    bytes.extend((0..size - bytes.len()).map(|n| (n % 251) as u8));
    bytes
}

/// Uploads one file through the resumable upload: declare, send each chunk, complete.
async fn upload(world: &World, token: &str, event_id: &str, purpose: &str, file_name: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
    let declared = json!({
        "purpose": purpose,
        "file_name": file_name,
        "size": bytes.len(),
        "sha256": hex::encode(Sha256::digest(&bytes)),
        "chunk_bytes": CHUNK_BYTES,
    });
    let started = world.client.post(&format!("/api/training/events/{event_id}/uploads"), Some(token), &declared).await?.expect("upload declaration")?;
    let upload_id = started["upload_id"].as_str().unwrap_or_default().to_string();
    let chunk_bytes = started["chunk_bytes"].as_u64().map_or(CHUNK_BYTES, |n| n as usize);
    for (index, chunk) in bytes.chunks(chunk_bytes).enumerate() {
        let path = format!("/api/training/uploads/{upload_id}/chunks/{index}");
        world.client.send_bytes(Method::PUT, &path, token, chunk.to_vec()).await?.expect("upload chunk")?;
    }
    world.client.post(&format!("/api/training/uploads/{upload_id}/complete"), Some(token), &json!({})).await?.expect("upload completion")
}
