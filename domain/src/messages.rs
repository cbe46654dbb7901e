//! The message catalogue: every user-facing text, keyed by a stable code, in zh-CN
//! (required) and English.
//!
//! Texts live in `definitions/messages/*.yaml`, one file per area, each key holding
//! both locales:
//!
//! ```yaml
//! id_number.checksum:
//!   zh-CN: "身份证号码“{value}”的校验位不正确，请核对后重新输入。"
//!   en: "ID number {value} has a wrong check character; check it and enter it again."
//! ```
//!
//! Placeholders are `{name}` and are filled from the arguments of [`Catalogue::render`].
//! The files are compiled in, so a missing key is caught by the catalogue test rather
//! than at a user's screen.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// A locale the catalogue carries. zh-CN is the default everywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Locale {
    #[default]
    ZhCn,
    En,
}

impl Locale {
    /// Parses a tag such as `zh-CN`, `zh`, `en-US` or an `Accept-Language` value; anything
    /// unknown falls back to zh-CN.
    pub fn parse(tag: &str) -> Locale {
        let first = tag.split(',').next().unwrap_or("").trim().to_ascii_lowercase();
        if first.starts_with("en") { Locale::En } else { Locale::ZhCn }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "zh-CN")]
    zh_cn: String,
    en: String,
}

/// The compiled-in catalogue files, as (file name, text).
const SOURCES: &[(&str, &str)] = &[
    ("common.yaml", include_str!("../../definitions/messages/common.yaml")),
    ("identity.yaml", include_str!("../../definitions/messages/identity.yaml")),
    ("roster.yaml", include_str!("../../definitions/messages/roster.yaml")),
    ("exam.yaml", include_str!("../../definitions/messages/exam.yaml")),
    ("bank.yaml", include_str!("../../definitions/messages/bank.yaml")),
    ("api.yaml", include_str!("../../definitions/messages/api.yaml")),
    ("engine.yaml", include_str!("../../definitions/messages/engine.yaml")),
    ("sync.yaml", include_str!("../../definitions/messages/sync.yaml")),
    ("xapi.yaml", include_str!("../../definitions/messages/xapi.yaml")),
    ("cli.yaml", include_str!("../../definitions/messages/cli.yaml")),
    ("review.yaml", include_str!("../../definitions/messages/review.yaml")),
    ("web.yaml", include_str!("../../definitions/messages/web.yaml")),
    ("training.yaml", include_str!("../../definitions/messages/training.yaml")),
    ("site.yaml", include_str!("../../definitions/messages/site.yaml")),
    ("unit_staff.yaml", include_str!("../../definitions/messages/unit_staff.yaml")),
    ("mobile_change.yaml", include_str!("../../definitions/messages/mobile_change.yaml")),
    ("region.yaml", include_str!("../../definitions/messages/region.yaml")),
];

/// All message texts by code.
pub struct Catalogue {
    entries: BTreeMap<String, Entry>,
}

impl Catalogue {
    /// Returns the process-wide catalogue, parsed once from the compiled-in files.
    ///
    /// Panics when a file is malformed or a code is defined twice: both are build
    /// mistakes that the catalogue test reports first.
    pub fn global() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| Catalogue::parse(SOURCES).expect("message catalogue is valid"))
    }

    fn parse(sources: &[(&str, &str)]) -> Result<Catalogue, String> {
        let mut entries = BTreeMap::new();
        for (file, text) in sources {
            if text.trim().is_empty() {
                continue;
            }
            let map: BTreeMap<String, Entry> =
                parse_yaml(text).map_err(|e| format!("{file}: {e}"))?;
            for (code, entry) in map {
                if entries.contains_key(&code) {
                    return Err(format!("{file}: message code {code} is defined twice"));
                }
                entries.insert(code, entry);
            }
        }
        Ok(Catalogue { entries })
    }

    /// Renders message `code` in `locale`, replacing each `{name}` with its argument.
    /// An unknown code renders as the code itself so that a gap is visible, not blank.
    pub fn render(&self, locale: Locale, code: &str, args: &[(&str, &str)]) -> String {
        let Some(entry) = self.entries.get(code) else {
            return code.to_string();
        };
        let template = match locale {
            Locale::ZhCn => &entry.zh_cn,
            Locale::En => &entry.en,
        };
        fill(template, args)
    }

    /// Returns whether `code` is in the catalogue.
    pub fn contains(&self, code: &str) -> bool {
        self.entries.contains_key(code)
    }

    /// All codes, for completeness checks.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

/// Returns the name of the county-level region with 6-digit `code` in `locale`, such
/// as 长沙市芙蓉区 for 430102, or `None` when `region.yaml` has no entry for it.
pub fn region_name(locale: Locale, code: &str) -> Option<String> {
    let key = format!("region.{code}");
    Catalogue::global().contains(&key).then(|| text(locale, &key, &[]))
}

/// Shorthand for rendering through the global catalogue.
pub fn text(locale: Locale, code: &str, args: &[(&str, &str)]) -> String {
    Catalogue::global().render(locale, code, args)
}

fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

fn parse_yaml(text: &str) -> Result<BTreeMap<String, Entry>, String> {
    marked_yaml::from_yaml(0, text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_parses_and_has_both_locales() {
        let catalogue = Catalogue::global();
        for code in catalogue.codes() {
            let entry = &catalogue.entries[code];
            assert!(!entry.zh_cn.trim().is_empty(), "{code} has no zh-CN text");
            assert!(!entry.en.trim().is_empty(), "{code} has no English text");
        }
    }

    #[test]
    fn render_fills_placeholders() {
        assert_eq!(fill("字段“{field}”缺失", &[("field", "姓名")]), "字段“姓名”缺失");
    }

    #[test]
    fn unknown_code_renders_as_code() {
        assert_eq!(Catalogue::global().render(Locale::ZhCn, "no.such.code", &[]), "no.such.code");
    }
}
