//! Roster import (花名册导入): the database part after `domain::roster::parse_roster`.
//!
//! Each accepted row becomes a `pre_registered` operator attached to the unit, or
//! attaches an existing operator with the same ID number and mobile. A row is
//! rejected, with the reason, when the person is attached to another unit, when the ID
//! number belongs to another mobile, or when the mobile belongs to another person.
//! Every row is written in its own transaction, so a rejected row writes nothing and
//! never undoes the others: the good rows of a file are imported, the bad ones are
//! reported. [`preview_roster`] runs the same checks in one transaction that it rolls
//! back, so a preview writes nothing. The CLI's `certflow import roster FILE --unit
//! USCC` calls [`import_roster`] too.

use domain::messages::{self, Locale};
use domain::roster::{RosterEntry, RosterReport, RowOutcome, RowResult, parse_roster};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;
use workflows::db::is_unique_violation;

use crate::db::{Tx, new_id};
use crate::error::ApiError;
use crate::operator::{UnitRecord, find_unit, insert_affiliation, upsert_operator_item};
use crate::{AppState, mask};

/// The outcome of one accepted or rejected data row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    /// A new `pre_registered` operator was created.
    Created,
    /// An existing operator without unit was attached to this unit.
    Attached,
    /// The operator was already on this unit's roster and a new item or issue date
    /// was recorded.
    Updated,
    /// The operator was already on this unit's roster with this item; nothing changed.
    Unchanged,
    /// The row was not imported.
    Rejected,
}

impl RowAction {
    /// Returns the change a row makes as a preview shows it: `new`, `updated`,
    /// `unchanged` or `error`.
    pub fn change(self) -> &'static str {
        match self {
            RowAction::Created => "new",
            RowAction::Attached | RowAction::Updated => "updated",
            RowAction::Unchanged => "unchanged",
            RowAction::Rejected => "error",
        }
    }
}

/// The result of one data row, with its message in both locales.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportedRow {
    pub line: usize,
    pub action: RowAction,
    pub operator_id: Option<String>,
    /// The person's name and masked ID number, for rows the parser accepted.
    pub name: Option<String>,
    pub id_number_masked: Option<String>,
    pub field: Option<String>,
    pub code: Option<String>,
    pub message_zh: Option<String>,
    pub message_en: Option<String>,
}

/// The result of importing one roster file.
#[derive(Clone, Debug, Serialize)]
pub struct RosterImport {
    /// `UTF-8` or `GBK` for CSV, `None` for xlsx.
    pub encoding_used: Option<&'static str>,
    pub accepted: usize,
    pub rejected: usize,
    /// File-level notices (GBK decoding, ignored columns), as (code, zh-CN, English).
    pub notices: Vec<(String, String, String)>,
    pub rows: Vec<ImportedRow>,
}

impl RosterImport {
    /// Renders the result as the API returns it, messages in `locale`.
    pub fn to_json(&self, locale: Locale) -> Value {
        let pick = |zh: &Option<String>, en: &Option<String>| match locale {
            Locale::ZhCn => zh.clone(),
            Locale::En => en.clone(),
        };
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "line": row.line,
                    "outcome": if row.action == RowAction::Rejected { "rejected" } else { "accepted" },
                    "action": row.action,
                    "change": row.action.change(),
                    "operator_id": row.operator_id,
                    "name": row.name,
                    "id_number_masked": row.id_number_masked,
                    "field": row.field,
                    "code": row.code,
                    "message": pick(&row.message_zh, &row.message_en),
                })
            })
            .collect();
        let notices: Vec<Value> = self
            .notices
            .iter()
            .map(|(code, zh, en)| json!({ "code": code, "message": if locale == Locale::En { en } else { zh } }))
            .collect();
        let count = |change: &str| self.rows.iter().filter(|row| row.action.change() == change).count();
        json!({
            "encoding_used": self.encoding_used,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "changes": { "new": count("new"), "updated": count("updated"), "unchanged": count("unchanged"), "error": count("error") },
            "notices": notices,
            "rows": rows,
        })
    }
}

/// A roster file parsed for one unit, before any row is written.
pub struct ParsedRoster {
    pub unit: UnitRecord,
    pub report: RosterReport,
}

