//! Tests of roster import against the demo files and hand-written rosters with one
//! problem per row.

use chrono::NaiveDate;
use domain::catalogue::{Catalogue, CatalogueVersion, ItemRef};
use domain::identity::Gender;
use domain::messages::Locale;
use domain::roster::{
    Column, RosterError, RosterFormat, RosterReport, RowOutcome, RowResult, TextEncoding,
    parse_roster,
};

const GBK_ROSTER: &[u8] = include_bytes!("data/roster-gbk.csv");
const OPERATORS: &[u8] = include_bytes!("data/operators.csv");
const XLSX_ROSTER: &[u8] = include_bytes!("data/roster.xlsx");
/// roster.xlsx with the ID number of row 3 stored as the number 4.30302198302277E+17
/// and the mobile of row 4 stored as the number 13943552249.
const XLSX_NUMERIC_ID: &[u8] = include_bytes!("data/roster-numeric-id.xlsx");

const HEADER: &str = "姓名,性别,身份证号码,手机号码,作业项目代号,作业项目";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
}

fn parse(bytes: &[u8], file_name: &str) -> Result<RosterReport, RosterError> {
    parse_roster(bytes, file_name, today(), Catalogue::embedded())
}

/// Parses a UTF-8 CSV roster given as lines.
fn parse_lines(lines: &[&str]) -> RosterReport {
    parse(lines.join("\n").as_bytes(), "roster.csv").unwrap()
}

fn row_at(report: &RosterReport, line: usize) -> &RowResult {
    report
        .rows
        .iter()
        .find(|row| row.line == line)
        .unwrap_or_else(|| panic!("no result for line {line}"))
}

/// Returns (field, code) of a rejected row, or panics with the accepted entry.
fn rejection(report: &RosterReport, line: usize) -> (&str, &str) {
    match &row_at(report, line).outcome {
        RowOutcome::Rejected { field, code, .. } => (field.as_str(), code.as_str()),
        RowOutcome::Accepted(entry) => panic!("line {line} was accepted: {entry:?}"),
    }
}

fn accepted_item(report: &RosterReport, line: usize) -> &ItemRef {
    match &row_at(report, line).outcome {
        RowOutcome::Accepted(entry) => &entry.item,
        RowOutcome::Rejected {
            code, message_zh, ..
        } => panic!("line {line} rejected: {code} {message_zh}"),
    }
}

fn item_ref(code: &str) -> ItemRef {
    ItemRef {
        code: code.to_string(),
        catalogue_version: CatalogueVersion::V2019,
    }
}

// ---- The demo files --------------------------------------------------------------

#[test]
fn gbk_roster_matches_operators() {
    let gbk = parse(GBK_ROSTER, "roster-gbk.csv").unwrap();
    let utf8 = parse(OPERATORS, "operators.csv").unwrap();

    assert_eq!(gbk.format, RosterFormat::Csv);
    assert_eq!(gbk.encoding_used, Some(TextEncoding::Gbk));
    assert_eq!(gbk.notices[0].code, "roster.decoded_as_gbk");
    assert_eq!(gbk.header_row, 1);
    assert_eq!(gbk.ignored_columns, vec!["序号"]);
    assert_eq!(gbk.rows.len(), 8);
    assert_eq!(gbk.rejected().count(), 0);

    let names: Vec<&str> = gbk.accepted().map(|entry| entry.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "陈超",
            "蒋鹏",
            "田春梅",
            "王鹏",
            "艾丹丹",
            "秦凤兰",
            "许龙",
            "杨兰英"
        ]
    );

    for entry in gbk.accepted() {
        let same = utf8
            .accepted()
            .find(|other| other.id_number == entry.id_number)
            .unwrap_or_else(|| panic!("{} not in operators.csv", entry.id_number.mask()));
        assert_eq!(same.name, entry.name);
        assert_eq!(same.mobile, entry.mobile);
        assert_eq!(same.item, entry.item);
        assert_eq!(same.gender, entry.gender);
    }
}

