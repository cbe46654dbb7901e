//! Notification templates: `definitions/templates/{sms,email}/<name>.<locale>.hbs`.
//!
//! An email template starts with a `Subject: …` line and a blank line, and the rest is the
//! plain-text body. An SMS template is the body alone, without the sign that the SMS
//! gateway adds. `definitions/templates/fields.yaml` maps each template name to the fields
//! its files may use, and [`Templates::check`] reports a file that uses any other field.
//!
//! Rendering runs Handlebars in strict mode without HTML escaping, so a field missing from
//! the data is an error and values appear as given.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use handlebars::{Handlebars, Template};
use serde_json::Value;
use tracing::debug;

use super::message::Channel;
use super::template_usage::{TemplateUsage, collect_usage};

/// The locale every template must have. Rendering falls back to it.
pub const DEFAULT_LOCALE: &str = "zh-CN";

/// Name of the sidecar file that declares the fields of each template.
const FIELDS_FILE: &str = "fields.yaml";

macro_rules! shipped_templates {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../definitions/templates/", $path)))),*]
    };
}

/// The template files compiled into the binary, as (path relative to
/// `definitions/templates/`, text). The test `embedded_matches_directory` fails when a
/// file is added to the directory but not here.
const SHIPPED_FILES: &[(&str, &str)] = shipped_templates![
    "sms/login_code.zh-CN.hbs",
    "sms/login_code.en.hbs",
    "sms/registered.zh-CN.hbs",
    "sms/registered.en.hbs",
    "sms/enrolled.zh-CN.hbs",
    "sms/enrolled.en.hbs",
    "sms/credits_short.zh-CN.hbs",
    "sms/credits_short.en.hbs",
    "sms/exam_failed.zh-CN.hbs",
    "sms/exam_failed.en.hbs",
    "sms/review_flagged.zh-CN.hbs",
    "sms/review_flagged.en.hbs",
    "sms/exam_voided.zh-CN.hbs",
    "sms/exam_voided.en.hbs",
    "sms/credits_awarded.zh-CN.hbs",
    "sms/credits_awarded.en.hbs",
    "sms/card_issued.zh-CN.hbs",
    "sms/card_issued.en.hbs",
    "sms/card_revoked.zh-CN.hbs",
    "sms/card_revoked.en.hbs",
    "email/registered.zh-CN.hbs",
    "email/registered.en.hbs",
    "email/enrolled.zh-CN.hbs",
    "email/enrolled.en.hbs",
    "email/credits_short.zh-CN.hbs",
    "email/credits_short.en.hbs",
    "email/review_flagged.zh-CN.hbs",
    "email/review_flagged.en.hbs",
    "email/exam_voided.zh-CN.hbs",
    "email/exam_voided.en.hbs",
    "email/card_issued.zh-CN.hbs",
    "email/card_issued.en.hbs",
    "email/card_revoked.zh-CN.hbs",
    "email/card_revoked.en.hbs",
    "email/roster_imported.zh-CN.hbs",
    "email/roster_imported.en.hbs",
    "sms/certificate_review.zh-CN.hbs",
    "sms/certificate_review.en.hbs",
    "sms/unit_digest.zh-CN.hbs",
    "sms/unit_digest.en.hbs",
    "email/certificate_review.zh-CN.hbs",
    "email/certificate_review.en.hbs",
    "email/unit_digest.zh-CN.hbs",
    "email/unit_digest.en.hbs",
    "sms/review_decided.zh-CN.hbs",
    "sms/review_decided.en.hbs",
    "email/review_decided.zh-CN.hbs",
    "email/review_decided.en.hbs",
    "sms/review_decided_final.zh-CN.hbs",
    "sms/review_decided_final.en.hbs",
    "email/review_decided_final.zh-CN.hbs",
    "email/review_decided_final.en.hbs",
    "sms/unit_released.zh-CN.hbs",
    "sms/unit_released.en.hbs",
    "email/unit_released.zh-CN.hbs",
    "email/unit_released.en.hbs",
    "sms/unit_joined.zh-CN.hbs",
    "sms/unit_joined.en.hbs",
    "email/unit_joined.zh-CN.hbs",
    "email/unit_joined.en.hbs",
    "sms/training_decided.zh-CN.hbs",
    "sms/training_decided.en.hbs",
    "email/training_decided.zh-CN.hbs",
    "email/training_decided.en.hbs",
    "sms/unit_reminder.zh-CN.hbs",
    "sms/unit_reminder.en.hbs",
    "email/unit_reminder.zh-CN.hbs",
    "email/unit_reminder.en.hbs",
    "sms/mobile_change_code.zh-CN.hbs",
    "sms/mobile_change_code.en.hbs",
    "sms/mobile_change_confirm.zh-CN.hbs",
    "sms/mobile_change_confirm.en.hbs",
    "sms/mobile_changed.zh-CN.hbs",
    "sms/mobile_changed.en.hbs",
];

