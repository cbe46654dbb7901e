//! Security properties of the API: argon2id password hashes, session expiry and
//! rotation at login, limits on password and code guesses, personal data masked in
//! logs and list responses, and checks on uploaded files.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use api::auth::{Role, SESSION_HOURS};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use common::{ADMIN_PASSWORD, Reply, TestApp, app, id_number, march_5_10am_beijing, uscc};
use serde_json::json;
use workflows::both_backends;
use workflows::db::Db;

both_backends!(passwords_are_salted_argon2id, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    app.account_token(Role::Reviewer, "hash-check-1", None).await;
    app.account_token(Role::Reviewer, "hash-check-2", None).await;

    let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM accounts WHERE login LIKE 'hash-check-%' ORDER BY login").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(hashes.len(), 2);
    for hash in &hashes {
        assert!(hash.starts_with("$argon2id$"), "not an argon2id PHC string: {hash}");
        assert!(!hash.contains(ADMIN_PASSWORD), "the hash contains the password");
        let parsed = PasswordHash::new(hash).expect("a valid PHC string");
        assert!(Argon2::default().verify_password(ADMIN_PASSWORD.as_bytes(), &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"another-password", &parsed).is_err());
    }
    assert_ne!(hashes[0], hashes[1], "the same password must hash differently under fresh salts");
});

both_backends!(session_expires_after_its_hours, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let token = app.login_token("13800000401").await;

    app.clock.advance(Duration::hours(SESSION_HOURS) - Duration::minutes(1));
    let reply = app.get("/api/operator/me", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);

    app.clock.advance(Duration::minutes(2));
    let reply = app.get("/api/operator/me", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "auth.session_expired");
});

both_backends!(login_rotates_session_id, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let first = app.login_token("13800000402").await;

    // A second code login that presents the first token ends it and issues another.
    app.clock.advance(Duration::minutes(2));
    let code = app.request_code("13800000402").await;
    let reply = app.post("/api/auth/login", Some(&first), json!({ "mobile": "13800000402", "code": code })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let second = reply.body["token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(app.get("/api/operator/me", Some(&first)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/operator/me", Some(&second)).await.status, StatusCode::OK);

    // A password login that carries an old session cookie ends that session too.
    let old = app.account_token(Role::Reviewer, "rotation-reviewer", None).await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/password-login")
        .header("content-type", "application/json")
        .header("cookie", format!("{}={old}", api::auth::SESSION_COOKIE))
        .body(Body::from(json!({ "login": "rotation-reviewer", "password": ADMIN_PASSWORD }).to_string()))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let new = reply.body["token"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    assert_eq!(app.get("/api/reviews", Some(&old)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/reviews", Some(&new)).await.status, StatusCode::OK);
    let sessions = app.count("SELECT COUNT(*) FROM auth_sessions WHERE role = $1", "reviewer").await;
    assert_eq!(sessions, 1);
});

both_backends!(password_guesses_are_limited, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    app.account_token(Role::Reviewer, "guess-target", None).await;
    let attempt = |password: &'static str| app.post("/api/auth/password-login", None, json!({ "login": "Guess-Target ", "password": password }));

    for _ in 0..api::auth::attempts::MAX_PASSWORD_ATTEMPTS {
        let reply = attempt("wrong-password").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    }

    // The limit holds even for the right password, and says when to come back.
    let locked = attempt(ADMIN_PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", locked.body);
    assert_eq!(locked.code(), "login.password_locked");
    assert!(locked.message().contains("分钟"), "{}", locked.message());
    let retry_after: i64 = locked.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0, "{retry_after}");
    assert!(retry_after <= api::auth::attempts::PASSWORD_WINDOW_MINUTES * 60, "{retry_after}");

    // Unknown logins are limited the same way, so the answers do not reveal accounts.
    for _ in 0..api::auth::attempts::MAX_PASSWORD_ATTEMPTS {
        assert_eq!(app.post("/api/auth/password-login", None, json!({ "login": "no-such-login", "password": "x" })).await.status, StatusCode::UNAUTHORIZED);
    }
    let unknown = app.post("/api/auth/password-login", None, json!({ "login": "no-such-login", "password": "x" })).await;
    assert_eq!(unknown.status, StatusCode::TOO_MANY_REQUESTS);

    // After the window the right password works, and a success clears the count.
    app.clock.advance(Duration::minutes(api::auth::attempts::PASSWORD_WINDOW_MINUTES));
    assert_eq!(attempt(ADMIN_PASSWORD).await.status, StatusCode::OK);
    for _ in 0..api::auth::attempts::MAX_PASSWORD_ATTEMPTS - 1 {
        assert_eq!(attempt("wrong-password").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt(ADMIN_PASSWORD).await.status, StatusCode::OK);
});

both_backends!(code_guesses_void_the_code, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let code = app.request_code("13800000403").await;
    let wrong = if code == "000000" { "000001" } else { "000000" };

    for remaining in (1..api::auth::code::MAX_CODE_FAILURES).rev() {
        let reply = app.post("/api/auth/login", None, json!({ "mobile": "13800000403", "code": wrong })).await;
        assert_eq!(reply.code(), "login.code_wrong");
        assert_eq!(reply.message(), format!("验证码不正确，还可再试 {remaining} 次。"));
    }
    let reply = app.post("/api/auth/login", None, json!({ "mobile": "13800000403", "code": wrong })).await;
    assert_eq!(reply.code(), "login.code_locked");
    let reply = app.post("/api/auth/login", None, json!({ "mobile": "13800000403", "code": code })).await;
    assert_eq!(reply.code(), "login.code_locked", "a voided code stays void even when right");

    // Sending codes is limited too: one a minute per mobile.
    let again = app.post("/api/auth/code", None, json!({ "mobile": "13800000403" })).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.code(), "login_code.too_soon");
});

