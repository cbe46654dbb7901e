//! The definition model: what a pipeline YAML file means once parsed.
//!
//! A definition is a state machine: states, the events it accepts, transitions with
//! guards, actions run on entering a state or on a transition, timers that fire events,
//! and retry policies for actions with side effects. Every element keeps its position
//! in the source file so that validation can point at it.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use super::calendar::CalendarSpec;
use crate::diagnostic::Pos;
use crate::guard::Expr;

#[derive(Clone, Debug)]
pub struct Definition {
    pub id: String,
    pub label: String,
    /// The file the definition came from, relative to the definitions directory.
    pub file: String,
    /// The parts of the subject key, in order (for example operator, year, item).
    pub subject: Vec<String>,
    pub initial: String,
    pub context: BTreeMap<String, ContextVar>,
    pub events: BTreeMap<String, EventDecl>,
    pub retry_policies: BTreeMap<String, RetryPolicy>,
    /// States in file order.
    pub states: Vec<State>,
    pub pos: Pos,
}

impl Definition {
    pub fn state(&self, id: &str) -> Option<&State> {
        self.states.iter().find(|state| state.id == id)
    }

    /// Returns the initial context: each declared variable at its default.
    pub fn initial_context(&self) -> serde_json::Map<String, serde_json::Value> {
        self.context.iter().map(|(name, var)| (name.clone(), var.default.clone())).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarType {
    Int,
    Bool,
    Text,
}

#[derive(Clone, Debug)]
pub struct ContextVar {
    pub kind: VarType,
    pub default: serde_json::Value,
    pub pos: Pos,
}

/// What happens to an event that the current state has no transition for: an event
/// sent too early, too late, or to the wrong state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unexpected {
    /// Refused with a reason that the caller sees (the default).
    #[default]
    Reject,
    /// Acknowledged and recorded in history, with no effect.
    Ignore,
    /// Kept in the instance's inbox and offered again after every transition.
    Inbox,
}

#[derive(Clone, Debug)]
pub struct EventDecl {
    pub name: String,
    /// Payload fields the event carries; expressions reach them as `event_<field>`.
    pub payload: BTreeMap<String, VarType>,
    pub unexpected: Unexpected,
    pub pos: Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// The engine or a worker moves the instance on by itself.
    Active,
    /// The instance waits for an outside event or a timer.
    Waiting,
    /// The path is over; no timers, no way out.
    Terminal,
}

#[derive(Clone, Debug)]
pub struct State {
    pub id: String,
    pub label: String,
    pub kind: StateKind,
    pub on_enter: Vec<Action>,
    pub timers: Vec<Timer>,
    pub transitions: Vec<Transition>,
    pub pos: Pos,
}

impl State {
    /// Returns the transitions for `event`, in the order they are tried.
    pub fn transitions_on<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Transition> + 'a {
        self.transitions.iter().filter(move |transition| transition.event == event)
    }
}

#[derive(Clone, Debug)]
pub struct Transition {
    pub event: String,
    pub guard: Option<Expr>,
    pub to: String,
    /// Context updates, applied in order: variable name and the expression of its new value.
    pub set: Vec<(String, Expr)>,
    pub actions: Vec<Action>,
    /// Position of the target state, where a wrong target is reported.
    pub pos: Pos,
    /// Position of the event's key, where an undeclared event is reported.
    pub event_pos: Pos,
}

#[derive(Clone, Debug)]
pub enum TimerWhen {
    /// Once, this long after the state was entered (and again after each firing that
    /// keeps the instance in the state).
    After(Duration),
    /// At a Beijing calendar time.
    At(CalendarSpec),
}

#[derive(Clone, Debug)]
pub struct Timer {
    pub when: TimerWhen,
    /// The event the timer sends to its instance.
    pub fire: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ActionKind {
    /// A notification from a template to named recipients over named channels.
    Notify { template: String, to: Vec<String>, channels: Vec<String>, urgent: bool },
    /// A record pushed to the provincial supervision platform.
    Sync { record: String },
    /// A named job of the workers (award credits, issue a card, screen a session ...).
    Job { name: String },
}

#[derive(Clone, Debug)]
pub struct Action {
    pub kind: ActionKind,
    /// The retry policy name; `None` means the definition's `default` policy.
    pub retry: Option<String>,
    pub pos: Pos,
}

/// How an action with side effects is retried. Delays are scheduled by the engine on
/// its clock: `initial * backoff^(attempt-1)`, capped at `max_interval`, with jitter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetryPolicy {
    #[serde(with = "duration_ms")]
    pub initial: Duration,
    pub backoff: f64,
    #[serde(with = "duration_ms")]
    pub max_interval: Duration,
    /// Total attempts including the first; `None` only in a policy that validation rejects.
    pub max_attempts: Option<u32>,
    pub jitter: Jitter,
    /// Error kinds that stop retrying at once.
    pub non_retryable: Vec<String>,
    #[serde(skip)]
    pub pos: Pos,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::seconds(5),
            backoff: 2.0,
            max_interval: Duration::minutes(10),
            max_attempts: Some(10),
            jitter: Jitter::Full,
            non_retryable: vec!["rejected".to_string(), "invalid_payload".to_string()],
            pos: Pos::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The delay as computed.
    None,
    /// A uniform random delay between zero and the computed one ("full jitter").
    Full,
}

mod duration_ms {
    use chrono::Duration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(duration.num_milliseconds())
    }
}
