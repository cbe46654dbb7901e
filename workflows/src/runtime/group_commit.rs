//! Group commit of events on SQLite.
//!
//! Every event goes to one committer task per engine. The committer takes everything
//! queued while its previous commit ran (at most [`MAX_BATCH`] events), applies each
//! event in a savepoint of one write transaction and commits once. A batch therefore
//! costs one WAL fsync, and the engine's senders do not wait for each other in
//! SQLite's busy handler. On PostgreSQL each event keeps a transaction of its own. An event that fails is rolled back to its savepoint and
//! its caller gets its own error, while the rest of its batch commits. A caller gets
//! its outcome only after the commit that contains its event.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Instant;

use futures::FutureExt;
use sqlx::{AnyConnection, Connection};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::instance::{EventIn, EventOutcome};
use super::{Engine, EngineError};
use crate::db::{Backend, is_unique_violation};

/// Maximum events in one transaction. It bounds how long the write lock is held and
/// how long the first caller of a batch waits for the last event to be applied.
pub const MAX_BATCH: usize = 256;

/// Events that may wait for the committer before senders wait for room.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// Attempts at one event before reporting contention.
const MAX_OPTIMISTIC_ATTEMPTS: usize = 8;

/// One caller's event, waiting for its batch.
pub(crate) struct Submission {
    pub instance_id: String,
    pub event: EventIn,
    /// The timer this event fires, if it is a timer's event.
    pub timer_id: Option<String>,
    pub from_inbox: bool,
    /// When the caller submitted the event, for the event-to-commit metric.
    pub received: Instant,
    pub reply: oneshot::Sender<Result<EventOutcome, EngineError>>,
}

/// The committer's queue and task.
#[derive(Default)]
pub(crate) struct CommitQueue {
    inner: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    sender: Option<mpsc::Sender<Submission>>,
    committer: Option<JoinHandle<()>>,
    /// Set by [`Engine::close_commits`]; later events are applied by their callers.
    closed: bool,
}

/// The result of applying one event in its savepoint.
struct SavepointResult {
    result: Result<EventOutcome, EngineError>,
    /// The instance's definition, once loaded, for the transition metrics.
    definition_id: String,
}

