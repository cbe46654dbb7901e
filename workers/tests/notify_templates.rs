//! The shipped notification templates and the checks on template sets.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use workers::notify::{
    Channel, DEFAULT_SMS_SIGN, SINGLE_SMS_CHARS, TemplateError, TemplateProblemKind, Templates,
};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("certflow-{label}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(path.join("sms")).expect("create sms directory");
        std::fs::create_dir_all(path.join("email")).expect("create email directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.0.join(relative), text).expect("write template file");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions/templates")
}

/// Typical values: a common operator name, a long operation item name and a short reason.
fn sample_value(field: &str) -> Value {
    match field {
        "code" => json!("482913"),
        "minutes" => json!(5),
        "name" => json!("欧阳明华"),
        "year" => json!(2025),
        "item_name" => json!("工业锅炉司炉"),
        "credits" => json!(12),
        "required" => json!(20),
        "score" => json!(58),
        "pass_mark" => json!(60),
        "reason" => json!("人脸比对不一致"),
        "card_no" => json!("JX2025-000123"),
        "unit_name" => json!("杭州某某特种设备有限公司"),
        "accepted" => json!(48),
        "rejected" => json!(2),
        "certificate_no" => json!("TZ-2022-0042"),
        "expires_on" => json!("2026-04-19"),
        "apply_by" => json!("2026-03-19"),
        "behind_count" => json!(3),
        "behind_list" => json!("欧阳明华 工业锅炉司炉 12/20"),
        "title" => json!("2026年第一期电梯安全内部培训"),
        "decision" => json!("退回修改"),
        "new_mobile_masked" => json!("139****9002"),
        other => panic!("no sample value for field {other}; add one to sample_value"),
    }
}

fn sample_data(templates: &Templates, name: &str) -> Value {
    let fields = templates
        .fields(name)
        .unwrap_or_else(|| panic!("{name} has no fields entry"));
    let data: Map<String, Value> = fields
        .iter()
        .map(|field| (field.clone(), sample_value(field)))
        .collect();
    Value::Object(data)
}

