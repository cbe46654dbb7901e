//! Validation of one data row into an accepted [`RosterEntry`] or a rejection, and
//! the checks across rows of one file (repeated ID numbers, shared mobiles).

use std::collections::HashMap;

use chrono::NaiveDate;

use super::cell::{Cell, Row};
use super::header::{Column, ColumnMap};
use super::values::{is_scientific_notation, normalize_email, parse_date};
use super::{Notice, RosterEntry, RowOutcome, RowResult};
use crate::catalogue::{Catalogue, CatalogueError, CatalogueVersion, Item, ItemRef};
use crate::identity::{
    Gender, IdNumber, IdentityError, Mobile, PersonName, normalize_id_number, normalize_mobile,
    normalize_name, normalize_uscc,
};
use crate::messages::{self, Locale};

/// The `field` of a rejection about the item, which may come from the item code or
/// the item name column.
const ITEM_FIELD: &str = "item";

/// A rejected row: the field at fault and the rendered message.
struct Rejection {
    field: &'static str,
    notice: Notice,
}

impl Rejection {
    fn new(field: &'static str, code: &str, args: &[(&str, &str)]) -> Rejection {
        Rejection {
            field,
            notice: Notice::new(code, args),
        }
    }

    fn identity(field: &'static str, error: &IdentityError) -> Rejection {
        let notice = Notice {
            code: error.code().to_string(),
            message_zh: error.message(Locale::ZhCn),
            message_en: error.message(Locale::En),
        };
        Rejection { field, notice }
    }

    fn catalogue(error: &CatalogueError) -> Rejection {
        let notice = Notice {
            code: error.code().to_string(),
            message_zh: error.message(Locale::ZhCn),
            message_en: error.message(Locale::En),
        };
        Rejection {
            field: ITEM_FIELD,
            notice,
        }
    }

    /// Rejects a row whose required `field` is empty. The column label is rendered in
    /// each locale, so the two messages are built separately.
    fn missing(field: &'static str, label_code: &str) -> Rejection {
        let render = |locale: Locale| {
            let label = messages::text(locale, label_code, &[]);
            messages::text(locale, "roster.field_missing", &[("column", &label)])
        };
        let notice = Notice {
            code: "roster.field_missing".to_string(),
            message_zh: render(Locale::ZhCn),
            message_en: render(Locale::En),
        };
        Rejection { field, notice }
    }

    fn missing_column(column: Column) -> Rejection {
        Rejection::missing(column.key(), &format!("roster.column.{}", column.key()))
    }
}

/// An ID number accepted earlier in the file.
struct SeenOperator {
    line: usize,
    name: PersonName,
    /// Items accepted for this operator, with the line of each.
    items: HashMap<ItemRef, usize>,
}

/// Checks the data rows of one file in order, remembering accepted rows to find
/// repeats.
pub(crate) struct RowChecker<'a> {
    columns: &'a ColumnMap,
    today: NaiveDate,
    catalogue: &'a Catalogue,
    seen_ids: HashMap<IdNumber, SeenOperator>,
    seen_mobiles: HashMap<Mobile, (usize, IdNumber)>,
}

impl<'a> RowChecker<'a> {
    pub(crate) fn new(columns: &'a ColumnMap, today: NaiveDate, catalogue: &'a Catalogue) -> Self {
        RowChecker {
            columns,
            today,
            catalogue,
            seen_ids: HashMap::new(),
            seen_mobiles: HashMap::new(),
        }
    }

    /// Checks one row. Returns `None` for a row without name, ID number, mobile and
    /// item, such as a pre-numbered empty template row.
    pub(crate) fn check(&mut self, row: &Row) -> Option<RowResult> {
        let key_columns = [
            Column::Name,
            Column::IdNumber,
            Column::Mobile,
            Column::ItemCode,
            Column::ItemName,
        ];
        if key_columns
            .iter()
            .all(|column| self.text(row, *column).is_none())
        {
            return None;
        }

        let mut warnings = Vec::new();
        let outcome = match self.entry(row, &mut warnings) {
            Ok(entry) => {
                self.remember(row.line, &entry);
                RowOutcome::Accepted(entry)
            }
            Err(rejection) => {
                warnings.clear();
                RowOutcome::Rejected {
                    field: rejection.field.to_string(),
                    code: rejection.notice.code,
                    message_zh: rejection.notice.message_zh,
                    message_en: rejection.notice.message_en,
                }
            }
        };
        Some(RowResult {
            line: row.line,
            outcome,
            warnings,
        })
    }

