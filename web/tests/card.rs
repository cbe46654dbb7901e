//! The credit card PDF and its check page on SQLite and PostgreSQL: Chinese text that
//! reads back out of the PDF, an embedded subset font, the signed link, and revoked,
//! forged and unknown cards.

#[path = "../../api/tests/common/mod.rs"]
mod common;
mod visitor;

use std::process::Command;

use axum::http::StatusCode;
use chrono::Duration;
use common::{TestApp, app, id_number, march_5_10am_beijing, uscc};
use visitor::Visitor;
use workflows::both_backends;
use workflows::db::Db;

/// Stores a valid card of 20 credits for the enrollment, with two credited courses,
/// as the `issue_card` job would; returns its number.
async fn issue_card(app: &TestApp, operator_id: &str, enrollment_id: &str) -> String {
    let card_no = "XF2026T0000000101";
    let now = app.state.now_ms();
    sqlx::query("INSERT INTO cards (id, card_no, operator_id, enrollment_id, year, item_code, unit_name, credits, issued_at) VALUES ($1, $2, $3, $4, 2026, 'T', $5, 20, $6)")
        .bind("card-1")
        .bind(card_no)
        .bind(operator_id)
        .bind(enrollment_id)
        .bind("长沙电梯维保有限公司")
        .bind(now)
        .execute(&app.db.pool)
        .await
        .unwrap();
    for course in ["T-01", "T-02"] {
        sqlx::query("INSERT INTO credits (enrollment_id, course_code, attempt_id, awarded_at) VALUES ($1, $2, 'attempt-1', $3)")
            .bind(enrollment_id)
            .bind(course)
            .bind(now)
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    card_no.to_string()
}

/// Returns the text of a PDF as `pdftotext` (Debian's poppler-utils) extracts it.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = workflows::testing::TempDir::new();
    let path = dir.path.join("card.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext runs (install poppler-utils; scripts/test does)");
    assert!(output.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

both_backends!(card_pdf_and_check, |db: Db| async move {
    let app = app(db, march_5_10am_beijing()).await;
    let admin = app.admin_token().await;
    let unit = uscc("91430100MA4L1111");
    app.create_unit(&admin, &unit, "长沙电梯维保有限公司", "unit-a").await;
    let person = id_number("43010219780303502");
    let (_, operator_id, enrollment_id) = app.enrolled_operator("13800138000", &person, &unit).await;
    let card_no = issue_card(&app, &operator_id, &enrollment_id).await;
    let site = web::site(app.state.clone(), web::WebConfig::default());
    let mut visitor = Visitor::new(site.clone());
    app.clock.advance(Duration::minutes(2));
    visitor.get("/login").await;
    visitor.post("/login/code", &[("mobile", "13800138000")]).await;
    let code = app.latest_code("13800138000").await;
    visitor.post("/login", &[("mobile", "13800138000"), ("code", &code)]).await;

    // The credits page offers the PDF of the valid card.
    let page = visitor.get("/credits?year=2026").await;
    assert!(page.html.contains(&format!("/api/cards/{card_no}/pdf")), "{}", page.html);

    // The PDF: Chinese text that extracts, an embedded subset of the font, small.
    let page = visitor.get(&format!("/api/cards/{card_no}/pdf")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(page.headers.get("content-type").unwrap(), "application/pdf");
    let pdf = page.bytes.clone();
    assert!(pdf.starts_with(b"%PDF"), "a PDF file");
    assert!(pdf.len() < 200_000, "the font is subset, not embedded whole: {} bytes", pdf.len());
    assert!(pdf.windows(8).any(|window| window == b"FontFile"), "the font is embedded");
    let text = pdf_text(&pdf);
    assert!(text.contains("2026 年度特种设备作业人员继续教育学分卡"), "{text}");
    assert!(text.contains("王小明"), "{text}");
    assert!(text.contains(&api::mask::id_number(&person)), "the ID number is masked: {text}");
    assert!(!text.contains(&person), "{text}");
    assert!(text.contains("长沙电梯维保有限公司"), "{text}");
    assert!(text.contains("T-01"), "{text}");
    assert!(text.contains("T-02"), "{text}");
    let link_start = text.find("http://").expect("the verification link is printed beside the QR code");
    // The caption wraps the link over lines, so the lines up to the next blank line are joined.
    let link: String = text[link_start..].split("\n\n").next().unwrap().replace('\n', "").trim().to_string();
    assert!(link.contains(&format!("/verify/{card_no}?s=")), "{link}");

    // The printed link's check page shows the card as valid.
    let path = &link[link.find("/verify/").unwrap()..];
    let page = visitor.get(path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("有效：本学分卡由本平台签发"), "{}", page.html);
    assert!(page.html.contains("王*"), "the holder's name is masked: {}", page.html);

    // A card printed with another signature is shown as forged, an invented number as unknown.
    let forged = format!("/verify/{card_no}?s=00000000000000000000000000000000");
    let page = visitor.get(&forged).await;
    assert!(page.html.contains("可能是伪造的"), "{}", page.html);
    assert!(!page.html.contains("有效：本学分卡"), "{}", page.html);
    let page = visitor.get("/verify/XF2026T9999999999?s=abc").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.html.contains("未知"), "{}", page.html);

    // Someone else cannot download the card.
    let mut stranger = Visitor::new(site.clone());
    app.enrolled_operator("13900139000", &id_number("43010219800101123"), &unit).await;
    app.clock.advance(Duration::minutes(2));
    stranger.get("/login").await;
    stranger.post("/login/code", &[("mobile", "13900139000")]).await;
    let code = app.latest_code("13900139000").await;
    stranger.post("/login", &[("mobile", "13900139000"), ("code", &code)]).await;
    assert_eq!(stranger.get(&format!("/api/cards/{card_no}/pdf")).await.status, StatusCode::NOT_FOUND);

    // A revoked card does not download, and its check page shows it as revoked.
    sqlx::query("UPDATE cards SET revoked_at = $1, revoke_reason = 'credits withdrawn' WHERE card_no = $2")
        .bind(app.state.now_ms())
        .bind(&card_no)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let page = visitor.get(&format!("/api/cards/{card_no}/pdf")).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.html.contains("已撤销，不能下载"), "{}", page.html);
    let page = visitor.get(path).await;
    assert!(page.html.contains("已撤销"), "{}", page.html);
    assert!(!page.html.contains("有效：本学分卡"), "{}", page.html);
});
