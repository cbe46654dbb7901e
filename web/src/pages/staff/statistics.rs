//! `/staff/statistics`: the association's figures of a year by region, item, unit or
//! year, as a table and a server-rendered SVG bar chart, with the xlsx download.

use axum::extract::Query;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Datelike;
use domain::messages::text;
use serde::Deserialize;
use serde_json::{Value, json};

use super::STAFF_ROLES;
use crate::context::PageContext;
use crate::WebState;

const GROUPINGS: [&str; 4] = ["region", "item", "unit", "year"];
const METRICS: [&str; 8] = ["operators", "enrollments", "credits", "cards", "findings", "findings_confirmed", "findings_cleared", "findings_open"];
/// Bars drawn at most; the table always lists every group.
const MAX_BARS: usize = 20;
/// Chart geometry in SVG user units: the label column, the bar area and one row.
const LABEL_WIDTH: f64 = 220.0;
const BAR_AREA: f64 = 420.0;
const ROW_HEIGHT: f64 = 28.0;
/// Labels longer than this many characters are shortened in the chart only.
const MAX_LABEL_CHARS: usize = 14;

pub fn router() -> Router<WebState> {
    Router::new().route("/staff/statistics", get(show))
}

#[derive(Deserialize)]
struct StatisticsQuery {
    year: Option<i32>,
    by: Option<String>,
    metric: Option<String>,
}

/// `GET /staff/statistics?year=2026&by=region&metric=operators`.
async fn show(context: PageContext, Query(query): Query<StatisticsQuery>) -> Response {
    let token = match context.session_for(STAFF_ROLES) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let this_year = context.state.app.today().year();
    let year = query.year.unwrap_or(this_year);
    let by = query.by.filter(|by| GROUPINGS.contains(&by.as_str())).unwrap_or_else(|| "region".into());
    let metric = query.metric.filter(|metric| METRICS.contains(&metric.as_str())).unwrap_or_else(|| "operators".into());

    let query_string = serde_urlencoded::to_string([("year", year.to_string()), ("by", by.clone())]).unwrap_or_default();
    let statistics = match context.state.backend.get(&format!("/api/statistics?{query_string}"), Some(token), context.locale).await {
        Ok(statistics) => statistics,
        Err(problem) => return context.fail(problem),
    };

    let rows = statistics["rows"].as_array().cloned().unwrap_or_default();
    let years: Vec<Value> = (this_year - 5..=this_year).rev().map(|option| json!({ "year": option, "selected": option == year })).collect();
    let groupings: Vec<Value> = GROUPINGS.iter().map(|option| json!({ "value": option, "code": format!("statistics.by.{option}"), "selected": *option == by })).collect();
    let metrics: Vec<Value> = METRICS.iter().map(|option| json!({ "value": option, "code": format!("statistics.column.{option}"), "selected": *option == metric })).collect();
    context.render(
        "staff_statistics",
        json!({
            "title": "web.staff.statistics.title",
            "year": year,
            "by": by,
            "by_code": format!("statistics.by.{by}"),
            "by_name": text(context.locale, &format!("statistics.by.{by}"), &[]),
            "metric_name": text(context.locale, &format!("statistics.column.{metric}"), &[]),
            "all_years": by == "year",
            "years": years,
            "groupings": groupings,
            "metrics": metrics,
            "rows": rows,
            "total": statistics["total"],
            "chart": chart(&rows, &metric),
            "export_href": format!("/api/statistics/export?{query_string}"),
        }),
    )
}

/// Lays out a horizontal bar chart of `metric` over `rows`: the largest groups first,
/// at most [`MAX_BARS`]. The template draws it as inline SVG.
fn chart(rows: &[Value], metric: &str) -> Value {
    let mut bars: Vec<(String, i64)> = rows.iter().map(|row| (row["label"].as_str().unwrap_or_default().to_string(), row[metric].as_i64().unwrap_or(0))).collect();
    bars.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
    let truncated = bars.len() > MAX_BARS;
    bars.truncate(MAX_BARS);
    let max = bars.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1) as f64;

    let laid_out: Vec<Value> = bars
        .iter()
        .enumerate()
        .map(|(index, (label, value))| {
            let top = index as f64 * ROW_HEIGHT;
            let width = (*value as f64 / max * BAR_AREA).round();
            json!({
                "label": short_label(label),
                "full_label": label,
                "value": value,
                "y": top + 4.0,
                "text_y": top + 19.0,
                "width": width,
                "value_x": LABEL_WIDTH + width + 6.0,
            })
        })
        .collect();
    json!({
        "bars": laid_out,
        "height": (bars.len() as f64 * ROW_HEIGHT).max(ROW_HEIGHT),
        "width": LABEL_WIDTH + BAR_AREA + 80.0,
        "bar_x": LABEL_WIDTH,
        "label_x": LABEL_WIDTH - 8.0,
        "truncated": truncated,
        "max_bars": MAX_BARS,
    })
}

fn short_label(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_string();
    }
    let kept: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::chart;

    #[test]
    fn chart_scales_to_largest_bar() {
        let rows = vec![json!({ "label": "甲", "operators": 5 }), json!({ "label": "乙", "operators": 10 }), json!({ "label": "丙", "operators": 0 })];
        let laid_out = chart(&rows, "operators");
        let bars = laid_out["bars"].as_array().unwrap();
        assert_eq!(bars[0]["label"], "乙");
        assert_eq!(bars[0]["width"], 420.0);
        assert_eq!(bars[1]["width"], 210.0);
        assert_eq!(bars[2]["width"], 0.0);
        assert_eq!(laid_out["truncated"], false);
    }

    #[test]
    fn chart_keeps_twenty_bars() {
        let rows: Vec<_> = (0..25).map(|index| json!({ "label": format!("单位{index}"), "cards": index })).collect();
        let laid_out = chart(&rows, "cards");
        assert_eq!(laid_out["bars"].as_array().unwrap().len(), 20);
        assert_eq!(laid_out["truncated"], true);
        assert_eq!(laid_out["bars"][0]["value"], 24);
    }
}
