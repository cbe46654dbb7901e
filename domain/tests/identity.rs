//! Tests of identity normalization: the shared case table in `tests/data/identity.csv`,
//! named tests for its notable rows, and tables of our own.

use chrono::NaiveDate;
use domain::identity::{
    self, Gender, IdentityError, checksum, normalize_id_number, normalize_mobile, normalize_name,
    normalize_uscc, upgrade_legacy_15,
};
use domain::messages::Locale;

const IDENTITY_CASES: &str = include_str!("data/identity.csv");
const OPERATORS: &str = include_str!("data/operators.csv");
const UNITS: &str = include_str!("data/units.csv");

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
}

fn id_error_code(input: &str) -> &'static str {
    normalize_id_number(input, today()).unwrap_err().code()
}

/// Reads a CSV file with a header into maps from column name to value.
fn read_csv(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(record.iter().map(String::from))
                .collect()
        })
        .collect()
}

// ---- The shared case table -------------------------------------------------------

#[test]
fn case_table_rows_match_expected() {
    let cases = read_csv(IDENTITY_CASES);
    assert_eq!(cases.len(), 23, "rows in tests/data/identity.csv");

    for case in cases {
        let (field, input, expected) = (&case["field"], &case["input"], &case["expected"]);
        let kind = field.replace('_', "-");
        let result = identity::check(&kind, input, today());

        match expected.as_str() {
            "accept" => assert_eq!(
                result.as_ref().ok(),
                Some(&case["normalized"]),
                "{field} {input:?}: {}",
                case["why"]
            ),
            "reject" => {
                let error = result.expect_err(&format!(
                    "{field} {input:?} must be rejected: {}",
                    case["why"]
                ));
                assert_eq!(error.field(), field.as_str(), "{input:?}");
            }
            other => panic!("unknown expectation {other}"),
        }
    }
}

#[test]
fn case_table_rejections_name_the_field() {
    let labels = [
        ("id_number", "身份证号码"),
        ("name", "姓名"),
        ("uscc", "统一社会信用代码"),
        ("mobile", "手机号码"),
    ];

    for case in read_csv(IDENTITY_CASES)
        .iter()
        .filter(|case| case["expected"] == "reject")
    {
        let field = case["field"].as_str();
        let error = identity::check(&field.replace('_', "-"), &case["input"], today()).unwrap_err();
        let message = error.message(Locale::ZhCn);
        let label = labels.iter().find(|(key, _)| *key == field).unwrap().1;

        assert!(
            message.contains(label),
            "{field} message {message:?} does not name {label}"
        );
        assert!(
            message.contains('请'),
            "{field} message {message:?} does not say what to do"
        );
        assert_ne!(
            message,
            error.code(),
            "{} has no catalogue text",
            error.code()
        );
    }
}

// ---- Named cases from the table --------------------------------------------------

#[test]
fn id_number_lowercase_x_becomes_uppercase() {
    assert_eq!(
        normalize_id_number("43010519900101004x", today())
            .unwrap()
            .as_str(),
        "43010519900101004X"
    );
}

#[test]
fn id_number_full_width_digits_accepted() {
    let id = normalize_id_number("４３０６８２１９８５０７１２３６１０", today()).unwrap();
    assert_eq!(id.as_str(), "430682198507123610");
}

#[test]
fn id_number_inner_spaces_removed() {
    let id = normalize_id_number("430102 19780303 5021", today()).unwrap();
    assert_eq!(id.as_str(), "430102197803035021");
}

#[test]
fn id_number_legacy_15_rejected() {
    let error = normalize_id_number("110105491231002", today()).unwrap_err();
    assert_eq!(error.code(), "id_number.legacy_15");
    assert!(error.message(Locale::ZhCn).contains("18 位"));
}

#[test]
fn id_number_wrong_check_rejected() {
    assert_eq!(id_error_code("430702199211304130"), "id_number.checksum");
}

#[test]
fn id_number_1900_feb_29_rejected() {
    let error = normalize_id_number("430105190002291233", today()).unwrap_err();
    assert_eq!(error.code(), "id_number.birth_date");
    assert!(error.message(Locale::ZhCn).contains("19000229"));
}