/// Log lines of this test binary, captured by a global subscriber at debug level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in this test binary");
        logs
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Posts a roster CSV for `unit_id` as the raw body.
async fn upload_roster(app: &TestApp, token: &str, unit_id: &str, file_name: &str, bytes: Vec<u8>) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/units/{unit_id}/roster?file_name={file_name}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(bytes))
        .unwrap();
    app.send(request).await
}

both_backends!(logs_and_lists_mask_personal_data, |db: Db| async move {
    let logs = captured_logs();
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4M0501");
    let (unit_id, unit_admin) = app.create_unit(&admin, &unit, "掩码测试公司", "mask-unit").await;

    // A roster with a good row, a row with a wrong check character and a duplicate.
    let good_id = id_number("43010219800101501");
    let mut bad_id = id_number("43010219800101502");
    let last = bad_id.pop().unwrap();
    bad_id.push(if last == '0' { '1' } else { '0' });
    let roster = format!("姓名,身份证号码,手机号码,作业项目代号\n李四,{good_id},13800000501,T\n赵五,{bad_id},13800000502,T\n钱六,{good_id},13800000503,T\n");
    let reply = upload_roster(&app, &unit_admin, &unit_id, "roster.csv", roster.into_bytes()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["accepted"], 1, "{:?}", reply.body);

    // Logins (a wrong code, then the right one), registration with a taken ID number,
    // and a failed password login all log.
    let code = app.request_code("13800000501").await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    app.post("/api/auth/login", None, json!({ "mobile": "13800000501", "code": wrong })).await;
    let roster_operator = app.post("/api/auth/login", None, json!({ "mobile": "13800000501", "code": code })).await;
    assert_eq!(roster_operator.status, StatusCode::OK, "{:?}", roster_operator.body);
    let (stranger, _, _) = app.enrolled_operator("13800000504", &id_number("43010219800101504"), &unit).await;
    let taken = app.post("/api/operator/register", Some(&stranger), json!({ "name": "王小明", "id_number": good_id })).await;
    assert_ne!(taken.status, StatusCode::OK);
    app.post("/api/auth/password-login", None, json!({ "login": "mask-unit", "password": "wrong-password" })).await;

    // List responses of staff and unit admins: reviews, records, archives.
    let mut lists = Vec::new();
    for path in ["/api/reviews", "/api/verifications", "/api/past-records", "/api/appeals", "/api/incidents", "/api/sync/dead-letters"] {
        lists.push((path.to_string(), app.get(path, Some(&admin)).await));
    }
    let operator_id = roster_operator.body["operator_id"].as_str().unwrap().to_string();
    let records = format!("/api/units/{unit_id}/operators/{operator_id}/records");
    lists.push((records.clone(), app.get(&records, Some(&unit_admin)).await));
    let archive = format!("/api/archives/{operator_id}");
    lists.push((archive.clone(), app.get(&archive, Some(&unit_admin)).await));

    let personal = [good_id.as_str(), bad_id.as_str(), "13800000501", "13800000502", "13800000503", "13800000504"];
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(logs.contains("138****0501"), "the log capture saw the masked mobile of the login");
    for value in personal {
        let lines: Vec<&str> = logs.lines().filter(|line| line.contains(value)).collect();
        assert!(lines.is_empty(), "log lines carry the unmasked {value}:\n{}", lines.join("\n"));
        for (path, reply) in &lists {
            assert!(!reply.body.to_string().contains(value), "GET {path} carries the unmasked {value}: {}", reply.body);
        }
    }
});