#[test]
fn gbk_roster_crlf_line_numbers() {
    let report = parse(GBK_ROSTER, "roster-gbk.csv").unwrap();
    let lines: Vec<usize> = report.rows.iter().map(|row| row.line).collect();
    assert_eq!(lines, (2..=9).collect::<Vec<_>>());
}

#[test]
fn operators_csv_all_accepted() {
    let report = parse(OPERATORS, "operators.csv").unwrap();

    assert_eq!(report.encoding_used, Some(TextEncoding::Utf8));
    assert!(report.notices.is_empty());
    assert!(report.ignored_columns.is_empty());
    assert_eq!(report.header_row, 1);
    assert_eq!(report.rows.len(), 229);
    for row in report.rejected() {
        panic!("line {} rejected: {:?}", row.line, row.outcome);
    }
    assert_eq!(report.accepted().count(), 229);
    assert!(report.rows.iter().all(|row| row.warnings.is_empty()));

    let with_email = report
        .accepted()
        .filter(|entry| entry.email.is_some())
        .count();
    assert_eq!(with_email, 80);
    assert!(
        report
            .accepted()
            .all(|entry| entry.unit_uscc.is_some() && entry.certificate_issued_on.is_some())
    );
}

#[test]
fn operators_csv_fields_normalized() {
    let report = parse(OPERATORS, "operators.csv").unwrap();
    let first = report.accepted().next().unwrap();

    assert_eq!(first.name.as_str(), "陈超");
    assert_eq!(first.id_number.as_str(), "430302198302277431");
    assert_eq!(first.mobile.as_str(), "19246777401");
    assert_eq!(first.gender, Some(Gender::Male));
    assert_eq!(
        first.unit_uscc.as_ref().map(|uscc| uscc.as_str()),
        Some("91430102051321883T")
    );
    assert_eq!(first.item, item_ref("T"));
    assert_eq!(
        first.certificate_issued_on,
        NaiveDate::from_ymd_opt(2024, 5, 9)
    );

    let aygul = report
        .accepted()
        .find(|entry| entry.name.as_str() == "阿依古丽·买买提")
        .unwrap();
    assert_eq!(aygul.email.as_deref(), Some("fang33@hotmail.com"));
}

#[test]
fn operators_csv_with_bom_same_result() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(OPERATORS);
    let report = parse(&bytes, "operators.csv").unwrap();

    assert_eq!(report.encoding_used, Some(TextEncoding::Utf8));
    assert_eq!(report.accepted().count(), 229);
}

#[test]
fn xlsx_roster_skips_title_row() {
    let report = parse(XLSX_ROSTER, "roster.xlsx").unwrap();

    assert_eq!(report.format, RosterFormat::Xlsx);
    assert_eq!(report.encoding_used, None);
    assert_eq!(report.sheet.as_deref(), Some("花名册"));
    assert_eq!(report.header_row, 2);
    assert_eq!(report.rows.len(), 25);
    assert_eq!(report.accepted().count(), 25);

    let names = [
        (3, "陈超"),
        (8, "阿依古丽·买买提"),
        (14, "吴华"),
        (27, "徐秀兰"),
    ];
    for (line, name) in names {
        match &row_at(&report, line).outcome {
            RowOutcome::Accepted(entry) => assert_eq!(entry.name.as_str(), name, "line {line}"),
            other => panic!("line {line}: {other:?}"),
        }
    }
}

#[test]
fn xlsx_roster_reads_dates_and_x() {
    let report = parse(XLSX_ROSTER, "roster.xlsx").unwrap();
    let wu_hua = report
        .accepted()
        .find(|entry| entry.name.as_str() == "吴华")
        .unwrap();
    assert_eq!(wu_hua.id_number.as_str(), "43030219811217153X");

    let chen_chao = report.accepted().next().unwrap();
    assert_eq!(
        chen_chao.certificate_issued_on,
        NaiveDate::from_ymd_opt(2024, 5, 9)
    );
}

