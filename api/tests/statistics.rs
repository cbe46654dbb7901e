//! Statistics over a seeded set of units, operators, enrollments, credits, cards and
//! review cases. The API's figures per region, item, unit and year must equal those
//! the test computes from its own list of seeded records. The xlsx export must hold
//! the same figures under zh-CN headers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use axum::http::StatusCode;
use calamine::{Data, Reader, Xlsx};
use chrono::{TimeZone, Utc};
use common::{Reply, TestApp, app};
use serde_json::Value;
use workflows::both_backends;
use workflows::db::Db;

/// One seeded enrollment with everything the statistics count about it.
#[derive(Clone, Debug)]
struct Seeded {
    operator: usize,
    unit: Option<usize>,
    year: i64,
    item: &'static str,
    /// Credits awarded and still standing, and withdrawn ones.
    credits: i64,
    withdrawn: i64,
    /// `Some(false)` a valid card, `Some(true)` a revoked one.
    card_revoked: Option<bool>,
    /// Review cases as (outcome, status).
    cases: Vec<(&'static str, &'static str)>,
}

/// Units: (region code, name). The first region has a name in the catalogue, the
/// second has none, and the third unit has no region.
const UNITS: [(Option<&str>, &str); 3] = [(Some("430102"), "长沙电梯维保有限公司"), (Some("430200"), "株洲起重机械厂"), (None, "湘潭叉车服务部")];
const ITEMS: [&str; 2] = ["T", "N1"];
const CASE_KINDS: [(&str, &str); 5] = [("review", "open"), ("review", "rejected"), ("review", "accepted"), ("sample", "open"), ("sample", "accepted")];

/// A small linear congruential generator, so the seeded set is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// Builds the seeded enrollments of 40 operators; operator 39 has no unit.
fn seeded_set() -> Vec<Seeded> {
    let mut random = Lcg(20260305);
    let mut set = Vec::new();
    for operator in 0..40 {
        let unit = if operator == 39 { None } else { Some(operator % UNITS.len()) };
        for year in [2025, 2026] {
            for item in ITEMS {
                if random.below(3) == 0 {
                    continue;
                }
                let credits = random.below(21) as i64;
                let withdrawn = random.below(3) as i64;
                let card_revoked = match random.below(4) {
                    0 => Some(true),
                    1 | 2 if credits >= 10 => Some(false),
                    _ => None,
                };
                let cases = (0..random.below(3)).map(|_| CASE_KINDS[random.below(CASE_KINDS.len() as u64) as usize]).collect();
                set.push(Seeded { operator, unit, year, item, credits, withdrawn, card_revoked, cases });
            }
        }
    }
    set
}

