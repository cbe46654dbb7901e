//! Mermaid state diagrams of definitions, for the console and the docs.

use std::fmt::Write;

use super::model::{Definition, StateKind, TimerWhen};

/// Renders `definition` as a Mermaid `stateDiagram-v2`: one node per state labelled
/// with its label, one edge per transition labelled with its event (and guard), and
/// timers as notes.
pub fn mermaid(definition: &Definition) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "---\ntitle: {}\n---\nstateDiagram-v2", escape(&definition.label));
    for state in &definition.states {
        let _ = writeln!(out, "    {}: {}", state.id, escape(&state.label));
    }
    let _ = writeln!(out, "    [*] --> {}", definition.initial);
    for state in &definition.states {
        for transition in &state.transitions {
            let label = match &transition.guard {
                Some(guard) => format!("{} [{}]", transition.event, guard.source),
                None => transition.event.clone(),
            };
            let _ = writeln!(out, "    {} --> {}: {}", state.id, transition.to, escape(&label));
        }
        if state.kind == StateKind::Terminal {
            let _ = writeln!(out, "    {} --> [*]", state.id);
        }
        for timer in &state.timers {
            let when = match &timer.when {
                TimerWhen::After(duration) => format!("after {}m", duration.num_minutes()),
                TimerWhen::At(spec) => format!("at {}", spec.to_text()),
            };
            let _ = writeln!(out, "    note right of {}: {} → {}", state.id, escape(&when), timer.fire);
        }
    }
    out
}

// Mermaid ends a label at a colon or a line break and reads `;` and `#` specially.
fn escape(text: &str) -> String {
    text.replace(':', "∶").replace(';', ",").replace('#', "＃").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::parse::parse_definition;

    #[test]
    fn diagram_lists_states_edges_and_timers() {
        let source = "id: d\nlabel: 示例\ninitial: a\nevents: {go: {}, tick: {}}\nstates:\n  a:\n    label: 开始\n    timers:\n      - {after: 30m, fire: tick}\n    on:\n      go: {to: b, guard: \"1 > 0\"}\n      tick: a\n  b: {kind: terminal}\n";
        let (definition, diagnostics) = parse_definition("d.yaml", source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let text = mermaid(&definition.unwrap());
        assert!(text.contains("stateDiagram-v2"));
        assert!(text.contains("a: 开始"));
        assert!(text.contains("[*] --> a"));
        assert!(text.contains("a --> b: go [1 > 0]"));
        assert!(text.contains("b --> [*]"));
        assert!(text.contains("note right of a: after 30m → tick"));
    }
}
