//! The operator's pages through the real site router (pages and API) on SQLite and
//! PostgreSQL: login, registration, info completion, enrollment, hand-off, exam,
//! credits and the card check, with their errors and the forms' CSRF protection.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod visitor;

use axum::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use visitor::Visitor;
use workflows::both_backends;
use workflows::db::Db;

fn site(app: &TestApp) -> axum::Router {
    let config = web::WebConfig { site_name: None, icp_filing: Some("湘ICP备00000000号".into()), contact: Some("0731-00000000".into()) };
    web::site(app.state.clone(), config)
}

/// Logs `mobile` in through the pages and returns the page the login redirected to.
async fn log_in(app: &TestApp, visitor: &mut Visitor, mobile: &str) -> String {
    visitor.get("/login").await;
    let page = visitor.post("/login/code", &[("mobile", mobile)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let code = app.latest_code(mobile).await;
    let page = visitor.post("/login", &[("mobile", mobile), ("code", &code)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    page.location().to_string()
}

both_backends!(operator_registers_and_enrolls, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4L1111");
    app.create_unit(&admin, &unit_uscc, "长沙电梯维保有限公司", "unit-a").await;
    let mut visitor = Visitor::new(site(&app));

    // The login page is zh-CN, hands out a CSRF cookie and shows the footer.
    let page = visitor.get("/login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<html lang=\"zh-CN\">"), "{}", page.html);
    assert!(page.html.contains("获取验证码"));
    assert!(page.html.contains("湘ICP备00000000号"));
    let csrf_cookie = visitor.last_set_cookies.iter().find(|cookie| cookie.starts_with("certflow_csrf=")).expect("CSRF cookie");
    assert!(csrf_cookie.contains("HttpOnly"), "{csrf_cookie}");
    assert!(csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    assert!(page.headers.get("content-security-policy").is_some());

    // A form without the token, or with a wrong one, is rejected and sends no code.
    let page = visitor.post_raw("/login/code", &[("mobile", "13800138000")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("表单已过期"), "{}", page.html);
    let page = visitor.post_raw("/login/code", &[("csrf", &"0".repeat(64)), ("mobile", "13800138000")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM login_codes WHERE mobile = $1", "13800138000").await, 0);

    // A malformed mobile gets its zh-CN error beside the field.
    visitor.get("/login").await;
    let page = visitor.post("/login/code", &[("mobile", "12345")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"mobile-error\""), "{}", page.html);
    assert!(page.html.contains("手机号"), "{}", page.html);

    // A number typed with the country code is shown normalized and masked.
    let page = visitor.post("/login/code", &[("mobile", "008613800138000")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("验证码已发送至 138****8000"), "{}", page.html);
    assert!(!page.html.contains("008613800138000"), "{}", page.html);
    assert!(page.html.contains("name=\"mobile\" value=\"13800138000\""), "{}", page.html);

    // A wrong code is shown beside the code field; the right one logs in.
    assert!(page.html.contains("id=\"code\""), "{}", page.html);
    let code = app.latest_code("13800138000").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let page = visitor.post("/login", &[("mobile", "13800138000"), ("code", wrong)]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"code-error\""), "{}", page.html);
    let page = visitor.post("/login", &[("mobile", "13800138000"), ("code", &code)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/register");
    let session = visitor.last_set_cookies.iter().find(|cookie| cookie.starts_with("certflow_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "{session}");

    // Home sends an unregistered person to registration.
    assert_eq!(visitor.get("/home").await.location(), "/register");

    // A wrong ID number is named beside its field; a right one registers.
    visitor.get("/register").await;
    let page = visitor.post("/register", &[("name", "王小明"), ("id_number", "430102197803035020")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"id_number-error\""), "{}", page.html);
    assert!(page.html.contains("身份证号码"));
    assert!(page.html.contains("value=\"王小明\""), "typed values stay in the form");
    let person = id_number("43010219780303502");
    let page = visitor.post("/register", &[("name", "王小明"), ("id_number", &person)]).await;
    assert_eq!(page.location(), "/info");

    // Unit search by part of the name, with half-width brackets typed for none stored.
    let page = visitor.get("/info?q=%E7%94%B5%E6%A2%AF%E7%BB%B4%E4%BF%9D").await;
    assert!(page.html.contains("长沙电梯维保有限公司"), "{}", page.html);
    assert!(page.html.contains(&format!("value=\"{unit_uscc}\"")));
    let page = visitor.get("/info?q=%E5%8C%97").await;
    assert!(page.html.contains("id=\"q-error\""), "a one-character search is refused: {}", page.html);

    // An unknown credit code is named beside the unit; the found unit completes the info.
    let page = visitor.post("/info", &[("unit_uscc", &uscc("91430100MA4L9999")), ("item_code", "T")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"unit_uscc-error\""), "{}", page.html);
    let page = visitor.post("/info", &[("unit_uscc", &unit_uscc), ("item_code", "T")]).await;
    assert_eq!(page.location(), "/home");

    // Enrollment: year, then category, then item.
    let page = visitor.get("/home").await;
    assert!(page.html.contains("您还没有报名"), "{}", page.html);
    let page = visitor.get("/enroll").await;
    assert!(page.html.contains("作业种类"));
    let category = app.state.catalogue.item("T").unwrap().category_no.to_string();
    let page = visitor.get(&format!("/enroll?year=2026&category={category}")).await;
    assert!(page.html.contains("value=\"T\""), "{}", page.html);
    let page = visitor.post("/enroll", &[("year", "2026"), ("category", &category)]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("请选择要报名的作业项目"), "a missing item asks for one: {}", page.html);
    let page = visitor.post("/enroll", &[("year", "2030"), ("category", &category), ("item_code", "T")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("class=\"field-error\""), "{}", page.html);
    let page = visitor.post("/enroll", &[("year", "2026"), ("category", &category), ("item_code", "T")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/study/"), "{}", page.location());

    // Home lists the enrollment with its next step and deadline.
    let page = visitor.get("/home").await;
    assert!(page.html.contains("已报名"), "{}", page.html);
    assert!(page.html.contains("下一步：选择施教机构"));
    assert!(page.html.contains("2026-12-31"));

    // English through the language switch, with the same catalogue.
    let page = visitor.get("/lang/en?back=/home").await;
    assert_eq!(page.location(), "/home");
    let page = visitor.get("/home").await;
    assert!(page.html.contains("<html lang=\"en\">"));
    assert!(page.html.contains("Next: choose an institution"), "{}", page.html);
    assert_eq!(visitor.get("/lang/en?back=//evil.example").await.location(), "/", "no redirect off the site");

    // Logout ends the session.
    let page = visitor.post("/logout", &[]).await;
    assert_eq!(page.location(), "/login");
    assert_eq!(visitor.get("/home").await.location(), "/login");
});

both_backends!(operator_takes_exam, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L2222");
    app.create_unit(&admin, &unit, "电梯公司", "unit-b").await;
    let (token, _, enrollment_id) = app.enrolled_operator("13900139000", &id_number("43010219800101123"), &unit).await;
    let mut visitor = Visitor::new(site(&app));
    app.clock.advance(Duration::minutes(2));
    assert_eq!(log_in(&app, &mut visitor, "13900139000").await, "/home");

    // The study page offers the institution; the hand-off names it.
    let institution = api::create_institution(&app.state, "安全培训学校", &uscc("91430100MA4L0000"), &["T".to_string()]).await.unwrap();
    let page = visitor.get(&format!("/study/{enrollment_id}")).await;
    assert!(page.html.contains("安全培训学校"), "{}", page.html);
    assert!(page.html.contains("href=\"#handoff-form\" id=\"next-step\""), "the next step points at the form: {}", page.html);
    assert!(!page.html.contains(&format!("href=\"/study/{enrollment_id}\"")), "the page does not link to itself: {}", page.html);
    let page = visitor.post(&format!("/study/{enrollment_id}/handoff"), &[("institution_id", "")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("请选择施教机构"), "a missing choice asks for one: {}", page.html);
    let page = visitor.post(&format!("/study/{enrollment_id}/handoff"), &[("institution_id", &institution.id)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("已为您转入“安全培训学校”"), "{}", page.html);

    // Sessions of three courses, reported and cleared.
    let day_before = Utc.with_ymd_and_hms(2026, 3, 4, 1, 0, 0).unwrap();
    for (index, course) in ["T-01", "T-02", "T-03"].iter().enumerate() {
        let start = day_before + Duration::hours(index as i64 * 2);
        let reply = app.report_session(&institution, &enrollment_id, &format!("s-{course}"), course, start, 90).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    app.clear_sessions(&enrollment_id, 3).await;
    let page = visitor.get("/home").await;
    assert!(page.html.contains("下一步：参加考试"), "{}", page.html);
    let page = visitor.get(&format!("/study/{enrollment_id}")).await;
    assert!(page.html.contains(&format!("href=\"/exam/{enrollment_id}\" id=\"next-step\"")), "{}", page.html);

    // Start: the paper with the server's remaining time and the autosave script.
    // The consent screen comes first; no exam starts without consent.
    let page = visitor.get(&format!("/exam/{enrollment_id}")).await;
    assert!(page.html.contains("3 门"), "{}", page.html);
    assert!(page.html.contains("id=\"consent-form\""), "{}", page.html);
    assert!(page.html.contains("敏感个人信息"), "{}", page.html);
    let page = visitor.post(&format!("/exam/{enrollment_id}/start"), &[]).await;
    assert_eq!(page.location(), format!("/exam/{enrollment_id}"));
    assert_eq!(app.count("SELECT COUNT(*) FROM exam_attempts WHERE enrollment_id = $1", &enrollment_id).await, 0);
    let page = visitor.post(&format!("/exam/{enrollment_id}/consent"), &[("notice_version", api::proctoring::NOTICE_VERSION)]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("id=\"agree-error\""), "{}", page.html);
    let page = visitor.post(&format!("/exam/{enrollment_id}/consent"), &[("agree", "yes"), ("notice_version", "2020-01")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "an outdated notice version is not consent: {}", page.html);
    let page = visitor.post(&format!("/exam/{enrollment_id}/consent"), &[("agree", "yes"), ("notice_version", api::proctoring::NOTICE_VERSION)]).await;
    assert_eq!(page.location(), format!("/exam/{enrollment_id}"));
    assert_eq!(app.count("SELECT COUNT(*) FROM proctoring_consents WHERE enrollment_id = $1", &enrollment_id).await, 1);
    let page = visitor.get(&format!("/exam/{enrollment_id}")).await;
    assert!(page.html.contains("id=\"consent-given\""), "{}", page.html);
    assert!(page.html.contains("2026-03-05"), "the consent time is shown: {}", page.html);

    let page = visitor.post(&format!("/exam/{enrollment_id}/start"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let paper_path = page.location().to_string();
    let attempt_id = paper_path.rsplit('/').next().unwrap().to_string();
    let page = visitor.get(&paper_path).await;
    assert!(page.html.contains("data-remaining=\""), "{}", page.html);
    assert!(page.html.contains("/static/exam.js"));
    let remaining: i64 = page.html.split("data-remaining=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    assert!(remaining > 0, "{remaining}");
    assert!(remaining <= 60 * 60, "{remaining}");

    // Save one answer by the button; it is checked again after a reload.
    let first_field = page.html.split("name=\"q.").nth(1).unwrap().split('"').next().unwrap().to_string();
    let first_value = page.html.split(&format!("name=\"q.{first_field}\" value=\"")).nth(1).unwrap().split('"').next().unwrap().to_string();
    let field_name = format!("q.{first_field}");
    let page = visitor.post(&format!("/exam/attempt/{attempt_id}/save"), &[(field_name.as_str(), first_value.as_str())]).await;
    assert_eq!(page.location(), paper_path);
    let page = visitor.get(&paper_path).await;
    assert!(page.html.contains(&format!("name=\"q.{first_field}\" value=\"{first_value}\" checked")), "{}", page.html);

    // Starting again resumes the same attempt.
    let page = visitor.post(&format!("/exam/{enrollment_id}/start"), &[]).await;
    assert_eq!(page.location(), paper_path);

    // Submit shows a result.
    let page = visitor.post(&format!("/exam/attempt/{attempt_id}/submit"), &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"exam-result\""), "{}", page.html);
    assert!(page.html.contains("得分"), "{}", page.html);
    assert!(page.html.contains("<td>1</td>"), "questions are numbered from 1: {}", page.html);
    assert!(page.html.contains("未作答"), "outcomes are shown in words: {}", page.html);
    assert!(page.html.contains("id=\"exam-courses\""), "results per course are shown: {}", page.html);
    assert!(page.html.contains("<td>T-01</td>"), "{}", page.html);
    assert!(!page.html.contains("正确答案"), "the answer key is not shown before a retake: {}", page.html);

    // With one answer the attempt fails, so a second one may start the same day; a
    // third is refused with the reason.
    assert!(page.html.contains("考试未通过"), "{}", page.html);
    let reply = app.start_exam(&token, &enrollment_id).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let second = reply.body["attempt_id"].as_str().unwrap().to_string();
    app.post(&format!("/api/exams/{second}/submit"), Some(&token), serde_json::json!({})).await;
    let page = visitor.post(&format!("/exam/{enrollment_id}/start"), &[]).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.html);
    assert!(page.html.contains("id=\"exam-refused\""), "{}", page.html);

    // Credits page for the year.
    let page = visitor.get("/credits?year=2026").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("T "), "{}", page.html);
});

both_backends!(card_check_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let mut visitor = Visitor::new(site(&app));

    // An unknown number is reported as unknown, without a session.
    let page = visitor.get("/verify/XF-2026-NOPE").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.html.contains("未知"), "{}", page.html);

    // Static files are served by the binary, and the icon browsers ask for on every page.
    let page = visitor.get("/static/app.css").await;
    assert_eq!(page.status, StatusCode::OK);
    let icon = visitor.get("/favicon.ico").await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(icon.headers.get("content-type").unwrap(), "image/x-icon");
    assert_eq!(icon.bytes[..4], [0, 0, 1, 0], "an ICO header");
    assert_eq!(page.headers.get("content-type").unwrap(), "text/css; charset=utf-8");
    assert_eq!(visitor.get("/static/missing.css").await.status, StatusCode::NOT_FOUND);
});

both_backends!(account_login_routes_by_role, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    app.create_unit(&admin, &uscc("91430100MA4L2222"), "株洲起重机械有限公司", "unit-b-admin").await;
    let institution = api::create_institution(&app.state, "三号培训学校", &uscc("52430100MJ000103"), &["T".to_string()]).await.unwrap();
    let account = api::NewAccount {
        role: api::auth::Role::Institution,
        login: "school-3",
        password: common::ADMIN_PASSWORD,
        display_name: "培训学校账号",
        unit_id: None,
        institution_id: Some(&institution.id),
        mobile: None,
        email: None,
    };
    api::create_account(&app.db, &account, app.state.now_ms()).await.unwrap();
    let mut visitor = Visitor::new(site(&app));

    // The operator login links to the account login.
    let page = visitor.get("/login").await;
    assert!(page.html.contains("href=\"/login/account\""), "{}", page.html);

    // A wrong password is shown above the form, in zh-CN, and sets no session.
    let page = visitor.get("/login/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("id=\"password\""), "{}", page.html);
    let page = visitor.post("/login/account", &[("login", "unit-b-admin"), ("password", "wrong-password-1")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("role=\"alert\""), "{}", page.html);
    assert!(!visitor.cookies.contains_key("certflow_session"));

    // An institution account gets no page session.
    let page = visitor.post("/login/account", &[("login", "school-3"), ("password", common::ADMIN_PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("施教机构账号"), "{}", page.html);
    assert!(!visitor.cookies.contains_key("certflow_session"));
    assert_eq!(app.count("SELECT COUNT(*) FROM auth_sessions WHERE role = $1", "institution").await, 0);

    // A unit admin goes to the unit's start page and sees the unit menu, not the
    // operator's; an operator page sends the admin back there.
    let page = visitor.post("/login/account", &[("login", "unit-b-admin"), ("password", common::ADMIN_PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/unit");
    assert!(visitor.cookies.contains_key("certflow_session"));
    assert_eq!(visitor.get("/").await.location(), "/unit");
    let page = visitor.get("/home").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/unit");
    let page = visitor.get("/verify/XF-2026-NOPE").await;
    assert!(page.html.contains("href=\"/unit\""), "{}", page.html);
    assert!(!page.html.contains("href=\"/credits\""), "{}", page.html);
});

both_backends!(unit_staff_page, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit_uscc = uscc("91430100MA4L6666");
    app.create_unit(&admin, &unit_uscc, "湘潭锅炉有限公司", "xiangtan-admin").await;
    let (_, operator_id, _) = app.enrolled_operator("13800138101", &id_number("43010219800101501"), &unit_uscc).await;
    let mut visitor = Visitor::new(site(&app));

    // Without a session the page goes to the account login.
    assert_eq!(visitor.get("/unit").await.location(), "/login/account");

    // The unit admin sees the operator with the state's zh-CN label and masked numbers.
    let page = visitor.log_in_account("xiangtan-admin", common::ADMIN_PASSWORD).await;
    assert_eq!(page.location(), "/unit");
    let page = visitor.get("/unit").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("王小明"), "{}", page.html);
    assert!(page.html.contains("<span class=\"badge\">已报名</span>"), "{}", page.html);
    assert!(page.html.contains("138****8101"), "{}", page.html);
    assert!(!page.html.contains("13800138101"), "the full mobile is shown: {}", page.html);
    assert!(page.html.contains("<svg class=\"chart\" role=\"img\""), "{}", page.html);
    assert!(page.html.contains(&format!("value=\"{operator_id}\"")), "{}", page.html);
    assert!(page.html.contains(&format!("href=\"/unit/staff/{operator_id}\"")), "each row opens the operator's page: {}", page.html);

    // An unknown state is named above the list, which shows the whole year instead.
    let page = visitor.get("/unit?year=2026&state=finished").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("状态“finished”无效"), "{}", page.html);
    assert!(page.html.contains("王小明"), "{}", page.html);

    // A bulk action without ticked operators says so; with one, each result is listed.
    let page = visitor.post("/unit/bulk", &[("action", "remind"), ("year", "2026")]).await;
    assert!(page.html.contains("没有选择作业人员"), "{}", page.html);
    let page = visitor.post("/unit/bulk", &[("action", "enroll"), ("year", "2026"), ("item_code", "T"), ("operator_ids", &operator_id)]).await;
    assert!(page.html.contains("王小明：此前已报名"), "{}", page.html);

    // The form needs its CSRF token.
    let page = visitor.post_raw("/unit/bulk", &[("action", "remind"), ("operator_ids", &operator_id)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
});

/// Reads the cases of `tests/data/identity.csv` as (field, input, expected, normalized).
/// The free-text `why` column is dropped because it is the only one that may hold commas.
fn identity_cases() -> Vec<[String; 4]> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/identity.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut columns = line.splitn(5, ',').map(str::to_string);
            std::array::from_fn(|_| columns.next().unwrap_or_default())
        })
        .collect()
}

// Each identity input is typed into the form a person would use: the mobile into the
// login form, the ID number and name into registration, the credit code into info
// completion. Accepted inputs are stored normalized; rejected ones get the error
// beside their own field.
both_backends!(identity_inputs_through_forms, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    app.create_unit(&admin, "91430102051321883T", "长沙测试电梯有限公司", "unit-id").await;
    let cases = identity_cases();
    assert!(cases.len() >= 20, "the case file was read: {}", cases.len());
    let mut next_mobile = 13900000000_u64;
    let mut next_id_body = 43010219800101001_u64;

    for [field, input, expected, normalized] in &cases {
        let accepted = expected == "accept";
        // Two mobile cases normalize to one number, which may ask for a code once a minute.
        app.clock.advance(Duration::seconds(61));
        next_mobile += 1;
        next_id_body += 10;
        let mobile = next_mobile.to_string();
        let mut visitor = Visitor::new(site(&app));
        if field == "mobile" {
            visitor.get("/login").await;
            let page = visitor.post("/login/code", &[("mobile", input)]).await;
            if accepted {
                assert_eq!(page.status, StatusCode::OK, "{input}: {}", page.html);
                assert_eq!(app.latest_code(normalized).await.len(), 6, "{input}: the code went to {normalized}");
            } else {
                assert_eq!(page.status, StatusCode::BAD_REQUEST, "{input}: {}", page.html);
                assert!(page.html.contains("id=\"mobile-error\""), "{input}: {}", page.html);
                assert!(page.html.contains("手机号"), "{input}: the error names the field: {}", page.html);
            }
            continue;
        }

        assert_eq!(log_in(&app, &mut visitor, &mobile).await, "/register");
        let register_page = visitor.get("/register").await;
        assert!(!register_page.html.contains("maxlength=\"18\""), "spaces typed inside an ID number must fit in the field");
        let (name, id) = match field.as_str() {
            "id_number" => ("王小明".to_string(), input.clone()),
            "name" => (input.clone(), id_number(&next_id_body.to_string())),
            _ => ("王小明".to_string(), id_number(&next_id_body.to_string())),
        };
        let page = visitor.post("/register", &[("name", &name), ("id_number", &id)]).await;
        if field == "uscc" {
            assert_eq!(page.location(), "/info", "{}", page.html);
            let info_page = visitor.get("/info").await;
            assert!(!info_page.html.contains("maxlength=\"18\""), "spaces typed inside a credit code must fit in the field");
            let page = visitor.post("/info", &[("unit_uscc", ""), ("item_code", "T")]).await;
            assert!(page.html.contains("id=\"unit_uscc-error\""), "a missing unit is named beside the unit: {}", page.html);
            let page = visitor.post("/info", &[("unit_uscc", input), ("item_code", "T")]).await;
            if accepted {
                assert_eq!(page.location(), "/home", "{input}: {}", page.html);
            } else {
                assert_eq!(page.status, StatusCode::BAD_REQUEST, "{input}: {}", page.html);
                assert!(page.html.contains("id=\"unit_uscc-error\""), "{input}: {}", page.html);
            }
            continue;
        }

        let stored = match field.as_str() {
            "id_number" => "SELECT COALESCE(id_number, '') FROM operators WHERE mobile = $1",
            _ => "SELECT COALESCE(name, '') FROM operators WHERE mobile = $1",
        };
        if accepted {
            assert_eq!(page.location(), "/info", "{input}: {}", page.html);
            let value: String = sqlx::query_scalar(stored).bind(&mobile).fetch_one(&app.db.pool).await.unwrap();
            assert_eq!(&value, normalized, "{field} {input}");
        } else {
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{input}: {}", page.html);
            assert!(page.html.contains(&format!("id=\"{field}-error\"")), "{input}: the error is beside the field: {}", page.html);
            let label = if field == "id_number" { "身份证号码" } else { "姓名" };
            let error = page.html.split(&format!("id=\"{field}-error\">")).nth(1).unwrap_or("");
            assert!(error.split("</p>").next().unwrap_or("").contains(label), "{input}: the error names {label}: {error}");
        }
    }
});

both_backends!(language_switch_keeps_query, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let mut visitor = Visitor::new(site(&app));
    let page = visitor.get("/help?a=1&b=2").await;
    let link = page.html.split("href=\"/lang/en?").nth(1).and_then(|rest| rest.split('"').next()).expect("language link").to_string();
    let link = format!("/lang/en?{}", link.replace("&amp;", "&").replace("&#x3D;", "="));
    assert_eq!(visitor.get(&link).await.location(), "/help?a=1&b=2", "{link}");
});
