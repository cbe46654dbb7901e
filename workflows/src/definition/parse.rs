//! Turns a pipeline YAML file into a [`Definition`], recording a positioned diagnostic
//! for every shape error. Semantic checks (reachability, unknown names) are in
//! `validate`; this file only reads.

use std::collections::BTreeMap;

use marked_yaml::Node;
use marked_yaml::types::MarkedMappingNode;

use super::calendar::{CalendarError, CalendarSpec};
use super::duration::parse_duration;
use super::model::*;
use super::yaml::{Reader, pos, scalar_pos};
use crate::diagnostic::{Diagnostic, Pos};
use crate::guard::Expr;

const TOP_KEYS: &[&str] = &["id", "label", "subject", "initial", "context", "events", "retry_policies", "states"];
const VARIABLE_KEYS: &[&str] = &["type", "default"];
const EVENT_KEYS: &[&str] = &["payload", "unexpected"];
const STATE_KEYS: &[&str] = &["label", "kind", "terminal", "on_enter", "timers", "on"];
const TRANSITION_KEYS: &[&str] = &["to", "guard", "set", "do"];
const TIMER_KEYS: &[&str] = &["after", "at", "fire"];
const ACTION_KEYS: &[&str] = &["notify", "sync", "job", "retry"];
const NOTIFY_KEYS: &[&str] = &["template", "to", "channels", "urgent"];
const SYNC_KEYS: &[&str] = &["record", "retry"];
const JOB_KEYS: &[&str] = &["name", "retry"];
const POLICY_KEYS: &[&str] = &["initial", "backoff", "max_interval", "max_attempts", "jitter", "non_retryable"];

/// Every mapping of the format with the keys it accepts, named as in the JSON Schema's
/// `$defs` (`definitions/schema/pipeline.schema.json`), so tests keep the two in step.
pub const KEYS_BY_MAPPING: &[(&str, &[&str])] = &[
    ("definition", TOP_KEYS),
    ("variable", VARIABLE_KEYS),
    ("event", EVENT_KEYS),
    ("state", STATE_KEYS),
    ("transition", TRANSITION_KEYS),
    ("timer", TIMER_KEYS),
    ("action", ACTION_KEYS),
    ("notify", NOTIFY_KEYS),
    ("sync", SYNC_KEYS),
    ("job", JOB_KEYS),
    ("retry_policy", POLICY_KEYS),
];

/// Parses `text` (the contents of `file`). Returns the definition when the shape allowed
/// one to be built, with every diagnostic found on the way.
pub fn parse_definition(file: &str, text: &str) -> (Option<Definition>, Vec<Diagnostic>) {
    let mut reader = Reader::new(file);
    let root = match marked_yaml::parse_yaml(0, text) {
        Ok(root) => root,
        Err(error) => {
            let message = error.to_string();
            let (line, column) = syntax_error_position(&error);
            let diagnostic = reader.error("YAML_SYNTAX", Pos { line, column });
            diagnostic.args.push(("detail".into(), message));
            return (None, reader.diagnostics);
        }
    };
    let definition = read_definition(&mut reader, &root);
    (definition, reader.diagnostics)
}

/// Returns the 1-based line and column of a YAML loading error, or (0, 0) when the
/// error names two places (a duplicate key) and the second one is unknown.
fn syntax_error_position(error: &marked_yaml::LoadError) -> (usize, usize) {
    use marked_yaml::LoadError;
    let marker = match error {
        LoadError::TopLevelMustBeMapping(marker)
        | LoadError::TopLevelMustBeSequence(marker)
        | LoadError::UnexpectedAnchor(marker)
        | LoadError::MappingKeyMustBeScalar(marker)
        | LoadError::UnexpectedTag(marker)
        | LoadError::ScanError(marker, _) => Some(*marker),
        LoadError::DuplicateKey(inner) => inner.key.span().start().copied(),
    };
    marker.map(|marker| (marker.line(), marker.column())).unwrap_or((0, 0))
}

