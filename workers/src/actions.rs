//! Runs one attempt of one outbox entry and reports the result to the engine.
//!
//! Handlers return [`ActionError`] with an error kind; the engine's retry policy for
//! the entry decides what follows. The job itself always succeeds towards apalis, so
//! apalis never retries on its own.

use std::sync::Arc;

use apalis::prelude::*;
use tracing::Instrument;
use serde_json::Value;
use workflows::runtime::outbox::OutboxEntry;

use crate::queues::ActionJob;
use crate::services::Services;
use crate::{jobs, notify_action, sync_action};

/// The failure of an attempt. `kind` is matched against the policy's `non_retryable` list.
#[derive(Debug)]
pub struct ActionError {
    pub kind: &'static str,
    pub message: String,
}

impl ActionError {
    /// A failure worth another attempt (timeouts, a record not ready yet).
    pub fn retryable(message: impl Into<String>) -> ActionError {
        ActionError { kind: "retryable", message: message.into() }
    }

    /// A failure no retry can fix; the entry becomes an incident at once.
    pub fn rejected(message: impl Into<String>) -> ActionError {
        ActionError { kind: "rejected", message: message.into() }
    }

    /// Something another action writes is not there yet (a card, an exam attempt). The
    /// attempt waits a second without counting as a failure, for up to
    /// [`NOT_READY_LIMIT_MS`] after the entry was recorded; then it fails as retryable.
    pub fn not_ready(message: impl Into<String>) -> ActionError {
        ActionError { kind: "not_ready", message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> ActionError {
        ActionError { kind: "invalid_payload", message: message.into() }
    }
}

impl From<workflows::runtime::EngineError> for ActionError {
    fn from(error: workflows::runtime::EngineError) -> ActionError {
        ActionError::retryable(error.to_string())
    }
}

impl From<sqlx::Error> for ActionError {
    fn from(error: sqlx::Error) -> ActionError {
        ActionError::retryable(format!("database: {error}"))
    }
}

/// How long (engine clock) an entry may wait for a record another action writes.
pub const NOT_READY_LIMIT_MS: i64 = 10 * 60 * 1000;

/// The result of a successful attempt: a value to store, or a new due time for an
/// attempt that must wait without counting as a failure.
pub enum Done {
    Completed(Value),
    DeferredUntil { until_ms: i64, reason: String },
}

/// The apalis handler for every action queue.
pub async fn run_action_job(job: ActionJob, services: Data<Arc<Services>>) -> Result<(), BoxDynError> {
    let engine = &services.engine;
    let entry = match engine.outbox_entry(&job.outbox_id).await {
        Ok(entry) => entry,
        Err(error) => {
            tracing::error!(outbox = %job.outbox_id, %error, "outbox entry unreadable; job dropped");
            return Ok(());
        }
    };

    // A repeat delivery of an attempt that already finished, or an older attempt, is a no-op.
    if entry.status != "pending" || entry.attempt() != job.attempt {
        tracing::debug!(outbox = %entry.id, attempt = job.attempt, "stale action job skipped");
        return Ok(());
    }

    let span = tracing::info_span!("action", outbox = %entry.id, instance = %entry.instance_id, kind = %entry.kind, attempt = job.attempt);
    let outcome = perform(&services, &entry).instrument(span).await;
    let report = match outcome {
        Ok(Done::Completed(result)) => engine.complete_action(&entry.id, job.attempt, result).await.map(|_| ()),
        Ok(Done::DeferredUntil { until_ms, reason }) => engine.defer_action(&entry.id, job.attempt, until_ms, &reason).await.map(|_| ()),
        Err(error) if error.kind == "not_ready" && engine.now_ms() - entry.created_at < NOT_READY_LIMIT_MS => {
            tracing::debug!(outbox = %entry.id, reason = %error.message, "action waits for another action's record");
            engine.defer_action(&entry.id, job.attempt, engine.now_ms() + 1_000, &error.message).await.map(|_| ())
        }
        Err(error) => {
            let kind = if error.kind == "not_ready" { "retryable" } else { error.kind };
            engine.fail_action(&entry.id, job.attempt, kind, &error.message).await.map(|_| ())
        }
    };
    if let Err(error) = report {
        // The attempt stays dispatched; the lease hands it out again later.
        tracing::error!(outbox = %entry.id, %error, "could not record the action result");
    }
    Ok(())
}

async fn perform(services: &Services, entry: &OutboxEntry) -> Result<Done, ActionError> {
    let action = entry.action.get("action").cloned().unwrap_or(Value::Null);
    match action.get("kind").and_then(Value::as_str) {
        Some("notify") => notify_action::perform(services, entry, &action).await,
        Some("sync") => sync_action::perform(services, entry, &action).await,
        Some("job") => {
            let name = action.get("name").and_then(Value::as_str).unwrap_or_default();
            jobs::perform(services, entry, name).await.map(Done::Completed)
        }
        other => Err(ActionError::invalid(format!("unknown action kind {other:?}"))),
    }
}