#[test]
fn xlsx_numeric_id_rejected() {
    let report = parse(XLSX_NUMERIC_ID, "roster.xlsx").unwrap();
    assert_eq!(
        rejection(&report, 3),
        ("id_number", "roster.id_number_not_text")
    );

    let RowOutcome::Rejected {
        message_zh,
        message_en,
        ..
    } = &row_at(&report, 3).outcome
    else {
        unreachable!()
    };
    assert!(message_zh.contains("文本"), "{message_zh}");
    assert!(message_en.contains("as text"), "{message_en}");
}

#[test]
fn xlsx_numeric_mobile_accepted() {
    let report = parse(XLSX_NUMERIC_ID, "roster.xlsx").unwrap();
    let RowOutcome::Accepted(entry) = &row_at(&report, 4).outcome else {
        panic!("line 4 rejected")
    };
    assert_eq!(entry.mobile.as_str(), "13943552249");
    assert_eq!(report.accepted().count(), 24);
}

// ---- Rejected rows ---------------------------------------------------------------

#[test]
fn invalid_rows_rejected_with_field_and_code() {
    let report = parse_lines(&[
        HEADER,
        "陈超,男,430302198302277431,19246777401,T,电梯修理",
        "错校验,男,430702199211304130,13800138000,T,电梯修理",
        "旧号码,男,110105491231002,13800138001,T,电梯修理",
        "坏手机,男,110105198412257419,12800138000,T,电梯修理",
        "无项目,男,110105198412257419,13800138002,Z9,",
        "陈超,男,430302198302277431,19246777401,T,电梯修理",
        ",男,430405199311036559,16687408730,T,电梯修理",
        "田春梅,男,,16687408730,T,电梯修理",
        "田春梅,男,430405199311036559,,T,电梯修理",
        "田春梅,男,430405199311036559,16687408730,,",
        "起重工,男,430405199311036559,16687408730,Q2,起重机司机",
        "科学计数,男,4.30302E+17,16687408730,T,电梯修理",
        "焊工,男,430405199311036559,16687408730,,金属焊接操作",
    ]);

    let expected = [
        (3, "id_number", "id_number.checksum"),
        (4, "id_number", "id_number.legacy_15"),
        (5, "mobile", "mobile.format"),
        (6, "item", "catalogue.unknown_item"),
        (7, "id_number", "roster.duplicate_row"),
        (8, "name", "roster.field_missing"),
        (9, "id_number", "roster.field_missing"),
        (10, "mobile", "roster.field_missing"),
        (11, "item", "roster.field_missing"),
        (12, "item", "roster.item_not_open"),
        (13, "id_number", "roster.id_number_not_text"),
        (14, "item", "catalogue.item_without_code"),
    ];
    for (line, field, code) in expected {
        assert_eq!(rejection(&report, line), (field, code), "line {line}");
    }
    assert_eq!(report.accepted().count(), 1);
}

#[test]
fn rejection_messages_in_both_locales() {
    let report = parse_lines(&[HEADER, ",男,430405199311036559,16687408730,T,电梯修理"]);
    let RowOutcome::Rejected {
        message_zh,
        message_en,
        ..
    } = &report.rows[0].outcome
    else {
        panic!()
    };
    assert_eq!(message_zh, "缺少姓名，请在表格中填写后重新上传。");
    assert_eq!(
        message_en,
        "The name is missing; fill it in and upload the file again."
    );
}

#[test]
fn duplicate_message_names_first_line() {
    let report = parse_lines(&[
        HEADER,
        "陈超,男,430302198302277431,19246777401,T,电梯修理",
        "陈超,男,430302 198302277431,192-4677-7401,t,电梯维修",
    ]);
    assert_eq!(rejection(&report, 3), ("id_number", "roster.duplicate_row"));
    let RowOutcome::Rejected { message_zh, .. } = &row_at(&report, 3).outcome else {
        unreachable!()
    };
    assert!(message_zh.contains("第 2 行"), "{message_zh}");
}