/// Writes the seeded set straight into the tables the statistics read.
async fn seed(app: &TestApp, set: &[Seeded]) {
    let pool = &app.db.pool;
    let now = app.state.now_ms();
    for (index, (region, name)) in UNITS.iter().enumerate() {
        sqlx::query("INSERT INTO units (id, uscc, name, region_code, status, created_at) VALUES ($1, $2, $3, $4, 'active', $5)")
            .bind(format!("unit-{index}"))
            .bind(format!("uscc-{index}"))
            .bind(*name)
            .bind(*region)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
    }
    let operators: BTreeSet<(usize, Option<usize>)> = set.iter().map(|seeded| (seeded.operator, seeded.unit)).collect();
    for (operator, unit) in operators {
        sqlx::query("INSERT INTO operators (id, mobile, name, unit_id, status, created_at, updated_at) VALUES ($1, $2, '测试人员', $3, 'complete', $4, $4)")
            .bind(format!("op-{operator}"))
            .bind(format!("137{operator:08}"))
            .bind(unit.map(|unit| format!("unit-{unit}")))
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
    }

    for (index, seeded) in set.iter().enumerate() {
        let enrollment = format!("enr-{index}");
        sqlx::query("INSERT INTO enrollments (id, operator_id, year, item_code, instance_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&enrollment)
            .bind(format!("op-{}", seeded.operator))
            .bind(seeded.year)
            .bind(seeded.item)
            .bind(format!("instance-{index}"))
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
        for course in 0..seeded.credits + seeded.withdrawn {
            let withdrawn_at = (course >= seeded.credits).then_some(now);
            sqlx::query("INSERT INTO credits (enrollment_id, course_code, attempt_id, awarded_at, withdrawn_at) VALUES ($1, $2, 'attempt', $3, $4)")
                .bind(&enrollment)
                .bind(format!("C-{course:02}"))
                .bind(now)
                .bind(withdrawn_at)
                .execute(pool)
                .await
                .unwrap();
        }
        if let Some(revoked) = seeded.card_revoked {
            sqlx::query(
                "INSERT INTO cards (id, card_no, operator_id, enrollment_id, year, item_code, credits, issued_at, revoked_at) VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(format!("card-{index}"))
            .bind(format!("op-{}", seeded.operator))
            .bind(&enrollment)
            .bind(seeded.year)
            .bind(seeded.item)
            .bind(seeded.credits)
            .bind(now)
            .bind(revoked.then_some(now))
            .execute(pool)
            .await
            .unwrap();
        }
        for (case, (outcome, status)) in seeded.cases.iter().enumerate() {
            sqlx::query("INSERT INTO review_cases (id, kind, subject_id, enrollment_id, findings, status, outcome, created_at) VALUES ($1, 'session', $1, $2, '[]', $3, $4, $5)")
                .bind(format!("case-{index}-{case}"))
                .bind(&enrollment)
                .bind(*status)
                .bind(*outcome)
                .bind(now)
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

/// The figures the test expects, in the API's field names.
#[derive(Default, Debug, PartialEq, Eq, Clone)]
struct Expected {
    operators: BTreeSet<usize>,
    enrollments: i64,
    credits: i64,
    cards: i64,
    findings: i64,
    confirmed: i64,
    cleared: i64,
    open: i64,
}

impl Expected {
    fn add(&mut self, seeded: &Seeded) {
        self.operators.insert(seeded.operator);
        self.enrollments += 1;
        self.credits += seeded.credits;
        self.cards += i64::from(seeded.card_revoked == Some(false));
        for (outcome, status) in &seeded.cases {
            if *outcome != "review" {
                continue;
            }
            self.findings += 1;
            self.confirmed += i64::from(*status == "rejected");
            self.cleared += i64::from(*status == "accepted");
            self.open += i64::from(*status == "open");
        }
    }

    /// The figures in the order of the export's columns.
    fn values(&self) -> [i64; 8] {
        [self.operators.len() as i64, self.enrollments, self.credits, self.cards, self.findings, self.confirmed, self.cleared, self.open]
    }
}

/// Returns the expected figures per group key for grouping `by`.
fn expected(set: &[Seeded], by: &str, year: i64) -> (BTreeMap<String, Expected>, Expected) {
    let mut groups: BTreeMap<String, Expected> = BTreeMap::new();
    let mut total = Expected::default();
    for seeded in set.iter().filter(|seeded| by == "year" || seeded.year == year) {
        let key = match by {
            "region" => seeded.unit.and_then(|unit| UNITS[unit].0).unwrap_or("").to_string(),
            "item" => seeded.item.to_string(),
            "unit" => seeded.unit.map(|unit| format!("unit-{unit}")).unwrap_or_default(),
            _ => seeded.year.to_string(),
        };
        groups.entry(key).or_default().add(seeded);
        total.add(seeded);
    }
    (groups, total)
}

fn figures_of(value: &Value) -> [i64; 8] {
    ["operators", "enrollments", "credits", "cards", "findings", "findings_confirmed", "findings_cleared", "findings_open"].map(|name| value[name].as_i64().unwrap_or(-1))
}

both_backends!(statistics_match_seeded_set, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 6, 1, 2, 0, 0).unwrap()).await;
    let set = seeded_set();
    seed(&app, &set).await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, "stats-reviewer", None).await;

    for by in ["region", "item", "unit", "year"] {
        let reply = app.get(&format!("/api/statistics?year=2026&by={by}"), Some(&reviewer)).await;
        assert_eq!(reply.status, StatusCode::OK, "{by}: {:?}", reply.body);
        let (groups, total) = expected(&set, by, 2026);

        let rows = reply.body["rows"].as_array().unwrap();
        let keys: Vec<&str> = rows.iter().map(|row| row["key"].as_str().unwrap()).collect();
        let expected_keys: Vec<&str> = groups.keys().map(String::as_str).collect();
        assert_eq!(keys, expected_keys, "group keys by {by}");
        for row in rows {
            let key = row["key"].as_str().unwrap();
            assert_eq!(figures_of(row), groups[key].values(), "figures of {by} {key}");
        }
        assert_eq!(figures_of(&reply.body["total"]), total.values(), "total by {by}");
    }
});

both_backends!(statistics_labels_and_errors, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 6, 1, 2, 0, 0).unwrap()).await;
    seed(&app, &seeded_set()).await;
    let admin = app.admin_token().await;

    let by_unit = app.get("/api/statistics?year=2026&by=unit", Some(&admin)).await;
    let labels: Vec<&str> = by_unit.body["rows"].as_array().unwrap().iter().map(|row| row["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"长沙电梯维保有限公司"), "{labels:?}");
    assert!(labels.contains(&"无所属单位"), "{labels:?}");

    let by_item = app.get("/api/statistics?year=2026&by=item", Some(&admin)).await;
    let item_t = by_item.body["rows"].as_array().unwrap().iter().find(|row| row["key"] == "T").unwrap();
    assert!(item_t["label"].as_str().unwrap().starts_with("T "), "{item_t}");

    let by_region = app.get("/api/statistics?year=2026&by=region", Some(&admin)).await;
    let no_region = by_region.body["rows"].as_array().unwrap().iter().find(|row| row["key"] == "").unwrap();
    assert_eq!(no_region["label"], "未填写地区");
    let named = by_region.body["rows"].as_array().unwrap().iter().find(|row| row["key"] == "430102").unwrap();
    assert_eq!(named["label"], "430102 长沙市芙蓉区", "regions are named: {named}");
    let unnamed = by_region.body["rows"].as_array().unwrap().iter().find(|row| row["key"] == "430200").unwrap();
    assert_eq!(unnamed["label"], "430200", "a region without a name keeps its code: {unnamed}");

    let wrong_grouping = app.get("/api/statistics?by=month", Some(&admin)).await;
    assert_eq!(wrong_grouping.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_grouping.code(), "statistics.by_invalid");
    assert_eq!(wrong_grouping.body["field"], "by");
    let wrong_year = app.get("/api/statistics?year=1999", Some(&admin)).await;
    assert_eq!(wrong_year.code(), "statistics.year_invalid");

    // Without a year the current Beijing year applies.
    let default_year = app.get("/api/statistics", Some(&admin)).await;
    assert_eq!(default_year.body["year"], 2026);
    assert_eq!(default_year.body["by"], "region");
});