/// Parses `bytes` as a roster of unit `unit_id`.
///
/// Fails with 404 for an unknown unit and 400 for a file that cannot be read at all.
pub async fn parse_for_unit(state: &AppState, unit_id: &str, bytes: &[u8], file_name: &str) -> Result<ParsedRoster, ApiError> {
    let unit = find_unit(state, unit_id).await?.ok_or_else(|| ApiError::not_found("units.not_found"))?;
    let report = parse_roster(bytes, file_name, state.today(), state.catalogue)?;
    Ok(ParsedRoster { unit, report })
}

/// Parses `bytes` as a roster of unit `unit_id` and imports its accepted rows.
///
/// Fails with 404 for an unknown unit and 400 for a file that cannot be read at all.
/// Problems of single rows do not fail the import but are reported per row.
pub async fn import_roster(state: &AppState, unit_id: &str, bytes: &[u8], file_name: &str) -> Result<RosterImport, ApiError> {
    let parsed = parse_for_unit(state, unit_id, bytes, file_name).await?;
    let rows = import_rows(state, &parsed.unit, &parsed.report.rows).await?;
    let result = summarize(&parsed.report, rows);
    tracing::info!(unit = %unit_id, file = %file_name, accepted = result.accepted, rejected = result.rejected, "roster imported");
    Ok(result)
}

/// Checks every row of `parsed` against the database as [`import_roster`] would and
/// returns what each row would do, without writing anything: the rows run in one
/// transaction that is rolled back, so a later row finds what an earlier row of the
/// same file would write.
// NOTE: on SQLite the transaction holds the write lock while the file is checked,
// so other writes wait for the preview of a large file.
pub async fn preview_roster(state: &AppState, parsed: &ParsedRoster) -> Result<RosterImport, ApiError> {
    let mut tx = state.engine.db.begin_write().await?;
    let mut rows = Vec::with_capacity(parsed.report.rows.len());
    for row in &parsed.report.rows {
        rows.push(check_row(state, &mut tx, &parsed.unit, row).await?);
    }
    tx.rollback().await?;
    Ok(summarize(&parsed.report, rows))
}

/// Imports `rows` of a parsed roster, each in its own transaction.
pub async fn import_rows(state: &AppState, unit: &UnitRecord, rows: &[RowResult]) -> Result<Vec<ImportedRow>, ApiError> {
    let mut imported = Vec::with_capacity(rows.len());
    for row in rows {
        // Without a record to collide with, every row returns its result.
        if let Some(result) = import_row(state, unit, row, None).await? {
            imported.push(result);
        }
    }
    Ok(imported)
}

/// The key of a row's result in `roster_import_rows`: data row `index` (from 0) of
/// import `import_id`.
#[derive(Clone, Copy)]
pub struct RowRecord<'a> {
    pub import_id: &'a str,
    pub index: usize,
}

/// Imports one row of a background import and records its result in the same
/// transaction, so a row is either written and recorded or neither. Returns `None`
/// when another run recorded the row first; what this run wrote is then rolled back.
pub async fn import_recorded_row(state: &AppState, unit: &UnitRecord, row: &RowResult, record: RowRecord<'_>) -> Result<Option<ImportedRow>, ApiError> {
    import_row(state, unit, row, Some(record)).await
}

/// Builds the result of a file from its parse report and the rows' results.
pub fn summarize(report: &RosterReport, rows: Vec<ImportedRow>) -> RosterImport {
    let rejected = rows.iter().filter(|row| row.action == RowAction::Rejected).count();
    RosterImport {
        encoding_used: report.encoding_used.map(|encoding| encoding.as_str()),
        accepted: rows.len() - rejected,
        rejected,
        notices: report.notices.iter().map(|notice| (notice.code.clone(), notice.message_zh.clone(), notice.message_en.clone())).collect(),
        rows,
    }
}

