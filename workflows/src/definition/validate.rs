//! Semantic checks of a parsed definition. Each finding has a stable code (listed in
//! the definition format reference) and points at the element at fault.
//!
//! The engine knows nothing of templates, jobs or record kinds; the caller describes
//! them through [`Environment`] so that the same checks run at start-up and in
//! `certflow definitions validate`.

use std::collections::{BTreeSet, VecDeque};

use super::model::*;
use crate::diagnostic::{Diagnostic, Pos};
use crate::guard::Expr;

/// What exists outside the definition: templates, jobs, record kinds and recipients.
pub trait Environment {
    fn has_template(&self, channel: &str, name: &str) -> bool;
    fn is_job(&self, name: &str) -> bool;
    fn is_sync_record(&self, kind: &str) -> bool;
    fn is_recipient(&self, name: &str) -> bool;
    fn is_channel(&self, name: &str) -> bool {
        matches!(name, "sms" | "email")
    }
}

/// An environment in which every name exists, for checking a definition's own shape.
pub struct AnyEnvironment;

impl Environment for AnyEnvironment {
    fn has_template(&self, _: &str, _: &str) -> bool {
        true
    }
    fn is_job(&self, _: &str) -> bool {
        true
    }
    fn is_sync_record(&self, _: &str) -> bool {
        true
    }
    fn is_recipient(&self, _: &str) -> bool {
        true
    }
}

/// Returns every finding about `definition` in `environment`.
pub fn validate(definition: &Definition, environment: &dyn Environment) -> Vec<Diagnostic> {
    let mut checker = Checker { definition, environment, found: Vec::new() };
    checker.check_states();
    checker.check_reachability();
    checker.check_policies();
    checker.found
}