fn read_definition(reader: &mut Reader, root: &Node) -> Option<Definition> {
    let top = reader.mapping(root, "definition")?;
    let at = pos(root);
    reader.only_keys(top, TOP_KEYS, "definition");

    let id = reader.required(top, "id", at, "definition").and_then(|n| reader.string(n, "id"))?;
    let label = top.get_node("label").and_then(|n| reader.string(n, "label")).unwrap_or_else(|| id.clone());
    let subject = top.get_node("subject").map(|n| reader.strings(n, "subject")).unwrap_or_default();
    let initial_node = reader.required(top, "initial", at, "definition");
    let initial = initial_node.and_then(|n| reader.string(n, "initial")).unwrap_or_default();

    let context = top.get_mapping("context").map(|m| read_context(reader, m)).unwrap_or_default();
    let events = top.get_mapping("events").map(|m| read_events(reader, m)).unwrap_or_default();
    let retry_policies = top.get_mapping("retry_policies").map(|m| read_policies(reader, m)).unwrap_or_default();
    let states = match reader.required(top, "states", at, "definition").and_then(|n| reader.mapping(n, "states")) {
        Some(states) => read_states(reader, states),
        None => Vec::new(),
    };

    Some(Definition {
        id,
        label,
        file: reader.file.to_string(),
        subject,
        initial,
        context,
        events,
        retry_policies,
        states,
        pos: initial_node.map(pos).unwrap_or(at),
    })
}

fn read_context(reader: &mut Reader, mapping: &MarkedMappingNode) -> BTreeMap<String, ContextVar> {
    let mut vars = BTreeMap::new();
    for (name, node) in mapping.iter() {
        let at = scalar_pos(name);
        let Some(spec) = reader.mapping(node, name.as_str()) else { continue };
        reader.only_keys(spec, VARIABLE_KEYS, name.as_str());
        let kind_text = spec.get_node("type").and_then(|n| reader.string(n, "type")).unwrap_or_else(|| "int".into());
        let Some(kind) = read_var_type(reader, &kind_text, at) else { continue };
        let default = match spec.get_scalar("default") {
            Some(scalar) => scalar_json(scalar.as_str(), kind),
            None => default_for(kind),
        };
        vars.insert(name.as_str().to_string(), ContextVar { kind, default, pos: at });
    }
    vars
}

fn read_var_type(reader: &mut Reader, text: &str, at: Pos) -> Option<VarType> {
    match text {
        "int" => Some(VarType::Int),
        "bool" => Some(VarType::Bool),
        "text" => Some(VarType::Text),
        other => {
            reader.error("UNKNOWN_TYPE", at).args.push(("type".into(), other.into()));
            None
        }
    }
}

fn scalar_json(text: &str, kind: VarType) -> serde_json::Value {
    match kind {
        VarType::Int => text.parse::<i64>().map(serde_json::Value::from).unwrap_or_else(|_| default_for(kind)),
        VarType::Bool => serde_json::Value::Bool(text == "true"),
        VarType::Text => serde_json::Value::String(text.to_string()),
    }
}

fn default_for(kind: VarType) -> serde_json::Value {
    match kind {
        VarType::Int => serde_json::Value::from(0),
        VarType::Bool => serde_json::Value::Bool(false),
        VarType::Text => serde_json::Value::String(String::new()),
    }
}