/// Reads an xlsx response into rows of cells as text.
fn sheet_rows(reply: &Reply, bytes: &[u8]) -> Vec<Vec<String>> {
    assert_eq!(reply.status, StatusCode::OK);
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).expect("the export is an xlsx workbook");
    let range = workbook.worksheet_range("统计").expect("sheet 统计");
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Float(number) => format!("{number}"),
                    Data::Int(number) => number.to_string(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

both_backends!(statistics_export_matches, |db: Db| async move {
    let app = app(db, Utc.with_ymd_and_hms(2026, 6, 1, 2, 0, 0).unwrap()).await;
    let set = seeded_set();
    seed(&app, &set).await;
    let reviewer = app.account_token(api::auth::Role::Reviewer, "export-reviewer", None).await;

    let request = axum::http::Request::builder()
        .uri("/api/statistics/export?year=2025&by=region")
        .header("authorization", format!("Bearer {reviewer}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    let status = response.status();
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let reply = Reply { status, headers: Default::default(), body: Value::Null };
    assert!(disposition.contains("statistics-2025-by-region.xlsx"), "{disposition}");

    let rows = sheet_rows(&reply, &bytes);
    assert_eq!(rows[0][0], "2025 年度继续教育统计（按地区）");
    assert_eq!(rows[1], ["地区", "参训人数", "报名数", "有效学分", "有效学分卡", "作弊审查案件", "认定作弊", "排除嫌疑", "待审查"]);

    let (groups, total) = expected(&set, "region", 2025);
    assert_eq!(rows.len(), groups.len() + 3, "title, headers, one row per region and the total");
    for (row, (key, figures)) in rows[2..].iter().zip(&groups) {
        let label = match key.as_str() {
            "" => "未填写地区".to_string(),
            "430102" => "430102 长沙市芙蓉区".to_string(),
            code => code.to_string(),
        };
        assert_eq!(row[0], label);
        let values: Vec<String> = figures.values().iter().map(i64::to_string).collect();
        assert_eq!(row[1..], values[..], "region {key}");
    }
    let last = rows.last().unwrap();
    assert_eq!(last[0], "合计");
    let values: Vec<String> = total.values().iter().map(i64::to_string).collect();
    assert_eq!(last[1..], values[..]);
});