struct Checker<'a> {
    definition: &'a Definition,
    environment: &'a dyn Environment,
    found: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, code: &'static str, at: Pos) -> &mut Diagnostic {
        self.found.push(Diagnostic::error(code, &self.definition.file, at));
        self.found.last_mut().expect("just pushed")
    }

    fn warning(&mut self, code: &'static str, at: Pos) -> &mut Diagnostic {
        self.found.push(Diagnostic::warning(code, &self.definition.file, at));
        self.found.last_mut().expect("just pushed")
    }

    fn check_states(&mut self) {
        let definition = self.definition;
        if definition.state(&definition.initial).is_none() && !definition.initial.is_empty() {
            let at = definition.pos;
            self.error("UNKNOWN_STATE", at).args.push(("state".into(), definition.initial.clone()));
        }

        for state in &definition.states {
            for action in &state.on_enter {
                self.check_action(action);
            }
            for timer in &state.timers {
                self.check_event(&timer.fire, timer.pos);
            }

            if state.kind == StateKind::Terminal {
                if let Some(timer) = state.timers.first() {
                    self.error("TIMER_IN_TERMINAL_STATE", timer.pos).args.push(("state".into(), state.id.clone()));
                }
                if let Some(transition) = state.transitions.first() {
                    self.error("TRANSITION_FROM_TERMINAL", transition.pos).args.push(("state".into(), state.id.clone()));
                }
            } else if state.transitions.is_empty() {
                self.error("DEAD_END", state.pos).args.push(("state".into(), state.id.clone()));
            }

            for transition in &state.transitions {
                self.check_transition(state, transition);
            }
        }
    }

    fn check_transition(&mut self, state: &State, transition: &Transition) {
        self.check_event(&transition.event, transition.event_pos);
        if self.definition.state(&transition.to).is_none() {
            self.error("UNKNOWN_STATE", transition.pos).args.push(("state".into(), transition.to.clone()));
        }
        if let Some(guard) = &transition.guard {
            self.check_variables(guard, &transition.event, transition.pos);
        }
        for (name, value) in &transition.set {
            if !self.definition.context.contains_key(name) {
                self.error("UNKNOWN_VARIABLE", transition.pos).args.extend([("variable".into(), name.clone()), ("expression".into(), format!("set {name}"))]);
            }
            self.check_variables(value, &transition.event, transition.pos);
        }
        for action in &transition.actions {
            self.check_action(action);
        }

        // An unguarded option before others makes the later ones unreachable.
        let options: Vec<&Transition> = state.transitions_on(&transition.event).collect();
        let index = options.iter().position(|option| std::ptr::eq(*option, transition)).unwrap_or(0);
        if options[..index].iter().any(|earlier| earlier.guard.is_none()) {
            self.warning("SHADOWED_TRANSITION", transition.pos).args.push(("event".into(), transition.event.clone()));
        }
    }

    fn check_event(&mut self, event: &str, at: Pos) {
        if !self.definition.events.contains_key(event) {
            self.error("UNKNOWN_EVENT", at).args.push(("event".into(), event.to_string()));
        }
    }

    fn check_variables(&mut self, expr: &Expr, event: &str, at: Pos) {
        let payload = self.definition.events.get(event).map(|decl| &decl.payload);
        for variable in expr.variables() {
            let known = match variable.strip_prefix("event_") {
                Some(field) => payload.is_some_and(|fields| fields.contains_key(field)),
                None => self.definition.context.contains_key(&variable),
            };
            if !known {
                self.error("UNKNOWN_VARIABLE", at).args.extend([("variable".into(), variable), ("expression".into(), expr.source.clone())]);
            }
        }
    }

    fn check_action(&mut self, action: &Action) {
        match &action.kind {
            ActionKind::Notify { template, to, channels, .. } => {
                for channel in channels {
                    if !self.environment.is_channel(channel) {
                        self.error("UNKNOWN_CHANNEL", action.pos).args.push(("channel".into(), channel.clone()));
                    } else if !self.environment.has_template(channel, template) {
                        self.error("MISSING_TEMPLATE", action.pos).args.extend([("template".into(), template.clone()), ("channel".into(), channel.clone())]);
                    }
                }
                for recipient in to {
                    if !self.environment.is_recipient(recipient) {
                        self.error("UNKNOWN_RECIPIENT", action.pos).args.push(("recipient".into(), recipient.clone()));
                    }
                }
            }
            ActionKind::Sync { record } => {
                if !self.environment.is_sync_record(record) {
                    self.error("UNKNOWN_SYNC_RECORD", action.pos).args.push(("record".into(), record.clone()));
                }
            }
            ActionKind::Job { name } => {
                if !self.environment.is_job(name) {
                    self.error("UNKNOWN_JOB", action.pos).args.push(("job".into(), name.clone()));
                }
            }
        }
        if let Some(policy) = &action.retry {
            if !self.definition.retry_policies.contains_key(policy) {
                self.error("UNKNOWN_RETRY_POLICY", action.pos).args.push(("policy".into(), policy.clone()));
            }
        }
    }

    fn check_reachability(&mut self) {
        let definition = self.definition;
        let mut reached = BTreeSet::new();
        let mut queue = VecDeque::from([definition.initial.as_str()]);
        while let Some(id) = queue.pop_front() {
            if !reached.insert(id) {
                continue;
            }
            if let Some(state) = definition.state(id) {
                queue.extend(state.transitions.iter().map(|transition| transition.to.as_str()));
            }
        }
        for state in &definition.states {
            if !reached.contains(state.id.as_str()) {
                self.error("UNREACHABLE_STATE", state.pos).args.push(("state".into(), state.id.clone()));
            }
        }
    }

    fn check_policies(&mut self) {
        for (name, policy) in &self.definition.retry_policies {
            if policy.max_attempts.is_none() {
                self.error("RETRY_WITHOUT_CAP", policy.pos).args.push(("policy".into(), name.clone()));
            }
            if policy.max_interval < policy.initial {
                self.warning("RETRY_CAP_BELOW_INITIAL", policy.pos).args.push(("policy".into(), name.clone()));
            }
        }
    }
}
