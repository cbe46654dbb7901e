//! Tests of the operator catalogue: parsing, lookups, 2011 code mapping and resolution.

use domain::catalogue::{Catalogue, CatalogueError, CatalogueVersion, ItemRef};
use domain::messages::Locale;

fn item_ref(code: &str) -> ItemRef {
    ItemRef {
        code: code.to_string(),
        catalogue_version: CatalogueVersion::V2019,
    }
}

fn codes(items: &[&domain::catalogue::Item]) -> Vec<String> {
    items
        .iter()
        .map(|item| item.code.clone().unwrap_or_default())
        .collect()
}

#[test]
fn embedded_has_all_rows() {
    let catalogue = Catalogue::embedded();
    assert_eq!(catalogue.items().len(), 20);

    let coded = catalogue
        .items()
        .iter()
        .filter(|item| item.code.is_some())
        .count();
    assert_eq!(coded, 18);
}

#[test]
fn embedded_note_with_comma_kept() {
    let r1 = Catalogue::embedded().item("R1").unwrap();
    assert_eq!(r1.name, "快开门式压力容器操作");
    assert_eq!(
        r1.note,
        "legacy R1 meant 固定式压力容器操作: same code, different item"
    );
}

#[test]
fn item_by_code_ignores_case() {
    let catalogue = Catalogue::embedded();
    let t = catalogue.item(" t ").unwrap();
    assert_eq!(t.name, "电梯修理");
    assert_eq!(t.category_no, 5);
    assert_eq!(t.category_name, "电梯作业");
    assert_eq!(t.legacy_2011_codes, vec!["T1", "T2"]);
    assert!(catalogue.item("Z9").is_none());
}

#[test]
fn trial_items_are_open_ones() {
    let catalogue = Catalogue::embedded();
    assert_eq!(
        codes(&catalogue.trial_items()),
        vec!["R1", "R2", "R3", "T", "N1", "N2"]
    );
}

#[test]
fn welding_rows_kept_without_code() {
    let catalogue = Catalogue::embedded();
    let welding: Vec<_> = catalogue
        .items()
        .iter()
        .filter(|item| item.category_no == 11)
        .collect();
    assert_eq!(welding.len(), 2);
    assert!(
        welding
            .iter()
            .all(|item| item.code.is_none() && item.item_ref().is_none())
    );
    assert!(catalogue.item("").is_none());
}

#[test]
fn legacy_codes_map_to_2019() {
    let catalogue = Catalogue::embedded();
    let cases = [
        ("N2", Some("N1")),
        ("T1", Some("T")),
        ("T2", Some("T")),
        ("N4", Some("N2")),
        ("R2", Some("R2")),
        ("A3", Some("A")),
        ("R1", None),
        ("N1", None),
        ("T3", None),
    ];
    for (legacy, expected) in cases {
        let mapped = catalogue
            .map_legacy_2011(legacy)
            .and_then(|item| item.code.as_deref());
        assert_eq!(mapped, expected, "legacy {legacy}");
    }
}

#[test]
fn resolve_2019_codes_and_names() {
    let catalogue = Catalogue::embedded();
    let cases = [
        ("T", "T"),
        ("n1", "N1"),
        ("电梯修理", "T"),
        ("电梯维修", "T"),
        ("叉车司机", "N1"),
        ("观光车和观光列车司机", "N2"),
        ("观光车或观光列车司机", "N2"),
        (" 快开门式压力容器操作 ", "R1"),
        ("Ｒ２", "R2"),
    ];
    for (input, code) in cases {
        assert_eq!(
            catalogue.resolve(input, CatalogueVersion::V2019),
            Ok(item_ref(code)),
            "{input}"
        );
    }
}

#[test]
fn resolve_2011_codes() {
    let catalogue = Catalogue::embedded();
    assert_eq!(
        catalogue.resolve("N2", CatalogueVersion::V2011),
        Ok(item_ref("N1"))
    );
    assert_eq!(
        catalogue.resolve("T1", CatalogueVersion::V2011),
        Ok(item_ref("T"))
    );
    assert_eq!(
        catalogue.resolve("叉车司机", CatalogueVersion::V2011),
        Ok(item_ref("N1"))
    );
}

#[test]
fn resolve_legacy_r1_unmapped() {
    let error = Catalogue::embedded()
        .resolve("R1", CatalogueVersion::V2011)
        .unwrap_err();
    assert_eq!(error, CatalogueError::LegacyUnmapped { code: "R1".into() });
    assert_eq!(error.code(), "catalogue.legacy_unmapped");
    assert!(error.message(Locale::ZhCn).contains("R1"));
}

#[test]
fn resolve_unknown_item_rejected() {
    let catalogue = Catalogue::embedded();
    let error = catalogue
        .resolve("Z9", CatalogueVersion::V2019)
        .unwrap_err();
    assert_eq!(error.code(), "catalogue.unknown_item");
    assert!(error.message(Locale::ZhCn).contains("Z9"));
    assert_eq!(
        catalogue
            .resolve("电梯安装", CatalogueVersion::V2011)
            .unwrap_err()
            .code(),
        "catalogue.unknown_item"
    );
    assert_eq!(
        catalogue
            .resolve("  ", CatalogueVersion::V2019)
            .unwrap_err(),
        CatalogueError::Empty
    );
}

