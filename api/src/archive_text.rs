//! Readable text of archive entries for the xlsx and PDF exports, which operators,
//! units and inspectors read. The exports show names instead of ids for the operator,
//! units and staff, Beijing times instead of unix milliseconds, and labelled fields
//! instead of raw JSON. The stored entries, and their hashes, stay as they are.

use std::collections::HashMap;

use chrono::DateTime;

use domain::archive::Entry;
use domain::messages::{self, Catalogue, Locale};
use serde_json::Value;
use sqlx::Row;

use crate::error::ApiError;
use crate::{AppState, beijing_text, mask};

/// Unix milliseconds below this are not read as times (1 January 2001, UTC).
const EARLIEST_TIME_MS: i64 = 978_307_200_000;

/// The names an export shows for the ids in its entries.
pub struct ArchiveNames {
    /// The operator as "name（masked ID number）", or the id when unknown.
    pub operator: String,
    units: HashMap<String, String>,
    accounts: HashMap<String, String>,
}

impl ArchiveNames {
    /// Loads the operator's name and the names of the units and accounts `entries` name.
    pub async fn load(state: &AppState, operator_id: &str, entries: &[Entry]) -> Result<ArchiveNames, ApiError> {
        let pool = &state.engine.db.pool;
        let operator = sqlx::query("SELECT name, id_number FROM operators WHERE id = $1").bind(operator_id).fetch_optional(pool).await?;
        let operator = match operator {
            Some(row) => {
                let name: Option<String> = row.try_get("name")?;
                let id_number: Option<String> = row.try_get("id_number")?;
                match (name, id_number) {
                    (Some(name), Some(id_number)) => format!("{name}（{}）", mask::id_number(&id_number)),
                    (Some(name), None) => name,
                    _ => operator_id.to_string(),
                }
            }
            None => operator_id.to_string(),
        };

        let mut units = HashMap::new();
        for unit_id in entries.iter().filter_map(|entry| entry.unit_id.as_deref()) {
            if !units.contains_key(unit_id) {
                let name: Option<String> = sqlx::query_scalar("SELECT name FROM units WHERE id = $1").bind(unit_id).fetch_optional(pool).await?;
                units.insert(unit_id.to_string(), name.unwrap_or_else(|| unit_id.to_string()));
            }
        }
        let mut accounts = HashMap::new();
        let mut account_ids: Vec<String> = Vec::new();
        for entry in entries {
            account_ids.push(entry.recorded_by.clone());
            account_ids.extend(entry.approved_by.clone());
        }
        for account_id in account_ids {
            if account_id != "system" && !accounts.contains_key(&account_id) {
                let name: Option<String> = sqlx::query_scalar("SELECT display_name FROM accounts WHERE id = $1").bind(&account_id).fetch_optional(pool).await?;
                let shown = name.unwrap_or_else(|| account_id.clone());
                accounts.insert(account_id, shown);
            }
        }
        Ok(ArchiveNames { operator, units, accounts })
    }

    /// Returns the unit's name, or an empty string for no unit.
    pub fn unit(&self, unit_id: Option<&str>) -> String {
        unit_id.map(|id| self.units.get(id).cloned().unwrap_or_else(|| id.to_string())).unwrap_or_default()
    }

    /// Returns the account's display name, "系统" for the platform itself, or an empty
    /// string for none.
    pub fn account(&self, account_id: Option<&str>) -> String {
        match account_id {
            Some("system") => messages::text(Locale::ZhCn, "archive.recorded_by_system", &[]),
            Some(id) => self.accounts.get(id).cloned().unwrap_or_else(|| id.to_string()),
            None => String::new(),
        }
    }
}

/// Returns an entry's JSON content as "label：value" fields joined by "；", with each
/// known field's zh-CN label, times in Beijing time, durations in minutes and
/// true/false as 是/否. Content that is not a JSON object is returned as stored.
pub fn body_text(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(value @ Value::Object(_)) => {
            labelled_fields(&value, Locale::ZhCn).into_iter().map(|(label, value)| format!("{label}：{value}")).collect::<Vec<_>>().join("；")
        }
        _ => body.to_string(),
    }
}

/// Returns the fields of a JSON object as `(label, value)` pairs in `locale`, each
/// known key with its `archive.field.<key>` label. Unix milliseconds and RFC 3339
/// strings under `at` and keys ending in `_at` become Beijing time. Numbers under keys
/// ending in `minutes` or `seconds` become minutes, check results become words, and
/// nested objects and lists are written inline. A value that is not an object gives
/// no fields.
pub fn labelled_fields(value: &Value, locale: Locale) -> Vec<(String, String)> {
    value.as_object().into_iter().flatten().map(|(key, value)| (label(key, locale), value_text(key, value, locale))).collect()
}

