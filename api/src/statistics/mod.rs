//! Statistics (统计) for the association and the regulator: operators, enrollments,
//! credits, cards and anti-cheat review findings of a year, grouped by region, item,
//! unit or year, as JSON and as an xlsx workbook.
//!
//! The figures come from grouped SQL in [`query`]; labels (item names, unit names,
//! "no region") are added here so that the JSON, the pages and the workbook agree.

pub mod query;
pub mod xlsx;

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Datelike;
use domain::messages::{self, Locale};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::allowed::Staff;
use crate::auth::Allowed;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::AppState;
use query::{GroupFigures, Grouping};

/// Earliest year accepted; the platform has no records before it.
const FIRST_YEAR: i64 = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/statistics", get(show))
        .route("/api/statistics/export", get(export))
}

#[derive(Deserialize)]
pub struct StatisticsQuery {
    /// The year; the current Beijing year when absent. Ignored when grouped by year.
    year: Option<i64>,
    /// `region` (default), `item`, `unit` or `year`.
    by: Option<String>,
}

/// The checked query.
struct Selection {
    year: i64,
    grouping: Grouping,
}

fn selection(state: &AppState, query: &StatisticsQuery) -> Result<Selection, ApiError> {
    let this_year = i64::from(state.today().year());
    let year = query.year.unwrap_or(this_year);
    if !(FIRST_YEAR..=this_year + 1).contains(&year) {
        return Err(ApiError::invalid("statistics.year_invalid").field("year").arg("first", FIRST_YEAR).arg("last", this_year + 1));
    }
    let by = query.by.as_deref().unwrap_or("region");
    let grouping = Grouping::parse(by).ok_or_else(|| ApiError::invalid("statistics.by_invalid").field("by").arg("value", by))?;
    Ok(Selection { year, grouping })
}

/// `GET /api/statistics?year=2026&by=region|item|unit|year` (association staff): the
/// figures per group, ordered by key, and the total.
#[utoipa::path(
    get,
    path = "/api/statistics",
    tag = "regulator",
    params(
        ("year" = Option<i64>, Query, description = "The year, from 2000 to next year; the current Beijing year when absent. Ignored with `by=year`"),
        ("by" = Option<String>, Query, description = "Grouping: `region` (default), `item`, `unit` or `year`"),
    ),
    responses(
        (status = 200, description = "`{year, by, rows: [{key, label, unit_name, operators, enrollments, credits, cards, findings, findings_confirmed, findings_cleared, findings_open}], total}`", body = serde_json::Value),
        (status = 400, description = "The year or grouping is invalid", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn show(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<StatisticsQuery>) -> Result<Json<Value>, ApiError> {
    let selection = selection(&state, &query)?;
    let (groups, total) = query::figures(&state, selection.grouping, selection.year).await?;

    let rows: Vec<Value> = groups
        .iter()
        .map(|group| {
            let mut row = json!(group);
            row["label"] = json!(label(&state, selection.grouping, group, crate::error::current_locale()));
            row
        })
        .collect();
    Ok(Json(json!({ "year": selection.year, "by": selection.grouping.as_str(), "rows": rows, "total": total })))
}

/// `GET /api/statistics/export?year=2026&by=region` (association staff): the same
/// figures as an xlsx workbook with zh-CN headers.
#[utoipa::path(
    get,
    path = "/api/statistics/export",
    tag = "regulator",
    params(
        ("year" = Option<i64>, Query, description = "The year, from 2000 to next year; the current Beijing year when absent. Ignored with `by=year`"),
        ("by" = Option<String>, Query, description = "Grouping: `region` (default), `item`, `unit` or `year`"),
    ),
    responses(
        (status = 200, description = "xlsx workbook: title row, zh-CN headers, one row per group and the total", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, description = "The year or grouping is invalid", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Caller is not association staff", body = crate::openapi::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn export(State(state): State<AppState>, _caller: Allowed<Staff>, Query(query): Query<StatisticsQuery>) -> Result<Response, ApiError> {
    let selection = selection(&state, &query)?;
    let (groups, total) = query::figures(&state, selection.grouping, selection.year).await?;

    let labelled: Vec<(String, &GroupFigures)> = groups.iter().map(|group| (label(&state, selection.grouping, group, Locale::ZhCn), group)).collect();
    let title = export_title(&selection);
    let bytes = xlsx::workbook(&title, selection.grouping, &labelled, &total).map_err(ApiError::internal)?;
    tracing::info!(year = selection.year, by = selection.grouping.as_str(), groups = groups.len(), bytes = bytes.len(), "statistics exported");

    let file_name = match selection.grouping {
        Grouping::Year => "statistics-by-year.xlsx".to_string(),
        grouping => format!("statistics-{}-by-{}.xlsx", selection.year, grouping.as_str()),
    };
    let content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    Ok(([(CONTENT_TYPE, content_type.to_string()), (CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\""))], bytes).into_response())
}

fn export_title(selection: &Selection) -> String {
    let by = messages::text(Locale::ZhCn, &format!("statistics.by.{}", selection.grouping.as_str()), &[]);
    match selection.grouping {
        Grouping::Year => messages::text(Locale::ZhCn, "statistics.title_all_years", &[("by", &by)]),
        _ => messages::text(Locale::ZhCn, "statistics.title", &[("year", &selection.year.to_string()), ("by", &by)]),
    }
}

/// Returns the label of a group: the item's code and name, the unit's name, the region
/// code and name (the code alone when the catalogue has no name for it), or the
/// catalogue's text for a missing region or unit.
fn label(state: &AppState, grouping: Grouping, group: &GroupFigures, locale: Locale) -> String {
    match grouping {
        Grouping::Item => match state.catalogue.item(&group.key) {
            Some(item) => format!("{} {}", group.key, item.name),
            None => group.key.clone(),
        },
        Grouping::Unit => match &group.unit_name {
            Some(name) => name.clone(),
            None => messages::text(locale, "statistics.no_unit", &[]),
        },
        Grouping::Region if group.key.is_empty() => messages::text(locale, "statistics.no_region", &[]),
        Grouping::Region => match messages::region_name(locale, &group.key) {
            Some(name) => format!("{} {name}", group.key),
            None => group.key.clone(),
        },
        Grouping::Year => group.key.clone(),
    }
}
