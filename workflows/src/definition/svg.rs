//! SVG state diagrams of definitions, drawn without outside tools so the console and
//! the docs can show a version exactly as published.
//!
//! Layout: states are placed in rows by their distance from the initial state
//! (breadth first over transitions), in file order within a row. States that no path
//! reaches go in a last row. Each state is a box with its label, its id and its
//! timers; terminal states have a double border. A transition to a later row is a
//! straight arrow; one to the same or an earlier row, or to itself, bends to the side
//! so it does not cross the boxes it passes.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;

use super::model::{Definition, State, StateKind, TimerWhen};

const ROW_HEIGHT: f64 = 150.0;
const BOX_HEIGHT: f64 = 64.0;
const GAP: f64 = 48.0;
const MARGIN: f64 = 40.0;
const FONT: &str = "'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif";

struct Placed<'a> {
    state: &'a State,
    x: f64,
    y: f64,
    width: f64,
}

/// Renders `definition` as a standalone SVG document.
pub fn svg(definition: &Definition) -> String {
    let rows = rows(definition);
    let mut placed: BTreeMap<&str, Placed> = BTreeMap::new();
    let mut width: f64 = 0.0;
    for (row, states) in rows.iter().enumerate() {
        let mut x = MARGIN;
        for state in states {
            let box_width = box_width(state);
            placed.insert(&state.id, Placed { state, x, y: MARGIN + 30.0 + row as f64 * ROW_HEIGHT, width: box_width });
            x += box_width + GAP;
        }
        width = width.max(x - GAP + MARGIN + 120.0);
    }
    let height = MARGIN * 2.0 + 30.0 + rows.len() as f64 * ROW_HEIGHT;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="{FONT}" font-size="13">"#
    );
    let _ = writeln!(
        out,
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##
    );
    let _ = writeln!(out, r#"<title>{}</title>"#, xml(&definition.label));
    let _ = writeln!(out, r#"<text x="{MARGIN}" y="{:.0}" font-size="16" font-weight="bold">{}（{}）</text>"#, MARGIN, xml(&definition.label), xml(&definition.id));

    for from in placed.values() {
        for (index, transition) in from.state.transitions.iter().enumerate() {
            if let Some(to) = placed.get(transition.to.as_str()) {
                let label = match &transition.guard {
                    Some(guard) => format!("{} [{}]", transition.event, guard.source),
                    None => transition.event.clone(),
                };
                edge(&mut out, from, to, index, &label);
            }
        }
    }
    if let Some(initial) = placed.get(definition.initial.as_str()) {
        let cx = initial.x + initial.width / 2.0;
        let _ = writeln!(out, r##"<circle cx="{cx:.1}" cy="{:.1}" r="6" fill="#333"/>"##, initial.y - 28.0);
        let _ = writeln!(out, r##"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="#555" marker-end="url(#arrow)"/>"##, initial.y - 22.0, initial.y);
    }
    for placed in placed.values() {
        state_box(&mut out, placed);
    }
    out.push_str("</svg>\n");
    out
}

/// Groups states in rows by breadth-first distance from the initial state.
fn rows(definition: &Definition) -> Vec<Vec<&State>> {
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    let mut queue = VecDeque::new();
    if definition.state(&definition.initial).is_some() {
        depth.insert(&definition.initial, 0);
        queue.push_back(definition.initial.as_str());
    }
    while let Some(id) = queue.pop_front() {
        let next = depth[id] + 1;
        for transition in definition.state(id).map(|s| s.transitions.as_slice()).unwrap_or_default() {
            if definition.state(&transition.to).is_some() && !depth.contains_key(transition.to.as_str()) {
                depth.insert(&transition.to, next);
                queue.push_back(&transition.to);
            }
        }
    }
    let unreachable_row = depth.values().max().map_or(0, |max| max + 1);
    let mut rows: Vec<Vec<&State>> = vec![Vec::new(); unreachable_row + 1];
    for state in &definition.states {
        rows[depth.get(state.id.as_str()).copied().unwrap_or(unreachable_row)].push(state);
    }
    rows.retain(|row| !row.is_empty());
    rows
}

fn state_box(out: &mut String, placed: &Placed) {
    let Placed { state, x, y, width } = placed;
    let fill = match state.kind {
        StateKind::Terminal => "#eef6ee",
        StateKind::Active => "#eef2fb",
        StateKind::Waiting => "#fffbea",
    };
    let _ = writeln!(out, r##"<g class="state" id="state-{}">"##, xml(&state.id));
    let _ = writeln!(out, r##"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{BOX_HEIGHT}" rx="10" fill="{fill}" stroke="#333"/>"##);
    if state.kind == StateKind::Terminal {
        let _ = writeln!(out, r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{}" rx="7" fill="none" stroke="#333"/>"##, x + 4.0, y + 4.0, width - 8.0, BOX_HEIGHT - 8.0);
    }
    let cx = x + width / 2.0;
    let _ = writeln!(out, r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#, y + 22.0, xml(&state.label));
    let _ = writeln!(out, r##"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#666">{}</text>"##, y + 38.0, xml(&state.id));
    if let Some(timers) = timers_text(state) {
        let _ = writeln!(out, r##"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#8a5a00">{}</text>"##, y + 54.0, xml(&timers));
    }
    out.push_str("</g>\n");
}

fn edge(out: &mut String, from: &Placed, to: &Placed, index: usize, label: &str) {
    let (fx, fy) = (from.x + from.width / 2.0, from.y);
    let (tx, ty) = (to.x + to.width / 2.0, to.y);
    // Spread the arrows leaving one box so their labels do not sit on each other.
    let spread = (index as f64 - 1.0) * 14.0;
    let (path, lx, ly) = if std::ptr::eq(from.state, to.state) {
        let right = from.x + from.width;
        let (top, bottom) = (fy + 14.0, fy + BOX_HEIGHT - 14.0);
        (format!("M{right:.1},{top:.1} C{:.1},{top:.1} {:.1},{bottom:.1} {right:.1},{bottom:.1}", right + 50.0, right + 50.0), right + 54.0, fy + BOX_HEIGHT / 2.0)
    } else if ty > fy {
        let (sx, sy) = (fx + spread, fy + BOX_HEIGHT);
        (format!("M{sx:.1},{sy:.1} L{tx:.1},{ty:.1}"), (sx + tx) / 2.0 + 4.0, (sy + ty) / 2.0)
    } else {
        // Same or earlier row: leave from the right side and curve above or around.
        let (sx, sy) = (from.x + from.width, fy + BOX_HEIGHT / 2.0 + spread / 2.0);
        let (ex, ey) = (to.x + to.width, ty + BOX_HEIGHT / 2.0);
        let bend = sx.max(ex) + 60.0 + index as f64 * 10.0;
        (format!("M{sx:.1},{sy:.1} C{bend:.1},{sy:.1} {bend:.1},{ey:.1} {ex:.1},{ey:.1}"), bend - 20.0, (sy + ey) / 2.0)
    };
    let _ = writeln!(out, r##"<path class="transition" d="{path}" fill="none" stroke="#555" marker-end="url(#arrow)"/>"##);
    let _ = writeln!(out, r##"<text x="{lx:.1}" y="{ly:.1}" font-size="11" fill="#1f4e9e">{}</text>"##, xml(label));
}

fn timers_text(state: &State) -> Option<String> {
    if state.timers.is_empty() {
        return None;
    }
    let parts: Vec<String> = state
        .timers
        .iter()
        .map(|timer| match &timer.when {
            TimerWhen::After(duration) => format!("⏱ {} 后 → {}", human_duration(duration.num_minutes()), timer.fire),
            TimerWhen::At(spec) => format!("⏱ {} → {}", spec.to_text(), timer.fire),
        })
        .collect();
    Some(parts.join("；"))
}

fn human_duration(minutes: i64) -> String {
    match minutes {
        m if m % 1440 == 0 => format!("{}天", m / 1440),
        m if m % 60 == 0 => format!("{}小时", m / 60),
        m => format!("{m}分钟"),
    }
}

/// Width of a box: the widest of its lines, counting a CJK character as about twice
/// a Latin one at the 13px font.
fn box_width(state: &State) -> f64 {
    let lines = [state.label.clone(), state.id.clone(), timers_text(state).unwrap_or_default()];
    let widest = lines.iter().map(|line| line.chars().map(|c| if c.is_ascii() { 7.0 } else { 13.0 }).sum::<f64>()).fold(0.0, f64::max);
    (widest + 28.0).max(110.0)
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::parse::parse_definition;

    #[test]
    fn svg_draws_states_and_transitions() {
        let source = "id: d\nlabel: 示例 <流程>\ninitial: a\nevents: {go: {}, tick: {}, back: {}}\nstates:\n  a:\n    label: 开始\n    timers:\n      - {after: 30m, fire: tick}\n    on:\n      go: {to: b, guard: \"1 > 0\"}\n      tick: a\n  b:\n    on:\n      back: a\n      go: c\n  c: {kind: terminal}\n  lonely: {kind: terminal}\n";
        let (definition, diagnostics) = parse_definition("d.yaml", source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let text = svg(&definition.unwrap());
        assert!(text.starts_with("<svg"));
        assert!(text.trim_end().ends_with("</svg>"));
        assert_eq!(text.matches(r#"class="state""#).count(), 4);
        assert_eq!(text.matches(r#"class="transition""#).count(), 4);
        assert!(text.contains("示例 &lt;流程&gt;"), "labels are escaped");
        assert!(text.contains("go [1 &gt; 0]"));
        assert!(text.contains("⏱ 30分钟 后 → tick"));
        // Rows: a, then b, then c, then the unreachable state.
        let y = |id: &str| {
            let at = text.find(&format!("id=\"state-{id}\"")).unwrap();
            let rect = &text[at..];
            let y_at = rect.find("y=\"").unwrap() + 3;
            rect[y_at..].split('"').next().unwrap().parse::<f64>().unwrap()
        };
        assert!(y("a") < y("b"));
        assert!(y("b") < y("c"));
        assert!(y("c") < y("lonely"));
    }
}