#[test]
fn same_operator_second_item_accepted() {
    let report = parse_lines(&[
        HEADER,
        "王鹏,女,420106197912109206,17014102584,N1,叉车司机",
        "王鹏,女,420106197912109206,17014102584,N2,观光车和观光列车司机",
    ]);
    assert_eq!(accepted_item(&report, 2), &item_ref("N1"));
    assert_eq!(accepted_item(&report, 3), &item_ref("N2"));
    assert!(row_at(&report, 3).warnings.is_empty());
}

#[test]
fn same_id_other_name_rejected() {
    let report = parse_lines(&[
        HEADER,
        "王鹏,女,420106197912109206,17014102584,N1,叉车司机",
        "王芃,女,420106197912109206,17014102584,N2,",
    ]);
    assert_eq!(
        rejection(&report, 3),
        ("id_number", "roster.id_number_conflict")
    );
}

#[test]
fn invalid_optional_values_rejected() {
    let report = parse_lines(&[
        "姓名,身份证号码,手机号码,作业项目代号,邮箱,发证日期,单位统一社会信用代码",
        "陈超,430302198302277431,19246777401,T,chen@,2024-05-09,",
        "蒋鹏,110105198412257419,13943552249,T,,2027-01-01,",
        "田春梅,430405199311036559,16687408730,T,,去年,",
        "王鹏,420106197912109206,17014102584,T,,,91430102051321883A",
        "艾丹丹,430702196612175345,15368505151,T,ai@QQ.com,2024/5/9,91430102051321883t",
    ]);
    assert_eq!(rejection(&report, 2), ("email", "roster.email_format"));
    assert_eq!(
        rejection(&report, 3),
        ("certificate_issued_on", "roster.issued_in_future")
    );
    assert_eq!(
        rejection(&report, 4),
        ("certificate_issued_on", "roster.date_format")
    );
    assert_eq!(rejection(&report, 5), ("unit_uscc", "uscc.checksum"));

    let RowOutcome::Accepted(entry) = &row_at(&report, 6).outcome else {
        panic!("line 6 rejected")
    };
    assert_eq!(entry.email.as_deref(), Some("ai@qq.com"));
    assert_eq!(
        entry.certificate_issued_on,
        NaiveDate::from_ymd_opt(2024, 5, 9)
    );
    assert_eq!(
        entry.unit_uscc.as_ref().map(|uscc| uscc.as_str()),
        Some("91430102051321883T")
    );
}

// ---- Items and catalogue versions ------------------------------------------------

#[test]
fn catalogue_2011_n2_maps_to_n1() {
    let report = parse_lines(&[
        "姓名,身份证号码,手机号码,作业项目代号,作业项目,目录版本",
        "王鹏,420106197912109206,17014102584,N2,叉车司机,2011",
        "艾丹丹,430702196612175345,15368505151,N2,观光车和观光列车司机,2019",
        "许龙,110105198803295957,16711405370,N2,观光车和观光列车司机,",
        "杨兰英,360102200006290333,13510493554,T1,,2011版",
        "秦凤兰,430102197302265638,19393225512,R1,,2011",
        "李瑞,430302198709197396,13936972422,T,,2020",
    ]);
    assert_eq!(accepted_item(&report, 2), &item_ref("N1"));
    assert_eq!(accepted_item(&report, 3), &item_ref("N2"));
    assert_eq!(accepted_item(&report, 4), &item_ref("N2"));
    assert_eq!(accepted_item(&report, 5), &item_ref("T"));
    assert_eq!(rejection(&report, 6), ("item", "catalogue.legacy_unmapped"));
    assert_eq!(
        rejection(&report, 7),
        ("catalogue_version", "roster.catalogue_version")
    );
}

#[test]
fn legacy_code_without_version_conflicts() {
    // N2 read as a 2019 code is 观光车, but the item name is 叉车司机 (2011 N2).
    let report = parse_lines(&[HEADER, "王鹏,女,420106197912109206,17014102584,N2,叉车司机"]);
    assert_eq!(rejection(&report, 2), ("item", "roster.item_conflict"));
    let RowOutcome::Rejected { message_zh, .. } = &report.rows[0].outcome else {
        unreachable!()
    };
    assert!(message_zh.contains("2011"), "{message_zh}");
}