fn read_events(reader: &mut Reader, mapping: &MarkedMappingNode) -> BTreeMap<String, EventDecl> {
    let mut events = BTreeMap::new();
    for (name, node) in mapping.iter() {
        let at = scalar_pos(name);
        let mut decl = EventDecl { name: name.as_str().to_string(), payload: BTreeMap::new(), unexpected: Unexpected::Reject, pos: at };
        if let Some(spec) = node.as_mapping() {
            reader.only_keys(spec, EVENT_KEYS, name.as_str());
            if let Some(payload) = spec.get_mapping("payload") {
                for (field, kind) in payload.iter() {
                    let kind_text = reader.string(kind, field.as_str()).unwrap_or_default();
                    if let Some(kind) = read_var_type(reader, &kind_text, scalar_pos(field)) {
                        decl.payload.insert(field.as_str().to_string(), kind);
                    }
                }
            }
            if let Some(policy) = spec.get_node("unexpected") {
                decl.unexpected = match reader.string(policy, "unexpected").as_deref() {
                    Some("reject") | None => Unexpected::Reject,
                    Some("ignore") => Unexpected::Ignore,
                    Some("inbox") => Unexpected::Inbox,
                    Some(other) => {
                        reader.error("INVALID_VALUE", pos(policy)).args.extend([
                            ("key".into(), "unexpected".into()),
                            ("value".into(), other.into()),
                            ("allowed".into(), "reject, ignore, inbox".into()),
                        ]);
                        Unexpected::Reject
                    }
                };
            }
        } else if !node.as_scalar().is_some_and(|s| s.as_str().is_empty()) {
            reader.mapping(node, name.as_str());
        }
        events.insert(decl.name.clone(), decl);
    }
    events
}

fn read_policies(reader: &mut Reader, mapping: &MarkedMappingNode) -> BTreeMap<String, RetryPolicy> {
    let mut policies = BTreeMap::new();
    for (name, node) in mapping.iter() {
        let Some(spec) = reader.mapping(node, name.as_str()) else { continue };
        reader.only_keys(spec, POLICY_KEYS, name.as_str());
        let mut policy = RetryPolicy { pos: scalar_pos(name), max_attempts: None, ..RetryPolicy::default() };
        if let Some(node) = spec.get_node("initial") {
            policy.initial = read_duration(reader, node).unwrap_or(policy.initial);
        }
        if let Some(node) = spec.get_node("max_interval") {
            policy.max_interval = read_duration(reader, node).unwrap_or(policy.max_interval);
        }
        if let Some(node) = spec.get_node("backoff") {
            match reader.string(node, "backoff").and_then(|t| t.parse::<f64>().ok()) {
                Some(rate) if rate >= 1.0 => policy.backoff = rate,
                _ => {
                    reader.error("INVALID_VALUE", pos(node)).args.extend([
                        ("key".into(), "backoff".into()),
                        ("value".into(), node.as_scalar().map(|s| s.as_str().to_string()).unwrap_or_default()),
                        ("allowed".into(), ">= 1.0".into()),
                    ]);
                }
            }
        }
        if let Some(node) = spec.get_node("max_attempts") {
            match reader.string(node, "max_attempts").and_then(|t| t.parse::<u32>().ok()) {
                Some(attempts) if attempts >= 1 => policy.max_attempts = Some(attempts),
                _ => {
                    reader.error("INVALID_VALUE", pos(node)).args.extend([
                        ("key".into(), "max_attempts".into()),
                        ("value".into(), node.as_scalar().map(|s| s.as_str().to_string()).unwrap_or_default()),
                        ("allowed".into(), "1, 2, 3 ...".into()),
                    ]);
                }
            }
        }
        if let Some(node) = spec.get_node("jitter") {
            policy.jitter = match reader.string(node, "jitter").as_deref() {
                Some("none") => Jitter::None,
                _ => Jitter::Full,
            };
        }
        if let Some(node) = spec.get_node("non_retryable") {
            policy.non_retryable = reader.strings(node, "non_retryable");
        }
        policies.insert(name.as_str().to_string(), policy);
    }
    policies
}

fn read_duration(reader: &mut Reader, node: &Node) -> Option<chrono::Duration> {
    let text = reader.string(node, "duration")?;
    match parse_duration(&text) {
        Ok(duration) => Some(duration),
        Err(detail) => {
            reader.error("INVALID_DURATION", pos(node)).args.extend([("value".into(), text), ("detail".into(), detail)]);
            None
        }
    }
}