/// Checks one row and writes it into `tx`, which the caller commits or rolls back.
async fn check_row(state: &AppState, tx: &mut Tx, unit: &UnitRecord, row: &RowResult) -> Result<ImportedRow, ApiError> {
    match &row.outcome {
        RowOutcome::Rejected { field, code, message_zh, message_en } => Ok(ImportedRow {
            line: row.line,
            action: RowAction::Rejected,
            operator_id: None,
            name: None,
            id_number_masked: None,
            field: Some(field.clone()),
            code: Some(code.clone()),
            message_zh: Some(message_zh.clone()),
            message_en: Some(message_en.clone()),
        }),
        RowOutcome::Accepted(entry) => {
            let imported = match entry.unit_uscc.as_ref().filter(|uscc| uscc.as_str() != unit.uscc) {
                Some(row_uscc) => rejected_row(row.line, "unit_uscc", "roster_import.unit_mismatch", &[("uscc", row_uscc.as_str()), ("unit", &unit.name)]),
                None => write_entry(state, tx, &unit.id, entry, row.line).await?,
            };
            Ok(ImportedRow { name: Some(entry.name.as_str().to_string()), id_number_masked: Some(entry.id_number.mask()), ..imported })
        }
    }
}

/// Writes one row in its own transaction, with its result in `roster_import_rows`
/// when `record` is given. Returns `None` only when that record exists already.
async fn import_row(state: &AppState, unit: &UnitRecord, row: &RowResult, record: Option<RowRecord<'_>>) -> Result<Option<ImportedRow>, ApiError> {
    let mut tx = state.engine.db.begin_write().await?;
    let checked = match check_row(state, &mut tx, unit, row).await {
        Ok(checked) => checked,
        // A parallel import or registration changed the same person in the meantime.
        // Dropping the transaction rolls back what the row wrote; the rejection is
        // recorded in a transaction of its own.
        Err(ApiError::Internal(error)) if error.downcast_ref::<sqlx::Error>().is_some_and(is_unique_violation) => {
            drop(tx);
            let rejected = rejected_row(row.line, "id_number", "roster_import.changed_concurrently", &[]);
            let Some(record) = record else { return Ok(Some(rejected)) };
            let mut tx = state.engine.db.begin_write().await?;
            let recorded = record_row(&mut tx, record, &rejected).await?;
            tx.commit().await?;
            return Ok(recorded.then_some(rejected));
        }
        Err(error) => return Err(error),
    };
    if let Some(record) = record {
        if !record_row(&mut tx, record, &checked).await? {
            return Ok(None);
        }
    }
    tx.commit().await?;
    Ok(Some(checked))
}

/// Inserts the result of `record`'s row into `tx` unless it is there already; returns
/// whether it was inserted.
async fn record_row(tx: &mut Tx, record: RowRecord<'_>, result: &ImportedRow) -> Result<bool, ApiError> {
    let text = serde_json::to_string(result).map_err(ApiError::internal)?;
    let inserted = sqlx::query("INSERT INTO roster_import_rows (import_id, row_index, rejected, result) VALUES ($1, $2, $3, $4) ON CONFLICT (import_id, row_index) DO NOTHING")
        .bind(record.import_id)
        .bind(record.index as i64)
        .bind(i64::from(result.action == RowAction::Rejected))
        .bind(text)
        .execute(&mut **tx)
        .await?;
    Ok(inserted.rows_affected() == 1)
}

fn rejected_row(line: usize, field: &str, code: &str, args: &[(&str, &str)]) -> ImportedRow {
    ImportedRow {
        line,
        action: RowAction::Rejected,
        operator_id: None,
        name: None,
        id_number_masked: None,
        field: Some(field.to_string()),
        code: Some(code.to_string()),
        message_zh: Some(messages::text(Locale::ZhCn, code, args)),
        message_en: Some(messages::text(Locale::En, code, args)),
    }
}

fn accepted_row(line: usize, action: RowAction, operator_id: String) -> ImportedRow {
    ImportedRow { line, action, operator_id: Some(operator_id), name: None, id_number_masked: None, field: None, code: None, message_zh: None, message_en: None }
}

