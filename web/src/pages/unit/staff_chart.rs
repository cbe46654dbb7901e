//! The progress chart of the staff list: one horizontal bar per state that has any
//! operators, drawn on the server as inline SVG so that it needs no script. The chart
//! carries a `<title>` and `<desc>` as its text alternative, and the page lists every
//! state's count as text beside it.

use domain::messages::{self, Locale};
use handlebars::html_escape;
use serde_json::Value;

/// Width of the drawing in SVG units; the page scales it to the column.
const WIDTH: u32 = 400;
/// Height of one bar's line in SVG units.
const LINE: u32 = 28;
/// Width of the label column in SVG units.
const LABEL_WIDTH: u32 = 110;

/// Returns the chart of the non-zero `counts` (the API's `[{state, label, count}]`) as
/// an `<svg>` element, or an empty string when every count is zero.
pub fn svg(counts: &Value, locale: Locale) -> String {
    let counts: Vec<&Value> = counts.as_array().into_iter().flatten().filter(|count| count["count"].as_i64().unwrap_or(0) > 0).collect();
    if counts.is_empty() {
        return String::new();
    }
    let max = counts.iter().filter_map(|count| count["count"].as_i64()).max().unwrap_or(0).max(1);
    let height = LINE * counts.len() as u32 + 8;
    let bar_room = WIDTH - LABEL_WIDTH - 50;

    let title = html_escape(&messages::text(locale, "web.unit.chart_title", &[]));
    let description: Vec<String> = counts.iter().map(|count| format!("{} {}", text_of(&count["label"]), count["count"].as_i64().unwrap_or(0))).collect();
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">{title}</title><desc id=\"chart-desc\">{}</desc>",
        html_escape(&description.join("，"))
    );
    for (index, count) in counts.iter().enumerate() {
        let value = count["count"].as_i64().unwrap_or(0);
        let top = index as u32 * LINE + 4;
        let bar = (value as u64 * u64::from(bar_room) / max as u64) as u32;
        let label = html_escape(&text_of(&count["label"]));
        // Labels are dark on the light page; bars use the site's blue, which has 4.5:1
        // contrast on white for the number beside them.
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"14\" fill=\"#1a1a1a\">{label}</text>\
             <rect x=\"{LABEL_WIDTH}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"#0b4f8a\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"14\" fill=\"#1a1a1a\">{value}</text>",
            top + 18,
            top + 4,
            bar.max(1),
            LINE - 10,
            LABEL_WIDTH + bar.max(1) + 6,
            top + 18,
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chart_has_a_bar_and_text_per_state() {
        let counts = json!([
            { "state": "not_enrolled", "label": "未报名", "count": 2 },
            { "state": "enrolled", "label": "已报名<b>", "count": 4 },
            { "state": "studying", "label": "学习中", "count": 0 },
        ]);
        let svg = svg(&counts, Locale::ZhCn);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("<desc id=\"chart-desc\">未报名 2，已报名&lt;b&gt; 4</desc>"), "{svg}");
        assert!(svg.contains("width=\"240\""), "the largest count fills the bar room: {svg}");
        assert!(!svg.contains("<b>"), "labels are escaped: {svg}");
    }

    #[test]
    fn chart_is_empty_without_counts() {
        assert_eq!(svg(&json!([]), Locale::ZhCn), "");
        assert_eq!(svg(&json!([{ "state": "enrolled", "label": "已报名", "count": 0 }]), Locale::ZhCn), "");
    }
}