#[test]
fn resolve_welding_name_has_no_code() {
    let error = Catalogue::embedded()
        .resolve("金属焊接操作", CatalogueVersion::V2019)
        .unwrap_err();
    assert_eq!(
        error,
        CatalogueError::ItemWithoutCode {
            name: "金属焊接操作".into()
        }
    );
}

#[test]
fn item_ref_serializes_version() {
    let json = serde_json::to_string(&item_ref("N1")).unwrap();
    assert_eq!(json, r#"{"code":"N1","catalogue_version":"2019"}"#);
    let back: ItemRef = serde_json::from_str(&json).unwrap();
    assert_eq!(back, item_ref("N1"));
}

#[test]
fn version_parse_spellings() {
    let cases = [
        ("2019", Some(CatalogueVersion::V2019)),
        (" 2011 ", Some(CatalogueVersion::V2011)),
        ("2011版", Some(CatalogueVersion::V2011)),
        ("２０１９年", Some(CatalogueVersion::V2019)),
        ("", None),
        ("2020", None),
    ];
    for (text, expected) in cases {
        assert_eq!(CatalogueVersion::parse(text), expected, "{text:?}");
    }
}

#[test]
fn parse_csv_without_aliases_column() {
    let text = "category_no,category_name,item_code,item_name,trial,legacy_2011_codes,note\n\
                5,电梯作业,T,电梯修理,yes,T1;T2,\n";
    let catalogue = Catalogue::parse_csv(text).unwrap();
    assert_eq!(catalogue.items()[0].aliases, Vec::<String>::new());
    assert_eq!(
        catalogue.resolve("T2", CatalogueVersion::V2011),
        Ok(item_ref("T"))
    );
}

#[test]
fn parse_csv_reports_unquoted_comma() {
    // The R1 note as first delivered, with an unquoted comma, on line 3.
    let text = "category_no,category_name,item_code,item_name,trial,legacy_2011_codes,note\r\n\
                5,电梯作业,T,电梯修理,yes,T1;T2,\r\n\
                3,压力容器作业,R1,快开门式压力容器操作,yes,,legacy R1: same code, different item\r\n";
    let error = Catalogue::parse_csv(text).unwrap_err();
    assert!(
        matches!(error, CatalogueError::Csv { line: 3, .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), "catalogue.csv");
}

#[test]
fn parse_csv_rejects_bad_rows() {
    let header = "category_no,category_name,item_code,item_name,trial,legacy_2011_codes,note\n";
    let cases = [
        (
            "x,电梯作业,T,电梯修理,yes,,\n",
            CatalogueError::InvalidValue {
                line: 2,
                column: "category_no",
                value: "x".into(),
            },
        ),
        (
            "5,电梯作业,T,电梯修理,maybe,,\n",
            CatalogueError::InvalidValue {
                line: 2,
                column: "trial",
                value: "maybe".into(),
            },
        ),
        (
            "5,电梯作业,T,,yes,,\n",
            CatalogueError::InvalidValue {
                line: 2,
                column: "item_name",
                value: String::new(),
            },
        ),
        (
            "5,电梯作业,T,电梯修理,yes,,\n6,起重机作业,T,起重机司机,no,,\n",
            CatalogueError::Duplicate {
                line: 3,
                column: "item_code",
                value: "T".into(),
            },
        ),
        (
            "5,电梯作业,T,电梯修理,yes,T1,\n6,起重机作业,Q2,起重机司机,no,T1,\n",
            CatalogueError::Duplicate {
                line: 3,
                column: "legacy_2011_codes",
                value: "T1".into(),
            },
        ),
    ];
    for (rows, expected) in cases {
        assert_eq!(
            Catalogue::parse_csv(&format!("{header}{rows}")).unwrap_err(),
            expected,
            "{rows}"
        );
    }

    let missing = Catalogue::parse_csv("category_no,item_code\n1,A\n").unwrap_err();
    assert_eq!(
        missing,
        CatalogueError::MissingColumn {
            column: "category_name"
        }
    );
}

#[test]
fn errors_have_catalogue_messages() {
    let errors = [
        CatalogueError::MissingColumn { column: "trial" },
        CatalogueError::InvalidValue {
            line: 2,
            column: "trial",
            value: "maybe".into(),
        },
        CatalogueError::Duplicate {
            line: 3,
            column: "item_code",
            value: "T".into(),
        },
        CatalogueError::Csv {
            line: 6,
            detail: "found record with 8 fields".into(),
        },
        CatalogueError::Empty,
        CatalogueError::UnknownItem {
            input: "Z9".into(),
            version: CatalogueVersion::V2019,
        },
        CatalogueError::LegacyUnmapped { code: "R1".into() },
        CatalogueError::ItemWithoutCode {
            name: "金属焊接操作".into(),
        },
    ];
    for error in errors {
        assert!(
            domain::messages::Catalogue::global().contains(error.code()),
            "{}",
            error.code()
        );
        for locale in [Locale::ZhCn, Locale::En] {
            let message = error.message(locale);
            assert!(!message.contains('{'), "{}: {message}", error.code());
        }
    }
}