/// Writes one accepted row into `tx`. A rejected row returns before writing anything.
async fn write_entry(state: &AppState, tx: &mut Tx, unit_id: &str, entry: &RosterEntry, line: usize) -> Result<ImportedRow, ApiError> {
    let now_ms = state.now_ms();
    let issued_on = entry.certificate_issued_on;
    let item_code = entry.item.code.as_str();

    // Case 1: the ID number is known.
    let by_id_number = sqlx::query("SELECT id, mobile, unit_id FROM operators WHERE id_number = $1")
        .bind(entry.id_number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(existing) = by_id_number {
        let operator_id: String = existing.try_get("id")?;
        let mobile: String = existing.try_get("mobile")?;
        let current_unit: Option<String> = existing.try_get("unit_id")?;
        if mobile != entry.mobile.as_str() {
            return Ok(rejected_row(line, "id_number", "roster_import.id_number_other_mobile", &[("value", &entry.id_number.mask())]));
        }
        let action = match current_unit.as_deref() {
            Some(current) if current == unit_id => {
                if item_recorded(tx, &operator_id, item_code, issued_on).await? {
                    RowAction::Unchanged
                } else {
                    RowAction::Updated
                }
            }
            Some(current) => {
                let unit_name = find_unit(state, current).await?.map(|unit| unit.name).unwrap_or_default();
                return Ok(rejected_row(line, "id_number", "roster_import.attached_to_other_unit", &[("name", entry.name.as_str()), ("unit", &unit_name)]));
            }
            None => {
                sqlx::query("UPDATE operators SET unit_id = $1, updated_at = $2 WHERE id = $3 AND unit_id IS NULL")
                    .bind(unit_id)
                    .bind(now_ms)
                    .bind(&operator_id)
                    .execute(&mut **tx)
                    .await?;
                insert_affiliation(tx, &operator_id, unit_id, "roster", now_ms).await?;
                RowAction::Attached
            }
        };
        upsert_operator_item(tx, &operator_id, item_code, issued_on).await?;
        return Ok(accepted_row(line, action, operator_id));
    }

    // Case 2: the mobile is known. A visitor who logged in but never registered is
    // this person; an operator registered with another ID number is someone else.
    let gender = match entry.id_number.gender() {
        domain::identity::Gender::Male => "male",
        domain::identity::Gender::Female => "female",
    };
    let by_mobile = sqlx::query("SELECT id, id_number FROM operators WHERE mobile = $1")
        .bind(entry.mobile.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(existing) = by_mobile {
        let operator_id: String = existing.try_get("id")?;
        let id_number: Option<String> = existing.try_get("id_number")?;
        if id_number.is_some() {
            return Ok(rejected_row(line, "mobile", "roster_import.mobile_other_person", &[("mobile", &mask::mobile(entry.mobile.as_str()))]));
        }
        sqlx::query(
            "UPDATE operators SET name = $1, id_number = $2, gender = $3, email = COALESCE(email, $4), unit_id = $5, status = 'pre_registered', updated_at = $6
             WHERE id = $7 AND id_number IS NULL",
        )
        .bind(entry.name.as_str())
        .bind(entry.id_number.as_str())
        .bind(gender)
        .bind(&entry.email)
        .bind(unit_id)
        .bind(now_ms)
        .bind(&operator_id)
        .execute(&mut **tx)
        .await?;
        insert_affiliation(tx, &operator_id, unit_id, "roster", now_ms).await?;
        upsert_operator_item(tx, &operator_id, item_code, issued_on).await?;
        return Ok(accepted_row(line, RowAction::Attached, operator_id));
    }

    // Case 3: a new person.
    let operator_id = new_id();
    sqlx::query(
        "INSERT INTO operators (id, mobile, name, id_number, gender, email, unit_id, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pre_registered', $8, $8)",
    )
    .bind(&operator_id)
    .bind(entry.mobile.as_str())
    .bind(entry.name.as_str())
    .bind(entry.id_number.as_str())
    .bind(gender)
    .bind(&entry.email)
    .bind(unit_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    insert_affiliation(tx, &operator_id, unit_id, "roster", now_ms).await?;
    upsert_operator_item(tx, &operator_id, item_code, issued_on).await?;
    Ok(accepted_row(line, RowAction::Created, operator_id))
}

/// Returns whether the operator already has `item_code` with the issue date
/// `issued_on` (or any date when `issued_on` is missing), so the row changes nothing.
async fn item_recorded(tx: &mut Tx, operator_id: &str, item_code: &str, issued_on: Option<chrono::NaiveDate>) -> Result<bool, sqlx::Error> {
    let stored: Option<Option<String>> = sqlx::query_scalar("SELECT certificate_issued_on FROM operator_items WHERE operator_id = $1 AND item_code = $2")
        .bind(operator_id)
        .bind(item_code)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match (stored, issued_on) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(stored), Some(date)) => stored.as_deref() == Some(date.to_string().as_str()),
    })
}
