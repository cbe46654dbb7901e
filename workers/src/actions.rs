//! Runs one attempt of one outbox entry and reports the result to the engine.
//!
//! Handlers return [`ActionError`] with an error kind; the engine's retry policy for
//! the entry decides what follows. The job itself always succeeds towards apalis, so
//! apalis never retries on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use tracing::Instrument;
use serde_json::Value;
use workflows::runtime::outbox::OutboxEntry;

use crate::queues::{ActionJob, queue_for};
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

/// The attempts a runtime's workers are running: outbox id to attempt. A runtime that
/// stops before they finish hands them back with [`InFlight::return_all`].
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<String, i64>>>);

impl InFlight {
    fn begin(&self, outbox_id: &str, attempt: i64) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(outbox_id.to_string(), attempt);
    }

    fn end(&self, outbox_id: &str) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(outbox_id);
    }

    /// Returns the outbox ids of the attempts running now.
    pub fn outbox_ids(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).keys().cloned().collect()
    }

    /// Returns the number of attempts running now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands every attempt still listed back to the outbox so another worker takes it
    /// at once, and returns how many were handed back.
    pub async fn return_all(&self, engine: &workflows::runtime::Engine) -> usize {
        let attempts: Vec<(String, i64)> = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain().collect();
        let mut returned = 0;
        for (outbox_id, attempt) in attempts {
            match engine.return_action(&outbox_id, attempt).await {
                Ok(true) => {
                    returned += 1;
                    tracing::info!(outbox = %outbox_id, attempt, "unfinished attempt handed back at shutdown");
                }
                Ok(false) => {}
                Err(error) => tracing::error!(outbox = %outbox_id, attempt, %error, "could not hand back an unfinished attempt; its lease expires instead"),
            }
        }
        returned
    }
}

/// Runs one action job outside a runtime, with no tracking of running attempts.
pub async fn run_action_job(job: ActionJob, services: Data<Arc<Services>>) -> Result<(), BoxDynError> {
    run_action(job, &services, &InFlight::default()).await
}

/// The apalis handler for every action queue: [`run_action_job`] with the attempt
/// listed in the runtime's `in_flight` while it runs.
pub async fn run_tracked_action_job(job: ActionJob, services: Data<Arc<Services>>, in_flight: Data<InFlight>) -> Result<(), BoxDynError> {
    run_action(job, &services, &in_flight).await
}

async fn run_action(job: ActionJob, services: &Arc<Services>, in_flight: &InFlight) -> Result<(), BoxDynError> {
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

    let queue = queue_for(&entry.kind, entry.action.pointer("/action/name").and_then(Value::as_str));
    let waited_ms = chrono::Utc::now().timestamp_millis() - entry.dispatched_at;
    workflows::metrics::record_job_pickup(queue, Duration::from_millis(waited_ms.max(0) as u64));
    let started = Instant::now();
    in_flight.begin(&entry.id, job.attempt);

    let span = tracing::info_span!("action", outbox = %entry.id, instance = %entry.instance_id, kind = %entry.kind, attempt = job.attempt);
    let outcome = perform(services, &entry).instrument(span).await;
    let (label, report) = match outcome {
        Ok(Done::Completed(result)) => ("done", engine.complete_action(&entry.id, job.attempt, result).await.map(|_| ())),
        Ok(Done::DeferredUntil { until_ms, reason }) => ("deferred", engine.defer_action(&entry.id, job.attempt, until_ms, &reason).await.map(|_| ())),
        Err(error) if error.kind == "not_ready" && engine.now_ms() - entry.created_at < NOT_READY_LIMIT_MS => {
            tracing::debug!(outbox = %entry.id, reason = %error.message, "action waits for another action's record");
            ("deferred", engine.defer_action(&entry.id, job.attempt, engine.now_ms() + 1_000, &error.message).await.map(|_| ()))
        }
        Err(error) => {
            let kind = if error.kind == "not_ready" { "retryable" } else { error.kind };
            ("failed", engine.fail_action(&entry.id, job.attempt, kind, &error.message).await.map(|_| ()))
        }
    };
    // Ended after the report: an attempt whose result is recorded needs no hand-back.
    in_flight.end(&entry.id);
    workflows::metrics::record_job(queue, label, started.elapsed());
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
