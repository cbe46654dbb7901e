//! Internal training on each backend: the qualification, a training event with its
//! attendance list, lecture recording and teacher credential uploaded in chunks
//! (resumed after a cut-off chunk, checked by type and checksum), and the association's
//! decisions: request changes, approve (credits through the attendees' workflows, the
//! card at 20 credits, archive entries, the unit admin's notice) and reject.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{JobRunner, Reply, TestApp, app, correct_answers, id_number, march_5_10am_beijing, s3_stub, uscc};
use rust_xlsxwriter::Workbook;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use workflows::both_backends;
use workflows::db::Db;

const CHUNK: usize = 64 * 1024;

/// A unit with the qualification, its admin, a reviewer and two enrolled operators.
struct Setup {
    unit_admin: String,
    reviewer: String,
    operators: Vec<(String, String)>,
    operator_tokens: Vec<String>,
    id_numbers: Vec<String>,
}

async fn setup(app: &TestApp) -> Setup {
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L7777");
    let (unit_id, unit_admin) = app.create_unit(&admin, &unit, "电梯维保公司", "unit-t").await;
    let reply = app.post(&format!("/api/units/{unit_id}/qualifications"), Some(&admin), json!({ "qualification": "internal_training", "valid_until": "2026-12-31" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reviewer = app.account_token(api::auth::Role::Reviewer, "reviewer-t", None).await;
    let mut operators = Vec::new();
    let mut operator_tokens = Vec::new();
    let mut id_numbers = Vec::new();
    for (mobile, body) in [("13800000071", "43010219800101171"), ("13800000072", "43010219800101172")] {
        let number = id_number(body);
        let (token, operator_id, enrollment_id) = app.enrolled_operator(mobile, &number, &unit).await;
        operators.push((operator_id, enrollment_id));
        operator_tokens.push(token);
        id_numbers.push(number);
    }
    Setup { unit_admin, reviewer, operators, operator_tokens, id_numbers }
}

/// Returns the first `count` course codes of item T in 2026.
fn courses(app: &TestApp, count: usize) -> Vec<String> {
    let item = app.state.courseware.item("T").expect("item T has courseware");
    item.courses.iter().filter(|course| course.years.contains(&2026)).take(count).map(|course| course.code.clone()).collect()
}

fn event_form(courses: &[String]) -> Value {
    json!({
        "title": "2026年第一期电梯安全内部培训",
        "year": 2026,
        "item_code": "T",
        "courses": courses,
        "starts_on": "2026-03-02",
        "ends_on": "2026-03-03",
        "location": "公司三楼培训室",
        "teachers": [{ "name": "张工", "title": "高级工程师", "credential_no": "TJ-2020-0001" }],
    })
}

fn attendance_xlsx(rows: &[[&str; 3]]) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "内部培训签到表").unwrap();
    for (column, header) in ["序号", "姓名", "身份证号"].iter().enumerate() {
        sheet.write_string(1, column as u16, *header).unwrap();
    }
    for (row, cells) in rows.iter().enumerate() {
        for (column, cell) in cells.iter().enumerate() {
            sheet.write_string(row as u32 + 2, column as u16, *cell).unwrap();
        }
    }
    workbook.save_to_buffer().unwrap()
}

/// Returns a fake MP4 recording of `size` bytes: an `ftyp` box, then a byte pattern.
fn mp4(size: usize) -> Vec<u8> {
    let mut bytes = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41".to_vec();
    bytes.extend((0..size - bytes.len()).map(|i| (i % 251) as u8));
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn put_chunk(app: &TestApp, token: &str, upload_id: &str, index: usize, bytes: &[u8], claimed_sha256: Option<&str>) -> Reply {
    let mut builder = Request::builder()
        .method(Method::PUT)
        .uri(format!("/api/training/uploads/{upload_id}/chunks/{index}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream");
    if let Some(claimed) = claimed_sha256 {
        builder = builder.header("x-chunk-sha256", claimed);
    }
    app.send(builder.body(Body::from(bytes.to_vec())).unwrap()).await
}

/// Uploads `bytes` in 64 KiB chunks and completes the upload; returns the completion reply.
async fn upload_whole(app: &TestApp, token: &str, event_id: &str, purpose: &str, file_name: &str, bytes: &[u8]) -> Reply {
    let reply = app.post(&format!("/api/training/events/{event_id}/uploads"), Some(token), json!({ "purpose": purpose, "file_name": file_name, "size": bytes.len(), "sha256": sha256(bytes), "chunk_bytes": CHUNK })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let upload_id = reply.body["upload_id"].as_str().unwrap().to_string();
    for (index, chunk) in bytes.chunks(CHUNK).enumerate() {
        let reply = put_chunk(app, token, &upload_id, index, chunk, Some(&sha256(chunk))).await;
        assert_eq!(reply.status, StatusCode::OK, "chunk {index}: {:?}", reply.body);
    }
    app.post(&format!("/api/training/uploads/{upload_id}/complete"), Some(token), json!({})).await
}

/// Creates an event with `course_count` courses and uploads all three kinds of file;
/// returns the event id.
async fn ready_event(app: &TestApp, setup: &Setup, course_count: usize) -> String {
    let reply = app.post("/api/training/events", Some(&setup.unit_admin), event_form(&courses(app, course_count))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let event_id = reply.body["id"].as_str().unwrap().to_string();
    let list = attendance_xlsx(&[["1", "王小明", &setup.id_numbers[0]], ["2", "王小明", &setup.id_numbers[1]]]);
    let reply = upload_whole(app, &setup.unit_admin, &event_id, "attendance", "签到表.xlsx", &list).await;
    assert_eq!(reply.body["attendance"]["accepted"], 2, "{:?}", reply.body);
    let reply = upload_whole(app, &setup.unit_admin, &event_id, "lecture", "第一讲.mp4", &mp4(100 * 1024)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = upload_whole(app, &setup.unit_admin, &event_id, "credential", "张工证书.pdf", b"%PDF-1.7\n1 0 obj\n").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    event_id
}

async fn context_int(app: &TestApp, enrollment_id: &str, name: &str) -> i64 {
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(enrollment_id).fetch_one(&app.db.pool).await.unwrap();
    let instance = app.state.engine.instance(&instance_id).await.unwrap();
    instance.context.get(name).and_then(Value::as_i64).unwrap_or(-1)
}

async fn annual_state(app: &TestApp, enrollment_id: &str) -> String {
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(enrollment_id).fetch_one(&app.db.pool).await.unwrap();
    app.instance_state(&instance_id).await
}

/// Counts the `training_decided` notifications queued for the event's instance.
async fn unit_notices(app: &TestApp, event_id: &str) -> usize {
    let instance_id: String = sqlx::query_scalar("SELECT instance_id FROM training_events WHERE id = $1").bind(event_id).fetch_one(&app.db.pool).await.unwrap();
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM wf_outbox WHERE kind = 'notify' AND instance_id = $1").bind(&instance_id).fetch_all(&app.db.pool).await.unwrap();
    actions.iter().filter(|text| text.contains("training_decided")).count()
}

both_backends!(training_event_rules, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L7788");
    let (unit_id, unit_admin) = app.create_unit(&admin, &unit, "起重机械公司", "unit-u").await;
    let form = event_form(&courses(&app, 2));

    // No qualification, then an expired grant date, then a revoked one.
    let reply = app.post("/api/training/events", Some(&unit_admin), form.clone()).await;
    assert_eq!(reply.code(), "training.not_qualified");
    let reply = app.post(&format!("/api/units/{unit_id}/qualifications"), Some(&admin), json!({ "qualification": "internal_training", "valid_until": "2026-03-01" })).await;
    assert_eq!(reply.code(), "training.valid_until_past");
    let reply = app.post(&format!("/api/units/{unit_id}/qualifications"), Some(&unit_admin), json!({ "qualification": "internal_training" })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "a unit cannot qualify itself");
    let reply = app.post(&format!("/api/units/{unit_id}/qualifications"), Some(&admin), json!({ "qualification": "internal_training" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);

    // The form's fields.
    let mut future = form.clone();
    future["ends_on"] = json!("2026-03-06");
    assert_eq!(app.post("/api/training/events", Some(&unit_admin), future).await.code(), "training.dates_future");
    let mut unknown = form.clone();
    unknown["courses"] = json!(["T-99"]);
    let reply = app.post("/api/training/events", Some(&unit_admin), unknown).await;
    assert_eq!(reply.code(), "training.course_invalid");
    assert!(reply.message().contains("T-99"), "{}", reply.message());
    let mut repeated = form.clone();
    repeated["courses"] = json!([courses(&app, 1)[0], courses(&app, 1)[0]]);
    assert_eq!(app.post("/api/training/events", Some(&unit_admin), repeated).await.code(), "training.course_repeated");
    let mut last_year = form.clone();
    last_year["year"] = json!(2025);
    assert_eq!(app.post("/api/training/events", Some(&unit_admin), last_year).await.code(), "training.year_invalid");
    let mut no_teacher = form.clone();
    no_teacher["teachers"] = json!([]);
    assert_eq!(app.post("/api/training/events", Some(&unit_admin), no_teacher).await.code(), "training.teachers_required");

    // A draft without files cannot be submitted.
    let reply = app.post("/api/training/events", Some(&unit_admin), form.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "draft");
    let event_id = reply.body["id"].as_str().unwrap().to_string();
    let reply = app.post(&format!("/api/training/events/{event_id}/submit"), Some(&unit_admin), json!({})).await;
    assert_eq!(reply.code(), "training.attendance_required");

    // Another unit's admin gets neither the event nor its listing.
    let (_, other_admin) = app.create_unit(&admin, &uscc("91430100MA4L7799"), "另一家公司", "unit-v").await;
    assert_eq!(app.get(&format!("/api/training/events/{event_id}"), Some(&other_admin)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/training/events", Some(&other_admin)).await.body["events"].as_array().unwrap().len(), 0);

    // Revoking the qualification stops new events.
    let reply = app.call(Method::DELETE, &format!("/api/units/{unit_id}/qualifications/internal_training"), Some(&admin), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(app.post("/api/training/events", Some(&unit_admin), form).await.code(), "training.not_qualified");
});

both_backends!(upload_resumes_and_checks, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let setup = setup(&app).await;
    let reply = app.post("/api/training/events", Some(&setup.unit_admin), event_form(&courses(&app, 2))).await;
    let event_id = reply.body["id"].as_str().unwrap().to_string();
    let uploads = format!("/api/training/events/{event_id}/uploads");

    // Declared size, purpose and checksum are checked before any byte arrives.
    let video = mp4(200 * 1024);
    let declare = |purpose: &str, size: usize| json!({ "purpose": purpose, "file_name": "第一讲.mp4", "size": size, "sha256": sha256(&video), "chunk_bytes": CHUNK });
    assert_eq!(app.post(&uploads, Some(&setup.unit_admin), declare("poster", video.len())).await.code(), "upload.purpose_invalid");
    assert_eq!(app.post(&uploads, Some(&setup.unit_admin), declare("credential", 11 * 1024 * 1024)).await.code(), "upload.size_invalid");
    let mut bad_hash = declare("lecture", video.len());
    bad_hash["sha256"] = json!("abc");
    assert_eq!(app.post(&uploads, Some(&setup.unit_admin), bad_hash).await.code(), "upload.sha256_invalid");

    // The type is read from the first chunk's bytes, not from the file name.
    let reply = app.post(&uploads, Some(&setup.unit_admin), json!({ "purpose": "lecture", "file_name": "第二讲.mp4", "size": 9, "sha256": sha256(b"%PDF-1.7\n"), "chunk_bytes": CHUNK })).await;
    let pdf_upload = reply.body["upload_id"].as_str().unwrap().to_string();
    let reply = put_chunk(&app, &setup.unit_admin, &pdf_upload, 0, b"%PDF-1.7\n", None).await;
    assert_eq!(reply.code(), "upload.type_invalid");

    // 200 KiB in 64 KiB chunks: 4 chunks, the last 8 KiB.
    let reply = app.post(&uploads, Some(&setup.unit_admin), declare("lecture", video.len())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["chunks"], 4);
    let upload_id = reply.body["upload_id"].as_str().unwrap().to_string();
    let chunks: Vec<&[u8]> = video.chunks(CHUNK).collect();
    assert_eq!(put_chunk(&app, &setup.unit_admin, &upload_id, 0, chunks[0], None).await.status, StatusCode::OK);
    assert_eq!(put_chunk(&app, &setup.unit_admin, &upload_id, 2, chunks[2], None).await.status, StatusCode::OK);

    // The connection drops halfway through chunk 1: nothing of it is kept.
    let reply = put_chunk(&app, &setup.unit_admin, &upload_id, 1, &chunks[1][..CHUNK / 2], None).await;
    assert_eq!(reply.code(), "upload.chunk_size");
    let reply = put_chunk(&app, &setup.unit_admin, &upload_id, 4, chunks[3], None).await;
    assert_eq!(reply.code(), "upload.chunk_index_invalid");
    let reply = put_chunk(&app, &setup.unit_admin, &upload_id, 1, chunks[1], Some(&sha256(chunks[0]))).await;
    assert_eq!(reply.code(), "upload.chunk_checksum");

    // The client reads what arrived and resumes with the missing chunks.
    let status = app.get(&format!("/api/training/uploads/{upload_id}"), Some(&setup.unit_admin)).await;
    assert_eq!(status.body["missing"], json!([1, 3]), "{:?}", status.body);
    let reply = app.post(&format!("/api/training/uploads/{upload_id}/complete"), Some(&setup.unit_admin), json!({})).await;
    assert_eq!(reply.code(), "upload.chunks_missing");
    assert_eq!(put_chunk(&app, &setup.unit_admin, &upload_id, 1, chunks[1], Some(&sha256(chunks[1]))).await.status, StatusCode::OK);
    let reply = put_chunk(&app, &setup.unit_admin, &upload_id, 3, chunks[3], None).await;
    assert_eq!(reply.body["missing"], json!([]));
    let reply = app.post(&format!("/api/training/uploads/{upload_id}/complete"), Some(&setup.unit_admin), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["content_type"], "video/mp4");
    assert_eq!(reply.body["status"], "complete");

    // The chunks are objects in the store, and the download returns the whole file.
    let stored = std::fs::read(app.objects_dir.path.join(format!("uploads/{upload_id}/000003"))).unwrap();
    assert_eq!(stored, chunks[3]);
    let download = Request::builder()
        .uri(format!("/api/training/uploads/{upload_id}/content"))
        .header("authorization", format!("Bearer {}", setup.reviewer))
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), download).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert_eq!(body.as_ref(), video.as_slice());

    // A file whose chunks do not add up to the declared checksum is not accepted.
    let reply = app.post(&uploads, Some(&setup.unit_admin), json!({ "purpose": "credential", "file_name": "证书.pdf", "size": 12, "sha256": sha256(b"%PDF-1.7\nxyz"), "chunk_bytes": CHUNK })).await;
    let wrong = reply.body["upload_id"].as_str().unwrap().to_string();
    assert_eq!(put_chunk(&app, &setup.unit_admin, &wrong, 0, b"%PDF-1.7\nabc", None).await.status, StatusCode::OK);
    let reply = app.post(&format!("/api/training/uploads/{wrong}/complete"), Some(&setup.unit_admin), json!({})).await;
    assert_eq!(reply.code(), "upload.checksum_mismatch");

    // The attendance list: rows that match count, and each other row carries its reason.
    let other = id_number("43010219800101179");
    let list = attendance_xlsx(&[
        ["1", "王小明", &setup.id_numbers[0]],
        ["2", "王小明", "430102198001011"],
        ["3", "李四", &setup.id_numbers[1]],
        ["4", "王小明", &other],
        ["5", "王小明", &setup.id_numbers[0]],
        ["6", "王小明", &setup.id_numbers[1]],
    ]);
    let reply = upload_whole(&app, &setup.unit_admin, &event_id, "attendance", "签到表.xlsx", &list).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let rows = &reply.body["attendance"]["rows"];
    assert_eq!(reply.body["attendance"]["accepted"], 2);
    assert_eq!(rows[0]["outcome"], "accepted");
    assert_eq!(rows[1]["code"], "training.row_id_number_invalid");
    assert_eq!(rows[2]["code"], "training.row_name_mismatch");
    assert_eq!(rows[3]["code"], "training.row_not_in_unit");
    assert_eq!(rows[4]["code"], "training.row_repeated");
    assert!(rows[1]["message"].as_str().unwrap().contains("第 4 行"), "{}", rows[1]["message"]);
    let reply = upload_whole(&app, &setup.unit_admin, &event_id, "attendance", "签到表.xlsx", b"PK\x03\x04 not a workbook").await;
    assert_eq!(reply.code(), "training.attendance_unreadable");
    let detail = app.get(&format!("/api/training/events/{event_id}"), Some(&setup.unit_admin)).await;
    assert_eq!(detail.body["attendees"].as_array().unwrap().len(), 2, "an unreadable list leaves the earlier one");
});

both_backends!(training_approval_credits_attendees, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let setup = setup(&app).await;
    let runner: JobRunner = app.job_runner();
    let event_id = ready_event(&app, &setup, 20).await;
    let event_path = format!("/api/training/events/{event_id}");

    let reply = app.post(&format!("{event_path}/submit"), Some(&setup.unit_admin), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "submitted");
    assert_eq!(app.put_json(&event_path, &setup.unit_admin, event_form(&courses(&app, 20))).await.code(), "training.not_editable");
    let queue = app.get("/api/training/events", Some(&setup.reviewer)).await;
    assert_eq!(queue.body["events"][0]["id"], event_id.as_str());
    assert_eq!(queue.body["events"][0]["attendees"], 2);

    // Changes requested: a reason is required, the unit is notified, edits and resubmits.
    let reply = app.post(&format!("{event_path}/decision"), Some(&setup.reviewer), json!({ "decision": "request_changes" })).await;
    assert_eq!(reply.code(), "training.reason_required");
    let reply = app.post(&format!("{event_path}/decision"), Some(&setup.unit_admin), json!({ "decision": "approve", "reason": "自行通过" })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app.post(&format!("{event_path}/decision"), Some(&setup.reviewer), json!({ "decision": "request_changes", "reason": "请补充授课教师职称证明" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "changes_requested");
    assert_eq!(unit_notices(&app, &event_id).await, 1);
    let instance_id = reply.body["instance_id"].as_str().unwrap().to_string();
    assert_eq!(app.instance_state(&instance_id).await, "changes_requested");
    let mut edited = event_form(&courses(&app, 20));
    edited["teachers"] = json!([{ "name": "张工", "title": "高级工程师", "credential_no": "TJ-2020-0001" }, { "name": "李工", "title": "工程师", "credential_no": "TJ-2021-0002" }]);
    assert_eq!(app.put_json(&event_path, &setup.unit_admin, edited).await.status, StatusCode::OK);
    assert_eq!(app.post(&format!("{event_path}/submit"), Some(&setup.unit_admin), json!({})).await.status, StatusCode::OK);
    assert_eq!(app.instance_state(&instance_id).await, "submitted");

    // Approval: 20 credits each through the annual workflow, which issues the card.
    let reply = app.post(&format!("{event_path}/decision"), Some(&setup.reviewer), json!({ "decision": "approve", "reason": "材料齐全，签到属实" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "approved");
    assert_eq!(reply.body["effects"]["credited"].as_array().unwrap().len(), 2);
    assert_eq!(app.instance_state(&instance_id).await, "approved");
    assert_eq!(unit_notices(&app, &event_id).await, 2);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_events").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(left, 0, "the decision's workflow events were delivered after its commit");
    let ran = app.run_due(&runner).await;
    assert!(ran.iter().filter(|name| *name == "issue_card").count() == 2, "{ran:?}");
    for (operator_id, enrollment_id) in &setup.operators {
        let credits = app.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL AND attempt_id LIKE 'training:%'", enrollment_id).await;
        assert_eq!(credits, 20);
        assert_eq!(context_int(&app, enrollment_id, "credits").await, 20);
        assert_eq!(context_int(&app, enrollment_id, "completed_courses").await, 20);
        assert_eq!(annual_state(&app, enrollment_id).await, "card_issued");
        assert_eq!(app.count("SELECT COUNT(*) FROM cards WHERE operator_id = $1 AND revoked_at IS NULL", operator_id).await, 1);
        let training = app.count("SELECT COUNT(*) FROM archive_entries WHERE operator_id = $1 AND archive = 'training' AND kind = 'training_event'", operator_id).await;
        assert_eq!(training, 1);
        let credit = app.count("SELECT COUNT(*) FROM archive_entries WHERE operator_id = $1 AND archive = 'continuing_education' AND kind = 'credit'", operator_id).await;
        assert_eq!(credit, 1);
    }
    let archive = app.get(&format!("/api/archives/{}?archive=training", setup.operators[0].0), Some(&setup.reviewer)).await;
    assert_eq!(archive.body["chain_intact"], true, "{:?}", archive.body);

    // A decided event takes no second decision and no more edits or files.
    let reply = app.post(&format!("{event_path}/decision"), Some(&setup.reviewer), json!({ "decision": "reject", "reason": "重复" })).await;
    assert_eq!(reply.code(), "training.not_submitted");
    let reply = app.post(&format!("{event_path}/uploads"), Some(&setup.unit_admin), json!({ "purpose": "lecture", "file_name": "x.mp4", "size": 100, "sha256": sha256(b"x"), "chunk_bytes": CHUNK })).await;
    assert_eq!(reply.code(), "training.not_editable");
    let detail = app.get(&event_path, Some(&setup.unit_admin)).await;
    assert_eq!(detail.body["decisions"].as_array().unwrap().len(), 2);
});

both_backends!(training_credits_survive_study_review, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let setup = setup(&app).await;
    let event_id = ready_event(&app, &setup, 3).await;
    let event_path = format!("/api/training/events/{event_id}");
    app.post(&format!("{event_path}/submit"), Some(&setup.unit_admin), json!({})).await;
    let reply = app.post(&format!("{event_path}/decision"), Some(&setup.reviewer), json!({ "decision": "approve", "reason": "签到属实" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let (_, enrollment_id) = &setup.operators[0];
    assert_eq!(context_int(&app, enrollment_id, "credits").await, 3);
    assert_eq!(annual_state(&app, enrollment_id).await, "studying");

    // The completed courses the screening job reports include the training's, so the
    // count never falls below the credits.
    let enrollment = workers::records::enrollment_of_instance(&app.db.pool, &{
        let id: String = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(enrollment_id).fetch_one(&app.db.pool).await.unwrap();
        id
    })
    .await
    .unwrap()
    .unwrap();
    let completed = workers::records::completed_courses(&app.db.pool, &enrollment).await.unwrap();
    assert_eq!(completed, courses(&app, 3));
});

both_backends!(training_rejection_archived, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let setup = setup(&app).await;
    let event_id = ready_event(&app, &setup, 2).await;
    let event_path = format!("/api/training/events/{event_id}");
    app.post(&format!("{event_path}/submit"), Some(&setup.unit_admin), json!({})).await;
    let reply = app.post(&format!("{event_path}/decision"), Some(&setup.reviewer), json!({ "decision": "reject", "reason": "签到表与授课录像人数明显不符" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "rejected");
    assert_eq!(unit_notices(&app, &event_id).await, 1);
    for (operator_id, enrollment_id) in &setup.operators {
        assert_eq!(app.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1", enrollment_id).await, 0);
        assert_eq!(annual_state(&app, enrollment_id).await, "enrolled");
        let entries: Vec<String> = sqlx::query_scalar("SELECT body FROM archive_entries WHERE operator_id = $1 AND archive = 'training'").bind(operator_id).fetch_all(&app.db.pool).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].contains("\"decision\":\"reject\""), "{}", entries[0]);
    }
    assert_eq!(app.post(&format!("{event_path}/submit"), Some(&setup.unit_admin), json!({})).await.code(), "training.not_editable");
});

both_backends!(training_files_in_s3_store, |db: Db| async move {
    let stub = s3_stub::start().await;
    let store = workers::object_store::S3Store::new(stub.config(s3_stub::SECRET_ACCESS_KEY)).unwrap();
    let mut app = app(db, march_5_10am_beijing()).await;
    app.state = app.state.clone().with_objects(Arc::new(store));
    app.router = api::router(app.state.clone());
    let setup = setup(&app).await;
    let event_id = ready_event(&app, &setup, 2).await;

    // Every chunk went to the bucket, signed; none landed in the local directory.
    let detail = app.get(&format!("/api/training/events/{event_id}"), Some(&setup.reviewer)).await;
    let lecture = detail.body["files"].as_array().unwrap().iter().find(|file| file["purpose"] == "lecture").unwrap().clone();
    let upload_id = lecture["upload_id"].as_str().unwrap();
    let first = stub.object(&format!("uploads/{upload_id}/000000")).expect("chunk 0 is in the bucket");
    assert_eq!(first.len(), CHUNK);
    assert_eq!(stub.state.rejected.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(!app.objects_dir.path.join("uploads").exists());
});

both_backends!(training_credit_waits_for_exam, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let setup = setup(&app).await;
    let runner = app.job_runner();
    let (operator_id, enrollment_id) = setup.operators[0].clone();
    let token = setup.operator_tokens[0].clone();

    // The operator studies two courses the event does not cover and starts the exam.
    let institution = app.handed_off(&token, &enrollment_id).await;
    let day_before = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 4, 1, 0, 0).unwrap();
    let studied = ["T-21", "T-22"];
    for (index, course) in studied.iter().enumerate() {
        let reply = app.report_session(&institution, &enrollment_id, &format!("s-{course}"), course, day_before + chrono::Duration::hours(index as i64 * 2), 90).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    app.clear_sessions(&enrollment_id, 2).await;
    let started = app.start_exam(&token, &enrollment_id).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let attempt_id = started.body["attempt_id"].as_str().unwrap().to_string();
    assert_eq!(annual_state(&app, &enrollment_id).await, "exam");

    // Approval during the exam: the credits are stored, the workflow event waits.
    let event_id = ready_event(&app, &setup, 3).await;
    app.post(&format!("/api/training/events/{event_id}/submit"), Some(&setup.unit_admin), json!({})).await;
    let reply = app.post(&format!("/api/training/events/{event_id}/decision"), Some(&setup.reviewer), json!({ "decision": "approve", "reason": "签到属实" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(annual_state(&app, &enrollment_id).await, "exam");
    assert_eq!(context_int(&app, &enrollment_id, "credits").await, 0, "the count waits for the exam");

    // The exam passes and awards its two credits. The waiting training count (3) is
    // older than the count after the exam (5), so it changes nothing.
    let answers = correct_answers(&app, &attempt_id).await;
    let saved = app.call(Method::PUT, &format!("/api/exams/{attempt_id}/answers"), Some(&token), Some(json!({ "answers": answers }))).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    app.clock.advance(chrono::Duration::minutes(20));
    let result = app.post(&format!("/api/exams/{attempt_id}/submit"), Some(&token), json!({})).await;
    assert_eq!(result.body["passed"], true, "{:?}", result.body);
    let ran = app.run_due(&runner).await;
    let review: String = sqlx::query_scalar("SELECT review_status FROM exam_attempts WHERE id = $1").bind(&attempt_id).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(review, "accepted", "jobs run: {ran:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1 AND withdrawn_at IS NULL", &enrollment_id).await, 5, "jobs run: {ran:?}, state {}", annual_state(&app, &enrollment_id).await);
    assert_eq!(annual_state(&app, &enrollment_id).await, "studying");
    assert_eq!(context_int(&app, &enrollment_id, "credits").await, 5);
    assert_eq!(context_int(&app, &enrollment_id, "completed_courses").await, 5);
    let entries = app.count("SELECT COUNT(*) FROM archive_entries WHERE operator_id = $1 AND kind = 'credit'", &operator_id).await;
    assert_eq!(entries, 2, "one credit entry for the training, one for the exam");
});