fn shipped_file_names() -> Vec<(Channel, String, String)> {
    let mut files = Vec::new();
    for channel in [Channel::Sms, Channel::Email] {
        let dir = shipped_dir().join(channel.to_string());
        for entry in std::fs::read_dir(&dir).expect("read shipped template directory") {
            let file_name = entry
                .expect("read directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            let stem = file_name
                .strip_suffix(".hbs")
                .expect("only .hbs files are shipped");
            let (name, locale) = stem.rsplit_once('.').expect("file name has a locale");
            files.push((channel, name.to_string(), locale.to_string()));
        }
    }
    files.sort();
    files
}

/// Tests live in this module so that `cargo test -p workers notify` selects them.
mod notify_templates {
    use super::*;

    #[test]
    fn embedded_matches_directory() {
        let embedded = Templates::embedded().expect("load embedded templates");
        let loaded = Templates::load_dir(shipped_dir()).expect("load template directory");

        let files = shipped_file_names();
        assert_eq!(files.len(), 74, "shipped files: {files:?}");
        for (channel, name, locale) in &files {
            assert!(
                embedded.has(*channel, name, locale),
                "{channel}/{name}.{locale}.hbs is not embedded"
            );
            assert!(
                loaded.has(*channel, name, locale),
                "{channel}/{name}.{locale}.hbs did not load"
            );
        }
        assert_eq!(embedded.names(), loaded.names());
    }

    #[test]
    fn shipped_set_checks_clean() {
        let templates = Templates::embedded().expect("load embedded templates");
        let problems: Vec<String> = templates.check().iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "problems: {problems:#?}");
    }

    #[test]
    fn shipped_names_and_channels() {
        let templates = Templates::embedded().expect("load embedded templates");
        let sms_and_email = [
            "registered",
            "enrolled",
            "credits_short",
            "review_flagged",
            "exam_voided",
            "card_issued",
            "card_revoked",
        ];
        for name in sms_and_email {
            for channel in [Channel::Sms, Channel::Email] {
                assert!(
                    templates.has(channel, name, "zh-CN"),
                    "{channel}/{name} is missing"
                );
            }
        }
        for name in ["login_code", "exam_failed", "credits_awarded"] {
            assert!(
                templates.has(Channel::Sms, name, "zh-CN"),
                "sms/{name} is missing"
            );
            assert!(
                !templates.has(Channel::Email, name, "zh-CN"),
                "email/{name} is unexpected"
            );
        }
        assert!(templates.has(Channel::Email, "roster_imported", "zh-CN"));
        assert!(!templates.has(Channel::Sms, "roster_imported", "zh-CN"));
        assert_eq!(
            templates.fields("login_code"),
            Some(&["code".to_string(), "minutes".to_string()][..])
        );
        assert_eq!(templates.fields("no_such_template"), None);
    }

    #[test]
    fn every_shipped_template_renders() {
        let templates = Templates::embedded().expect("load embedded templates");
        for (channel, name, locale) in shipped_file_names() {
            let data = sample_data(&templates, &name);
            let rendered = templates
                .render(channel, &name, &locale, &data)
                .unwrap_or_else(|error| panic!("{channel}/{name}.{locale}: {error}"));
            let label = format!("{channel}/{name}.{locale}");

            assert!(
                !rendered.body.trim().is_empty(),
                "{label} has an empty body"
            );
            assert!(
                !rendered.body.contains("{{"),
                "{label} left a placeholder: {}",
                rendered.body
            );
            match channel {
                Channel::Sms => assert_eq!(rendered.subject, None, "{label}"),
                Channel::Email => {
                    let subject = rendered.subject.as_deref().unwrap_or("");
                    assert!(!subject.is_empty(), "{label} has an empty subject");
                    assert!(!subject.contains('\n'), "{label} subject spans lines");
                }
            }

            let has_chinese = rendered
                .body
                .chars()
                .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch));
            if locale == "zh-CN" {
                assert!(has_chinese, "{label} has no Chinese text");
            } else {
                let data_chinese = [
                    "欧阳明华",
                    "工业锅炉司炉",
                    "人脸比对不一致",
                    "杭州某某特种设备有限公司",
                    "2026年第一期电梯安全内部培训",
                    "退回修改",
                ];
                let mut without_values = rendered.body.clone();
                for value in data_chinese {
                    without_values = without_values.replace(value, "");
                }
                let stray = without_values
                    .chars()
                    .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch));
                assert!(
                    !stray,
                    "{label} has Chinese text outside the values: {}",
                    rendered.body
                );
            }
        }
    }

    #[test]
    fn sms_fits_one_message_with_sign() {
        let templates = Templates::embedded().expect("load embedded templates");
        for (channel, name, locale) in shipped_file_names() {
            if channel != Channel::Sms || locale != "zh-CN" {
                continue;
            }
            let data = sample_data(&templates, &name);
            let rendered = templates
                .render(channel, &name, &locale, &data)
                .expect("render");
            let text = format!("{DEFAULT_SMS_SIGN}{}", rendered.body);
            let chars = text.chars().count();
            assert!(
                chars <= SINGLE_SMS_CHARS,
                "sms/{name}.zh-CN has {chars} characters with the sign: {text}"
            );
        }
    }

    #[test]
    fn no_template_claims_national_rule() {
        for (channel, name, locale) in shipped_file_names() {
            let path = shipped_dir().join(format!("{channel}/{name}.{locale}.hbs"));
            let text = std::fs::read_to_string(&path).expect("read template");
            for word in ["国家", "全国", "national", "National"] {
                assert!(!text.contains(word), "{} mentions {word:?}", path.display());
            }
        }
    }

    #[test]
    fn check_reports_unknown_field_with_file() {
        let dir = TempDir::new("templates-unknown-field");
        dir.write("fields.yaml", "greeting: [name]\n");
        dir.write("sms/greeting.zh-CN.hbs", "{{name}}，您好，{{nickname}}。\n");
        dir.write(
            "email/greeting.zh-CN.hbs",
            "Subject: 问候{{title}}\n\n{{name}}，您好。\n",
        );
        let templates = Templates::load_dir(dir.path()).expect("load templates");

        let problems = templates.check();

        assert_eq!(problems.len(), 2, "problems: {problems:#?}");
        assert_eq!(problems[0].file, "sms/greeting.zh-CN.hbs");
        assert_eq!(
            problems[0].kind,
            TemplateProblemKind::UnknownField {
                name: "greeting".to_string(),
                field: "nickname".to_string()
            }
        );
        assert_eq!(problems[1].file, "email/greeting.zh-CN.hbs");
        assert_eq!(
            problems[1].kind,
            TemplateProblemKind::UnknownField {
                name: "greeting".to_string(),
                field: "title".to_string()
            }
        );
        let message = problems[0].to_string();
        assert!(message.contains("sms/greeting.zh-CN.hbs"), "{message}");
        assert!(message.contains("nickname"), "{message}");
    }

    #[test]
    fn check_reports_missing_zh_cn() {
        let dir = TempDir::new("templates-missing-zh");
        dir.write("fields.yaml", "greeting: [name]\n");
        dir.write("sms/greeting.en.hbs", "Hello {{name}}.\n");
        let templates = Templates::load_dir(dir.path()).expect("load templates");

        let problems = templates.check();

        assert_eq!(problems.len(), 1, "problems: {problems:#?}");
        assert_eq!(problems[0].file, "sms/greeting.zh-CN.hbs");
        assert_eq!(
            problems[0].kind,
            TemplateProblemKind::MissingDefaultLocale {
                channel: Channel::Sms,
                name: "greeting".to_string()
            }
        );
    }

    #[test]
    fn check_reports_declaration_mismatches() {
        let dir = TempDir::new("templates-declarations");
        dir.write("fields.yaml", "greeting: [name]\nfarewell: [name]\n");
        dir.write("sms/greeting.zh-CN.hbs", "{{name}}，您好。\n");
        dir.write("sms/undeclared.zh-CN.hbs", "你好。\n");
        dir.write("sms/looping.zh-CN.hbs", "{{#each name}}{{this}}{{/each}}\n");
        let templates = Templates::load_dir(dir.path()).expect("load templates");

        let problems = templates.check();
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();

        let undeclared = problems.iter().any(|problem| {
            problem.file == "sms/undeclared.zh-CN.hbs"
                && problem.kind
                    == TemplateProblemKind::UndeclaredTemplate {
                        name: "undeclared".to_string(),
                    }
        });
        assert!(undeclared, "problems: {rendered:#?}");
        let unused = problems.iter().any(|problem| {
            problem.file == "fields.yaml"
                && problem.kind
                    == TemplateProblemKind::UnusedDeclaration {
                        name: "farewell".to_string(),
                    }
        });
        assert!(unused, "problems: {rendered:#?}");
        let unsupported = problems.iter().any(|problem| {
            problem.file == "sms/looping.zh-CN.hbs"
                && matches!(&problem.kind, TemplateProblemKind::UnsupportedSyntax { construct } if construct.contains("each"))
        });
        assert!(unsupported, "problems: {rendered:#?}");
    }

    #[test]
    fn strict_mode_rejects_missing_field() {
        let templates = Templates::embedded().expect("load embedded templates");
        let data = json!({ "name": "张伟", "year": 2025 });

        let error = templates
            .render(Channel::Sms, "enrolled", "zh-CN", &data)
            .expect_err("item_name is missing");

        assert!(matches!(error, TemplateError::Render { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("sms/enrolled.zh-CN.hbs"), "{message}");
        assert!(message.contains("item_name"), "{message}");
    }

    #[test]
    fn render_rejects_non_object_data() {
        let templates = Templates::embedded().expect("load embedded templates");

        let error = templates
            .render(Channel::Sms, "registered", "zh-CN", &json!(["张伟"]))
            .expect_err("data is an array");

        assert!(error.to_string().contains("JSON object"), "{error}");
    }

    #[test]
    fn render_unknown_template_is_not_found() {
        let templates = Templates::embedded().expect("load embedded templates");

        let error = templates
            .render(
                Channel::Email,
                "login_code",
                "zh-CN",
                &json!({ "code": "1", "minutes": 5 }),
            )
            .expect_err("login_code has no email template");

        assert!(matches!(error, TemplateError::NotFound { .. }), "{error:?}");
    }

    #[test]
    fn locale_falls_back_by_language_then_zh_cn() {
        let templates = Templates::embedded().expect("load embedded templates");
        let data = json!({ "name": "Li Lei" });
        let render = |locale: &str| {
            templates
                .render(Channel::Sms, "registered", locale, &data)
                .expect("render")
                .body
        };

        let english = render("en");
        let chinese = render("zh-CN");
        assert_eq!(render("en-US"), english);
        assert_eq!(render("zh"), chinese);
        assert_eq!(render("fr"), chinese);
        assert_ne!(english, chinese);
    }

    #[test]
    fn render_does_not_escape_values() {
        let templates = Templates::embedded().expect("load embedded templates");
        let data = json!({ "name": "A&B <李>", "year": 2025, "item_name": "\"起重机\"指挥" });

        let rendered = templates
            .render(Channel::Email, "enrolled", "zh-CN", &data)
            .expect("render");

        assert!(rendered.body.contains("A&B <李>"), "{}", rendered.body);
        assert!(
            rendered
                .subject
                .as_deref()
                .unwrap_or("")
                .contains("\"起重机\"指挥")
        );
    }

    #[test]
    fn subject_line_breaks_become_spaces() {
        let templates = Templates::embedded().expect("load embedded templates");
        let data =
            json!({ "name": "张伟", "year": 2025, "item_name": "叉车\r\nBcc: x@example.com" });

        let rendered = templates
            .render(Channel::Email, "enrolled", "zh-CN", &data)
            .expect("render");

        let subject = rendered.subject.expect("email has a subject");
        assert!(
            !subject.contains('\n') && !subject.contains('\r'),
            "{subject:?}"
        );
        assert!(subject.contains("叉车 Bcc: x@example.com"), "{subject:?}");
    }

    #[test]
    fn load_rejects_email_without_subject() {
        let dir = TempDir::new("templates-no-subject");
        dir.write("fields.yaml", "greeting: [name]\n");
        dir.write("email/greeting.zh-CN.hbs", "{{name}}，您好。\n");

        let error = Templates::load_dir(dir.path()).expect_err("subject line is missing");

        assert!(
            matches!(error, TemplateError::MissingSubject { .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("email/greeting.zh-CN.hbs"),
            "{error}"
        );
    }

    #[test]
    fn load_rejects_syntax_error_with_file() {
        let dir = TempDir::new("templates-syntax");
        dir.write("fields.yaml", "greeting: [name]\n");
        dir.write("sms/greeting.zh-CN.hbs", "{{#if name}}您好\n");

        let error = Templates::load_dir(dir.path()).expect_err("unclosed block");

        assert!(matches!(error, TemplateError::Syntax { .. }), "{error:?}");
        assert!(
            error.to_string().contains("sms/greeting.zh-CN.hbs"),
            "{error}"
        );
    }

    #[test]
    fn load_rejects_bad_file_name() {
        let dir = TempDir::new("templates-file-name");
        dir.write("fields.yaml", "greeting: [name]\n");
        dir.write("sms/greeting.hbs", "{{name}}\n");

        let error = Templates::load_dir(dir.path()).expect_err("locale is missing from the name");

        assert!(
            matches!(error, TemplateError::InvalidFileName { .. }),
            "{error:?}"
        );
    }
}