/// Posts a verification form for `unit_id` with `files`.
async fn post_documents(app: &TestApp, token: &str, unit_id: &str, files: &[(&str, Vec<u8>)]) -> Reply {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(name, bytes)| (*name, bytes.as_slice())).collect();
    let (content_type, body) = common::multipart(&[("kind", "unit_credit_code"), ("subject_id", unit_id)], &files);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/verifications")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

both_backends!(uploads_checked_by_content_and_size, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()).await;
    let admin = app.admin_token().await;
    let mut code = uscc("91430100MA4M0601");
    let last = code.pop().unwrap();
    code.push(if last == '0' { '1' } else { '0' });
    let (unit_id, unit_admin) = app.create_unit(&admin, &code, "上传测试公司", "upload-unit").await;

    // The declared type and the name do not count: the first bytes do.
    let executable = b"MZ\x90\x00 this is a Windows program".to_vec();
    let reply = post_documents(&app, &unit_admin, &unit_id, &[("licence.pdf", executable)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "appeal.file_type");
    assert!(reply.message().contains("licence.pdf"), "{}", reply.message());
    let html = b"<html><script>alert(1)</script>".to_vec();
    assert_eq!(post_documents(&app, &unit_admin, &unit_id, &[("scan.png", html)]).await.code(), "appeal.file_type");

    // One byte over the per-file maximum.
    let mut large = b"%PDF-1.4\n".to_vec();
    large.resize(api::documents::MAX_FILE_BYTES + 1, b' ');
    let reply = post_documents(&app, &unit_admin, &unit_id, &[("large.pdf", large)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "appeal.file_too_large");

    // More files than a request may carry.
    let files: Vec<(&str, Vec<u8>)> = (0..=api::documents::MAX_FILES).map(|_| ("page.pdf", b"%PDF-1.4\n".to_vec())).collect();
    assert_eq!(post_documents(&app, &unit_admin, &unit_id, &files).await.code(), "appeal.too_many_files");

    // Nothing of the refused requests was stored; a good file is.
    assert_eq!(app.count("SELECT COUNT(*) FROM manual_verifications WHERE subject_id = $1", &unit_id).await, 0);
    let reply = post_documents(&app, &unit_admin, &unit_id, &[("licence.pdf", b"%PDF-1.4\n".to_vec())]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);

    // A roster named .xlsx that is an image, and a roster over the size limit.
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    let reply = upload_roster(&app, &unit_admin, &unit_id, "roster.xlsx", png).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert!(reply.code().starts_with("roster"), "{:?}", reply.body);
    let oversized = vec![b'a'; api::units::MAX_ROSTER_BYTES + 1];
    let reply = upload_roster(&app, &unit_admin, &unit_id, "roster.csv", oversized).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", reply.body);
});