#[test]
fn id_number_2000_feb_29_accepted() {
    let id = normalize_id_number("43010520000229123X", today()).unwrap();
    assert_eq!(
        id.birth_date(),
        NaiveDate::from_ymd_opt(2000, 2, 29).unwrap()
    );
}

#[test]
fn id_number_future_birth_rejected() {
    assert_eq!(
        id_error_code("430105209901011239"),
        "id_number.birth_in_future"
    );
}

#[test]
fn id_number_hong_kong_permit_accepted() {
    let id = normalize_id_number("810000199001011230", today()).unwrap();
    assert!(id.is_residence_permit());
}

#[test]
fn name_bullet_becomes_middle_dot() {
    assert_eq!(
        normalize_name("阿依古丽•买买提").unwrap().as_str(),
        "阿依古丽·买买提"
    );
}

#[test]
fn name_katakana_dot_becomes_middle_dot() {
    assert_eq!(
        normalize_name("阿依古丽・买买提").unwrap().as_str(),
        "阿依古丽·买买提"
    );
}

#[test]
fn name_full_stop_becomes_middle_dot() {
    assert_eq!(
        normalize_name("阿依古丽.买买提").unwrap().as_str(),
        "阿依古丽·买买提"
    );
}

#[test]
fn name_leading_dot_rejected() {
    assert_eq!(
        normalize_name("·买买提").unwrap_err().code(),
        "name.leading_dot"
    );
}

#[test]
fn name_han_spaces_removed() {
    assert_eq!(normalize_name("  王 小明 ").unwrap().as_str(), "王小明");
}

#[test]
fn uscc_valid_code_accepted() {
    assert_eq!(
        normalize_uscc("91430102051321883T").unwrap().as_str(),
        "91430102051321883T"
    );
}

#[test]
fn uscc_lowercase_becomes_uppercase() {
    assert_eq!(
        normalize_uscc("91430102051321883t").unwrap().as_str(),
        "91430102051321883T"
    );
}

#[test]
fn uscc_letter_o_rejected() {
    let error = normalize_uscc("91430102O51321883T").unwrap_err();
    assert_eq!(
        error,
        IdentityError::UsccCharset {
            value: "91430102O51321883T".into(),
            character: 'O'
        }
    );
    assert_eq!(error.code(), "uscc.charset");
}

#[test]
fn uscc_wrong_check_goes_to_manual_verification() {
    let error = normalize_uscc("91430102051321883A").unwrap_err();
    assert!(matches!(error, IdentityError::UsccChecksumMismatch { .. }));
    assert_eq!(error.code(), "uscc.checksum");
    assert!(error.needs_manual_verification());
    assert!(error.message(Locale::ZhCn).contains("营业执照"));
    assert!(error.message(Locale::En).contains("business licence"));
}

#[test]
fn uscc_all_ones_rejected() {
    assert_eq!(
        normalize_uscc("111111111111111111").unwrap_err().code(),
        "uscc.checksum"
    );
}

#[test]
fn mobile_country_code_and_dashes_removed() {
    assert_eq!(
        normalize_mobile("+86 138-0013-8000").unwrap().as_str(),
        "13800138000"
    );
}

#[test]
fn mobile_0086_prefix_removed() {
    assert_eq!(
        normalize_mobile("008613800138000").unwrap().as_str(),
        "13800138000"
    );
}

#[test]
fn mobile_prefix_12_rejected() {
    assert_eq!(
        normalize_mobile("12800138000").unwrap_err().code(),
        "mobile.format"
    );
}

#[test]
fn mobile_ten_digits_rejected() {
    assert_eq!(
        normalize_mobile("1380013800").unwrap_err().code(),
        "mobile.format"
    );
}

// ---- ID numbers: tables of our own -----------------------------------------------

#[test]
fn id_number_leap_days() {
    let cases = [
        ("430105200402291239", Ok(())),
        ("430105199602291238", Ok(())),
        ("43010520000229123X", Ok(())),
        ("430105202302291230", Err("id_number.birth_date")),
        ("430105190002291233", Err("id_number.birth_date")),
        ("430105210002291239", Err("id_number.birth_date")),
    ];
    for (input, expected) in cases {
        let result = normalize_id_number(input, today())
            .map(|_| ())
            .map_err(|error| error.code());
        assert_eq!(result, expected, "{input}");
    }
}