impl Engine {
    /// Applies `event` to `instance_id` and returns its outcome once the transaction
    /// that contains it has committed: through the committer on SQLite, in a
    /// transaction of its own on PostgreSQL or after [`Engine::close_commits`].
    pub(crate) async fn apply(
        &self,
        instance_id: &str,
        event: &EventIn,
        timer_id: Option<&str>,
        from_inbox: bool,
    ) -> Result<EventOutcome, EngineError> {
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            instance_id: instance_id.to_string(),
            event: event.clone(),
            timer_id: timer_id.map(str::to_string),
            from_inbox,
            received: Instant::now(),
            reply,
        };
        // PostgreSQL already merges the WAL flushes of concurrent commits, and one
        // committer connection there serialized every statement's round trip: it
        // measured slower than a transaction per event (docs/benchmarks.md).
        let queue = match self.db.backend {
            Backend::Sqlite => self.committer_queue(),
            Backend::Postgres => None,
        };
        let Some(queue) = queue else {
            return self.apply_alone(submission).await;
        };
        if queue.send(submission).await.is_err() {
            return Err(not_committed(&event.id, "the committer stopped before taking the event"));
        }
        answer.await.unwrap_or_else(|_| Err(not_committed(&event.id, "the committer stopped before answering")))
    }

    /// Applies one event in a transaction of its own, retrying a lost optimistic race or
    /// a concurrent duplicate in a new transaction.
    async fn apply_alone(&self, submission: Submission) -> Result<EventOutcome, EngineError> {
        let mut definition_id = String::new();
        for attempt in 1..=MAX_OPTIMISTIC_ATTEMPTS {
            let mut tx = self.db.begin_write().await?;
            match self.apply_guarded(&mut tx, &submission, &mut definition_id).await {
                Ok(Some(outcome)) => {
                    tx.commit().await?;
                    if matches!(outcome, EventOutcome::Applied { .. }) {
                        crate::metrics::record_transition(&definition_id, submission.received.elapsed());
                        self.work_ready.notify_waiters();
                    }
                    return Ok(outcome);
                }
                Ok(None) => tracing::debug!(instance = %submission.instance_id, event = %submission.event.name, attempt, "optimistic lock lost; retrying"),
                Err(EngineError::Database(error)) if is_unique_violation(&error) => {
                    tracing::debug!(instance = %submission.instance_id, event = %submission.event.name, attempt, "event recorded concurrently; retrying")
                }
                Err(error) => return Err(error),
            }
        }
        Err(EngineError::Contention(submission.instance_id.clone()))
    }

    /// Closes the committer's queue and waits until every event queued before has been
    /// committed and its outcome sent to its caller. Events sent afterwards are applied
    /// one transaction each by their callers. Call it at shutdown, before closing the
    /// pool.
    pub async fn close_commits(&self) {
        let committer = {
            let mut state = self.commits.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            state.closed = true;
            state.sender = None;
            state.committer.take()
        };
        if let Some(committer) = committer {
            if let Err(error) = committer.await {
                tracing::error!(%error, "committer task ended abnormally");
            }
        }
    }

    /// Returns the committer's queue, starting the committer on first use and again if
    /// its task ended (a panic, or the runtime it ran on shut down). Returns `None`
    /// once the queue is closed.
    fn committer_queue(&self) -> Option<mpsc::Sender<Submission>> {
        let mut state = self.commits.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.closed {
            return None;
        }
        if let Some(sender) = state.sender.as_ref().filter(|sender| !sender.is_closed()) {
            return Some(sender.clone());
        }
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        // The task owns an engine clone, so it lives until close_commits or the end of
        // its runtime. It keeps a pooled connection only while a batch runs.
        state.committer = Some(tokio::spawn(self.clone().run_committer(receiver)));
        state.sender = Some(sender.clone());
        Some(sender)
    }

    async fn run_committer(self, mut queue: mpsc::Receiver<Submission>) {
        tracing::debug!("committer started");
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            // A caller that went away before its batch began (a dropped request) gets
            // no transition, as it would have had without group commit.
            batch.retain(|submission: &Submission| !submission.reply.is_closed());
            if !batch.is_empty() {
                self.commit_batch(std::mem::take(&mut batch)).await;
            }
        }
        tracing::debug!("committer stopped: queue closed and drained");
    }

    /// Applies `batch` in one write transaction, a savepoint per event, commits, and
    /// then sends every caller its outcome.
    async fn commit_batch(&self, batch: Vec<Submission>) {
        let mut tx = match self.db.begin_write().await {
            Ok(tx) => tx,
            Err(error) => {
                tracing::error!(%error, events = batch.len(), "could not begin the batch's transaction");
                let reason = format!("could not begin the transaction: {error}");
                for submission in batch {
                    let _ = submission.reply.send(Err(not_committed(&submission.event.id, &reason)));
                }
                return;
            }
        };

        let mut results = Vec::with_capacity(batch.len());
        let mut broken: Option<String> = None;
        for submission in &batch {
            let applied = match &broken {
                // A savepoint that could not be released or rolled back leaves the
                // transaction in an unknown state, so nothing after it is applied.
                Some(reason) => SavepointResult { result: Err(not_committed(&submission.event.id, reason)), definition_id: String::new() },
                None => match self.apply_in_savepoint(&mut tx, submission).await {
                    Ok(applied) => applied,
                    Err(error) => {
                        tracing::error!(instance = %submission.instance_id, event_id = %submission.event.id, %error, "savepoint failed; the batch is rolled back");
                        broken = Some(format!("a savepoint in its transaction failed: {error}"));
                        SavepointResult { result: Err(error.into()), definition_id: String::new() }
                    }
                },
            };
            results.push(applied);
        }

        let committed = match broken {
            Some(reason) => {
                drop(tx);
                Err(reason)
            }
            None => tx.commit().await.map_err(|error| {
                tracing::error!(%error, events = batch.len(), "batch commit failed");
                format!("the commit failed: {error}")
            }),
        };

        let mut any_applied = false;
        for (submission, applied) in batch.into_iter().zip(results) {
            let result = match (&committed, applied.result) {
                (Err(reason), Ok(_)) => Err(not_committed(&submission.event.id, reason)),
                (_, result) => result,
            };
            if committed.is_ok() && matches!(result, Ok(EventOutcome::Applied { .. })) {
                crate::metrics::record_transition(&applied.definition_id, submission.received.elapsed());
                any_applied = true;
            }
            let _ = submission.reply.send(result);
        }
        if any_applied {
            self.work_ready.notify_waiters();
        }
    }

    /// Applies one event in a savepoint of the transaction on `conn`: released when the
    /// event has an outcome, rolled back when it fails or loses an optimistic race (then
    /// retried in a new savepoint). Returns `Err` only when a savepoint statement itself
    /// failed, which leaves the whole transaction unusable.
    async fn apply_in_savepoint(&self, conn: &mut AnyConnection, submission: &Submission) -> Result<SavepointResult, sqlx::Error> {
        let mut definition_id = String::new();
        for attempt in 1..=MAX_OPTIMISTIC_ATTEMPTS {
            let mut savepoint = conn.begin().await?;
            let result = self.apply_guarded(&mut savepoint, submission, &mut definition_id).await;
            match result {
                Ok(Some(outcome)) => {
                    savepoint.commit().await?;
                    return Ok(SavepointResult { result: Ok(outcome), definition_id });
                }
                // Another writer changed the instance first, so the event is tried again.
                Ok(None) => {
                    savepoint.rollback().await?;
                    tracing::debug!(instance = %submission.instance_id, event = %submission.event.name, attempt, "optimistic lock lost; retrying");
                }
                // On PostgreSQL two senders of one event id (in two processes) can both
                // pass the repeat check, and the second then fails on the event's key.
                // The retry finds the event recorded and reports it as a duplicate.
                Err(EngineError::Database(error)) if is_unique_violation(&error) => {
                    savepoint.rollback().await?;
                    tracing::debug!(instance = %submission.instance_id, event = %submission.event.name, attempt, "event recorded concurrently; retrying");
                }
                Err(error) => {
                    savepoint.rollback().await?;
                    return Ok(SavepointResult { result: Err(error), definition_id });
                }
            }
        }
        Ok(SavepointResult { result: Err(EngineError::Contention(submission.instance_id.clone())), definition_id })
    }
}

impl Engine {
    /// Runs [`Engine::apply_in`] on `conn` and turns a panic into the event's own error,
    /// so that one faulty event cannot stop the committer or its batch.
    async fn apply_guarded(&self, conn: &mut AnyConnection, submission: &Submission, definition_id: &mut String) -> Result<Option<EventOutcome>, EngineError> {
        let run = self.apply_in(conn, &submission.instance_id, &submission.event, submission.timer_id.as_deref(), submission.from_inbox, definition_id);
        match AssertUnwindSafe(run).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
                let message = panic_message(&panic);
                tracing::error!(instance = %submission.instance_id, event_id = %submission.event.id, panic = %message, "applying the event panicked; it is rolled back");
                Err(not_committed(&submission.event.id, &format!("applying it panicked: {message}")))
            }
        }
    }
}

fn not_committed(event_id: &str, reason: &str) -> EngineError {
    EngineError::NotCommitted { event_id: event_id.to_string(), reason: reason.to_string() }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-text panic payload".to_string()
    }
}
