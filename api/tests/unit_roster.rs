//! Roster import in two steps, through the real router on SQLite and PostgreSQL: the
//! preview writes nothing, the confirmed import writes the good rows and reports the
//! bad ones, a large roster reports its progress while it runs, and an import cut off
//! by a restart resumes after its last written row.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Reply, TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::{Value, json};
use workflows::both_backends;
use workflows::db::Db;

const GBK_ROSTER: &[u8] = include_bytes!("data/roster-gbk.csv");

/// Sends `file` to the preview route of `unit_id` as a raw body named `file_name`.
async fn preview(app: &TestApp, token: &str, unit_id: &str, file_name: &str, file: Vec<u8>) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_id}/roster/preview?file_name={file_name}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/csv")
        .body(Body::from(file))
        .unwrap();
    app.send(request).await
}

/// Polls the import until it leaves `running`; returns the last status and every
/// `done_rows` value seen.
async fn wait_for_import(app: &TestApp, token: &str, unit_id: &str, import_id: &str) -> (Value, Vec<i64>) {
    let mut seen = Vec::new();
    for _ in 0..3000 {
        let reply = app.get(&format!("/api/units/{unit_id}/roster/imports/{import_id}"), Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        seen.push(reply.body["done_rows"].as_i64().unwrap());
        if reply.body["status"] != "running" {
            return (reply.body, seen);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import {import_id} still running after 60 s; done_rows seen: {seen:?}");
}

/// Characters that make up the given names of generated rosters.
const GIVEN: [char; 10] = ['明', '华', '强', '伟', '芳', '娜', '军', '杰', '静', '丽'];

fn changes(body: &Value) -> Vec<String> {
    body["rows"].as_array().unwrap().iter().map(|row| row["change"].as_str().unwrap().to_string()).collect()
}

both_backends!(gbk_preview_writes_nothing, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let (unit_id, unit_admin) = app.create_unit(&admin, &uscc("91430100MA4R0001"), "预览电梯公司", "preview-admin").await;

    let reply = preview(&app, &unit_admin, &unit_id, "roster-gbk.csv", GBK_ROSTER.to_vec()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["encoding_used"], "GBK");
    assert_eq!(reply.body["total_rows"], 8);
    assert_eq!(changes(&reply.body), vec!["new"; 8]);
    assert_eq!(reply.body["changes"]["new"], 8);
    assert_eq!(reply.body["rows"][0]["name"], "陈超", "GBK names decode in the preview");
    assert!(reply.body["notices"][0]["message"].as_str().unwrap().contains("GBK"), "{}", reply.body["notices"]);
    let masked = reply.body["rows"][0]["id_number_masked"].as_str().unwrap();
    assert!(!masked.contains("430302198302277431"), "the preview masks ID numbers: {masked}");

    // Nothing is written: no operator, period, item or registration instance.
    for table in ["operators", "affiliations", "operator_items", "wf_instances"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(count, 0, "{table} after a preview");
    }
    let import_id = reply.body["import_id"].as_str().unwrap();
    let status = app.get(&format!("/api/units/{unit_id}/roster/imports/{import_id}"), Some(&unit_admin)).await;
    assert_eq!(status.body["status"], "previewed");
    assert_eq!(status.body["done_rows"], 0);

    // The confirmed import writes the same eight people with the same names.
    let reply = app.post(&format!("/api/units/{unit_id}/roster/imports/{import_id}/confirm"), Some(&unit_admin), json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let (done, _) = wait_for_import(&app, &unit_admin, &unit_id, import_id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["accepted"], 8);
    assert_eq!(changes(&done), vec!["new"; 8]);
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM operators WHERE unit_id = $1 ORDER BY mobile").bind(&unit_id).fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(names.len(), 8);
    assert!(names.contains(&"陈超".to_string()), "{names:?}");
    assert!(names.contains(&"田春梅".to_string()), "{names:?}");
});

both_backends!(confirmed_import_keeps_good_rows, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let (unit_id, unit_admin) = app.create_unit(&admin, &uscc("91430100MA4R0002"), "确认电梯公司", "confirm-admin").await;
    let (_, other_admin) = app.create_unit(&admin, &uscc("91430100MA4R0003"), "别家电梯公司", "other-admin").await;

    // Someone registered with mobile 13700000003 under another ID number.
    let token = app.login_token("13700000003").await;
    let reply = app.post("/api/operator/register", Some(&token), json!({ "name": "赵敏", "id_number": id_number("43010219900101003") })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);

    let good_1 = id_number("43010219800101001");
    let good_2 = id_number("43010219800101002");
    let good_3 = id_number("43010219800101004");
    let bad_check = format!("{}{}", &good_1[..17], if good_1.ends_with('0') { '1' } else { '0' });
    let csv = format!(
        "姓名,身份证号码,手机号码,作业项目代号\n张一,{good_1},13700000001,T\n李二,{bad_check},13700000002,T\n王三,{good_2},13700000003,T\n钱四,{good_3},13700000004,T\n"
    );

    // The preview names the bad rows' column and the fix, and writes nothing.
    let reply = preview(&app, &unit_admin, &unit_id, "roster.csv", csv.clone().into_bytes()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(changes(&reply.body), vec!["new", "error", "error", "new"]);
    let checksum_row = &reply.body["rows"][1];
    assert_eq!(checksum_row["line"], 3);
    assert_eq!(checksum_row["field"], "id_number");
    assert!(checksum_row["message"].as_str().unwrap().contains("身份证号码"), "{checksum_row}");
    let mobile_row = &reply.body["rows"][2];
    assert_eq!(mobile_row["field"], "mobile");
    assert_eq!(mobile_row["code"], "roster_import.mobile_other_person");
    assert!(mobile_row["message"].as_str().unwrap().contains("手机号"), "{mobile_row}");
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, 0);
    let import_id = reply.body["import_id"].as_str().unwrap().to_string();

    // Another unit's admin can neither read nor confirm it.
    let foreign = app.get(&format!("/api/units/{unit_id}/roster/imports/{import_id}"), Some(&other_admin)).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let foreign = app.post(&format!("/api/units/{unit_id}/roster/imports/{import_id}/confirm"), Some(&other_admin), json!({})).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    // The import writes the two good rows; the bad rows write nothing at all.
    let reply = app.post(&format!("/api/units/{unit_id}/roster/imports/{import_id}/confirm"), Some(&unit_admin), json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let (done, _) = wait_for_import(&app, &unit_admin, &unit_id, &import_id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["accepted"], 2);
    assert_eq!(done["rejected"], 2);
    assert_eq!(changes(&done), vec!["new", "error", "error", "new"]);
    assert!(done["rows"][2]["message"].as_str().unwrap().contains("手机号"), "{}", done["rows"][2]);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliations WHERE unit_id = $1", &unit_id).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE name = $1", "李二").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE name = $1", "王三").await, 0);
    let kept: (String, Option<String>) = sqlx::query_as("SELECT name, unit_id FROM operators WHERE mobile = '13700000003'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(kept, ("赵敏".to_string(), None), "the mobile's owner is untouched");

    // A finished import cannot be confirmed twice.
    let again = app.post(&format!("/api/units/{unit_id}/roster/imports/{import_id}/confirm"), Some(&unit_admin), json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "roster_import.not_confirmable");

    // A second file: the same person unchanged, a new item updated.
    let csv = format!("姓名,身份证号码,手机号码,作业项目代号\n张一,{good_1},13700000001,T\n钱四,{good_3},13700000004,N1\n");
    let reply = preview(&app, &unit_admin, &unit_id, "again.csv", csv.into_bytes()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(changes(&reply.body), vec!["unchanged", "updated"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM operator_items WHERE item_code = $1", "N1").await, 0, "the preview adds no item");
});

both_backends!(large_roster_reports_progress, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let (unit_id, unit_admin) = app.create_unit(&admin, &uscc("91430100MA4R0004"), "大型电梯集团", "large-admin").await;

    // 5,000 distinct people: birth days 1 to 6 January 1980, sequence 100 to 999.
    const ROWS: usize = 5000;
    let mut csv = String::from("姓名,身份证号码,手机号码,作业项目代号\n");
    for index in 0..ROWS {
        let body = format!("43010219800{}{:02}{:03}", 1, 1 + index / 900, 100 + index % 900);
        let name = format!("王{}{}", GIVEN[index % 10], GIVEN[(index / 10) % 10]);
        csv.push_str(&format!("{name},{},139{:08},T\n", id_number(&body), index));
    }

    let reply = preview(&app, &unit_admin, &unit_id, "large.csv", csv.into_bytes()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body["rows"][0]);
    assert_eq!(reply.body["total_rows"], ROWS);
    assert_eq!(reply.body["changes"]["new"], ROWS, "{}", reply.body["changes"]);
    let import_id = reply.body["import_id"].as_str().unwrap().to_string();

    let reply = app.post(&format!("/api/units/{unit_id}/roster/imports/{import_id}/confirm"), Some(&unit_admin), json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["total_rows"], ROWS);
    let (done, seen) = wait_for_import(&app, &unit_admin, &unit_id, &import_id).await;
    assert_eq!(done["status"], "done", "{}", done["error"]);
    assert_eq!(done["done_rows"], ROWS);
    assert_eq!(done["accepted"], ROWS);
    assert!(seen.windows(2).all(|pair| pair[0] <= pair[1]), "progress never goes back: {seen:?}");
    assert!(seen.iter().any(|done| *done > 0 && *done < ROWS as i64), "progress between the chunks was visible: {seen:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, ROWS as i64);
});

both_backends!(interrupted_import_resumes_after_restart, |db: Db| async move {
    let first = app(db.clone(), march_5_10am_beijing()).await;
    let admin = first.admin_token().await;
    let (unit_id, unit_admin) = first.create_unit(&admin, &uscc("91430100MA4R0005"), "续传电梯公司", "resume-admin").await;

    // One and a half chunks of new people.
    let rows = api::roster_import_runs::CHUNK_ROWS * 3 / 2;
    let mut csv = String::from("姓名,身份证号码,手机号码,作业项目代号\n");
    for index in 0..rows {
        let body = format!("43010219810{}{:02}{:03}", 2, 1 + index / 900, 100 + index % 900);
        csv.push_str(&format!("赵{}{},{},138{:08},T\n", GIVEN[index % 10], GIVEN[(index / 10) % 10], id_number(&body), index));
    }
    let reply = preview(&first, &unit_admin, &unit_id, "resume.csv", csv.into_bytes()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body["rows"][0]);
    let import_id = reply.body["import_id"].as_str().unwrap().to_string();

    // A process took the import, wrote its first chunk and stopped before the rest.
    let lease_until = first.state.now_ms() + api::roster_import_runs::LEASE_MS;
    sqlx::query("UPDATE roster_imports SET status = 'running', runner = 'stopped-process', lease_until = $1 WHERE id = $2").bind(lease_until).bind(&import_id).execute(&db.pool).await.unwrap();
    let mut run = api::roster_import_runs::Run::load(&first.state, &import_id, "stopped-process").await.unwrap();
    assert_eq!(run.import_chunk(&first.state).await.unwrap(), api::roster_import_runs::Step::More);
    let status = first.get(&format!("/api/units/{unit_id}/roster/imports/{import_id}"), Some(&unit_admin)).await;
    assert_eq!(status.body["status"], "running");
    assert_eq!(status.body["done_rows"], api::roster_import_runs::CHUNK_ROWS);

    // The app built again over the same database and files leaves a live lease alone,
    // then takes the import over once the lease has expired.
    let mut second = app(db.clone(), march_5_10am_beijing()).await;
    second.state = second.state.clone().with_objects(first.state.objects.clone());
    second.router = api::router(second.state.clone());
    assert!(api::roster_import_runs::resume_interrupted(&second.state).await.unwrap().is_empty());
    second.clock.advance(chrono::Duration::milliseconds(api::roster_import_runs::LEASE_MS + 1));
    assert_eq!(api::roster_import_runs::resume_interrupted(&second.state).await.unwrap(), [import_id.clone()]);
    let (done, seen) = wait_for_import(&second, &unit_admin, &unit_id, &import_id).await;
    assert_eq!(done["status"], "done", "{}", done["error"]);
    assert_eq!(done["done_rows"], rows);
    assert_eq!(done["accepted"], rows);
    assert!(seen.iter().all(|done| *done >= api::roster_import_runs::CHUNK_ROWS as i64), "progress starts from the rows done: {seen:?}");

    // Every row was written once, and the first chunk keeps its own result.
    assert_eq!(changes(&done), vec!["new"; rows]);
    assert_eq!(second.count("SELECT COUNT(*) FROM operators WHERE unit_id = $1", &unit_id).await, rows as i64);
    assert_eq!(second.count("SELECT COUNT(*) FROM affiliations WHERE unit_id = $1", &unit_id).await, rows as i64);
    assert_eq!(second.count("SELECT COUNT(*) FROM roster_import_rows WHERE import_id = $1", &import_id).await, rows as i64);
    assert!(api::roster_import_runs::resume_interrupted(&second.state).await.unwrap().is_empty(), "a finished import is not resumed");

    // The stopped process, were it still alive, may write nothing more.
    assert_eq!(run.import_chunk(&second.state).await.unwrap(), api::roster_import_runs::Step::LeaseLost);
});