    fn entry(&self, row: &Row, warnings: &mut Vec<Notice>) -> Result<RosterEntry, Rejection> {
        let name_text = self.required_text(row, Column::Name)?;
        let name =
            normalize_name(&name_text).map_err(|error| Rejection::identity("name", &error))?;
        let id_number = self.id_number(row)?;
        let mobile_text = self.required_text(row, Column::Mobile)?;
        let mobile = normalize_mobile(&mobile_text)
            .map_err(|error| Rejection::identity("mobile", &error))?;
        let item = self.item(row)?;

        let gender = self.gender(row, &id_number, warnings);
        let email = self.email(row)?;
        let unit_uscc = match self.text(row, Column::UnitUscc) {
            Some(text) => Some(
                normalize_uscc(&text).map_err(|error| Rejection::identity("unit_uscc", &error))?,
            ),
            None => None,
        };
        let certificate_issued_on = self.issue_date(row)?;

        self.check_repeats(&name, &id_number, &item)?;
        if let Some((line, other)) = self.seen_mobiles.get(&mobile)
            && *other != id_number
        {
            warnings.push(Notice::new(
                "roster.mobile_shared",
                &[("line", &line.to_string())],
            ));
        }

        Ok(RosterEntry {
            name,
            id_number,
            mobile,
            email,
            gender,
            unit_uscc,
            item,
            certificate_issued_on,
        })
    }

    fn id_number(&self, row: &Row) -> Result<IdNumber, Rejection> {
        let field = Column::IdNumber.key();
        if let Some(index) = self.columns.get(Column::IdNumber)
            && matches!(row.cell(index), Cell::Number(_))
        {
            return Err(Rejection::new(field, "roster.id_number_not_text", &[]));
        }

        let text = self.required_text(row, Column::IdNumber)?;
        if is_scientific_notation(&text) {
            return Err(Rejection::new(field, "roster.id_number_not_text", &[]));
        }
        normalize_id_number(&text, self.today).map_err(|error| Rejection::identity(field, &error))
    }

    /// Resolves the item from the code column, read in the row's catalogue version, or
    /// else from the name column. When both are given and both resolve, they must name
    /// the same item, which catches a 2011 code in a file without version column.
    fn item(&self, row: &Row) -> Result<ItemRef, Rejection> {
        let version = match self.text(row, Column::CatalogueVersion) {
            None => CatalogueVersion::V2019,
            Some(text) => CatalogueVersion::parse(&text).ok_or_else(|| {
                Rejection::new(
                    Column::CatalogueVersion.key(),
                    "roster.catalogue_version",
                    &[("value", text.trim())],
                )
            })?,
        };
        let code = self.text(row, Column::ItemCode);
        let name = self.text(row, Column::ItemName);

        let item = match (&code, &name) {
            (None, None) => return Err(Rejection::missing(ITEM_FIELD, "roster.column.item")),
            (Some(code), name) => {
                let by_code = self
                    .catalogue
                    .resolve(code, version)
                    .map_err(|error| Rejection::catalogue(&error))?;
                let by_name = name
                    .as_deref()
                    .and_then(|name| self.catalogue.item_by_name(name))
                    .and_then(Item::item_ref);
                if let Some(by_name) = by_name
                    && by_name != by_code
                {
                    let args = [
                        ("code", code.trim()),
                        ("name", name.as_deref().unwrap_or("").trim()),
                        ("version", version.as_str()),
                    ];
                    return Err(Rejection::new(ITEM_FIELD, "roster.item_conflict", &args));
                }
                by_code
            }
            (None, Some(name)) => self
                .catalogue
                .resolve(name, version)
                .map_err(|error| Rejection::catalogue(&error))?,
        };

        let open = self
            .catalogue
            .item(&item.code)
            .is_some_and(|entry| entry.trial);
        if !open {
            let label = self
                .catalogue
                .item(&item.code)
                .map_or(item.code.clone(), |entry| {
                    format!("{} {}", item.code, entry.name)
                });
            return Err(Rejection::new(
                ITEM_FIELD,
                "roster.item_not_open",
                &[("item", &label)],
            ));
        }
        Ok(item)
    }