const SHIPPED_FIELDS: &str = include_str!("../../../definitions/templates/fields.yaml");

/// Output of [`Templates::render`]. `subject` is `Some` for email and `None` for SMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub body: String,
}

/// Failure to load or render a template. Load errors name the file relative to the
/// template directory.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("failed to read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("invalid {FIELDS_FILE}: {message}")]
    InvalidFields { message: String },

    #[error(
        "invalid template file name {file}: expected <name>.<locale>.hbs, such as login_code.zh-CN.hbs"
    )]
    InvalidFileName { file: String },

    #[error(
        "invalid email template {file}: the first line must be `Subject: …` and the second line must be empty"
    )]
    MissingSubject { file: String },

    #[error("invalid template {file}: {message}")]
    Syntax { file: String, message: String },

    #[error("template {channel}/{name} not found in locale {locale} or {DEFAULT_LOCALE}")]
    NotFound {
        channel: Channel,
        name: String,
        locale: String,
    },

    #[error("failed to render template {file}: {message}")]
    Render { file: String, message: String },
}

/// A problem that [`Templates::check`] found, located by file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateProblem {
    /// Path relative to the template directory, such as `sms/login_code.en.hbs`. For a
    /// missing file it is the path the file is expected at.
    pub file: String,
    pub kind: TemplateProblemKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateProblemKind {
    /// A template exists in some locale but not in zh-CN.
    MissingDefaultLocale { channel: Channel, name: String },
    /// A template uses a field that `fields.yaml` does not declare for it.
    UnknownField { name: String, field: String },
    /// A template name has no entry in `fields.yaml`.
    UndeclaredTemplate { name: String },
    /// A `fields.yaml` entry has no template file in any channel.
    UnusedDeclaration { name: String },
    /// A template uses a partial, a decorator or a helper outside the allowed set.
    UnsupportedSyntax { construct: String },
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = &self.file;
        match &self.kind {
            TemplateProblemKind::MissingDefaultLocale { channel, name } => write!(
                f,
                "{file}: missing; {channel} template {name} has other locales but no {DEFAULT_LOCALE}"
            ),
            TemplateProblemKind::UnknownField { name, field } => write!(
                f,
                "{file}: uses field `{field}`, which {FIELDS_FILE} does not declare for {name}"
            ),
            TemplateProblemKind::UndeclaredTemplate { name } => {
                write!(f, "{file}: template {name} has no entry in {FIELDS_FILE}")
            }
            TemplateProblemKind::UnusedDeclaration { name } => {
                write!(f, "{file}: entry {name} has no template file")
            }
            TemplateProblemKind::UnsupportedSyntax { construct } => {
                write!(
                    f,
                    "{file}: uses {construct}, which notification templates do not support"
                )
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TemplateKey {
    channel: Channel,
    name: String,
    locale: String,
}

impl TemplateKey {
    fn file(&self) -> String {
        format!("{}/{}.{}.hbs", self.channel, self.name, self.locale)
    }

    fn body_id(&self) -> String {
        format!("{}/{}.{}#body", self.channel, self.name, self.locale)
    }

    fn subject_id(&self) -> String {
        format!("{}/{}.{}#subject", self.channel, self.name, self.locale)
    }
}

/// The loaded template set, ready to render.
pub struct Templates {
    registry: Handlebars<'static>,
    usage: BTreeMap<TemplateKey, TemplateUsage>,
    fields: BTreeMap<String, Vec<String>>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<String> = self.usage.keys().map(TemplateKey::file).collect();
        f.debug_struct("Templates")
            .field("files", &files)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// Loads `fields.yaml` and every `.hbs` file under `sms/` and `email/` of `dir`.
    ///
    /// A missing channel directory counts as empty. Files that do not end in `.hbs` are
    /// ignored.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Templates, TemplateError> {
        let dir = dir.as_ref();
        let fields_path = dir.join(FIELDS_FILE);
        let fields_yaml = read_text(&fields_path)?;

        let mut files = Vec::new();
        for channel in Channel::ALL {
            let channel_dir = dir.join(channel.as_str());
            if !channel_dir.is_dir() {
                continue;
            }
            let entries = std::fs::read_dir(&channel_dir).map_err(|source| TemplateError::Io {
                path: channel_dir.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| TemplateError::Io {
                    path: channel_dir.clone(),
                    source,
                })?;
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if !file_name.ends_with(".hbs") {
                    continue;
                }
                let text = read_text(&entry.path())?;
                files.push((format!("{channel}/{file_name}"), text));
            }
        }
        files.sort();

        Templates::from_sources(
            &fields_yaml,
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        )
    }

    /// Loads the templates compiled into the binary from `definitions/templates/`.
    pub fn embedded() -> Result<Templates, TemplateError> {
        Templates::from_sources(SHIPPED_FIELDS, SHIPPED_FILES.iter().copied())
    }

    fn from_sources<'a>(
        fields_yaml: &str,
        files: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Templates, TemplateError> {
        let fields: BTreeMap<String, Vec<String>> = marked_yaml::from_yaml(0, fields_yaml)
            .map_err(|error| TemplateError::InvalidFields {
                message: error.to_string(),
            })?;

        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);

        let mut usage = BTreeMap::new();
        for (file, text) in files {
            let key = parse_file_name(file)?;
            let text = text
                .strip_prefix('\u{feff}')
                .unwrap_or(text)
                .replace("\r\n", "\n");
            let mut file_usage = TemplateUsage::default();

            let body_source = match key.channel {
                Channel::Sms => text.as_str(),
                Channel::Email => {
                    let (subject, body) =
                        split_subject(&text).ok_or_else(|| TemplateError::MissingSubject {
                            file: file.to_string(),
                        })?;
                    let subject = compile(file, subject, &mut file_usage)?;
                    registry.register_template(&key.subject_id(), subject);
                    body
                }
            };
            let body = compile(file, body_source, &mut file_usage)?;
            registry.register_template(&key.body_id(), body);

            usage.insert(key, file_usage);
        }

        Ok(Templates {
            registry,
            usage,
            fields,
        })
    }

    /// Returns the template names that have a file in any channel and locale, sorted.
    pub fn names(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self.usage.keys().map(|key| key.name.as_str()).collect();
        names.into_iter().map(str::to_string).collect()
    }

    /// Returns whether the template exists in exactly this channel and locale, without
    /// falling back to zh-CN.
    pub fn has(&self, channel: Channel, name: &str, locale: &str) -> bool {
        self.usage.contains_key(&TemplateKey {
            channel,
            name: name.to_string(),
            locale: locale.to_string(),
        })
    }

    /// Returns the fields that `fields.yaml` declares for a template name.
    pub fn fields(&self, name: &str) -> Option<&[String]> {
        self.fields.get(name).map(Vec::as_slice)
    }

    /// Lists every problem in the set: templates without zh-CN, fields not declared in
    /// `fields.yaml`, names missing from or unused in `fields.yaml`, and unsupported
    /// Handlebars constructs. An empty list means the set is consistent.
    pub fn check(&self) -> Vec<TemplateProblem> {
        let mut problems = Vec::new();

        let mut pairs: BTreeSet<(Channel, &str)> = BTreeSet::new();
        for key in self.usage.keys() {
            pairs.insert((key.channel, key.name.as_str()));
        }
        for (channel, name) in &pairs {
            let default_key = TemplateKey {
                channel: *channel,
                name: name.to_string(),
                locale: DEFAULT_LOCALE.to_string(),
            };
            if !self.usage.contains_key(&default_key) {
                problems.push(TemplateProblem {
                    file: default_key.file(),
                    kind: TemplateProblemKind::MissingDefaultLocale {
                        channel: *channel,
                        name: name.to_string(),
                    },
                });
            }
        }

        for (key, usage) in &self.usage {
            let file = key.file();
            match self.fields.get(&key.name) {
                None => problems.push(TemplateProblem {
                    file: file.clone(),
                    kind: TemplateProblemKind::UndeclaredTemplate {
                        name: key.name.clone(),
                    },
                }),
                Some(declared) => {
                    for field in usage
                        .fields
                        .iter()
                        .filter(|field| !declared.contains(field))
                    {
                        problems.push(TemplateProblem {
                            file: file.clone(),
                            kind: TemplateProblemKind::UnknownField {
                                name: key.name.clone(),
                                field: field.clone(),
                            },
                        });
                    }
                }
            }
            for construct in &usage.unsupported {
                problems.push(TemplateProblem {
                    file: file.clone(),
                    kind: TemplateProblemKind::UnsupportedSyntax {
                        construct: construct.clone(),
                    },
                });
            }
        }

        let used_names: BTreeSet<&str> = pairs.iter().map(|(_, name)| *name).collect();
        for name in self
            .fields
            .keys()
            .filter(|name| !used_names.contains(name.as_str()))
        {
            problems.push(TemplateProblem {
                file: FIELDS_FILE.to_string(),
                kind: TemplateProblemKind::UnusedDeclaration { name: name.clone() },
            });
        }

        problems
    }

    /// Renders a template with `data`, which must be a JSON object holding every field the
    /// template uses.
    ///
    /// The locale is matched exactly first, then by language (`en-US` finds `en`, `zh`
    /// finds `zh-CN`), then falls back to zh-CN. Surrounding whitespace is trimmed from the
    /// SMS text and the subject, and a line break inside a rendered subject becomes a
    /// space so a value cannot add header lines.
    pub fn render(
        &self,
        channel: Channel,
        name: &str,
        locale: &str,
        data: &Value,
    ) -> Result<Rendered, TemplateError> {
        let key = self
            .resolve(channel, name, locale)
            .ok_or_else(|| TemplateError::NotFound {
                channel,
                name: name.to_string(),
                locale: locale.to_string(),
            })?;
        if key.locale != locale {
            debug!(%channel, template = name, requested = locale, used = %key.locale, "template locale fell back");
        }
        if !data.is_object() {
            return Err(TemplateError::Render {
                file: key.file(),
                message: "template data must be a JSON object of field values".to_string(),
            });
        }

        let body = self.render_part(&key, &key.body_id(), data)?;
        match channel {
            Channel::Sms => Ok(Rendered {
                subject: None,
                body: body.trim().to_string(),
            }),
            Channel::Email => {
                let subject = self.render_part(&key, &key.subject_id(), data)?;
                let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
                let body = format!("{}\n", body.trim_end());
                Ok(Rendered {
                    subject: Some(subject),
                    body,
                })
            }
        }
    }

    fn render_part(
        &self,
        key: &TemplateKey,
        id: &str,
        data: &Value,
    ) -> Result<String, TemplateError> {
        self.registry
            .render(id, data)
            .map_err(|error| TemplateError::Render {
                file: key.file(),
                message: error.to_string(),
            })
    }

    fn resolve(&self, channel: Channel, name: &str, locale: &str) -> Option<TemplateKey> {
        let language = locale.split(['-', '_']).next().unwrap_or("");
        let candidates = self
            .usage
            .keys()
            .filter(|key| key.channel == channel && key.name == name);

        let mut by_language = None;
        let mut default = None;
        for key in candidates {
            if key.locale == locale {
                return Some(key.clone());
            }
            let key_language = key.locale.split('-').next().unwrap_or("");
            if by_language.is_none() && key_language.eq_ignore_ascii_case(language) {
                by_language = Some(key.clone());
            }
            if key.locale == DEFAULT_LOCALE {
                default = Some(key.clone());
            }
        }
        by_language.or(default)
    }
}

fn read_text(path: &Path) -> Result<String, TemplateError> {
    std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses `sms/login_code.zh-CN.hbs` into its channel, name and locale.
fn parse_file_name(file: &str) -> Result<TemplateKey, TemplateError> {
    let invalid = || TemplateError::InvalidFileName {
        file: file.to_string(),
    };

    let (channel_dir, file_name) = file.split_once('/').ok_or_else(invalid)?;
    let channel = match channel_dir {
        "sms" => Channel::Sms,
        "email" => Channel::Email,
        _ => return Err(invalid()),
    };
    let stem = file_name.strip_suffix(".hbs").ok_or_else(invalid)?;
    let (name, locale) = stem.rsplit_once('.').ok_or_else(invalid)?;
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
    let valid_locale = !locale.is_empty()
        && locale
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    if !valid_name || !valid_locale {
        return Err(invalid());
    }

    Ok(TemplateKey {
        channel,
        name: name.to_string(),
        locale: locale.to_string(),
    })
}

/// Splits an email template into its subject template and body template.
fn split_subject(text: &str) -> Option<(&str, &str)> {
    let (first_line, rest) = text.split_once('\n')?;
    let subject = first_line.strip_prefix("Subject:")?.trim();
    let body = rest.strip_prefix('\n')?;
    if subject.is_empty() {
        return None;
    }
    Some((subject, body))
}

fn compile(file: &str, source: &str, usage: &mut TemplateUsage) -> Result<Template, TemplateError> {
    let template = Template::compile(source).map_err(|error| TemplateError::Syntax {
        file: file.to_string(),
        message: error.to_string(),
    })?;
    collect_usage(&template, usage);
    Ok(template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_parses_channel_name_locale() {
        let key = parse_file_name("email/card_issued.zh-CN.hbs").unwrap();
        assert_eq!(key.channel, Channel::Email);
        assert_eq!(key.name, "card_issued");
        assert_eq!(key.locale, "zh-CN");

        for bad in [
            "fax/a.en.hbs",
            "sms/a.hbs",
            "sms/A-b.en.hbs",
            "sms/a.en.txt",
            "a.en.hbs",
        ] {
            assert!(parse_file_name(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn subject_line_is_required() {
        assert_eq!(
            split_subject("Subject: 标题\n\n正文\n"),
            Some(("标题", "正文\n"))
        );
        assert_eq!(split_subject("标题\n\n正文\n"), None);
        assert_eq!(split_subject("Subject: 标题\n正文\n"), None);
        assert_eq!(split_subject("Subject:\n\n正文\n"), None);
    }
}