fn read_states(reader: &mut Reader, mapping: &MarkedMappingNode) -> Vec<State> {
    let mut states = Vec::new();
    for (name, node) in mapping.iter() {
        let at = scalar_pos(name);
        let id = name.as_str().to_string();
        let Some(spec) = reader.mapping(node, &id) else { continue };
        reader.only_keys(spec, STATE_KEYS, &id);

        let label = spec.get_node("label").and_then(|n| reader.string(n, "label")).unwrap_or_else(|| id.clone());
        let terminal_flag = spec.get_scalar("terminal").is_some_and(|s| s.as_str() == "true");
        let kind = match spec.get_node("kind").and_then(|n| reader.string(n, "kind")).as_deref() {
            Some("active") => StateKind::Active,
            Some("terminal") => StateKind::Terminal,
            Some("waiting") => StateKind::Waiting,
            None if terminal_flag => StateKind::Terminal,
            None => StateKind::Waiting,
            Some(other) => {
                reader.error("INVALID_VALUE", at).args.extend([
                    ("key".into(), "kind".into()),
                    ("value".into(), other.into()),
                    ("allowed".into(), "active, waiting, terminal".into()),
                ]);
                StateKind::Waiting
            }
        };
        let on_enter = spec.get_node("on_enter").map(|n| read_actions(reader, n)).unwrap_or_default();
        let timers = spec.get_node("timers").map(|n| read_timers(reader, n)).unwrap_or_default();
        let transitions = spec.get_mapping("on").map(|m| read_transitions(reader, m)).unwrap_or_default();
        states.push(State { id, label, kind, on_enter, timers, transitions, pos: at });
    }
    states
}

fn read_timers(reader: &mut Reader, node: &Node) -> Vec<Timer> {
    let Some(sequence) = node.as_sequence() else {
        reader.error("EXPECTED_LIST", pos(node)).args.push(("key".into(), "timers".into()));
        return Vec::new();
    };
    let mut timers = Vec::new();
    for item in sequence.iter() {
        let at = pos(item);
        let Some(spec) = reader.mapping(item, "timers") else { continue };
        reader.only_keys(spec, TIMER_KEYS, "timers");
        let Some(fire) = reader.required(spec, "fire", at, "timers").and_then(|n| reader.string(n, "fire")) else { continue };
        let when = match (spec.get_node("after"), spec.get_node("at")) {
            (Some(after), None) => read_duration(reader, after).map(TimerWhen::After),
            (None, Some(at_node)) => read_calendar(reader, at_node).map(TimerWhen::At),
            _ => {
                reader.error("TIMER_NEEDS_ONE_OF", at);
                None
            }
        };
        if let Some(when) = when {
            timers.push(Timer { when, fire, pos: at });
        }
    }
    timers
}

fn read_calendar(reader: &mut Reader, node: &Node) -> Option<CalendarSpec> {
    let text = reader.string(node, "at")?;
    match CalendarSpec::parse(&text) {
        Ok(spec) => Some(spec),
        Err(CalendarError::InvalidDate { month, day }) => {
            reader.error("INVALID_CALENDAR_DATE", pos(node)).args.extend([
                ("value".into(), text),
                ("month".into(), month.to_string()),
                ("day".into(), day.to_string()),
            ]);
            None
        }
        Err(CalendarError::Syntax(_)) => {
            reader.error("INVALID_CALENDAR_SYNTAX", pos(node)).args.push(("value".into(), text));
            None
        }
    }
}

fn read_transitions(reader: &mut Reader, mapping: &MarkedMappingNode) -> Vec<Transition> {
    let mut transitions = Vec::new();
    for (event, node) in mapping.iter() {
        let event_name = event.as_str().to_string();
        let at = scalar_pos(event);
        if let Some(target) = node.as_scalar() {
            transitions.push(Transition { event: event_name, guard: None, to: target.as_str().to_string(), set: Vec::new(), actions: Vec::new(), pos: scalar_pos(target), event_pos: at });
        } else if let Some(options) = node.as_sequence() {
            for option in options.iter() {
                if let Some(transition) = read_transition(reader, &event_name, at, option) {
                    transitions.push(transition);
                }
            }
        } else if let Some(transition) = read_transition(reader, &event_name, at, node) {
            transitions.push(transition);
        } else {
            reader.error("EXPECTED_MAPPING", at).args.push(("key".into(), event_name));
        }
    }
    transitions
}