#[test]
fn item_resolved_from_name_or_alias() {
    let report = parse_lines(&[
        "姓名,身份证号码,手机号码,作业项目",
        "陈超,430302198302277431,19246777401,电梯维修",
        "王鹏,420106197912109206,17014102584,观光车或观光列车司机",
    ]);
    assert_eq!(accepted_item(&report, 2), &item_ref("T"));
    assert_eq!(accepted_item(&report, 3), &item_ref("N2"));
}

// ---- Warnings --------------------------------------------------------------------

#[test]
fn gender_mismatch_is_warning() {
    let report = parse_lines(&[
        HEADER,
        "王鹏,男,420106197912109206,17014102584,T,电梯修理",
        "陈超,M,430302198302277431,19246777401,T,电梯修理",
        "蒋鹏,未知,110105198412257419,13943552249,T,电梯修理",
    ]);

    let mismatch = row_at(&report, 2);
    assert!(
        matches!(&mismatch.outcome, RowOutcome::Accepted(entry) if entry.gender == Some(Gender::Male))
    );
    let codes: Vec<&str> = mismatch
        .warnings
        .iter()
        .map(|warning| warning.code.as_str())
        .collect();
    assert_eq!(codes, ["roster.gender_mismatch"]);

    assert!(row_at(&report, 3).warnings.is_empty());
    assert_eq!(
        row_at(&report, 4).warnings[0].code,
        "roster.gender_unrecognized"
    );
}

#[test]
fn shared_mobile_is_warning() {
    let report = parse_lines(&[
        HEADER,
        "陈超,男,430302198302277431,19246777401,T,电梯修理",
        "蒋鹏,男,110105198412257419,19246777401,T,电梯修理",
    ]);
    let warnings = &row_at(&report, 3).warnings;
    assert_eq!(warnings[0].code, "roster.mobile_shared");
    assert!(warnings[0].message_zh.contains("第 2 行"));
    assert_eq!(report.accepted().count(), 2);
}

// ---- Layout and encodings --------------------------------------------------------

#[test]
fn blank_and_template_rows_skipped() {
    let report = parse_lines(&[
        "序号,姓名,身份证号码,手机号码,作业项目代号",
        "1,陈超,430302198302277431,19246777401,T",
        ",,,,",
        "",
        "3,,,,",
    ]);
    assert_eq!(report.rows.len(), 1);
}

#[test]
fn header_aliases_and_notes_accepted() {
    let report = parse_lines(&[
        "花名册,,,",
        "姓名*,身份证号（必填）,手机号,项目代号,备注",
        "陈超,=\"430302198302277431\",+86 192 4677 7401,T,班组长",
    ]);
    assert_eq!(report.header_row, 2);
    assert_eq!(report.ignored_columns, vec!["备注"]);
    assert_eq!(report.notices[0].code, "roster.columns_ignored");
    assert_eq!(accepted_item(&report, 3), &item_ref("T"));
}

#[test]
fn gbk_text_decoded_and_reported() {
    let (bytes, _, _) = encoding_rs::GBK.encode("姓名,身份证号码,手机号码,作业项目\r\n阿依古丽·买买提,430102196905024222,19759798055,电梯修理\r\n");
    let report = parse(&bytes, "roster.csv").unwrap();

    assert_eq!(report.encoding_used, Some(TextEncoding::Gbk));
    let RowOutcome::Accepted(entry) = &row_at(&report, 2).outcome else {
        panic!("line 2 rejected")
    };
    assert_eq!(entry.name.as_str(), "阿依古丽·买买提");
}

// ---- File-level errors -----------------------------------------------------------

