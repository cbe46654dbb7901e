//! Named jobs that definitions run with `job: <name>`. Each is idempotent: run twice
//! for one outbox entry, it leaves the records as one run would, and the events it
//! sends carry ids derived from its input so the engine drops repeats.

mod cards;
mod credits;
mod exams;
mod reconcile;
mod screening;

use serde_json::Value;
use workflows::runtime::outbox::OutboxEntry;
use workflows::runtime::{EventIn, EventOutcome};

use crate::actions::ActionError;
use crate::services::Services;

/// Every job name a definition may use.
pub const JOB_NAMES: &[&str] = &["screen_session", "screen_exam", "finalize_exam", "award_credits", "issue_card", "revoke_card", "reconcile_day", "pull_certificates", "noop"];

pub async fn perform(services: &Services, entry: &OutboxEntry, name: &str) -> Result<Value, ActionError> {
    match name {
        "screen_session" => screening::screen_session(services, entry).await,
        "screen_exam" => screening::screen_exam(services, entry).await,
        "finalize_exam" => exams::finalize_exam(services, entry).await,
        "award_credits" => credits::award_credits(services, entry).await,
        "issue_card" => cards::issue_card(services, entry).await,
        "revoke_card" => cards::revoke_card(services, entry).await,
        "reconcile_day" => reconcile::reconcile_day(services, entry).await,
        "pull_certificates" => crate::certificates::pull_job(services, entry).await,
        // Completes at once: `certflow bench engine` measures the job path with it, and
        // a definition under test may use it to mark a step.
        "noop" => Ok(Value::Null),
        other => Err(ActionError::rejected(format!("unknown job {other}"))),
    }
}

/// Returns a string field of the entry's event payload.
pub(crate) fn payload_str<'a>(entry: &'a OutboxEntry, field: &str) -> Option<&'a str> {
    entry.action.get("payload").and_then(|payload| payload.get(field)).and_then(Value::as_str)
}

/// Sends an event to the entry's instance. A rejection is not an error of the job: the
/// instance moved on (for example a reviewer decided first), which the history shows.
pub(crate) async fn send(services: &Services, entry: &OutboxEntry, event: EventIn) -> Result<EventOutcome, ActionError> {
    let outcome = services.engine.send(&entry.instance_id, event).await?;
    if let EventOutcome::Rejected { state, reason } = &outcome {
        tracing::info!(instance = %entry.instance_id, %state, %reason, "job event not applied");
    }
    Ok(outcome)
}