/// Returns the label of field `key` (`archive.field.<key>`) in `locale`, or the key
/// itself when the catalogue has none.
fn label(key: &str, locale: Locale) -> String {
    let code = format!("archive.field.{key}");
    if Catalogue::global().contains(&code) { messages::text(locale, &code, &[]) } else { key.to_string() }
}

fn value_text(key: &str, value: &Value, locale: Locale) -> String {
    let is_time = key == "at" || key.ends_with("_at");
    if let Some(text) = instant_text(value).filter(|_| is_time) {
        return text;
    }
    match value {
        Value::Null => "—".to_string(),
        Value::Bool(flag) => messages::text(locale, if *flag { "archive.value.yes" } else { "archive.value.no" }, &[]),
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (_, Some(amount)) if key.ends_with("seconds") => minutes_text(amount / 60.0, locale),
            (_, Some(amount)) if key.ends_with("minutes") => minutes_text(amount, locale),
            _ => number.to_string(),
        },
        Value::String(text) if key == "result" || key == "face_check" => status_text(text, locale),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let separator = if locale == Locale::ZhCn { "、" } else { "; " };
            items.iter().map(|item| value_text(key, item, locale)).collect::<Vec<_>>().join(separator)
        }
        Value::Object(_) => {
            let (open, colon, comma, close) = if locale == Locale::ZhCn { ("（", "：", "，", "）") } else { ("(", ": ", ", ", ")") };
            let inner: Vec<String> = labelled_fields(value, locale).into_iter().map(|(label, value)| format!("{label}{colon}{value}")).collect();
            format!("{open}{}{close}", inner.join(comma))
        }
    }
}

/// Returns an instant, given as unix milliseconds or an RFC 3339 string, in Beijing
/// time, or `None` for any other value.
pub fn instant_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(number) => number.as_i64().filter(|ms| *ms >= EARLIEST_TIME_MS).map(beijing_text),
        Value::String(text) => DateTime::parse_from_rfc3339(text).ok().map(|instant| beijing_text(instant.timestamp_millis())),
        _ => None,
    }
}

/// Returns a check status (`passed`, `failed`, `missed`, `missing`) in `locale`, or
/// the status as stored when the catalogue has no word for it.
fn status_text(status: &str, locale: Locale) -> String {
    let code = format!("archive.value.{status}");
    if Catalogue::global().contains(&code) { messages::text(locale, &code, &[]) } else { status.to_string() }
}

/// Returns a number of minutes with at most one decimal and the unit, such as "45 分钟".
fn minutes_text(minutes: f64, locale: Locale) -> String {
    let rounded = (minutes * 10.0).round() / 10.0;
    messages::text(locale, "archive.value.minutes", &[("minutes", &rounded.to_string())])
}

#[cfg(test)]
mod tests {
    use super::body_text;

    #[test]
    fn session_body_readable() {
        let body = r#"{"course_code":"T-01","started_at":1772676000000,"minutes":45,"passed":true}"#;
        let text = body_text(body);
        assert!(text.contains("课程：T-01"), "{text}");
        assert!(text.contains("2026-03-05"), "{text}");
        assert!(text.contains("是否通过：是"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn nested_values_flattened() {
        let text = body_text(r#"{"findings":[{"rule":"shorter_than_course","minutes":10}],"courses":["T-01","T-02"]}"#);
        assert!(text.contains("T-01、T-02"), "{text}");
        assert!(text.contains("（"), "{text}");
    }

    #[test]
    fn evidence_labelled_in_english() {
        let evidence = serde_json::json!({ "media_seconds": 2700, "course_completed": true, "sessions": [{ "session_id": "s-1", "minutes": 26 }] });
        let fields = super::labelled_fields(&evidence, domain::messages::Locale::En);
        let text = format!("{fields:?}");
        assert!(text.contains("45 min"), "{text}");
        assert!(text.contains("Yes"), "{text}");
        assert!(!text.contains("media_seconds"), "{text}");
        assert!(!text.contains("course_completed"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn rfc3339_times_in_beijing() {
        let fields = super::labelled_fields(&serde_json::json!({ "paused_at": "2026-03-05T02:00:00Z" }), domain::messages::Locale::ZhCn);
        assert_eq!(fields[0].1, "2026-03-05 10:00:00");
    }

    #[test]
    fn non_object_kept() {
        assert_eq!(body_text("plain text"), "plain text");
    }
}