    /// Reads the gender column. A value that contradicts the ID number or cannot be
    /// read adds a warning but does not reject the row, because real rosters contain
    /// such mistakes and the ID number is authoritative.
    fn gender(
        &self,
        row: &Row,
        id_number: &IdNumber,
        warnings: &mut Vec<Notice>,
    ) -> Option<Gender> {
        let text = self.text(row, Column::Gender)?;
        let Some(gender) = Gender::parse(&text) else {
            warnings.push(Notice::new(
                "roster.gender_unrecognized",
                &[("value", text.trim())],
            ));
            return None;
        };
        if gender != id_number.gender() {
            warnings.push(Notice::new("roster.gender_mismatch", &[]));
        }
        Some(gender)
    }

    fn email(&self, row: &Row) -> Result<Option<String>, Rejection> {
        let Some(text) = self.text(row, Column::Email) else {
            return Ok(None);
        };
        match normalize_email(&text) {
            Some(email) => Ok(Some(email)),
            None => Err(Rejection::new(
                Column::Email.key(),
                "roster.email_format",
                &[("value", text.trim())],
            )),
        }
    }

    fn issue_date(&self, row: &Row) -> Result<Option<NaiveDate>, Rejection> {
        let Some(index) = self.columns.get(Column::CertificateIssuedOn) else {
            return Ok(None);
        };
        let field = Column::CertificateIssuedOn.key();

        let date = match row.cell(index) {
            Cell::Empty => return Ok(None),
            Cell::Date(date) => Some(*date),
            Cell::Text(text) => parse_date(text),
            Cell::Number(_) => None,
        };
        let Some(date) = date else {
            let value = row.cell(index).as_text().unwrap_or_default();
            return Err(Rejection::new(
                field,
                "roster.date_format",
                &[("value", value.trim())],
            ));
        };
        if date > self.today {
            return Err(Rejection::new(
                field,
                "roster.issued_in_future",
                &[("value", &date.to_string())],
            ));
        }
        Ok(Some(date))
    }

    /// Rejects a second row for the same operator and item, and a row whose ID number
    /// was given earlier with another name. One operator may appear once per item,
    /// because a roster lists one item per row.
    fn check_repeats(
        &self,
        name: &PersonName,
        id_number: &IdNumber,
        item: &ItemRef,
    ) -> Result<(), Rejection> {
        let Some(seen) = self.seen_ids.get(id_number) else {
            return Ok(());
        };
        let field = Column::IdNumber.key();

        if seen.name != *name {
            let args = [
                ("line", seen.line.to_string()),
                ("name", seen.name.as_str().to_string()),
            ];
            let args: Vec<(&str, &str)> = args
                .iter()
                .map(|(key, value)| (*key, value.as_str()))
                .collect();
            return Err(Rejection::new(field, "roster.id_number_conflict", &args));
        }
        if let Some(line) = seen.items.get(item) {
            return Err(Rejection::new(
                field,
                "roster.duplicate_row",
                &[("line", &line.to_string())],
            ));
        }
        Ok(())
    }

    fn remember(&mut self, line: usize, entry: &RosterEntry) {
        let seen = self
            .seen_ids
            .entry(entry.id_number.clone())
            .or_insert_with(|| SeenOperator {
                line,
                name: entry.name.clone(),
                items: HashMap::new(),
            });
        seen.items.insert(entry.item.clone(), line);
        self.seen_mobiles
            .entry(entry.mobile.clone())
            .or_insert_with(|| (line, entry.id_number.clone()));
    }

    fn text(&self, row: &Row, column: Column) -> Option<String> {
        let index = self.columns.get(column)?;
        row.cell(index)
            .as_text()
            .filter(|text| !text.trim().is_empty())
    }

    fn required_text(&self, row: &Row, column: Column) -> Result<String, Rejection> {
        self.text(row, column)
            .ok_or_else(|| Rejection::missing_column(column))
    }
}