#[test]
fn id_number_region_prefixes() {
    let cases = [
        ("810000199001011230", Ok(true)),
        ("820000199001011232", Ok(true)),
        ("830000199001011234", Ok(true)),
        ("910000199001011234", Ok(false)),
        ("430105199602291238", Ok(false)),
        ("840000199001011236", Err("id_number.region")),
        ("00000019900101123X", Err("id_number.region")),
    ];
    for (input, expected) in cases {
        let result = normalize_id_number(input, today())
            .map(|id| id.is_residence_permit())
            .map_err(|error| error.code());
        assert_eq!(result, expected, "{input}");
    }
}

#[test]
fn id_number_shape_errors() {
    let cases = [
        ("", "id_number.empty"),
        ("   ", "id_number.empty"),
        ("43010519900101004", "id_number.length"),
        ("4301051990010100412", "id_number.length"),
        ("43010519900101X04X", "id_number.charset"),
        ("43010519900101004Y", "id_number.charset"),
        ("430105199013010049", "id_number.birth_date"),
        ("430105180001010043", "id_number.birth_date"),
    ];
    for (input, code) in cases {
        assert_eq!(id_error_code(input), code, "{input:?}");
    }
}

#[test]
fn id_number_birth_today_accepted() {
    let body = "43010520261204123";
    let check = checksum::id_number_check_character(body).unwrap();
    let id = format!("{body}{check}");
    assert!(normalize_id_number(&id, today()).is_ok());

    let day_before = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    assert_eq!(
        normalize_id_number(&id, day_before).unwrap_err().code(),
        "id_number.birth_in_future"
    );
}

#[test]
fn id_number_demo_operators_valid() {
    let operators = read_csv(OPERATORS);
    assert_eq!(operators.len(), 229);

    for operator in operators {
        let number = &operator["id_number"];
        let expected_check = checksum::id_number_check_character(&number[..17]).unwrap();
        assert_eq!(number.chars().last(), Some(expected_check), "{number}");

        let id = normalize_id_number(number, today())
            .unwrap_or_else(|error| panic!("{number}: {error}"));
        assert_eq!(id.as_str(), number);
        assert_eq!(id.birth_date().format("%Y%m%d").to_string(), number[6..14]);
    }
}

#[test]
fn id_number_birth_date_and_gender() {
    let female = normalize_id_number("43010519900101004X", today()).unwrap();
    assert_eq!(
        female.birth_date(),
        NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
    );
    assert!(!female.is_male());
    assert_eq!(female.gender(), Gender::Female);

    let male = normalize_id_number("430302198302277431", today()).unwrap();
    assert!(male.is_male());
    assert_eq!(male.gender(), Gender::Male);
}

#[test]
fn id_number_masks() {
    let cases = [
        ("43010520000229123X", "430***********123X"),
        ("430302198302277431", "430***********7431"),
        ("810000199001011230", "810***********1230"),
    ];
    for (input, masked) in cases {
        assert_eq!(normalize_id_number(input, today()).unwrap().mask(), masked);
    }
}

#[test]
fn id_number_errors_carry_masked_value() {
    let error = normalize_id_number("430702199211304130", today()).unwrap_err();
    assert_eq!(
        error,
        IdentityError::IdNumberChecksumMismatch {
            masked: "430***********4130".into()
        }
    );
    assert!(!error.to_string().contains("430702199211304130"));
    assert!(!format!("{error:?}").contains("430702199211304130"));
}

#[test]
fn upgrade_legacy_15_appends_check() {
    let id = upgrade_legacy_15("110105491231002").unwrap();
    assert_eq!(id.as_str(), "11010519491231002X");
    assert_eq!(
        id.birth_date(),
        NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
    );
    assert!(normalize_id_number(id.as_str(), today()).is_ok());
}