#[test]
fn file_level_errors() {
    let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
    let cases: Vec<(&[u8], &str, RosterError)> = vec![
        (b"", "roster.csv", RosterError::EmptyFile),
        (b" \r\n\r\n", "roster.csv", RosterError::EmptyFile),
        (b",,\r\n,,\r\n", "roster.csv", RosterError::EmptyFile),
        (
            b"%PDF-1.7",
            "roster.pdf",
            RosterError::UnknownFormat {
                file_name: "roster.pdf".into(),
            },
        ),
        (&ole, "roster.xls", RosterError::LegacyXls),
        (&ole, "roster.csv", RosterError::LegacyXls),
        (b"name,id_number", "roster.xls", RosterError::LegacyXls),
        (&[0xFF, 0xFE, 0xD3, 0x59], "roster.txt", RosterError::Utf16),
        (
            &[0x41, 0xFF, 0xFF, 0x42],
            "roster.csv",
            RosterError::Undecodable,
        ),
        (b"a,b,c\n1,2,3\n", "roster.csv", RosterError::NoHeaderRow),
        (
            b"name,id_number,item_code\n",
            "roster.csv",
            RosterError::ColumnMissing {
                column: Column::Mobile,
            },
        ),
        (
            b"name,id_number,mobile\n",
            "roster.csv",
            RosterError::ColumnMissing {
                column: Column::ItemCode,
            },
        ),
        (
            "姓名,身份证号码,手机号码,手机号,项目代号\n".as_bytes(),
            "roster.csv",
            RosterError::DuplicateColumn {
                header: "手机号".into(),
            },
        ),
    ];
    for (bytes, file_name, expected) in cases {
        assert_eq!(
            parse(bytes, file_name).unwrap_err(),
            expected,
            "{file_name} {bytes:?}"
        );
    }
}

#[test]
fn xlsx_name_without_zip_unreadable() {
    let error = parse(b"name,id_number", "roster.xlsx").unwrap_err();
    assert!(
        matches!(error, RosterError::XlsxUnreadable { .. }),
        "{error:?}"
    );
}

#[test]
fn header_only_file_has_no_rows() {
    let report = parse(b"name,id_number,mobile,item_code\r\n", "roster.csv").unwrap();
    assert!(report.rows.is_empty());
}

#[test]
fn file_errors_have_messages() {
    let errors = [
        RosterError::EmptyFile,
        RosterError::UnknownFormat {
            file_name: "roster.pdf".into(),
        },
        RosterError::LegacyXls,
        RosterError::XlsxUnreadable {
            detail: "not a ZIP archive".into(),
        },
        RosterError::Utf16,
        RosterError::Undecodable,
        RosterError::CsvMalformed {
            line: 3,
            detail: "x".into(),
        },
        RosterError::NoHeaderRow,
        RosterError::ColumnMissing {
            column: Column::Mobile,
        },
        RosterError::ColumnMissing {
            column: Column::ItemCode,
        },
        RosterError::DuplicateColumn {
            header: "手机号".into(),
        },
    ];
    for error in errors {
        assert!(
            domain::messages::Catalogue::global().contains(error.code()),
            "{}",
            error.code()
        );
        let zh = error.message(Locale::ZhCn);
        let en = error.message(Locale::En);
        assert!(!zh.contains('{'), "{}: {zh}", error.code());
        assert!(!en.contains('{'), "{}: {en}", error.code());
        assert_eq!(error.to_string(), zh);
    }
    assert!(
        RosterError::ColumnMissing {
            column: Column::Mobile
        }
        .message(Locale::ZhCn)
        .contains("手机号码")
    );
}

#[test]
fn report_serializes_to_json() {
    let report = parse(GBK_ROSTER, "roster-gbk.csv").unwrap();
    let json = serde_json::to_value(&report).unwrap();

    assert_eq!(json["encoding_used"], "GBK");
    assert_eq!(json["format"], "csv");
    assert_eq!(json["rows"][0]["line"], 2);
    assert_eq!(json["rows"][0]["outcome"]["status"], "accepted");
    assert_eq!(
        json["rows"][0]["outcome"]["id_number"],
        "430302198302277431"
    );
    assert_eq!(
        json["rows"][0]["outcome"]["item"]["catalogue_version"],
        "2019"
    );
}