fn read_transition(reader: &mut Reader, event: &str, event_pos: Pos, node: &Node) -> Option<Transition> {
    let at = pos(node);
    let spec = reader.mapping(node, event)?;
    reader.only_keys(spec, TRANSITION_KEYS, event);
    let to_node = reader.required(spec, "to", at, event)?;
    let to = reader.string(to_node, "to")?;
    let guard = spec.get_node("guard").and_then(|n| read_expr(reader, n));
    let mut set = Vec::new();
    if let Some(assignments) = spec.get_mapping("set") {
        for (name, value) in assignments.iter() {
            if let Some(expr) = read_expr(reader, value) {
                set.push((name.as_str().to_string(), expr));
            }
        }
    }
    let actions = spec.get_node("do").map(|n| read_actions(reader, n)).unwrap_or_default();
    Some(Transition { event: event.to_string(), guard, to, set, actions, pos: pos(to_node), event_pos })
}

fn read_expr(reader: &mut Reader, node: &Node) -> Option<Expr> {
    let source = reader.string(node, "expression")?;
    match Expr::compile(&source) {
        Ok(expr) if expr.has_side_effects() => {
            reader.error("GUARD_SIDE_EFFECT", pos(node)).args.push(("expression".into(), source));
            None
        }
        Ok(expr) => Some(expr),
        Err(detail) => {
            reader.error("INVALID_GUARD", pos(node)).args.extend([("expression".into(), source), ("detail".into(), detail)]);
            None
        }
    }
}

fn read_actions(reader: &mut Reader, node: &Node) -> Vec<Action> {
    let Some(sequence) = node.as_sequence() else {
        reader.error("EXPECTED_LIST", pos(node)).args.push(("key".into(), "actions".into()));
        return Vec::new();
    };
    sequence.iter().filter_map(|item| read_action(reader, item)).collect()
}

fn read_action(reader: &mut Reader, node: &Node) -> Option<Action> {
    let at = pos(node);
    let spec = reader.mapping(node, "action")?;
    reader.only_keys(spec, ACTION_KEYS, "action");
    let mut retry = spec.get_node("retry").and_then(|n| reader.string(n, "retry"));

    let kind = if let Some(notify) = spec.get_node("notify") {
        let body = reader.mapping(notify, "notify")?;
        reader.only_keys(body, NOTIFY_KEYS, "notify");
        let template = reader.required(body, "template", at, "notify").and_then(|n| reader.string(n, "template"))?;
        let to = body.get_node("to").map(|n| reader.strings(n, "to")).unwrap_or_else(|| vec!["operator".into()]);
        let channels = body.get_node("channels").map(|n| reader.strings(n, "channels")).unwrap_or_else(|| vec!["sms".into()]);
        let urgent = body.get_scalar("urgent").is_some_and(|s| s.as_str() == "true");
        ActionKind::Notify { template, to, channels, urgent }
    } else if let Some(sync) = spec.get_node("sync") {
        let record = match sync.as_mapping() {
            Some(body) => {
                reader.only_keys(body, SYNC_KEYS, "sync");
                retry = retry.or_else(|| body.get_node("retry").and_then(|n| reader.string(n, "retry")));
                reader.required(body, "record", at, "sync").and_then(|n| reader.string(n, "record"))?
            }
            None => reader.string(sync, "sync")?,
        };
        ActionKind::Sync { record }
    } else if let Some(job) = spec.get_node("job") {
        let name = match job.as_mapping() {
            Some(body) => {
                reader.only_keys(body, JOB_KEYS, "job");
                retry = retry.or_else(|| body.get_node("retry").and_then(|n| reader.string(n, "retry")));
                reader.required(body, "name", at, "job").and_then(|n| reader.string(n, "name"))?
            }
            None => reader.string(job, "job")?,
        };
        ActionKind::Job { name }
    } else {
        reader.error("ACTION_NEEDS_ONE_OF", at);
        return None;
    };
    Some(Action { kind, retry, pos: at })
}