#[test]
fn upgrade_legacy_15_rejects_bad_input() {
    assert_eq!(
        upgrade_legacy_15("11010549123100").unwrap_err().code(),
        "id_number.length"
    );
    assert_eq!(
        upgrade_legacy_15("11010549123100X").unwrap_err().code(),
        "id_number.charset"
    );
    assert_eq!(
        upgrade_legacy_15("110105490230002").unwrap_err().code(),
        "id_number.birth_date"
    );
}

// ---- Credit codes, mobiles and names: tables of our own --------------------------

#[test]
fn uscc_demo_units_valid() {
    let units = read_csv(UNITS);
    assert_eq!(units.len(), 12);
    for unit in units {
        let code = &unit["uscc"];
        assert_eq!(
            normalize_uscc(code)
                .map(|uscc| uscc.as_str().to_string())
                .as_ref(),
            Ok(code),
            "{}",
            unit["name"]
        );
    }
}

#[test]
fn uscc_check_character_known_codes() {
    let cases = [
        ("91430102051321883", 'T'),
        ("9143040520107337X", 'J'),
        ("91430602972035283", '0'),
    ];
    for (body, check) in cases {
        assert_eq!(checksum::uscc_check_character(body), Some(check), "{body}");
    }
    assert_eq!(checksum::uscc_check_character("9143010205132188"), None);
    assert_eq!(checksum::uscc_check_character("9143010205132188O"), None);
}

#[test]
fn uscc_shape_errors() {
    let cases = [
        ("", "uscc.empty"),
        ("91430102051321883", "uscc.length"),
        ("91430102051321883TT", "uscc.length"),
        ("91430102051321883I", "uscc.charset"),
        ("91430102051321883Z", "uscc.charset"),
    ];
    for (input, code) in cases {
        assert_eq!(normalize_uscc(input).unwrap_err().code(), code, "{input:?}");
    }
}

#[test]
fn uscc_dashes_and_full_width_removed() {
    assert_eq!(
        normalize_uscc(" 9143-0102-0513-2188-3T ").unwrap().as_str(),
        "91430102051321883T"
    );
    assert_eq!(
        normalize_uscc("９１４３０１０２０５１３２１８８３Ｔ")
            .unwrap()
            .as_str(),
        "91430102051321883T"
    );
}

#[test]
fn check_needs_the_kind() {
    // 430602198103152480 is a valid ID number whose last digit also passes the credit
    // code check, so the shape alone cannot tell the two apart.
    let number = "430602198103152480";
    assert_eq!(
        identity::check("id-number", number, today()).as_deref(),
        Ok(number)
    );
    assert_eq!(
        identity::check("uscc", number, today()).as_deref(),
        Ok(number)
    );
}

#[test]
fn check_unknown_kind_rejected() {
    let error = identity::check("passport", "E12345678", today()).unwrap_err();
    assert_eq!(error.code(), "identity.unknown_kind");
    assert_eq!(error.field(), "kind");
    assert!(error.message(Locale::ZhCn).contains("passport"));
}

#[test]
fn check_accepts_underscore_kind() {
    assert_eq!(
        identity::check("id_number", "43010519900101004x", today()).as_deref(),
        Ok("43010519900101004X")
    );
}

#[test]
fn mobile_variants() {
    let cases = [
        ("13800138000", Ok("13800138000")),
        ("8613800138000", Ok("13800138000")),
        ("(+86) 138 0013 8000", Ok("13800138000")),
        ("１３８００１３８０００", Ok("13800138000")),
        ("19912345678", Ok("19912345678")),
        ("", Err("mobile.empty")),
        ("861380013800", Err("mobile.format")),
        ("+8512800138000", Err("mobile.format")),
        ("1380013800a", Err("mobile.format")),
        ("010-12345678", Err("mobile.format")),
    ];
    for (input, expected) in cases {
        let result = normalize_mobile(input);
        let result = result
            .as_ref()
            .map(|mobile| mobile.as_str())
            .map_err(IdentityError::code);
        assert_eq!(result, expected, "{input:?}");
    }
}

#[test]
fn name_variants() {
    let cases = [
        ("阿依古丽 · 买买提", Ok("阿依古丽·买买提")),
        ("阿依古丽。买买提", Ok("阿依古丽·买买提")),
        ("阿依古丽\u{2027}买买提", Ok("阿依古丽·买买提")),
        ("阿依古丽\u{22C5}买买提", Ok("阿依古丽·买买提")),
        ("阿依古丽\u{FF65}买买提", Ok("阿依古丽·买买提")),
        ("阿依古丽\u{00B7}买买提", Ok("阿依古丽·买买提")),
        ("王\u{3000}小明", Ok("王小明")),
        ("𠮷野家", Ok("𠮷野家")),
        ("李〇", Ok("李〇")),
        ("Mary   Jane  Smith", Ok("Mary Jane Smith")),
        ("Jean-Pierre", Ok("Jean-Pierre")),
        ("", Err("name.empty")),
        ("买买提·", Err("name.trailing_dot")),
        ("买买提•", Err("name.trailing_dot")),
        ("阿依古丽··买买提", Err("name.double_dot")),
        ("阿依古丽.。买买提", Err("name.double_dot")),
        ("王小明2", Err("name.digit")),
        ("王小明②", Err("name.digit")),
        ("王小明(大)", Err("name.charset")),
    ];
    for (input, expected) in cases {
        let result = normalize_name(input);
        let result = result
            .as_ref()
            .map(|name| name.as_str())
            .map_err(IdentityError::code);
        assert_eq!(result, expected, "{input:?}");
    }
}

#[test]
fn name_length_limit() {
    let fifty = "阿".repeat(50);
    assert_eq!(normalize_name(&fifty).unwrap().as_str(), fifty);

    let error = normalize_name(&"阿".repeat(51)).unwrap_err();
    assert_eq!(error, IdentityError::NameTooLong { length: 51 });
    assert!(error.message(Locale::ZhCn).contains("50"));
}

#[test]
fn name_demo_operators_unchanged() {
    for operator in read_csv(OPERATORS) {
        let name = &operator["name"];
        assert_eq!(
            normalize_name(name)
                .map(|name| name.as_str().to_string())
                .as_ref(),
            Ok(name)
        );
    }
}

// ---- Messages --------------------------------------------------------------------

#[test]
fn display_is_zh_cn_message() {
    let error = normalize_mobile("12800138000").unwrap_err();
    assert_eq!(error.to_string(), error.message(Locale::ZhCn));
    assert!(error.to_string().contains("12800138000"));
}

#[test]
fn every_error_code_has_both_locales() {
    let errors = [
        normalize_id_number("", today()).unwrap_err(),
        normalize_id_number("110105491231002", today()).unwrap_err(),
        normalize_id_number("4301051990", today()).unwrap_err(),
        normalize_id_number("43010519900101X04X", today()).unwrap_err(),
        normalize_id_number("840000199001011236", today()).unwrap_err(),
        normalize_id_number("430105190002291233", today()).unwrap_err(),
        normalize_id_number("430105209901011239", today()).unwrap_err(),
        normalize_id_number("430702199211304130", today()).unwrap_err(),
        normalize_uscc("").unwrap_err(),
        normalize_uscc("9143").unwrap_err(),
        normalize_uscc("9143O").unwrap_err(),
        normalize_uscc("91430102051321883A").unwrap_err(),
        normalize_mobile("").unwrap_err(),
        normalize_mobile("1").unwrap_err(),
        normalize_name("").unwrap_err(),
        normalize_name("·a").unwrap_err(),
        normalize_name("a·").unwrap_err(),
        normalize_name("a··b").unwrap_err(),
        normalize_name("a1").unwrap_err(),
        normalize_name("a@b").unwrap_err(),
        normalize_name(&"a".repeat(51)).unwrap_err(),
        identity::check("x", "", today()).unwrap_err(),
    ];
    for error in errors {
        let catalogue = domain::messages::Catalogue::global();
        assert!(
            catalogue.contains(error.code()),
            "{} missing from the catalogue",
            error.code()
        );

        let zh = error.message(Locale::ZhCn);
        let en = error.message(Locale::En);
        assert!(
            !zh.contains('{'),
            "{}: unfilled placeholder in {zh:?}",
            error.code()
        );
        assert!(
            !en.contains('{'),
            "{}: unfilled placeholder in {en:?}",
            error.code()
        );
        assert_ne!(zh, en, "{}", error.code());
    }
}
